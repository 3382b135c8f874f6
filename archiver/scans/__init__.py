"""Legacy paper transcripts: scans in, signed PDF/A-2b out (``archiver scans import``).

Seed 003, Art. 26.3a: when a student arrives with a handwritten paper transcript, the
receiving school scans it and keeps it in digital form; the principal signs with a
personal certificate and the clerk with the school's organisation certificate, confirming
that the digital copy matches the paper one. Art. 28.3b: a PDF carrying the digital
signatures is one of the two archived forms with legal value.

The stages, each a module::

    roster.py     the roster (CSV or XLSX): one row per paper transcript, checked
    pages.py      the scan of a row: page images read, hashed, checked (>= 200 dpi)
    document.py   the PDF/A-2b: information page, the pages at native resolution, XMP
    keys.py       KEY (a .p12 file or a pkcs11: URI) as a pyHanko signer, checked
    signing.py    two PAdES B-T signatures: the principal (HT), then the school (TC)

Library use::

    from archiver.scans import ImportOptions, import_scans
    from archiver.scans.keys import KeySpec
    result = import_scans(ImportOptions(roster, images, out, KeySpec("ht.p12", "HT_PASS"),
                                        KeySpec("school.p12", "TC_PASS")))

Workers read, check and assemble the rows; this process signs them (a USB token wants one
session, one PIN), and writes each PDF with a rename, so a run killed at any moment leaves
only whole, signed files, and the next run does only what is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import __version__, vn
from ..archive.layout import safe_name
from ..errors import ArchiveWriteError, UsageError
from ..fsutil import atomic_write, write_error
from .keys import KeySpec, Secret, SigningKey, open_key
from .pages import SYSTEM_FILES, PageError, read_scan, scan_files
from .record import ScanRecord, Signer, read_pdf_record
from .roster import Roster, RosterRow, RowProblem, read_roster

__all__ = ["ArchiveWriteError", "ImportOptions", "ImportResult", "KeySpec", "Roster", "import_scans", "output_path",
           "read_roster"]

STAGING = ".archiver-scans-staging"


@dataclass
class ImportOptions:
    roster: Path
    images: Path
    out: Path
    principal: KeySpec
    school: KeySpec
    tsa_url: str | None = None
    tsa_cert: Path | None = None
    jobs: int = 1
    now: dt.datetime | None = None  # the digitisation time written into the record (tests fix it)


@dataclass
class Imported:
    row: int
    path: Path
    pages: int
    replaced: bool = False


@dataclass
class ImportResult:
    out: Path
    rows: int = 0
    imported: list[Imported] = field(default_factory=list)
    unchanged: list[Imported] = field(default_factory=list)  # already imported, same content
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tsa_local: bool = True

    @property
    def pages(self) -> int:
        return sum(i.pages for i in self.imported)

    @property
    def complete(self) -> bool:
        return not self.problems


def output_path(out: Path, row: RosterRow) -> Path:
    """``OUT/<class>/<student code>.pdf``: FAT32-safe names."""
    return out / safe_name(row.class_name) / f"{safe_name(row.student_code)}.pdf"


def lookup_code(row: RosterRow, sources: list[str]) -> str:
    """The roster's, or one derived from the school, the student and the scan's files: the
    same scan imported again keeps its code."""
    if row.lookup_code:
        return row.lookup_code
    seed = "|".join(["archiver-scan", row.school_code, row.student_code, *sorted(sources)])
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]


def import_scans(options: ImportOptions, secret: Secret, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import every row of the roster. Usage and key problems raise before anything is
    written; a row that cannot be imported is named in ``problems`` with its row number
    (its files are left as they are), and the other rows go on."""
    started = time.perf_counter()
    images, out = options.images, options.out
    if not images.is_dir():
        raise UsageError(f"không thấy thư mục ảnh {images} (--images) / the images folder does not exist")
    if out.resolve().is_relative_to(images.resolve()):
        raise UsageError(f"thư mục kết quả {out} không được nằm trong thư mục ảnh {images}: lần chạy sau sẽ coi tệp PDF là "
                         "ảnh quét / --out must not be inside --images")
    roster = read_roster(options.roster)  # a roster that cannot be read stops here, before any PIN is asked
    from ..timestamps.config import configured_tsa, make_timestamper

    tsa = configured_tsa(options.tsa_url, options.tsa_cert)
    timestamper = make_timestamper(tsa)
    now = options.now or vn.now()
    keys: list[SigningKey] = []
    try:
        keys.append(open_key(options.principal, "HT", secret, now=now))
        keys.append(open_key(options.school, "TC", secret, now=now))
        if keys[0].certificate == keys[1].certificate:
            raise UsageError("hiệu trưởng và nhà trường dùng cùng một chứng thư số / the principal and the school give "
                             "the same certificate")
        result = ImportResult(out=out, rows=len(roster.rows) + len(roster.refused), tsa_local=tsa.is_local)
        try:
            _run(options, roster, keys, timestamper, now, result, progress)
        except OSError as exc:
            raise write_error(exc, out) from None
    finally:
        for key in keys:
            key.close()
    result.seconds = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class RowJob:
    row: RosterRow
    images: str
    staging: str
    roster_file: str
    signers: tuple[Signer, ...]
    digitised: str


@dataclass
class Prepared:
    row: int
    problem: str = ""
    unsigned: str = ""  # the staged unsigned PDF
    pages: int = 0
    record: dict | None = None


