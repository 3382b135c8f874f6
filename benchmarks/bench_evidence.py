"""How long evidence records take for one package, excluding the TSA round trip.

    .venv/bin/python benchmarks/bench_evidence.py [--items 1000] [--repeat 3]

Each item is a transcript-sized group of three data objects (XML ~30 KB, report
~2 KB, validation data ~8 KB). The timestamper is the embedded local TSA, wrapped so
its own time is measured and subtracted: the figure is hashing + tree + DER encoding.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from archiver.timestamps.evidence import build_evidence, renew, verify_evidence
from archiver.timestamps.tsa import LocalTimestamper


class TimedTimestamper:
    def __init__(self, inner: LocalTimestamper) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    def timestamp(self, digest: bytes) -> bytes:
        started = time.perf_counter()
        try:
            return self.inner.timestamp(digest)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def make_items(count: int) -> list[list[bytes]]:
    return [[os.urandom(30_000), os.urandom(2_000), os.urandom(8_000)] for _ in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        tsa = TimedTimestamper(LocalTimestamper(Path(data_dir)))
        tsa.inner.timestamp(bytes(32))  # warm up imports and key loading
        items = make_items(args.items)
        megabytes = sum(len(d) for item in items for d in item) / 1e6

        builds = []
        for _ in range(args.repeat):
            tsa.seconds, tsa.calls = 0.0, 0
            started = time.perf_counter()
            records = build_evidence(items, tsa)
            builds.append(time.perf_counter() - started - tsa.seconds)
            assert tsa.calls == 1

        tsa.seconds = 0.0
        started = time.perf_counter()
        renewed = renew(records, tsa)
        renew_time = time.perf_counter() - started - tsa.seconds

        sample = min(50, len(items))
        started = time.perf_counter()
        for item, record in zip(items[:sample], renewed[:sample], strict=True):
            assert verify_evidence(item, record).ok
        verify_each = (time.perf_counter() - started) / sample

    best = min(builds)
    print(f"items: {args.items} ({megabytes:.1f} MB of data objects), 1 TSA request")
    print(
        f"build_evidence excluding TSA: best {best:.3f} s, "
        f"median {statistics.median(builds):.3f} s over {args.repeat} runs"
    )
    print(f"record size: {len(records[0])} bytes (token included)")
    print(f"renew {args.items} records excluding TSA: {renew_time:.3f} s")
    print(
        "verify_evidence (2 timestamps, incl. signature checks): "
        f"{verify_each * 1000:.1f} ms per record"
    )
    return 0 if best < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
