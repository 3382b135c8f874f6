"""How many transcripts per second one core renders (the default flavour, PDF/A-3b).

    .venv/bin/python benchmarks/bench_render.py [-n 200] [--flavour 3b|1b] [--xml FILE]

Renders N copies serially in this one process, with a verification result that names
every signer (the realistic case: the verification page is the longest), and prints
transcripts/second for wall time and for CPU time. The target is at least 20 per second
per core. The first rendering (font registration, profile loading) is excluded, as it is
paid once per process.

Then a primary transcript (the hand-made example of spec section 7: grade 5, 11 subjects,
8 signers) against a lower-secondary one of the same size (the spec's THCS example cut
to 11 subjects and 8 signers), rendered in alternation in the same run: the ratio of
their median times. Target: primary within 10 % of THCS (ratio <= 1.10).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lxml import etree

from archiver.render import render_transcript

REPO = Path(__file__).resolve().parent.parent
DEFAULT_XML = REPO / "fixtures" / "spec" / "sample-transcript.xml"  # the spec's example, copied
PRIMARY_XML = REPO / "fixtures" / "spec" / "sample-transcript-tieuhoc.xml"


def same_size_thcs(thcs: bytes, primary: bytes) -> bytes:
    """The THCS example cut to the primary example's size: as many subjects, as many
    signers (the subject teachers of the first subjects, then GVCN, HT, TC)."""
    root, other = etree.fromstring(thcs), etree.fromstring(primary)
    subjects = len(other.findall("DLHocBa/KetQua/BangDiem/MonHoc"))
    teachers = len(other.findall("DLHocBa/DSTTKy/TTKy[@VaiTro='GVBM']"))
    board = root.find("DLHocBa/KetQua/BangDiem")
    for extra in board.findall("MonHoc")[subjects:]:
        board.remove(extra)
    signers = root.find("DLHocBa/DSTTKy")
    for extra in signers.findall("TTKy[@VaiTro='GVBM']")[teachers:]:
        signers.remove(extra)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def compare_primary(rounds: int, flavour: str) -> None:
    primary = PRIMARY_XML.read_bytes()
    thcs = same_size_thcs(DEFAULT_XML.read_bytes(), primary)
    cases = {"THCS": (thcs, fake_verification(thcs)), "primary": (primary, fake_verification(primary))}
    for xml, verification in cases.values():
        render_transcript(xml, verification=verification, flavour=flavour)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):  # alternated, so that a busy moment of the machine hits both
        for name, (xml, verification) in cases.items():
            start = time.process_time()  # CPU time: other processes on the machine do not count
            render_transcript(xml, verification=verification, flavour=flavour)
            times[name].append(time.process_time() - start)
    thcs_ms, primary_ms = (statistics.median(times[n]) * 1000 for n in ("THCS", "primary"))
    print(f"same size (11 subjects, 8 signers), {rounds} each, CPU time: THCS median {thcs_ms:.1f} ms, "
          f"primary median {primary_ms:.1f} ms")
    print(f"primary / THCS = {primary_ms / thcs_ms:.2f}x   (target <= 1.10x)")


def fake_verification(xml: bytes) -> dict[str, Any]:
    """A VALID result with one passed signature per listed signer."""
    root = etree.fromstring(xml)
    signatures = [
        {
            "id": t.get("ChuKy"), "role": t.get("VaiTro"), "subject": t.get("MonHoc") or "",
            "signer": t.get("HoTen"), "signing_time": "2026-06-18T09:41:07",
            "status": "TOTAL_PASSED", "sub_indication": "", "message": "",
            "certificate": {
                "subject": f"CN={t.get('HoTen')}, UID=CCCD:{t.get('MaDinhDanh')}, C=VN",
                "issuer": "CN=Example CA, O=Example Trust Services, C=VN",
            },
        }
        for t in root.iter("TTKy")
    ]
    return {"path": "sample.xml", "verdict": "VALID", "reasons": [],
            "signatures": signatures, "warnings": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="renderings to time (default 200)")
    parser.add_argument("--flavour", choices=("3b", "1b"), default="3b")
    parser.add_argument("--xml", type=Path, default=DEFAULT_XML)
    parser.add_argument("--rounds", type=int, default=100,
                        help="renderings of each kind for the primary/THCS comparison (default 100; 0: skip)")
    args = parser.parse_args(argv)

    xml = args.xml.read_bytes()
    verification = fake_verification(xml)
    render_transcript(xml, verification=verification, flavour=args.flavour)  # warm-up

    per_doc: list[float] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    size = 0
    for _ in range(args.n):
        start = time.perf_counter()
        size = len(render_transcript(xml, verification=verification, flavour=args.flavour))
        per_doc.append(time.perf_counter() - start)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    print(f"{args.n} renderings, PDF/A-{args.flavour}, {size:,} bytes each, one core")
    print(f"wall: {args.n / wall:.1f} transcripts/s   cpu: {args.n / cpu:.1f} transcripts/s")
    print(f"per transcript: median {statistics.median(per_doc) * 1000:.1f} ms, "
          f"best {min(per_doc) * 1000:.1f} ms, worst {max(per_doc) * 1000:.1f} ms")
    if args.rounds:
        compare_primary(args.rounds, args.flavour)
    return 0


if __name__ == "__main__":
    sys.exit(main())