def _run(options: ImportOptions, roster: Roster, keys: list[SigningKey], timestamper, now: dt.datetime,
         result: ImportResult, progress: Callable[[int], None] | None) -> None:
    from ..pipeline.pool import WorkerPool
    from .signing import SigningFailed, sign, time_stamper

    out, images = options.out, options.images
    result.problems.extend(str(p) for p in roster.problems)
    if roster.unused_headers:
        result.notes.append(f"cột không dùng / columns not used: {', '.join(roster.unused_headers)}")
    result.problems.extend(_scans_without_row(images, roster))
    signers = tuple(Signer(k.role, _field(k.role), k.name, k.listed_id) for k in keys)
    digitised = now.isoformat(timespec="seconds")
    todo: list[RowJob] = []
    staging = out / STAGING
    if staging.exists():
        shutil.rmtree(staging)  # what a killed run left
    for row in roster.rows:
        target = output_path(out, row)
        if target.is_file() and _same_content(target, row, images, signers):
            result.unchanged.append(Imported(row.row, target, 0))
            if progress:
                progress(1)
            continue
        todo.append(RowJob(row, str(images), str(staging), roster.file, signers, digitised))
    if not todo:
        return
    staging.mkdir(parents=True, exist_ok=True)
    stamper = time_stamper(timestamper)
    rows = {job.row.row: job.row for job in todo}
    try:
        jobs = options.jobs if len(todo) >= 2 else 1
        with WorkerPool(jobs) as pool:
            for prepared in pool.imap(prepare_row, todo, batch=1, count=len(todo)):
                row = rows[prepared.row]
                if prepared.problem:
                    result.problems.append(str(RowProblem(prepared.row, prepared.problem)))
                else:
                    location = row.province or row.school_name
                    unsigned = Path(prepared.unsigned)
                    data = unsigned.read_bytes()
                    try:
                        for key in keys:
                            data = sign(data, key, stamper=stamper, location=location)
                    except SigningFailed as exc:
                        result.problems.append(str(RowProblem(prepared.row, str(exc))))
                    else:
                        target = output_path(out, row)
                        replaced = target.exists()
                        atomic_write(target, data)
                        result.imported.append(Imported(prepared.row, target, prepared.pages, replaced))
                    unsigned.unlink(missing_ok=True)
                if progress:
                    progress(1)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _field(role: str) -> str:
    from .signing import FIELDS

    return FIELDS[role]


def prepare_row(job: RowJob) -> Prepared:
    """In a worker: read and check the row's scan, and stage its unsigned PDF/A-2b."""
    from .document import assemble

    row = job.row
    try:
        scan = read_scan(Path(job.images), row.scan)
    except PageError as exc:
        return Prepared(row.row, problem=f"{exc}; chưa nhập dòng này / the row was not imported")
    sources = [s.sha256 for s in scan.sources]
    record = ScanRecord(
        lookup_code=lookup_code(row, sources), student_code=row.student_code, name=row.name,
        birth_date=row.birth_date, gender=row.gender, citizen_id=row.citizen_id, school_code=row.school_code,
        school_name=row.school_name, province=row.province, class_name=row.class_name, school_years=row.school_years,
        roster_file=job.roster_file, roster_row=row.row, roster_values=row.values, digitised=job.digitised,
        sources=scan.sources, signers=list(job.signers), software=f"archiver {__version__}", note=row.note)
    try:
        pdf = assemble(record, scan)
    except PageError as exc:
        return Prepared(row.row, problem=f"{exc}; chưa nhập dòng này / the row was not imported")
    staged = Path(job.staging) / f"row-{row.row}-{os.getpid()}.pdf"
    staged.write_bytes(pdf)
    return Prepared(row.row, unsigned=str(staged), pages=len(record.pages), record=record.to_json())


def _same_content(target: Path, row: RosterRow, images: Path, signers: tuple[Signer, ...]) -> bool:
    """Whether the PDF already at ``target`` holds this row, these files and these signers
    (then an interrupted or repeated import leaves it as it is)."""
    try:
        record = read_pdf_record(target.read_bytes())
        files = scan_files(images, row.scan)
    except (OSError, PageError):
        return False
    if not record:
        return False
    try:
        wanted = sorted((p.relative_to(images).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files)
    except OSError:
        return False
    have = sorted((s.get("file"), s.get("sha256")) for s in record.get("sources") or [] if isinstance(s, dict))
    listed = [(s.get("role"), s.get("id")) for s in record.get("signers") or [] if isinstance(s, dict)]
    return (have == wanted and (record.get("roster") or {}).get("values") == row.values
            and listed == [(s.role, s.id) for s in signers])


def _scans_without_row(images: Path, roster: Roster) -> list[str]:
    """Files under --images that no row names (a refused row still names its scan), each
    reported once by its folder: the scan it is part of."""
    named = [r.scan for r in (*roster.rows, *roster.refused) if r.scan]
    covered: set[Path] = set()
    for scan in named:
        try:
            covered.update(scan_files(images, scan))
        except PageError:
            pass
    units: dict[str, None] = {}
    for path in sorted(images.rglob("*")):
        if not path.is_file() or path in covered or path.name.lower() in SYSTEM_FILES:
            continue
        rel = path.relative_to(images)
        if any(part.startswith((".", "~$")) for part in rel.parts):
            continue
        parent = rel.parent.as_posix()
        # a folder that holds no named scan is a scan of its own; else the file is one
        unit = parent if parent != "." and not any(s.startswith(parent + "/") for s in named) else rel.as_posix()
        if not any(unit == s or unit.startswith(s + "/") for s in named):
            units[unit] = None
    return [f"{unit}: ảnh quét không có dòng nào trong danh sách, chưa nhập / a scan without a roster row, not "
            f"imported" for unit in units]

