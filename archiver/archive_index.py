"""The archive's index (``index.json``) and the build report (``report.json``/``.html``).

Both are derived from the published packages and rewritten atomically on every run;
they are conveniences, never the record (that is the packages themselves).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from . import __version__
from .fsutil import atomic_write
from .package import VERDICT_ORDER, PublishedPackage

INDEX_SCHEMA = "archiver.index/1"


def build_index(current: dict[str, PublishedPackage], input_paths: dict[str, list[str]],
                generated: dt.datetime) -> dict[str, Any]:
    schools: dict[str, dict[str, str]] = {}
    packages, transcripts, quarantine = [], [], []
    for pkg in sorted(current.values(), key=lambda p: p.name):
        meta = pkg.meta
        if meta.get("school_code"):
            schools.setdefault(meta["school_code"], {"code": meta["school_code"],
                                                     "name": meta.get("school_name", ""),
                                                     "province": meta.get("province", "")})
        ts = meta.get("timestamp", {})
        tag_manifest = pkg.path / "tagmanifest-sha256.txt"

        packages.append({
            "id": pkg.name, "path": pkg.name, "version": pkg.version, "current": True,
            "quarantine": bool(meta.get("quarantine")),
            "school_code": meta.get("school_code", ""), "school_year": meta.get("school_year", ""),
            "class_name": meta.get("class_name", ""),
            "grade": _grade(meta.get("class_name", "")),
            "counts": meta.get("counts", {}), "created": meta.get("created", ""),
            "timestamp": {k: ts.get(k) for k in ("time", "tsa", "local", "status")},
            "label": f"{pkg.name}.label.pdf",
            "tag_manifest_sha256": hashlib.sha256(tag_manifest.read_bytes()).hexdigest()
            if tag_manifest.is_file() else "",
        })
        for m in pkg.members:
            paths = sorted(set(m.input_paths) | set(input_paths.get(m.sha256, [])))
            if meta.get("quarantine"):
                quarantine.append({"package": pkg.name, "file": m.files.get("original", ""),
                                   "sha256": m.sha256, "reason_code": m.reason_code,
                                   "reason": m.reason, "input_paths": paths,
                                   "report_json": m.files.get("report_json", "")})
                continue
            transcripts.append({
                "package": pkg.name, "stem": m.stem, "lookup_code": m.lookup_code,
                "student_code": m.student_code, "citizen_id": m.citizen_id, "name": m.name,
                "birth_date": m.birth_date, "gender": m.gender, "school_code": m.school_code,
                "school_year": m.school_year, "class_name": m.class_name, "verdict": m.verdict,
                "files": {k: v for k, v in m.files.items() if k in
                          {"xml", "pdf", "report_json", "report_html", "evidence"}},
                "sha256": {"xml": m.hashes.get("xml", ""), "pdf": m.hashes.get("pdf", "")},
                "replaces": m.replaces or None, "superseded_by": m.superseded_by or None,
                "input_paths": paths,
                "timestamp": {k: ts.get(k) for k in ("time", "tsa", "local")},
            })
    return {
        "schema": INDEX_SCHEMA,
        "generated": generated.isoformat(timespec="seconds"),
        "software": f"archiver {__version__}",
        "schools": list(schools.values()),
        "packages": packages,
        "transcripts": transcripts,
        "quarantine": quarantine,
    }


def _grade(class_name: str) -> str:
    digits = ""
    for ch in class_name:
        if not ch.isdigit():
            break
        digits += ch
    return digits


def write_index(archive: Path, current, input_paths, generated: dt.datetime) -> dict[str, Any]:
    index = build_index(current, input_paths, generated)
    atomic_write(archive / "index.json", json.dumps(index, ensure_ascii=False, indent=1).encode("utf-8"))
    return index


def write_reports(archive: Path, result, index: dict[str, Any], generated: dt.datetime) -> None:
    from .templating import render_template
    from .verify.report import VERDICT_LABELS

    where: list[dict[str, str]] = []
    for t in index["transcripts"]:
        for p in t["input_paths"]:
            where.append({"input": p, "package": t["package"], "stored_as": t["files"].get("xml", ""),
                          "verdict": t["verdict"], "note": "superseded" if t["superseded_by"] else ""})
    for q in index["quarantine"]:
        for p in q["input_paths"]:
            where.append({"input": p, "package": q["package"], "stored_as": q["file"],
                          "verdict": "REJECTED", "note": q["reason"]})
    where.sort(key=lambda w: w["input"])
    classes = [p for p in index["packages"] if not p["quarantine"]]
    report = {
        "schema": "archiver.build-report/1",
        "generated": generated.isoformat(timespec="seconds"),
        "software": f"archiver {__version__}",
        "inputs": result.inputs, "unique": result.unique, "duplicates": result.duplicates,
        "already_archived": result.already_archived,
        "packages_written": result.packages_written, "pending": result.pending,
        "tsa_requests": result.tsa_requests,
        "counts": {k: result.counts[k] for k in VERDICT_ORDER if result.counts[k]},
        "packages": index["packages"],
        "problems": result.problems,
        "inputs_detail": where,
        "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
    }
    atomic_write(archive / "report.json", json.dumps(report, ensure_ascii=False, indent=1).encode("utf-8"))
    problems = [{"file": q["input_paths"][0] if q["input_paths"] else q["file"], "what": q["reason"],
                 "code": q["reason_code"]} for q in index["quarantine"]]
    for t in index["transcripts"]:
        if t["verdict"] != "VALID":
            problems.append({"file": t["input_paths"][0] if t["input_paths"] else t["stem"],
                             "what": f"{VERDICT_LABELS[t['verdict']]} — {t['name']} ({t['class_name']})",
                             "code": t["verdict"]})
    html = render_template("report/archive.html.j2", report=report, classes=classes,
                           problems=problems, chart=_chart(classes), labels=VERDICT_LABELS,
                           order=VERDICT_ORDER, extra_problems=result.problems)
    atomic_write(archive / "report.html", html.encode("utf-8"))


COLOURS = {"VALID": "#1b7a3a", "INVALID": "#b3261e", "INDETERMINATE": "#a65f00", "REJECTED": "#6a3d9a"}


def _chart(classes: list[dict[str, Any]]) -> dict[str, Any]:
    """Stacked horizontal bars, one per class, as data for an inline SVG."""
    rows = []
    biggest = max((sum(p["counts"].values()) for p in classes), default=1) or 1
    for i, p in enumerate(classes):
        x, bars = 0.0, []
        for verdict in VERDICT_ORDER:
            n = p["counts"].get(verdict, 0)
            if n:
                w = 420 * n / biggest
                bars.append({"x": 130 + x, "w": w, "colour": COLOURS[verdict], "n": n, "verdict": verdict})
                x += w
        rows.append({"y": 10 + i * 26, "label": f"{p['class_name']} ({p['school_year']})", "bars": bars})
    return {"rows": rows, "height": 20 + 26 * len(rows)}
