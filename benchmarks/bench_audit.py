"""Fixity audit throughput against `sha256sum` over the same files, in the same run; memory
against the number of files; an unchanged replication against the first one.

    .venv/bin/python benchmarks/bench_audit.py [--classes 25] [--students 40] [--repeat 5]
                                               [--work DIR]

The archives (made once, kept in ``--work DIR`` when given, so a second run starts at once):

- ``school``: a generated school year, ``--classes`` classes of ``--students`` (25 x 40:
  1,000 transcripts, about 260 MB in 6,800 files, each package with its own RFC 3161
  token: what a school archives in a year);
- ``sample``: the bundled sample (three packages, 8.5 MB): the smallest archive there is,
  where starting the program is most of the work;
- ``large``: one class of the school whose renderings are 4 MiB each (scanned pages), as
  a package of its own: large files, read a block at a time.

For each, with the page cache warm, ``--repeat`` rounds of: ``sha256sum`` over every file
of every package (one SHA-256 each: the baseline), then ``archiver audit ARCHIVE --json``
(a new process: start-up, every file read once for SHA-256 and SHA-512 together, every
package's trust chain: tag manifests, index.json, the RFC 3161 token and its signature;
the log written). Both are timed from the outside, as a user would; throughput is the
package bytes over the wall-clock time, best of the rounds and median; the ratio is the
audit's throughput over sha256sum's (the issue asks for >= 0.9). The processor time of
each (user + system, all processes) is printed too: on a machine shared with other work
it says how much each costs whatever the load.

Then the peak memory of an audit (one process, ``--jobs 1``) of the sample and of the
school (flat: it does not grow with the number of files), and ``archiver replicate`` to a
local folder, then again with nothing new (the issue asks for under 5% of the first).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample"
ARCHIVER = [sys.executable, "-m", "archiver"]
LARGE_RENDERING = 4 << 20


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, **kw)


# -- the archives ---------------------------------------------------------------------------
def school(work: Path, classes: int, students: int) -> Path:
    from archiver.sample import SampleOptions, generate_sample

    archive = work / f"school-{classes}x{students}"
    if not (archive / "index.json").is_file():
        source = work / "school-input"
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(archive, ignore_errors=True)
        print(f"making a school of {classes} classes of {students} (once) …", flush=True)
        generate_sample(SampleOptions(out=source, classes=classes, students=students, seed="bench-audit", jobs=2))
        run([*ARCHIVER, "build", source / "input", "--trust", source / "trust", "--out", archive, "--no-site",
             "--jobs", "2"])
    return archive


def sample(work: Path) -> Path:
    archive = work / "sample"
    if not (archive / "index.json").is_file():
        shutil.rmtree(archive, ignore_errors=True)
        run([*ARCHIVER, "build", SAMPLE / "input", SAMPLE / "defects", "--out", archive, "--trust",
             SAMPLE / "trust", "--no-site"])
    return archive


def large(work: Path, school_archive: Path) -> Path:
    """One class of the school with 4 MiB renderings: its manifests and tag manifests made
    anew for them (the package's token covers the originals, reports and validation data,
    not the renderings, so the package is still one the audit trusts)."""
    archive = work / "large"
    if (archive / "done").is_file():
        return archive
    shutil.rmtree(archive, ignore_errors=True)
    archive.mkdir(parents=True)
    source = sorted(p for p in school_archive.iterdir() if (p / "bagit.txt").is_file())[0]
    bag = archive / source.name
    shutil.copytree(source, bag)
    for pdf in sorted((bag / "data" / "renderings").iterdir()):
        seed = hashlib.sha256(pdf.name.encode()).digest()
        pdf.write_bytes(pdf.read_bytes() + (seed * (LARGE_RENDERING // len(seed)))[:LARGE_RENDERING])
    digests = {}
    for path in sorted((bag / "data").rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            digests[path.relative_to(bag).as_posix()] = {a: hashlib.new(a, data).hexdigest() for a in
                                                         ("sha256", "sha512")}
    for algorithm in ("sha256", "sha512"):
        (bag / f"manifest-{algorithm}.txt").write_text(
            "".join(f"{d[algorithm]}  {rel}\n" for rel, d in digests.items()), encoding="utf-8")
    for algorithm in ("sha256", "sha512"):
        names = ["bag-info.txt", "bagit.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
        (bag / f"tagmanifest-{algorithm}.txt").write_text(
            "".join(f"{hashlib.new(algorithm, (bag / n).read_bytes()).hexdigest()} {n}\n" for n in names),
            encoding="utf-8")
    (archive / "done").write_text("")
    return archive


def package_files(archive: Path) -> list[Path]:
    return [p for bag in sorted(archive.iterdir()) if (bag / "bagit.txt").is_file() for p in sorted(bag.rglob("*"))
            if p.is_file()]


# -- timing ---------------------------------------------------------------------------------
def timed(cmd: list, **kw) -> tuple[float, float]:
    """Wall-clock seconds and processor seconds (user + system, the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(label: str, archive: Path, repeat: int) -> float:
    files = package_files(archive)
    total = sum(p.stat().st_size for p in files)
    listing = "\0".join(map(str, files)).encode()
    for path in files:  # the page cache warm for both
        path.read_bytes()
    base, audit = [], []
    for _ in range(repeat):
        base.append(timed(["xargs", "-0", "sha256sum"], input=listing))
        shutil.rmtree(archive / "audit", ignore_errors=True)
        audit.append(timed([*ARCHIVER, "audit", archive, "--json"]))
    shutil.rmtree(archive / "audit", ignore_errors=True)
    mb = total / 1e6

    def line(name: str, runs: list[tuple[float, float]]) -> tuple[float, float]:
        walls = [w for w, _ in runs]
        best, median = mb / min(walls), mb / statistics.median(walls)
        cpu = min(c for _, c in runs)
        print(f"  {name:<16} best {min(walls):6.2f} s {best:7.0f} MB/s · median {statistics.median(walls):6.2f} s "
              f"{median:7.0f} MB/s · processor {cpu:5.2f} s ({mb / cpu:4.0f} MB per processor second)")
        return best, median

    packages = sum(1 for p in archive.iterdir() if (p / "bagit.txt").is_file())
    print(f"{label}: {len(files)} files, {mb:.0f} MB in {packages} packages, {repeat} rounds, "
          f"{os.cpu_count()} cores")
    base_best, base_median = line("sha256sum", base)
    audit_best, audit_median = line("archiver audit", audit)
    ratio = audit_best / base_best
    print(f"  audit / sha256sum throughput: {ratio:.2f}x best, {audit_median / base_median:.2f}x median "
          "(wanted >= 0.9)")
    return ratio


def peak_rss_of_audit(archive: Path) -> int:
    """Peak resident memory (KiB) of an audit in one fresh process (--jobs 1)."""
    # VmHWM, where there is /proc: Linux keeps ru_maxrss across exec, so a child started by
    # this (large) process would report this process's peak
    code = ("import resource,sys;from pathlib import Path;"
            "from archiver.replication.audit import open_locations, run_audit;"
            "a=Path(sys.argv[1]);run_audit(a, open_locations(a, []), write_log=False);"
            "s=Path('/proc/self/status');"
            "print(int(s.read_text().split('VmHWM:')[1].split()[0]) if s.exists() else "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    proc = run([sys.executable, "-c", code, archive], text=True)
    return int(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=25)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path, help="keep the archives here (made once)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("ARCHIVER_DATA_DIR", str(work / "data"))
        # archiver runs as installed, its modules compiled once (pip does it at install time)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        big = school(work, args.classes, args.students)
        small = sample(work)
        scanned = large(work, big)
        ratios = {"school": compare(f"school ({args.classes} classes x {args.students})", big, args.repeat),
                  "large": compare("large files (4 MiB renderings)", scanned, args.repeat),
                  "sample": compare("bundled sample", small, args.repeat)}

        small_rss, big_rss = peak_rss_of_audit(small), peak_rss_of_audit(big)
        print(f"peak memory of an audit (--jobs 1): {small_rss / 1024:.0f} MiB for {len(package_files(small))} "
              f"files, {big_rss / 1024:.0f} MiB for {len(package_files(big))} files: {big_rss / small_rss:.2f}x "
              "(wanted flat)")

        dest = Path(tmp) / "replica"
        first, _ = timed([*ARCHIVER, "replicate", big, dest])
        second, _ = timed([*ARCHIVER, "replicate", big, dest])
        print(f"replicate to a local folder: first {first:.2f} s, again with nothing new {second:.2f} s: "
              f"{second / first:.1%} (wanted < 5%)")
        print("ratios: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
