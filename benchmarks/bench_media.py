"""Archive media: image writing against `cp`, planning and per-volume sites, a district.

Usage: python benchmarks/bench_media.py [--transcripts 10000] [--jobs 2] [--medium dvd] [--keep]

1. An archive of N transcripts (classes of 40) made from the sample school's real
   package (its signed XML, PDF/A, reports, validation data and evidence records, hard
   linked; package.json and manifests written for each class): built with `archiver
   build` once, then multiplied. `archiver media` on it (no `check`: the copies' tag
   manifests are not re-sealed) gives:
   - planning and the per-volume sites: seconds, target for 10,000: < 30 s on 2 cores;
   - writing the images (pycdlib builds, writes, flushes and hashes each image, two
     images at a time): bytes per second, against `cp -r` of the same package files to
     the same disk followed by `sync`, measured in the same run (target >= 0.8x).
2. A simulated district (seed 004: 98 schools, 3,275 classes, 91,632 students): the
   volumes and their fill on DVD and on BD, each class's size taken from the sample's
   real per-transcript files and the volume's own files per transcript.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archiver.archive.bag import file_digests  # noqa: E402
from archiver.archive.layout import label_name  # noqa: E402
from archiver.archive.records import PackageManifest  # noqa: E402
from archiver.media.iso import ImageLabels, write_image  # noqa: E402
from archiver.media.isofs import data_sectors  # noqa: E402
from archiver.media.make import (  # noqa: E402
    FIXED_PER_VOLUME,
    RECORD_PER_FILE,
    SITE_PER_TRANSCRIPT,
    MediaRequest,
    make_media,
)
from archiver.media.medium import FILL_TARGET, SECTOR, parse_medium  # noqa: E402
from archiver.media.plan import Group, plan_volumes  # noqa: E402
from archiver.pipeline.build import refresh_archive  # noqa: E402
from archiver.sample.names import person_name  # noqa: E402

SAMPLE = ROOT / "fixtures" / "sample"
PER_CLASS = 40


def real_archive(dest: Path) -> Path:
    env = {**os.environ, "ARCHIVER_DATA_DIR": str(dest / "data")}
    out = dest / "real"
    subprocess.run([sys.executable, "-m", "archiver", "build", str(SAMPLE / "input"), "--out", str(out), "--trust",
                    str(SAMPLE / "trust"), "--no-site"], check=True, env=env, capture_output=True)
    return out


def synthetic_archive(dest: Path, n: int, seed: str = "bench") -> Path:
    """``n`` transcripts in classes of 40: each class a package whose members are the
    real package's members again (hard links), under new stems and names."""
    real = real_archive(dest / "_real")
    template_dir = max((p for p in real.iterdir() if (p / "bagit.txt").is_file()),
                       key=lambda p: len(PackageManifest.read(p).members))
    template = PackageManifest.read(template_dir)
    members = [m for m in template.members if m.verdict == "VALID"] or template.members
    digests = {rel: file_digests(template_dir / rel)[0] for m in members for rel in m.files.values()}
    rng = random.Random(seed)
    archive = dest / "archive"
    archive.mkdir()
    for c in range(0, n, PER_CLASS):
        k = c // PER_CLASS
        school = f"01{k // 90:05d}"
        year = f"{2021 + k // 30 % 5}-{2022 + k // 30 % 5}"
        klass = f"{6 + k % 4}A{k // 4 % 30 + 1}"
        name = f"{school}_{year}_{klass}"
        folder = archive / name
        records, manifest = [], {}
        for j in range(c, min(c + PER_CLASS, n)):
            m = members[j % len(members)]
            stem = f"{j:010d}_{rng.getrandbits(32):08x}"
            files = {}
            for kind, rel in m.files.items():
                new = rel.replace(m.stem, stem)
                (folder / new).parent.mkdir(parents=True, exist_ok=True)
                os.link(template_dir / rel, folder / new)
                files[kind] = new
                manifest[new] = digests[rel]
            records.append(dataclasses.replace(m, stem=stem, files=files, name=person_name(rng, j % 2 == 0),
                                               student_code=f"{j:010d}", lookup_code=f"{rng.getrandbits(128):032x}",
                                               citizen_id=f"{rng.getrandbits(36) % 10 ** 12:012d}", class_name=klass,
                                               school_year=year, school_code=school))
        for rel in ("bagit.txt", "bag-info.txt", "data/README.txt", "data/premis.xml"):
            if (template_dir / rel).is_file():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(template_dir / rel, folder / rel)
        for sub in ("timestamp", "trust"):
            shutil.copytree(template_dir / "data" / sub, folder / "data" / sub, copy_function=os.link)
        info = dataclasses.replace(template.info, package_id=name, base_name=name, class_name=klass,
                                   school_year=year, school_code=school, counts={"VALID": len(records)})
        (folder / "data" / "package.json").write_bytes(PackageManifest(info, records).to_bytes())
        for path in folder.rglob("*"):
            rel = path.relative_to(folder).as_posix()
            if path.is_file() and rel.startswith("data/") and rel not in manifest:
                manifest[rel] = file_digests(path)[0]
        for algorithm in ("sha256", "sha512"):
            (folder / f"manifest-{algorithm}.txt").write_text(
                "".join(f"{d[algorithm]}  {rel}\n" for rel, d in sorted(manifest.items())))
        tags = {rel: file_digests(folder / rel)[0] for rel in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt",
                                                               "manifest-sha512.txt")}
        for algorithm in ("sha256", "sha512"):
            (folder / f"tagmanifest-{algorithm}.txt").write_text(
                "".join(f"{d[algorithm]}  {rel}\n" for rel, d in sorted(tags.items())))
        os.link(real / label_name(template_dir.name), archive / label_name(name))
    (archive / "index.json").write_text(json.dumps({"schema": "archiver.index/1"}))
    return archive


