"""A small but realistic archive folder (docs/archive-layout.md) for the site tests.

Built from the committed sample school: the real signed XMLs, their real verification
reports, and stand-ins for what other stages make (PDF renderings, evidence records,
HTML reports), so the site stage can be tested without the build stage. Two classes,
one revoked-and-replaced pair, INVALID and INDETERMINATE transcripts from the labelled
defects, and a quarantine bag with REJECTED inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from archiver.profiles import available_profiles
from archiver.safexml import parse_bytes
from archiver.transcript import read_transcript
from archiver.verify import Verifier, load_trust

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample"
AT = dt.datetime.fromisoformat("2026-12-01T00:00:00+07:00")
GENERATED = "2026-12-02T09:30:00+07:00"
SCHOOL = {"code": "0109944", "name": "Trường THCS Trưng Vương", "province": "Hà Nội"}
# Defects that still make a transcript (kept in their class) and ones that are REJECTED.
KEPT_DEFECTS = ("tampered-content.xml", "no-revocation-data.xml", "revoked-certificate.xml")
REJECTED_DEFECTS = ("not-xml.xml", "entity-bomb.xml", "empty.xml")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_pdf(stem: str) -> bytes:
    """Stands in for the PDF/A rendering: distinct bytes per transcript are all we need."""
    return f"%PDF-1.7\n% archiver test rendering of {stem}\n1 0 obj <<>> endobj\n%%EOF\n".encode()


def _package(root: Path, package_id: str, class_name: str, version: int, local: bool) -> dict[str, Any]:
    for sub in ("transcripts", "renderings", "reports", "evidence"):
        (root / package_id / "data" / sub).mkdir(parents=True, exist_ok=True)
    (root / package_id / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (root / package_id / "data" / "README.txt").write_text("stand-in package README\n", encoding="utf-8")
    return {
        "id": package_id, "path": package_id, "version": version, "current": True,
        "school_code": SCHOOL["code"], "school_year": "2025-2026", "class_name": class_name,
        "grade": class_name[0], "counts": {}, "created": "2026-12-02T09:00:00+07:00",
        "timestamp": {"time": "2026-12-02T02:00:05+00:00",
                      "tsa": "CN=Archiver local TSA" if local else "CN=Archiver TEST TSA,O=Archiver TEST PKI,C=VN",
                      "local": local},
        "label": f"{package_id}.label.pdf", "tag_manifest_sha256": sha256(package_id.encode()),
    }


def build_archive(dest: Path) -> dict[str, Any]:
    """Write the archive into ``dest`` (created) and return its index."""
    dest.mkdir(parents=True, exist_ok=True)
    verifier = Verifier(load_trust(SAMPLE / "trust"), validation_time=AT)
    profiles = available_profiles()
    packages: dict[str, dict[str, Any]] = {}
    transcripts: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []

    inputs = sorted((SAMPLE / "input").glob("*/*.xml")) + [SAMPLE / "defects" / n for n in KEPT_DEFECTS]
    for path in inputs:
        data = path.read_bytes()
        rel = path.relative_to(SAMPLE).as_posix()
        report = verifier.verify_bytes(data, rel)
        t = read_transcript(parse_bytes(data), profiles[report.profile])
        package_id = f"{t.school.code}_{t.school_year}_{t.class_name}"
        if package_id not in packages:
            packages[package_id] = _package(dest, package_id, t.class_name, 1, local=t.class_name == "9A1")
        package = packages[package_id]
        stem = f"{t.student.student_code}_{t.lookup_code[:8]}"
        data_dir = dest / package_id / "data"
        pdf = fake_pdf(stem)
        (data_dir / "transcripts" / f"{stem}.xml").write_bytes(data)
        (data_dir / "renderings" / f"{stem}.pdf").write_bytes(pdf)
        (data_dir / "reports" / f"{stem}.json").write_text(
            json.dumps(report.to_dict(validation_data=True), ensure_ascii=False, indent=1), encoding="utf-8")
        (data_dir / "reports" / f"{stem}.html").write_text(
            f"<!DOCTYPE html><meta charset=utf-8><title>{report.verdict}</title><p>{report.verdict}</p>\n",
            encoding="utf-8")
        (data_dir / "evidence" / f"{stem}.ers").write_bytes(b"\x30\x03\x02\x01\x01")
        package["counts"][report.verdict] = package["counts"].get(report.verdict, 0) + 1
        transcripts.append({
            "package": package_id, "stem": stem, "lookup_code": t.lookup_code,
            "student_code": t.student.student_code, "citizen_id": t.student.citizen_id,
            "name": t.student.name, "birth_date": t.student.birth_date, "gender": t.student.gender,
            "school_code": t.school.code, "school_year": t.school_year, "class_name": t.class_name,
            "verdict": report.verdict,
            "files": {"xml": f"data/transcripts/{stem}.xml", "pdf": f"data/renderings/{stem}.pdf",
                      "report_json": f"data/reports/{stem}.json", "report_html": f"data/reports/{stem}.html",
                      "evidence": f"data/evidence/{stem}.ers"},
            "sha256": {"xml": sha256(data), "pdf": sha256(pdf)},
            "replaces": t.replaces.lookup_code if t.replaces else None, "superseded_by": None,
            "input_paths": [rel],
        })
    by_code = {e["lookup_code"]: e for e in transcripts}
    for entry in transcripts:
        if entry["replaces"] in by_code:
            by_code[entry["replaces"]]["superseded_by"] = entry["lookup_code"]

    qdir = dest / "_KiemDuyet_2025-2026" / "data" / "rejected"
    qdir.mkdir(parents=True)
    for name in REJECTED_DEFECTS:
        data = (SAMPLE / "defects" / name).read_bytes()
        report = verifier.verify_bytes(data, f"defects/{name}")
        file = f"data/rejected/{Path(name).stem}.bin"
        (dest / "_KiemDuyet_2025-2026" / file).write_bytes(data)
        quarantine.append({"package": "_KiemDuyet_2025-2026", "file": file, "sha256": sha256(data),
                           "reason_code": report.reasons[0].code, "reason": report.reasons[0].message,
                           "input_paths": [f"defects/{name}"]})

    index = {
        "schema": "archiver.index/1", "generated": GENERATED, "software": "archiver 0.1.0",
        "schools": [SCHOOL], "packages": sorted(packages.values(), key=lambda p: p["id"]),
        "transcripts": sorted(transcripts, key=lambda e: (e["package"], e["stem"])),
        "quarantine": quarantine,
    }
    (dest / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    return index


def copy_archive(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


if __name__ == "__main__":  # python tests/site_archive.py OUT: an archive to look at by hand
    import sys

    out = Path(sys.argv[1])
    build_archive(out)
    from archiver.site import build_site

    print(build_site(out))


def build_archive_with_site(dest: Path) -> Path:
    """The archive above with its site (``dest/site``) built, for the browser tests."""
    from archiver.site import build_site

    build_archive(dest)
    build_site(dest)
    return dest
