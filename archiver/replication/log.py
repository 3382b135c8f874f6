"""The audit log: what every audit, replication and repair found and did, kept in the archive.

Packages are never rewritten, so the log lives beside them, in ``ARCHIVE/audit/``:

- ``audit.jsonl``: JSON lines, appended (schema ``archiver.audit-log/1``), one line per
  package and copy examined, per repair and per run. Each line carries the SHA-256 of the
  line before it (``prev``), so a line edited or removed later breaks the chain at that
  point, and ``archiver check`` names it. A line a killed run left half-written is cut
  off by the next append.
- ``<run>.premis.xml``: one PREMIS 3 document per run, never changed after it is
  written: an event per package and copy (``fixity check``, ``replication``,
  ``quarantine`` of a damaged copy, ``recovery`` from a good one) with its outcome,
  linked to the software agent and to the package's tag manifest (a file object).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..fsutil import atomic_writer, write_error

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
    path = audit_dir(archive) / AUDIT_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as fh:
            end, last = _complete_end(fh)
            if fh.seek(0, os.SEEK_END) != end:
                fh.truncate(end)
            prev = line_hash(last) if last else ""
            out: list[bytes] = []
            for entry in entries:
                line = json.dumps({"schema": LOG_SCHEMA, **entry, "prev": prev}, ensure_ascii=False).encode("utf-8")
                out.append(line + b"\n")
                prev = line_hash(line)
                if len(out) >= 1000:
                    fh.write(b"".join(out))
                    out.clear()
            fh.write(b"".join(out))
            fh.flush()
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
    from lxml import etree

    from ..archive.premis import PREMIS_NS

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


@dataclass(frozen=True)
class PremisEvent:
    """One PREMIS event of a run, about one package: linked to the file object of the
    package's ``tagmanifest-sha256.txt`` (its SHA-256 is the one ``index.json`` and the
    label carry, and it pins every other file of the package)."""

    package: str
    kind: str  # the Library of Congress event type: fixity check, replication, quarantine, recovery
    detail: str
    outcome: str  # success / failure (PREMIS eventOutcome)
    tag_manifest_sha256: str = ""
    tag_manifest_size: int = 0
    time: str = ""  # ISO 8601; the run's start when empty


class RunLog:
    """What one run (an audit, a replication, a repair) adds to ``ARCHIVE/audit/``.

    Lines and events are gathered in a temporary file as the run goes (memory stays the
    same whatever the number of packages) and written at the end, under the archive's
    lock: the lines appended to ``audit.jsonl``, the events as one new PREMIS document
    ``<run>.premis.xml``, written whole through a temporary name and never changed
    after (one file per run rather than a file per package rewritten on every run)."""

    def __init__(self, kind: str, started: dt.datetime) -> None:
        self.kind = kind
        self.started = started
        self.run = f"{started:%Y%m%dT%H%M%S}-{kind}-{os.urandom(3).hex()}"
        self._spool = tempfile.TemporaryFile()
        self.events = 0

    def add(self, entry: dict | None = None, event: PremisEvent | None = None) -> None:
        record = {"log": entry, "premis": asdict(event) if event else None}
        self._spool.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        self.events += event is not None

    def _records(self) -> Iterator[dict]:
        self._spool.flush()
        self._spool.seek(0)
        for line in self._spool:
            yield json.loads(line)

    def close(self) -> None:
        self._spool.close()

    def write(self, archive: Path, *, wait: float = 600.0, held: bool = False) -> None:
        """Write the run's lines and events into the archive, holding its lock (a build
        or renew writing meanwhile is waited for, up to ``wait`` seconds). ``held``: the
        caller already holds it."""
        from ..archive.store import Archive
        from ..errors import ArchiveLocked

        def write() -> None:
            for left in audit_dir(archive).glob(".*.tmp"):  # a killed run's unfinished file (we hold the lock)
                left.unlink(missing_ok=True)
            append_log(archive, (r["log"] for r in self._records() if r["log"]))
            if self.events:
                self._write_premis(audit_dir(archive) / f"{self.run}.premis.xml")

        try:
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
        finally:
            self.close()

    def _write_premis(self, path: Path) -> None:
        """Objects first, then events, then the agent: the order the PREMIS 3 schema
        requires; streamed, two passes over the spool."""
        from lxml import etree

        from ..archive.premis import PREMIS_NS, XSI_NS, add_agent, new_document, premis_event, premis_object

        P = f"{{{PREMIS_NS}}}"
        try:
            with atomic_writer(path) as fh, etree.xmlfile(fh, encoding="UTF-8") as xf:
                xf.write_declaration()
                with xf.element(f"{P}premis", nsmap={"premis": PREMIS_NS, "xsi": XSI_NS}, version="3.0"):
                    seen: set[str] = set()
                    for record in self._records():
                        event = record["premis"]
                        if event and event["tag_manifest_sha256"] and event["tag_manifest_sha256"] not in seen:
                            seen.add(event["tag_manifest_sha256"])
                            holder = new_document()
                            premis_object(holder, event["tag_manifest_sha256"], event["tag_manifest_size"],
                                          "text/plain", f"{event['package']}/tagmanifest-sha256.txt", [])
                            xf.write(holder[0], pretty_print=True)
                    number = 0
                    for record in self._records():
                        event = record["premis"]
                        if not event:
                            continue
                        number += 1
                        holder = new_document()
                        objects = [event["tag_manifest_sha256"]] if event["tag_manifest_sha256"] else []
                        moment = dt.datetime.fromisoformat(event["time"]) if event["time"] else self.started
                        premis_event(holder, f"{self.run}-{number}", event["kind"],
                                     f"{event['package']}: {event['detail']}", event["outcome"], moment, objects)
                        xf.write(holder[0], pretty_print=True)
                    holder = new_document()
                    add_agent(holder)
                    xf.write(holder[0], pretty_print=True)
        except OSError as exc:
            raise write_error(exc, path) from None