def tree_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        else:
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return total


def bench_archive(n: int, jobs: int, medium_name: str, keep: bool, rounds: int = 3) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-media-", dir=os.environ.get("BENCH_DIR")))
    try:
        t0 = time.perf_counter()
        archive = synthetic_archive(tmp, n)
        print(f"synthetic archive: {n} transcripts in {n // PER_CLASS + (n % PER_CLASS > 0)} classes, made in "
              f"{time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        refresh_archive(archive, site=True)  # its index.json and its own site, as `archiver build` leaves them
        print(f"the archive's own index and site (what `archiver build` makes, not timed below): "
              f"{time.perf_counter() - t0:.1f} s")
        medium = parse_medium(medium_name)
        request = MediaRequest(archive=archive, out=tmp / "media", medium=medium, jobs=jobs, check=False,
                               include_all=True)
        subprocess.run(["sync"], check=False)
        result = make_media(request)
        s = result.seconds
        sites = s.get("plan", 0) + s.get("sites", 0)
        verdict = "OK" if n < 10000 or sites * 10000 / n < 30 else "TOO SLOW"
        print(f"planning {s.get('plan', 0):.1f} s + per-volume sites {s.get('sites', 0):.1f} s = {sites:.1f} s for "
              f"{n} transcripts on {len(result.volumes)} {medium.name} volumes, {jobs} jobs "
              f"[target for 10,000: < 30 s] {verdict}")
        print(f"finishing (catalogue, README, SHA256SUMS): {s.get('finish', 0):.1f} s; labels and record: "
              f"{s.get('labels+record', 0):.1f} s")
        image_bytes = sum(v.bytes for v in result.volumes)
        for v in result.volumes:
            print(f"  volume {v.number}/{v.count}: {v.bytes / 1e6:,.1f} MB ({v.fill:.1%} of {medium.name}), "
                  f"{len(v.packages)} packages")
        print(f"writing the images in that run: {image_bytes / 1e6:,.0f} MB in {s['write']:.1f} s = "
              f"{image_bytes / s['write'] / 1e6:,.0f} MB/s ({min(jobs, len(result.volumes), 2)} at a time)")
        shutil.rmtree(tmp / "media")
        sources = [p for p in sorted(archive.iterdir()) if not p.name.startswith(".") and p.name != "index.json"]
        bench_writing(sources, tmp, rounds)
    finally:
        if keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclasses.dataclass
class Run:
    seconds: float
    cpu: float  # seconds of CPU, threads and child processes included


def _timed(work) -> Run:
    """Wall and CPU seconds of ``work()`` followed by ``sync`` (the bytes on the disk)."""
    subprocess.run(["sync"], check=False)
    before = (time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN))
    t0 = time.perf_counter()
    work()
    subprocess.run(["sync"], check=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (after.ru_utime + after.ru_stime) - (before[1].ru_utime + before[1].ru_stime)
    return Run(seconds, time.process_time() - before[0] + children)


def bench_writing(sources: list[Path], tmp: Path, rounds: int) -> None:
    """The same files (the archive's packages, labels and site: what volumes hold) written
    in turn by ``cp -r``, by :func:`archiver.media.iso.write_image` as `archiver media`
    writes a volume (pycdlib builds the image, writes it, flushes it and hashes it), and by
    xorriso when present; each followed by ``sync``, ``rounds`` times, interleaved."""
    files = {}
    for source in sources:
        if source.is_file():
            files[source.name] = source
        else:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    files[path.relative_to(source.parent).as_posix()] = path
    size = sum(p.stat().st_size for p in files.values())
    labels = ImageLabels("BENCH_D01_01", "BENCH_D01-01", "BENCH", "BENCH", dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    xorriso = shutil.which("xorriso")
    print(f"writing {len(files):,} files, {size / 1e6:,.0f} MB ({size / len(files) / 1e3:.0f} kB a file on average), "
          f"to the same disk, {rounds} rounds, each followed by sync:")
    ratios, xo_ratios = [], []
    for r in range(rounds):
        copied = tmp / "cp"
        copied.mkdir()
        cp = _timed(lambda: subprocess.run(["cp", "-r", *map(str, sources), str(copied)], check=True))
        shutil.rmtree(copied)
        image = tmp / "bench.iso"
        ours = _timed(lambda: write_image(files, image, labels))
        image_size = image.stat().st_size
        image.unlink()
        line = (f"  round {r + 1}: cp -r {size / cp.seconds / 1e6:,.0f} MB/s ({cp.cpu / len(files) * 1e6:.0f} µs CPU a "
                f"file); archiver (pycdlib) {image_size / ours.seconds / 1e6:,.0f} MB/s "
                f"({ours.cpu / len(files) * 1e6:.0f} µs CPU a file) = {image_size / ours.seconds / (size / cp.seconds):.2f}x")
        ratios.append(image_size / ours.seconds / (size / cp.seconds))
        if xorriso:
            target = tmp / "xorriso.iso"
            xo = _timed(lambda: subprocess.run(
                [xorriso, "-as", "mkisofs", "-quiet", "-iso-level", "3", "-R", "-J", "-joliet-long", "-o", str(target),
                 "-graft-points", *(f"/{p.name}={p}" for p in sources)], check=True, capture_output=True))
            xo_size = target.stat().st_size
            target.unlink()
            xo_ratios.append(xo_size / xo.seconds / (size / cp.seconds))
            line += (f"; xorriso {xo_size / xo.seconds / 1e6:,.0f} MB/s ({xo.cpu / len(files) * 1e6:.0f} µs CPU a file) "
                     f"= {xo_ratios[-1]:.2f}x")
        print(line)
    ratio = statistics.median(ratios)
    print(f"writing images: median {ratio:.2f}x the throughput of cp [target >= 0.8x] "
          f"{'OK' if ratio >= 0.8 else 'BELOW TARGET'}"
          + (f"; xorriso (C; not on a clerk's Windows PC): median {statistics.median(xo_ratios):.2f}x" if xo_ratios else ""))


def per_transcript_bytes() -> tuple[int, int]:
    """(a transcript's files at ISO allocation with their records, the volume's own files
    per transcript) from the sample's real, built package."""
    with tempfile.TemporaryDirectory() as tmp:
        real = real_archive(Path(tmp))
        sizes = []
        for folder in (p for p in real.iterdir() if (p / "bagit.txt").is_file()):
            for m in PackageManifest.read(folder).members:
                if m.verdict == "VALID":
                    sizes.append(sum(data_sectors((folder / rel).stat().st_size) * SECTOR + RECORD_PER_FILE
                                     for rel in m.files.values()))
    return sum(sizes) // len(sizes), SITE_PER_TRANSCRIPT


def bench_district() -> None:
    """Seed 004: 98 schools, 3,275 classes, 91,632 students, one school year."""
    transcript, own = per_transcript_bytes()
    rng = random.Random("district")
    students, classes = 91_632, 3_275
    sizes = [students // classes + (1 if i < students % classes else 0) for i in range(classes)]
    rng.shuffle(sizes)
    groups = []
    for i, count in enumerate(sizes):
        school = i * 98 // classes
        package = 600 * 1024  # a package's own files (trust, timestamp, manifests, PREMIS) and its label
        groups.append(Group(f"{school:03d}_{i:04d}", count * (transcript + own) + package,
                            ("2025-2026", f"{school:03d}", i), "2025-2026"))
    total = sum(g.size for g in groups)
    print(f"district (seed 004): {students:,} students, {classes:,} classes, 98 schools; "
          f"{transcript / 1e3:.0f} kB per transcript on a disc + {own / 1e3:.0f} kB of the volume's own files; "
          f"{total / 1e9:.1f} GB in all")
    for name in ("dvd", "dvd-dl", "bd", "bd-dl"):
        medium = parse_medium(name)
        fixed = FIXED_PER_VOLUME + students * 700 + 64 * SECTOR  # the set's catalogue on every volume
        t0 = time.perf_counter()
        plan = plan_volumes(groups, medium.usable - fixed, int(medium.capacity * FILL_TARGET) - fixed)
        seconds = time.perf_counter() - t0
        fills = [(v.size + fixed) / medium.capacity for v in plan.volumes]
        print(f"  {name}: {plan.count} volumes, planned in {seconds * 1000:.0f} ms; fill "
              + ", ".join(f"{f:.1%}" for f in fills[:12]) + (" …" if len(fills) > 12 else "")
              + f"; every volume but the last >= 95 %: {all(f >= FILL_TARGET for f in fills[:-1])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transcripts", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--medium", default="dvd")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the writing comparison")
    parser.add_argument("--district-only", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("ARCHIVER_DATA_DIR", tempfile.mkdtemp(prefix="bench-media-data-"))
    bench_district()
    if not args.district_only:
        bench_archive(args.transcripts, args.jobs, args.medium, args.keep, args.rounds)


if __name__ == "__main__":
    main()
