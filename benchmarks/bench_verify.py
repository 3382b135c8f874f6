"""Verification speed and memory, as ratios against baselines measured in the same run.

Usage: python benchmarks/bench_verify.py [--students 40] [--classes 25] [--primary-classes 10]

1. Full verification (crypto + chains + revocation + roles + report) in one process,
   against a bare libxmlsec1 crypto-only loop over the same files (parse, register
   Ids, verify every signature with the key of its certificate). Target: <= 1.5x.
2. ``verify_inputs(jobs=2)`` against ``jobs=1``. Target: >= 1.7x faster.
3. Peak memory (max RSS of a fresh process) verifying all files against a fifth of
   them. Target: no growth with the number of files.
4. A primary school (profile hocba-1-tieuhoc: 6-8 signatures per transcript) against a
   lower-secondary one (15 per transcript) of as many transcripts, verified in the same
   run, alternately class by class, CPU time: a primary transcript costs less, as it
   carries fewer signatures; per signature, the same size of work, the target is primary
   within 10 % of THCS (ratio <= 1.10).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xmlsec
from lxml import etree

from archiver.sample import SampleOptions, generate_sample
from archiver.verify import Verifier, VerifySettings, load_trust, verify_inputs

DS = "{http://www.w3.org/2000/09/xmldsig#}"
AT = dt.datetime.fromisoformat("2026-12-01T00:00:00+07:00")


def bare_libxmlsec1(files: list[Path]) -> int:
    """The baseline: what any verifier must at least do, and nothing more."""
    keys: dict[bytes, xmlsec.Key] = {}
    ok = 0
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for path in files:
        root = etree.fromstring(path.read_bytes(), parser)
        registrar = xmlsec.SignatureContext()
        for node in root.iter("DLHocBa", "MonHoc"):
            registrar.register_id(node, "Id")
        for sig in root.iter(f"{DS}Signature"):
            der = base64.b64decode(sig.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate").text)
            key = keys.get(der)
            if key is None:
                key = keys[der] = xmlsec.Key.from_memory(der, xmlsec.constants.KeyDataFormatCertDer)
            ctx = xmlsec.SignatureContext()
            ctx.key = key
            ctx.verify(sig)
            ok += 1
    return ok


def full(files: list[Path], trust: Path) -> int:
    verifier = Verifier(load_trust(trust), validation_time=AT)
    valid = 0
    for path in files:
        report = verifier.verify_bytes(path.read_bytes(), str(path))
        json.dumps(report.to_dict())  # the report is part of the job
        valid += report.verdict == "VALID"
    return valid


def timed(label: str, fn, *args) -> float:
    started = time.perf_counter()
    result = fn(*args)
    elapsed = time.perf_counter() - started
    print(f"  {label:<42} {elapsed:7.2f} s  ({result})")
    return elapsed


def run_jobs(school: Path, jobs: int) -> int:
    settings = VerifySettings(trust_dir=str(school / "trust"), validation_time=AT, validation_data=False)
    return sum(r.verdict == "VALID" for r in verify_inputs([school / "input"], settings, jobs=jobs))


PEAK = """
import resource, sys, datetime as dt
from pathlib import Path
from archiver.verify import VerifySettings, verify_inputs
school, limit = Path(sys.argv[1]), int(sys.argv[2])
files = sorted((school / "input").rglob("*.xml"))[:limit]
s = VerifySettings(trust_dir=str(school / "trust"), validation_time=dt.datetime.fromisoformat("2026-12-01T00:00:00+07:00"))
n = sum(1 for _ in verify_inputs(files, s, jobs=1))
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_kib(school: Path, limit: int) -> int:
    out = subprocess.run([sys.executable, "-c", PEAK, str(school), str(limit)],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[1])


def primary_vs_thcs(classes: int, students: int) -> None:
    """Full verification of a primary and a THCS school of the same size, alternated."""
    with tempfile.TemporaryDirectory() as tmp:
        schools = {}
        for name, profile in (("THCS", "hocba-1-thcs"), ("primary", "hocba-1-tieuhoc")):
            folder = Path(tmp) / name
            generate_sample(SampleOptions(out=folder, students=students, classes=classes, seed="bench-level",
                                          profile_id=profile))
            files = sorted((folder / "input").rglob("*.xml"))
            signatures = sum(len(etree.parse(str(f)).getroot().findall(f".//{DS}Signature")) for f in files)
            verifier = Verifier(load_trust(folder / "trust"), validation_time=AT)
            verifier.verify_bytes(files[0].read_bytes(), str(files[0]))  # caches warm, as after the first file
            schools[name] = (verifier, [f.read_bytes() for f in files], signatures)
        cpu = {name: 0.0 for name in schools}
        for start in range(0, max(len(v[1]) for v in schools.values()), students):
            for name, (verifier, documents, _) in schools.items():  # a class of each, in turn
                t0 = time.process_time()
                for data in documents[start:start + students]:
                    report = verifier.verify_bytes(data, "x.xml")
                    json.dumps(report.to_dict())
                    assert report.verdict == "VALID", report.reasons
                cpu[name] += time.process_time() - t0
        for name, (_, documents, signatures) in schools.items():
            print(f"  {name:<8} {len(documents):5d} transcripts, {signatures:6d} signatures: {cpu[name]:6.2f} s CPU, "
                  f"{cpu[name] / len(documents) * 1000:5.2f} ms/transcript, "
                  f"{cpu[name] / signatures * 1000:5.3f} ms/signature")
        per_doc = (cpu["primary"] / len(schools["primary"][1])) / (cpu["THCS"] / len(schools["THCS"][1]))
        per_sig = (cpu["primary"] / schools["primary"][2]) / (cpu["THCS"] / schools["THCS"][2])
        print(f"primary / THCS per transcript = {per_doc:.2f}x   (fewer signatures)")
        print(f"primary / THCS per signature  = {per_sig:.2f}x   (target <= 1.10x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--classes", type=int, default=25)
    parser.add_argument("--primary-classes", type=int, default=10,
                        help="classes of each level for the primary/THCS comparison (0: skip)")
    parser.add_argument("--primary-only", action="store_true", help="run only the primary/THCS comparison")
    args = parser.parse_args()
    if args.primary_only:
        primary_vs_thcs(args.primary_classes, args.students)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        school = Path(tmp)
        summary = generate_sample(SampleOptions(out=school, students=args.students, classes=args.classes,
                                                seed="bench-verify"))
        files = sorted((school / "input").rglob("*.xml"))
        print(f"{summary.transcripts} transcripts, {summary.transcripts * 15} signatures")
        bare = timed("bare libxmlsec1 crypto loop (baseline)", bare_libxmlsec1, files)
        whole = timed("full verification, one process", full, files, school / "trust")
        one = timed("verify_inputs jobs=1", run_jobs, school, 1)
        two = timed("verify_inputs jobs=2", run_jobs, school, 2)
        small, large = peak_kib(school, len(files) // 5), peak_kib(school, len(files))
        print(f"full / bare            = {whole / bare:.2f}x   (target <= 1.5x)")
        print(f"jobs=1 / jobs=2        = {one / two:.2f}x   (target >= 1.7x)")
        print(f"peak RSS {len(files) // 5} files: {small / 1024:.0f} MiB; {len(files)} files: "
              f"{large / 1024:.0f} MiB; ratio {large / small:.2f}   (target ~1.0)")
    if args.primary_classes:
        primary_vs_thcs(args.primary_classes, args.students)
    return 0


if __name__ == "__main__":
    sys.exit(main())
