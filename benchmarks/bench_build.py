"""End-to-end build speed and memory, as ratios against baselines measured in one run.

Usage: python benchmarks/bench_build.py [--students 40] [--classes 25] [--big-classes 0]

1. ``archiver build --jobs 2`` over a generated school against ``archiver verify --jobs 2``
   alone on the same input. Target: <= 3x.
2. An unchanged re-run against the full build. Target: <= 5 %.
3. With --big-classes K (e.g. 250 for 10,000 transcripts): peak memory (max RSS of the
   build process, its workers and the site process; the whole main job, site included)
   against the first school's. Target: <= 1.2x.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archiver.sample import SampleOptions, generate_sample


def timed(label: str, cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"{label} failed: {proc.stderr.decode()[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"  {label:<34} {elapsed:7.1f} s")
    return elapsed, peak


def school(base: Path, classes: int, students: int) -> Path:
    generate_sample(SampleOptions(out=base, classes=classes, students=students, seed="bench-build"))
    return base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--classes", type=int, default=25)
    parser.add_argument("--big-classes", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "archiver"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "ARCHIVER_DATA_DIR": str(tmp / "data"), "COLUMNS": "120"}
        s = school(tmp / "school", args.classes, args.students)
        n = sum(1 for _ in (s / "input").rglob("*.xml"))
        print(f"{n} transcripts, --jobs {args.jobs}, {os.cpu_count()} cores")
        jobs = ["--jobs", str(args.jobs)]
        verify, _ = timed("archiver verify (baseline)", [*exe, "verify", "-q", "--json", "--trust",
                                                         str(s / "trust"), *jobs, str(s / "input")], env)
        full, _ = timed("archiver build", [*exe, "build", str(s / "input"), "--trust", str(s / "trust"),
                                           "--out", str(tmp / "archive"), *jobs], env)
        again, _ = timed("archiver build, unchanged re-run", [*exe, "build", str(s / "input"), "--trust",
                                                              str(s / "trust"), "--out", str(tmp / "archive"),
                                                              *jobs], env)
        print(f"build / verify         = {full / verify:.2f}x   (target <= 3x)")
        print(f"re-run / build         = {100 * again / full:.1f} %   (target <= 5 %)")
        if args.big_classes:
            # Peak RSS of children is a running maximum: measure each size in its own process.
            probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
                     "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            peaks = []
            for label, classes in (("small", args.classes), ("big", args.big_classes)):
                src = s if label == "small" else school(tmp / "big", classes, args.students)
                out = subprocess.run([sys.executable, "-c", probe, *exe, "build", str(src / "input"), "--trust",
                                      str(src / "trust"), "--out", str(tmp / f"archive-{label}"), *jobs],
                                     capture_output=True, text=True, env=env)
                peaks.append(int(out.stdout.split()[-1]))
                print(f"  peak RSS {label:<5} ({classes * args.students} transcripts): {peaks[-1] / 1024:.0f} MiB")
            print(f"memory big / small     = {peaks[1] / peaks[0]:.2f}x   (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
