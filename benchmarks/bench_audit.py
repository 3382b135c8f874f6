"""Fixity audit throughput against `sha256sum`, memory against the number of files, and an
unchanged replication against the first one.

    .venv/bin/python benchmarks/bench_audit.py [--copies 20] [--repeat 3]

The sample school is built once; its packages are copied ``--copies`` times under new
names (each copy keeps its own manifests and token, so each is audited in full). Then,
in the same run and on the same files, with the page cache warm for both:

- ``sha256sum`` over every file of the packages (the baseline), and ``archiver audit``
  of the archive (which reads each file once for SHA-256 and SHA-512 together, and
  checks the manifests' trust chain): the audit's throughput as a ratio of the
  baseline's (the issue asks for >= 0.9);
- the peak memory of an audit of ``--copies`` and of 4 x ``--copies`` packages (a
  subprocess each): it must stay flat;
- ``archiver replicate`` to a local folder, then again with nothing new: the second run's
  time as a share of the first's (the issue asks for < 5%).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample"


def build(out: Path) -> None:
    subprocess.run([sys.executable, "-m", "archiver", "build", SAMPLE / "input", SAMPLE / "defects", "--out", out,
                    "--trust", SAMPLE / "trust", "--no-site"], check=True, capture_output=True)


def grow(archive: Path, copies: int) -> None:
    bags = [p for p in archive.iterdir() if (p / "bagit.txt").is_file() and "-copy" not in p.name]
    for k in range(copies):
        for bag in bags:
            target = archive / f"{bag.name}-copy{k}"
            if not target.exists():
                shutil.copytree(bag, target)
    build(archive)  # nothing new to archive: index.json is made again, listing the copies


def package_files(archive: Path) -> list[Path]:
    return [p for bag in sorted(archive.iterdir()) if (bag / "bagit.txt").is_file() for p in sorted(bag.rglob("*"))
            if p.is_file()]


def time_sha256sum(files: list[Path]) -> float:
    listing = "\0".join(map(str, files)).encode()
    started = time.perf_counter()
    subprocess.run(["xargs", "-0", "sha256sum"], input=listing, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def time_audit(archive: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "archiver", "audit", str(archive), "--json"],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"audit failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def peak_rss_of_audit(archive: Path) -> int:
    """Peak resident memory (KiB) of an audit run in a fresh process."""
    code = ("import resource,sys;from pathlib import Path;"
            "from archiver.replication.audit import open_locations, run_audit;"
            "a=Path(sys.argv[1]);run_audit(a, open_locations(a, []), write_log=False);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", code, str(archive)], capture_output=True, text=True, check=True)
    return int(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        archive = Path(tmp) / "archive"
        build(archive)
        grow(archive, args.copies)
        files = package_files(archive)
        total = sum(p.stat().st_size for p in files)
        time_sha256sum(files)  # warm the page cache
        baseline, audit = [], []
        for _ in range(args.repeat):
            baseline.append(time_sha256sum(files))
            audit.append(time_audit(archive))
        base_tp, audit_tp = total / min(baseline) / 1e6, total / min(audit) / 1e6
        print(f"{len(files)} files, {total / 1e6:.0f} MB in {len(list(archive.glob('*/bagit.txt')))} packages")
        print(f"sha256sum          {min(baseline):6.2f} s  {base_tp:7.0f} MB/s")
        print(f"archiver audit     {min(audit):6.2f} s  {audit_tp:7.0f} MB/s (SHA-256 + SHA-512, trust chain, "
              "process start)")
        print(f"audit / sha256sum throughput: {audit_tp / base_tp:.2f}x (wanted >= 0.9)")

        small = peak_rss_of_audit(archive)
        grow(archive, args.copies * 4)
        large = peak_rss_of_audit(archive)
        print(f"peak memory: {small / 1024:.0f} MiB for {args.copies + 1} copies of each package, "
              f"{large / 1024:.0f} MiB for {args.copies * 4 + 1}: {large / small:.2f}x (wanted flat)")

        dest = Path(tmp) / "replica"
        from archiver.replication.locations import LocalFolder
        from archiver.replication.replicate import replicate

        shutil.rmtree(archive / "audit", ignore_errors=True)
        first = replicate(archive, LocalFolder(dest))
        second = replicate(archive, LocalFolder(dest))
        assert first.ok and second.ok and second.files_copied == 0, (first.findings, first.notes, second.notes)
        print(f"replicate to a local folder: first {first.seconds:.2f} s ({first.bytes_copied / 1e6:.0f} MB), "
              f"again with nothing new {second.seconds:.3f} s: {second.seconds / first.seconds:.1%} "
              "(wanted < 5%)")


if __name__ == "__main__":
    main()
