"""Generator throughput: signed transcripts per second for a sample school.

Usage: python benchmarks/bench_sample.py [--students 40] [--classes 25] [--jobs N]

Target (Foundation issue): 1,000 students in under a minute on a 2-core machine. The
baseline printed beside it is the same school signed in one process, so the parallel
speed-up is a ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from archiver.sample import SampleOptions, generate_sample


def run(out: Path, students: int, classes: int, jobs: int, keys: Path | None) -> float:
    if keys is not None:
        shutil.copytree(keys, out / "keys")
    started = time.perf_counter()
    summary = generate_sample(SampleOptions(out=out, students=students, classes=classes,
                                            seed="bench", jobs=jobs))
    elapsed = time.perf_counter() - started
    print(f"  jobs={jobs}: {summary.transcripts} transcripts in {elapsed:.1f} s "
          f"({summary.transcripts / elapsed:.0f}/s)")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--classes", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        print(f"{args.classes} classes x {args.students} students, {os.cpu_count()} cores")
        first = run(base / "cold", args.students, args.classes, args.jobs, None)
        keys = base / "cold" / "keys"
        warm = run(base / "parallel", args.students, args.classes, args.jobs, keys)
        serial = run(base / "serial", args.students, args.classes, 1, keys)
        print(f"cold run (new keys) {first:.1f} s; target < 60 s: {'ok' if first < 60 else 'MISSED'}")
        print(f"parallel speed-up vs one process: {serial / warm:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
