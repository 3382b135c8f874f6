"""The archive's index (``index.json``) and the build report (``report.json``/``.html``).

Both are derived from the published packages and rewritten atomically on every run;
they are conveniences, never the record (that is the packages themselves).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator

from . import __version__
from .fsutil import atomic_writer
from .package import VERDICT_ORDER, PublishedPackage

INDEX_SCHEMA = "archiver.index/1"


@dataclass
class IndexSummary:
    """What the build report needs from the index, kept small: the index itself is
    streamed to disk one package at a time, so memory does not grow with the archive."""

    packages: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    not_valid: list[dict[str, str]] = field(default_factory=list)
    # (input path, package, stored as, verdict, note): one short tuple per input path
    where: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # SHA-256 of index.json without its "generated" time: equal fingerprints, same site
    fingerprint: str = ""


def _package_entry(pkg: PublishedPackage) -> dict[str, Any]:
    meta = pkg.meta
    ts = meta.get("timestamp", {})
    tag_manifest = pkg.path / "tagmanifest-sha256.txt"
    return {
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
    }


def _entries(pkg: PublishedPackage, input_paths: dict[str, list[str]],
             summary: IndexSummary) -> Iterator[dict[str, Any]]:
    """The package's transcripts as index entries; its rejected files go to the summary."""
    ts = pkg.meta.get("timestamp", {})
    quarantine = bool(pkg.meta.get("quarantine"))
    for m in pkg.members:
        paths = sorted(set(m.input_paths) | set(input_paths.get(m.sha256, [])))
        if quarantine:
            entry = {"package": pkg.name, "file": m.files.get("original", ""),
                     "sha256": m.sha256, "reason_code": m.reason_code,
                     "reason": m.reason, "input_paths": paths,
                     "report_json": m.files.get("report_json", "")}
            summary.quarantine.append(entry)
            summary.where.extend((p, pkg.name, entry["file"], "REJECTED", m.reason) for p in paths)
            continue
        stored = m.files.get("xml", "")
        summary.where.extend((p, pkg.name, stored, m.verdict, "superseded" if m.superseded_by else "")
                             for p in paths)
        if m.verdict != "VALID":
            summary.not_valid.append({"file": paths[0] if paths else m.stem, "name": m.name,
                                      "class_name": m.class_name, "verdict": m.verdict})
        yield {
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
        }


def _grade(class_name: str) -> str:
    digits = ""
    for ch in class_name:
        if not ch.isdigit():
            break
        digits += ch
    return digits


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def write_json_streaming(fh: BinaryIO, head: dict[str, Any], lists: dict[str, Iterable[Any]],
                         digest: Any = None, unhashed: frozenset[str] = frozenset()) -> None:
    """One JSON object: the ``head`` keys, then each list written item by item.

    ``digest`` (a hashlib object) is fed everything written except the ``unhashed``
    head keys: a fingerprint of the content that ignores, say, when it was generated."""
    def put(data: bytes, hashed: bool = True) -> None:
        fh.write(data)
        if digest is not None and hashed:
            digest.update(data)

    put(b"{")
    first = True
    for key, value in head.items():
        put((b"" if first else b",\n") + _dump(key) + b": " + _dump(value), key not in unhashed)
        first = False
    for key, items in lists.items():
        put((b"" if first else b",\n") + _dump(key) + b": [")
        first = False
        sep = b"\n"
        for item in items:
            put(sep + _dump(item))
            sep = b",\n"
        put(b"]")
    put(b"}\n")


def write_index(archive: Path, current: dict[str, PublishedPackage], input_paths: dict[str, list[str]],
                generated: dt.datetime) -> IndexSummary:
    """``index.json`` (schema in docs/archive-layout.md), streamed package by package."""
    summary = IndexSummary()
    schools: dict[str, dict[str, str]] = {}
    ordered = sorted(current.values(), key=lambda p: p.name)
    for pkg in ordered:
        meta = pkg.meta
        if meta.get("school_code"):
            schools.setdefault(meta["school_code"], {"code": meta["school_code"],
                                                     "name": meta.get("school_name", ""),
                                                     "province": meta.get("province", "")})
        summary.packages.append(_package_entry(pkg))
    head = {"schema": INDEX_SCHEMA, "generated": generated.isoformat(timespec="seconds"),
            "software": f"archiver {__version__}", "schools": list(schools.values()),
            "packages": summary.packages}
    transcripts = (entry for pkg in ordered for entry in _entries(pkg, input_paths, summary))
    with atomic_writer(archive / "index.json") as fh:
        # the quarantine list is complete once every package has been walked
        digest = hashlib.sha256()
        write_json_streaming(fh, head, {"transcripts": transcripts, "quarantine": _later(summary)},
                             digest=digest, unhashed=frozenset({"generated"}))
    summary.fingerprint = digest.hexdigest()
    summary.where.sort()
    return summary


def _later(summary: IndexSummary) -> Iterator[dict[str, Any]]:
    yield from summary.quarantine


def write_reports(archive: Path, result, summary: IndexSummary, generated: dt.datetime) -> None:
    from .templating import stream_template
    from .verify.report import VERDICT_LABELS

    def where() -> Iterator[dict[str, str]]:
        for w in summary.where:
            yield dict(zip(("input", "package", "stored_as", "verdict", "note"), w))

    classes = [p for p in summary.packages if not p["quarantine"]]
    report = {
        "schema": "archiver.build-report/1",
        "generated": generated.isoformat(timespec="seconds"),
        "software": f"archiver {__version__}",
        "inputs": result.inputs, "unique": result.unique, "duplicates": result.duplicates,
        "already_archived": result.already_archived,
        "packages_written": result.packages_written, "pending": result.pending,
        "tsa_requests": result.tsa_requests,
        "counts": {k: result.counts[k] for k in VERDICT_ORDER if result.counts[k]},
        "packages": summary.packages,
        "problems": result.problems,
        "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
    }
    with atomic_writer(archive / "report.json") as fh:
        write_json_streaming(fh, report, {"inputs_detail": where()})
    problems = [{"file": q["input_paths"][0] if q["input_paths"] else q["file"], "what": q["reason"],
                 "code": q["reason_code"]} for q in summary.quarantine]
    problems += [{"file": t["file"], "what": f"{VERDICT_LABELS[t['verdict']]} — {t['name']} ({t['class_name']})",
                  "code": t["verdict"]} for t in summary.not_valid]
    with atomic_writer(archive / "report.html") as fh:
        for chunk in stream_template("report/archive.html.j2", report=report, inputs_detail=where(),
                                     classes=classes, problems=problems, chart=_chart(classes),
                                     labels=VERDICT_LABELS, order=VERDICT_ORDER,
                                     extra_problems=result.problems):
            fh.write(chunk.encode("utf-8"))


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
