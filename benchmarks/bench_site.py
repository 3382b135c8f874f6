"""Static site speed and size, on synthetic archives made from the real sample files.

Usage: python benchmarks/bench_site.py [--transcripts 10000] [--search 100000] [--jobs 2]

1. Generation: an index of N transcripts (classes of 40, Vietnamese names with the real
   family-name distribution) whose XML and report files are hard links to the sample
   school's real signed transcripts and reports, so every student page really parses an
   XML and a report. Target: 10,000 transcripts in < 30 s on 2 cores. Also prints the
   site size per transcript.
2. Search: a site of M transcripts (default 100,000) opened from file:// in headless
   Chromium; name queries with and without diacritics, prefixes, and code lookups,
   timed from the query to the rendered results. Target: every query < 200 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archiver.sample.names import person_name  # noqa: E402
from archiver.site import build_site  # noqa: E402
from tests.site_archive import build_archive  # noqa: E402

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
VERDICTS = ["VALID"] * 90 + ["INVALID"] * 6 + ["INDETERMINATE"] * 4


def synthetic_archive(dest: Path, n: int, seed: str = "bench") -> dict[str, Any]:
    """An archive of ``n`` transcripts built from hard links to the sample's real files."""
    base = dest / "_base"
    real = build_archive(base)
    sources = [(base / e["package"] / e["files"]["xml"], base / e["package"] / e["files"]["report_json"])
               for e in real["transcripts"] if e["verdict"] == "VALID"]
    rng = random.Random(seed)
    packages, transcripts = [], []
    per_class, schools = 40, max(1, n // 4000)
    for c in range(0, n, per_class):
        school = f"01{(c // per_class) % schools:05d}"
        klass = f"{6 + (c // per_class) % 4}A{(c // per_class) // 4 % 12 + 1}"
        year = f"{2020 + (c // per_class) // 48 % 6}-{2021 + (c // per_class) // 48 % 6}"
        package_id = f"{school}_{year}_{klass}_{c // per_class}"
        folder = dest / package_id / "data"
        (folder / "transcripts").mkdir(parents=True)
        (folder / "reports").mkdir()
        members = range(c, min(c + per_class, n))
        packages.append({"id": package_id, "path": package_id, "version": 1, "current": True,
                         "school_code": school, "school_year": year, "class_name": f"{klass}-{c // per_class}",
                         "grade": klass[0], "counts": {"VALID": len(members)},
                         "created": "2026-12-02T09:00:00+07:00",
                         "timestamp": {"time": "2026-12-02T02:00:05+00:00", "tsa": "CN=local", "local": True},
                         "label": f"{package_id}.label.pdf", "tag_manifest_sha256": "0" * 64})
        for i in members:
            female = rng.random() < 0.5
            lookup = hashlib.md5(f"{seed}{i}".encode()).hexdigest()
            student = f"{rng.randrange(10**9, 10**10)}"
            stem = f"{student}_{lookup[:8]}"
            xml, report = sources[i % len(sources)]
            os.link(xml, folder / "transcripts" / f"{stem}.xml")
            os.link(report, folder / "reports" / f"{stem}.json")
            transcripts.append({
                "package": package_id, "stem": stem, "lookup_code": lookup, "student_code": student,
                "citizen_id": f"0{rng.randrange(10, 99)}{rng.randrange(10**8, 10**9)}",
                "name": person_name(rng, female), "birth_date": f"20{rng.randrange(8, 16):02d}-0{rng.randrange(1, 10)}-1{rng.randrange(0, 10)}",
                "gender": "Nữ" if female else "Nam", "school_code": school, "school_year": year,
                "class_name": f"{klass}-{c // per_class}", "verdict": rng.choice(VERDICTS),
                "files": {"xml": f"data/transcripts/{stem}.xml", "pdf": f"data/renderings/{stem}.pdf",
                          "report_json": f"data/reports/{stem}.json", "report_html": f"data/reports/{stem}.html",
                          "evidence": f"data/evidence/{stem}.ers"},
                "sha256": {"xml": hashlib.sha256(f"x{i}".encode()).hexdigest(),
                           "pdf": hashlib.sha256(f"p{i}".encode()).hexdigest()},
                "replaces": None, "superseded_by": None, "input_paths": [f"input/{stem}.xml"],
            })
    index = {"schema": "archiver.index/1", "generated": "2026-12-02T09:30:00+07:00",
             "software": "archiver bench", "schools": [{"code": f"01{s:05d}", "name": f"Trường THCS số {s + 1}",
                                                        "province": "Hà Nội"} for s in range(schools)],
             "packages": packages, "transcripts": transcripts, "quarantine": real["quarantine"]}
    (dest / "index.json").write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
    return index


def bench_generation(n: int, jobs: int) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="bench-site-"))
    t0 = time.perf_counter()
    synthetic_archive(tmp, n)
    print(f"synthetic archive of {n} transcripts made in {time.perf_counter() - t0:.1f} s")
    summary = build_site(tmp, jobs=jobs)
    per = summary.bytes_per_transcript
    verdict = "OK" if n < 10000 or summary.seconds * 10000 / n < 30 else "TOO SLOW"
    print(f"generation: {summary.transcripts} transcripts, {summary.pages} pages, {summary.files} files in "
          f"{summary.seconds:.1f} s with {jobs} jobs ({summary.seconds / n * 1000:.2f} ms/transcript) "
          f"[target for 10,000: < 30 s] {verdict}")
    print(f"size: {summary.bytes / 1e6:.1f} MB total, {per / 1e3:.1f} kB per transcript "
          f"(search index {summary.search_bytes / n:.0f} B, hash index {summary.hash_bytes / n:.0f} B per transcript)")
    return tmp


QUERIES = ["nguyen van an", "Nguyễn Văn An", "Nguye\u0302\u0303n Thi\u0323 Lan", "tran thi", "le minh",
           "nguyen", "hoang ngoc", "an", "dang", "pham thu trang", "vu duc"]


def bench_search(site: Path, codes: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    worst = 0.0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page()
        page.goto((site / "index.html").as_uri())
        for q in QUERIES + codes:
            page.goto((site / "index.html").as_uri())  # cold: nothing loaded yet
            t0 = time.perf_counter()
            page.fill("#q", q)
            page.press("#q", "Enter")
            page.wait_for_selector("#results[data-count]")
            wall = (time.perf_counter() - t0) * 1000
            inner = float(page.get_attribute("#results", "data-ms"))
            count = page.get_attribute("#results", "data-count")
            worst = max(worst, inner)
            print(f"  {q!r:40} {count:>6} hits  {inner:6.1f} ms in page, {wall:6.1f} ms incl. driver")
        browser.close()
    print(f"search: worst {worst:.1f} ms [target < 200 ms] {'OK' if worst < 200 else 'TOO SLOW'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transcripts", type=int, default=10000)
    parser.add_argument("--search", type=int, default=100000, help="0 to skip the search benchmark")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import shutil

    gen = bench_generation(args.transcripts, args.jobs)
    shutil.rmtree(gen)
    if args.search:
        big = bench_generation(args.search, args.jobs) if args.search != args.transcripts else gen
        index = json.loads((big / "index.json").read_text(encoding="utf-8"))
        sample = index["transcripts"][len(index["transcripts"]) // 2]
        bench_search(big / "site", [sample["lookup_code"], sample["student_code"], sample["citizen_id"]])
        shutil.rmtree(big)


if __name__ == "__main__":
    main()
