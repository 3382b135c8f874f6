"""The archive's index (``index.json``) and the build report (``report.json``/``.html``).

Both are derived from the published packages and rewritten atomically on every run;
they are conveniences, never the record (that is the packages themselves).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator

from .. import __version__
from ..fsutil import atomic_writer
from .layout import INDEX, REPORT_HTML, REPORT_JSON, label_name
from .records import VERDICT_ORDER, TranscriptRecord
from .store import Archive, Package

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
    # SHA-256 of index.json as it is on disk (the site records which index it was made from)
    sha256: str = ""


def package_entry(package: Package) -> dict[str, Any]:
    info = package.info
    ts = info.timestamp
    tag_manifest = package.path / "tagmanifest-sha256.txt"
    return {
        "id": package.name, "path": package.name, "version": package.version, "current": True,
        "quarantine": bool(info.quarantine),
        "school_code": info.school_code, "school_year": info.school_year, "class_name": info.class_name,
        "grade": _grade(info.class_name), "profile": info.profile, "level": info.level,
        "counts": info.counts, "created": info.created,
        "timestamp": {k: ts.get(k) for k in ("time", "tsa", "local", "status")},
        "label": label_name(package.name),
        "tag_manifest_sha256": hashlib.sha256(tag_manifest.read_bytes()).hexdigest()
        if tag_manifest.is_file() else "",
    }


def transcript_entry(package: Package, record: TranscriptRecord, paths: list[str]) -> dict[str, Any]:
    """What the index (and so the site) says of one transcript."""
    ts = package.info.timestamp
    r = record
    return {
        "package": package.name, "stem": r.stem, "lookup_code": r.lookup_code,
        "student_code": r.student_code, "citizen_id": r.citizen_id, "name": r.name,
        "birth_date": r.birth_date, "gender": r.gender, "school_code": r.school_code,
        "school_year": r.school_year, "class_name": r.class_name, "verdict": r.verdict,
        "files": {k: v for k, v in r.files.items()
                  if k in {"xml", "pdf", "pdf_signed", "report_json", "report_html", "evidence"}},
        # a signed PDF transcript (a scan) is its own rendering: one file to recognise
        "sha256": {"pdf_signed": r.hashes.get("pdf_signed", "")} if "pdf_signed" in r.files else
        {"xml": r.hashes.get("xml", ""), "pdf": r.hashes.get("pdf", "")},
        "replaces": r.replaces or None, "superseded_by": r.superseded_by or None,
        "input_paths": paths,
        "timestamp": {k: ts.get(k) for k in ("time", "tsa", "local")},
    }


def quarantine_entry(package: Package, record: TranscriptRecord, paths: list[str]) -> dict[str, Any]:
    return {"package": package.name, "file": record.files.get("original", ""),
            "sha256": record.sha256, "reason_code": record.reason_code,
            "reason": record.reason, "input_paths": paths,
            "report_json": record.files.get("report_json", "")}


def _entries(package: Package, input_paths: dict[str, list[str]],
             summary: IndexSummary) -> Iterator[dict[str, Any]]:
    """The package's transcripts as index entries; its rejected files go to the summary."""
    for r in package.records():
        paths = sorted(set(r.input_paths) | set(input_paths.get(r.sha256, [])))
        if package.info.quarantine:
            entry = quarantine_entry(package, r, paths)
            summary.quarantine.append(entry)
            summary.where.extend((p, package.name, entry["file"], "REJECTED", r.reason) for p in paths)
            continue
        summary.where.extend((p, package.name, r.files.get(r.original, ""), r.verdict,
                              "superseded" if r.superseded_by else "") for p in paths)
        if r.verdict != "VALID":
            summary.not_valid.append({"file": paths[0] if paths else r.stem, "name": r.name,
                                      "class_name": r.class_name, "verdict": r.verdict})
        yield transcript_entry(package, r, paths)


