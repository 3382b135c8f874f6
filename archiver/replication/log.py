"""The audit log: what every audit, replication and repair found and did, kept in the archive.

Packages are never rewritten, so the log lives beside them, in ``ARCHIVE/audit/``:

- ``audit.jsonl``: JSON lines, appended (schema ``archiver.audit-log/1``), one line per
  package and copy examined, per repair and per run. Each line carries the SHA-256 of the
  line before it (``prev``), so a line edited or removed later breaks the chain at that
  point, and ``archiver check`` names it. A line a killed run left half-written is cut
  off by the next append.
- ``<package>.premis.xml``: PREMIS 3 events per package (``fixity check``,
  ``replication``, ``quarantine`` of a damaged copy, ``recovery`` of a good one), each
  linked to the software agent, with the outcome; rewritten whole through a temporary
  file and a rename.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from lxml import etree

from ..archive.premis import PREMIS_NS, add_agent, new_document, premis_event
from ..fsutil import atomic_write, write_error

AUDIT_DIR = "audit"
AUDIT_LOG = "audit.jsonl"
LOG_SCHEMA = "archiver.audit-log/1"
_TAIL = 1 << 16


def audit_dir(archive: Path) -> Path:
    return Path(archive) / AUDIT_DIR


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _complete_end(fh) -> tuple[int, bytes]:
    """Where the last complete line ends, and that line (b"" when none)."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    start = max(0, size - _TAIL)
    fh.seek(start)
    tail = fh.read()
    end = tail.rfind(b"\n")
    if end < 0:
        return (0, b"") if start == 0 else (size, b"")
    before = tail.rfind(b"\n", 0, end)
    return start + end + 1, tail[before + 1:end + 1]


def append_log(archive: Path, entries: Iterable[dict]) -> None:
    """Append ``entries`` to ``ARCHIVE/audit/audit.jsonl``, each chained to the line
    before. A line that a killed run left half-written (no end of line) is archiver's own
    unfinished write, not a record: it is cut off first. The caller holds the lock."""
    entries = list(entries)
    if not entries:
        return
    path = audit_dir(archive) / AUDIT_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as fh:
            end, last = _complete_end(fh)
            if fh.seek(0, os.SEEK_END) != end:
                fh.truncate(end)
            prev = line_hash(last) if last else ""
            out = b""
            for entry in entries:
                line = json.dumps({"schema": LOG_SCHEMA, **entry, "prev": prev}, ensure_ascii=False).encode("utf-8")
                out += line + b"\n"
                prev = line_hash(line)
            os.write(fh.fileno(), out)
            os.fsync(fh.fileno())
    except OSError as exc:
        raise write_error(exc, path) from None


def read_log(archive: Path) -> Iterable[dict]:
    """The log's entries, oldest first (lines that cannot be read are skipped; ``check``
    names them)."""
    path = audit_dir(archive) / AUDIT_LOG
    try:
        with open(path, "rb") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    yield entry
    except OSError:
        return


def log_problems(archive: Path) -> list[str]:
    """What ``archiver check`` says of the audit folder: every line of the log is JSON and
    chained to the one before; every PREMIS file is well-formed PREMIS."""
    problems: list[str] = []
    folder = audit_dir(archive)
    if not folder.is_dir():
        return problems
    path = folder / AUDIT_LOG
    if path.is_file():
        prev = ""
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                where = f"{AUDIT_DIR}/{AUDIT_LOG}"
                if not line.endswith(b"\n"):
                    problems.append(f"{where}: dòng {number} bị cắt dở (một lần chạy bị dừng khi đang ghi; lần chạy "
                                    f"sau sẽ bỏ nó) / line {number} is cut short: a run stopped while writing it")
                    break
                try:
                    entry = json.loads(line)
                    if not isinstance(entry, dict):
                        raise ValueError("not an object")
                except ValueError:  # UnicodeDecodeError included
                    problems.append(f"{where}: dòng {number} hỏng (không phải JSON) / line {number} is damaged")
                    prev = line_hash(line)
                    continue
                if entry.get("prev", "") != prev:
                    problems.append(f"{where}: dòng {number} không nối tiếp dòng trước (nhật ký bị sửa hoặc xoá "
                                    f"dòng?) / line {number} does not follow the line before it: the log was edited")
                prev = line_hash(line)
    for premis in sorted(folder.glob("*.premis.xml")):
        try:
            root = etree.fromstring(premis.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
            if root.tag != f"{{{PREMIS_NS}}}premis":
                raise ValueError("not a PREMIS document")
        except (OSError, ValueError, etree.XMLSyntaxError) as exc:
            problems.append(f"{AUDIT_DIR}/{premis.name}: không đọc được (hỏng) / unreadable PREMIS: {exc}")
    return problems


def add_events(archive: Path, package: str, events: list[tuple[str, str, str, list[str]]], when: dt.datetime) -> None:
    """Add PREMIS events (type, detail, outcome, linked SHA-256s) to the package's file
    ``ARCHIVE/audit/<package>.premis.xml``, made on first use. The caller holds the lock."""
    if not events:
        return
    path = audit_dir(archive) / f"{package}.premis.xml"
    root = None
    if path.is_file():
        try:
            root = etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
            if root.tag != f"{{{PREMIS_NS}}}premis":
                root = None
        except (OSError, etree.XMLSyntaxError):
            root = None  # a damaged file is kept aside, never lost: see below
        if root is None:
            os.replace(path, path.with_name(f"{path.name}.damaged-{when:%Y%m%dT%H%M%S}"))
    if root is None:
        root = new_document()
        add_agent(root)
    count = len(root.findall(f"{{{PREMIS_NS}}}event"))
    for number, (kind, detail, outcome, objects) in enumerate(events, count + 1):
        premis_event(root, f"{package}-audit-{number}", kind, detail, outcome, when, objects)
    try:
        atomic_write(path, etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    except OSError as exc:
        raise write_error(exc, path) from None


def record(archive: Path, entries: list[dict], events: dict[str, list[tuple[str, str, str, list[str]]]],
           when: dt.datetime, *, wait: float = 600.0, held: bool = False) -> None:
    """Write a run's log lines and PREMIS events into the archive, holding its lock (a
    build or renew writing meanwhile is waited for, up to ``wait`` seconds). ``held``: the
    caller already holds it."""
    import time

    from ..archive.store import Archive
    from ..errors import ArchiveLocked

    def write() -> None:
        append_log(archive, entries)
        for package, package_events in sorted(events.items()):
            add_events(archive, package, package_events, when)

    if held:
        write()
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            with Archive(archive).writing():
                write()
            return
        except ArchiveLocked:
            if time.monotonic() >= deadline:
                raise
            time.sleep(2.0)
