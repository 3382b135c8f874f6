"""How many transcripts per second one core renders (the default flavour, PDF/A-3b).

    .venv/bin/python benchmarks/bench_render.py [-n 200] [--flavour 3b|1b] [--xml FILE]

Renders N copies serially in this one process, with a verification result that names
every signer (the realistic case: the verification page is the longest), and prints
transcripts/second for wall time and for CPU time. The target is at least 20 per second
per core. The first rendering (font registration, profile loading) is excluded, as it is
paid once per process.
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