def _schools(packages: list[Package]) -> list[dict[str, str]]:
    schools: dict[str, dict[str, str]] = {}
    for package in packages:
        info = package.info
        if info.school_code:
            schools.setdefault(info.school_code, {"code": info.school_code, "name": info.school_name,
                                                  "province": info.province})
    return list(schools.values())


def expected_index(archive: Archive) -> dict[str, Any]:
    """What ``index.json`` must say, worked out from the packages alone (and the paths the
    archive logged): ``archiver check`` compares the file with it, field by field."""
    packages = sorted(archive.packages().values(), key=lambda p: p.name)
    summary = IndexSummary()
    transcripts = [entry for package in packages for entry in _entries(package, archive.path_log(), summary)]
    return {"schema": INDEX_SCHEMA, "schools": _schools(packages),
            "packages": [package_entry(p) for p in packages], "transcripts": transcripts,
            "quarantine": summary.quarantine}


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


def write_index(archive: Archive, current: dict[str, Package], input_paths: dict[str, list[str]],
                generated: dt.datetime) -> IndexSummary:
    """``index.json`` (schema in docs/archive-layout.md), streamed package by package."""
    summary = IndexSummary()
    ordered = sorted(current.values(), key=lambda p: p.name)
    summary.packages = [package_entry(p) for p in ordered]
    head = {"schema": INDEX_SCHEMA, "generated": generated.isoformat(timespec="seconds"),
            "software": f"archiver {__version__}", "schools": _schools(ordered),
            "packages": summary.packages}
    transcripts = (entry for package in ordered for entry in _entries(package, input_paths, summary))
    path = archive.root / INDEX
    digest = hashlib.sha256()

    def same_content() -> bool:
        """An index whose content did not change keeps its file, and so the time it says it
        was made: that time is when the archive last changed, as the site shows it."""
        try:
            return content_fingerprint(path.read_bytes()) == digest.hexdigest()
        except OSError:
            return False

    with atomic_writer(path, keep_old=same_content) as fh:
        # the quarantine list is complete once every package has been walked
        write_json_streaming(fh, head, {"transcripts": transcripts, "quarantine": _later(summary)},
                             digest=digest, unhashed=frozenset({"generated"}))
    summary.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    summary.where.sort()
    return summary


def content_fingerprint(index_bytes: bytes) -> str:
    """SHA-256 of an index as :func:`write_index` wrote it, without the time it was made."""
    return hashlib.sha256(re.sub(rb',\n"generated": "[^"]*"', b"", index_bytes, count=1)).hexdigest()


def index_bytes(expected: dict[str, Any], generated: str, software: str) -> bytes:
    """The bytes :func:`write_index` writes for ``expected`` (see :func:`expected_index`)."""
    out = io.BytesIO()
    head = {"schema": expected["schema"], "generated": generated, "software": software,
            "schools": expected["schools"], "packages": expected["packages"]}
    write_json_streaming(out, head, {"transcripts": expected["transcripts"], "quarantine": expected["quarantine"]})
    return out.getvalue()


def _later(summary: IndexSummary) -> Iterator[dict[str, Any]]:
    yield from summary.quarantine


def write_reports(archive: Archive, result, summary: IndexSummary, generated: dt.datetime) -> None:
    from ..templating import stream_template
    from ..verify.report import VERDICT_LABELS

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
    with atomic_writer(archive.root / REPORT_JSON) as fh:
        write_json_streaming(fh, report, {"inputs_detail": where()})
    problems = [{"file": q["input_paths"][0] if q["input_paths"] else q["file"], "what": q["reason"],
                 "code": q["reason_code"]} for q in summary.quarantine]
    problems += [{"file": t["file"], "what": f"{VERDICT_LABELS[t['verdict']]} — {t['name']} ({t['class_name']})",
                  "code": t["verdict"]} for t in summary.not_valid]
    with atomic_writer(archive.root / REPORT_HTML) as fh:
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
