"""Scanned paper transcripts: import-and-sign pages per second per core, and verify against
pyHanko's bare signature validation of the same file, in the same run.

    .venv/bin/python benchmarks/bench_scans.py [--rows 12] [--pages 8] [--jobs 2] [--repeat 20]

1. Makes ROWS scans of PAGES colour A4 pages at 300 dpi (JPEG, as a scanner writes them,
   drawn with the sample's generator), a roster, and imports them with the sample's
   PKCS#12 test keys and the embedded local TSA: once with one process (pages/s on one
   core), once with --jobs (pages/s, and per core). Target: >= 10 pages/s per core.
2. Verifies one signed scan REPEAT times with `archiver.verify` (the profile, both
   signatures, certificate paths and CRLs, role and identity, the record, PDF/A), and
   as many times with pyHanko's own `validate_pdf_signature` of both signatures against
   the same trust anchors and CRLs (the baseline). Target: the ratio is at most 2.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "fixtures" / "sample"
PASSPHRASE = "hocba-thu-nghiem"


def make_scans(folder: Path, rows: int, pages: int) -> Path:
    from archiver.profiles import get_profile
    from archiver.sample.scans import ScanPlan, _page
    from archiver.sample.school import plan_school

    plan = plan_school(get_profile("hocba-1-thcs"), "bench", "2025-2026", 1, 1)
    lines = ["Mã học sinh;Họ và tên;Ngày sinh;Giới tính;Mã trường;Tên trường;Lớp;Năm học;Tệp quét"]
    scan = ScanPlan("0", "Học Sinh", False, "01/01/2010", "", ())
    first_pages = []
    for p in range(pages):  # drawn once, saved under every row (the content does not matter to speed)
        picture = _page(plan, scan, p, 300, random.Random(p), "RGB")
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=85, dpi=(300, 300))
        first_pages.append(buffer.getvalue())
    for r in range(rows):
        code = f"01{r:08d}"
        target = folder / "images" / code
        target.mkdir(parents=True)
        for p, data in enumerate(first_pages):
            # one byte of the comment differs per row: every file is a different source
            (target / f"trang-{p + 1:02d}.jpg").write_bytes(data[:2] + data[2:] + code.encode())
        lines.append(f"{code};Học Sinh {r};01/01/2010;Nam;{plan.school_code};{plan.school_name};9A1;2024-2025;{code}")
    roster = folder / "roster.csv"
    roster.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return roster


def run_import(folder: Path, roster: Path, jobs: int) -> tuple[float, float, int, int]:
    from archiver.scans import ImportOptions, import_scans
    from archiver.scans.keys import KeySpec

    out = folder / f"out-{jobs}"
    os.environ["BENCH_PASS"] = PASSPHRASE
    options = ImportOptions(roster=roster, images=folder / "images", out=out,
                            principal=KeySpec(str(SAMPLE / "keys" / "principal.p12"), "BENCH_PASS"),
                            school=KeySpec(str(SAMPLE / "keys" / "school.p12"), "BENCH_PASS"), jobs=jobs)
    children0 = os.times()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = import_scans(options, lambda prompt: PASSPHRASE)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    children = os.times()
    cpu += (children.children_user - children0.children_user) + (children.children_system - children0.children_system)
    assert result.complete, result.problems
    return wall, cpu, result.pages, sum(p.stat().st_size for p in out.rglob("*.pdf"))


def bare_pyhanko(data: bytes) -> None:
    """pyHanko's validation of every signature, against the sample's anchors and CRLs."""
    from asn1crypto import pem
    from asn1crypto import x509 as ax509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    def certs(name: str) -> ax509.Certificate:
        return ax509.Certificate.load(pem.unarmor((SAMPLE / "trust" / name).read_bytes())[2])

    crls = [pem.unarmor((SAMPLE / "trust" / n).read_bytes())[2] for n in ("root-ca.crl", "issuing-ca.crl")]
    reader = PdfFileReader(io.BytesIO(data))
    for signature in reader.embedded_regular_signatures:
        context = ValidationContext(trust_roots=[certs("root-ca.pem")], other_certs=[certs("issuing-ca.pem")],
                                    crls=crls, allow_fetching=False, revocation_mode="hard-fail")
        status = asyncio.run(async_validate_pdf_signature(signature, context))
        assert status.intact and status.valid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("ARCHIVER_DATA_DIR", tempfile.mkdtemp(prefix="bench-scans-data-"))
    folder = Path(tempfile.mkdtemp(prefix="bench-scans-"))
    try:
        roster = make_scans(folder, args.rows, args.pages)
        source = sum(p.stat().st_size for p in (folder / "images").rglob("*.jpg")) / (args.rows * args.pages)
        print(f"{args.rows} scans x {args.pages} colour A4 pages at 300 dpi (JPEG, {source / 1e6:.2f} MB a page)")
        warm = folder / "warm"  # one-time costs (imports, fonts, the local TSA's key) out of the figures
        warm.mkdir()
        run_import(warm, make_scans(warm, 1, 1), 1)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall figures suffer from other work "
              "on the machine, CPU figures do not")
        for jobs in sorted({1, args.jobs}):
            wall, cpu, pages, size = run_import(folder, roster, jobs)
            print(f"import and sign, --jobs {jobs}: {pages / wall:.1f} pages/s wall, {pages / wall / jobs:.1f} pages/s "
                  f"per core, {pages / cpu:.1f} pages per CPU-second (target >= 10 per core); "
                  f"{size / pages / 1e6:.2f} MB a page signed")

        from archiver.verify import verify_file

        pdf = next((folder / "out-1").rglob("*.pdf"))
        data = pdf.read_bytes()
        trust = SAMPLE / "trust"
        assert verify_file(pdf, trust).verdict == "VALID"
        bare_pyhanko(data)  # warm both up (imports, profiles)
        ours, theirs = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            bare_pyhanko(data)
            theirs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            report = verify_file(pdf, trust)
            ours.append(time.perf_counter() - t0)
            assert report.verdict == "VALID"
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"verify one signed scan ({len(data) / 1e6:.1f} MB, 2 signatures): archiver {statistics.median(ours) * 1000:.0f} "
              f"ms, pyHanko bare validation {statistics.median(theirs) * 1000:.0f} ms (median of {args.repeat}): "
              f"ratio {ratio:.2f} (target <= 2)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
