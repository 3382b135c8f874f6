"""``archiver build``: the main job. A thin orchestrator over the stages.

ingest → verify → render → package → timestamp → site

- One BagIt package per school year and class; REJECTED and unreadable inputs go, bit
  exact, into a per-year quarantine package. Every input ends in exactly one package.
- Incremental by content: what is already in a current package is not touched again. A
  class with new content gets a new version of its package beside the old one (the
  highest version is current); a finished package is never rewritten.
- Crash-safe: every package is assembled under ``.staging`` and renamed into place
  (:mod:`archiver.archive.store`); the archive's state is read back from the packages
  themselves, so a build killed at any moment leaves the previous complete state, and
  the next run goes on.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import vn
from ..archive.index import write_index, write_reports
from ..archive.layout import (
    FAT32_MAX_FILE,
    QUARANTINE_PREFIX,
    class_key,
    hashed_name,
    package_name,
    quarantine_name,
    safe_name,
)
from ..archive.records import School
from ..archive.store import Archive, Package
from ..errors import ArchiveWriteError, DiskFull, UsageError
from ..fsutil import folder_size, write_error
from ..ingest import IngestedFile, ingest
from ..timestamps.config import TsaConfig, configured_tsa, make_timestamper
from ..timestamps.tsa import Timestamper
from ..verify import VerifySettings
from ..verify.report import REJECTED
from .pool import WorkerPool
from .verify_stage import Spool, init_worker, verify_one


@dataclass
class BuildOptions:
    inputs: list[Path]
    out: Path
    trust_dir: Path | None = None
    no_trust: bool = False  # archive without a trust folder: every signature INDETERMINATE
    profile_id: str | None = None
    tsa_url: str | None = None
    tsa_cert: Path | None = None
    jobs: int = 1
    site: bool = True
    now: dt.datetime | None = None  # the validation time and package dates (tests fix it)

    def check(self) -> None:
        """The rules a build's request must follow, before anything is read or written."""
        if self.trust_dir is not None and self.no_trust:
            raise UsageError("--trust và --no-trust không dùng cùng nhau / --trust and --no-trust exclude each other")
        if self.trust_dir is None and not self.no_trust:
            raise UsageError(
                "thiếu --trust: thư mục chứng thư CA và CRL dùng để kiểm tra chữ ký. Không có nó, mọi chữ ký đều "
                "\"Chưa xác định\" và được lưu trữ như vậy; nếu thật sự muốn thế, thêm --no-trust / --trust DIR is "
                "required (or --no-trust to archive every signature as INDETERMINATE)")
        archive = self.out.resolve()
        for given in self.inputs:
            source = Path(given).resolve()
            if archive == source or archive.is_relative_to(source) or source.is_relative_to(archive):
                raise UsageError(
                    f"thư mục kho {self.out} không được nằm trong (hoặc chứa) đầu vào {given}: lần chạy sau sẽ đọc lại "
                    "chính kho lưu trữ / the archive folder must not be inside an input (or contain it)")


@dataclass
class ClassSummary:
    package: str
    counts: Counter = field(default_factory=Counter)
    warnings: int = 0
    written: bool = False
    level: str = ""  # "Tiểu học", "THCS": an archive may hold several levels


@dataclass
class BuildResult:
    archive: Path
    inputs: int = 0
    unique: int = 0
    duplicates: int = 0
    already_archived: int = 0
    packages_written: list[str] = field(default_factory=list)
    tsa_requests: int = 0
    site_unchanged: bool = False  # an unchanged re-run leaves the site as it was
    pending: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    classes: dict[str, ClassSummary] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    verified_now: int = 0  # transcripts (not rejected files) verified in this run
    untrusted_now: int = 0  # ... of which no signature chains to the trust folder

    @property
    def trust_looks_wrong(self) -> bool:
        """Most transcripts of this run have no signature chaining to the trust folder:
        the clerk probably gave another school's or an old folder."""
        return self.verified_now > 0 and self.untrusted_now * 2 >= self.verified_now

    @property
    def complete(self) -> bool:
        """Everything handed over was archived (whatever the verdicts)."""
        return not self.pending and not self.problems


class Progress:
    """Stage progress; the CLI swaps in rich progress bars, the library stays quiet."""

    def stage(self, key: str, label: str, total: int | None = None) -> "Progress":
        return self

    def advance(self) -> None:
        pass

    def done(self) -> None:
        pass


@dataclass
class _Run:
    """One build: what it was asked, and what it has found so far."""

    options: BuildOptions
    archive: Archive
    result: BuildResult
    progress: Progress
    now: dt.datetime
    started: float
    settings: VerifySettings
    tsa: TsaConfig
    timestamper: Timestamper
    input_paths: dict[str, list[str]] = field(default_factory=dict)
    # transcripts handed to the package stage and not yet published (for the disk-full estimate)
    unpublished: int = 0


def build(options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Archive ``options.inputs`` into ``options.out``. Usage and configuration mistakes
    raise before anything is written; a failed write raises
    :class:`~archiver.errors.ArchiveWriteError` (:class:`~archiver.errors.DiskFull` when
    the disk is full), the archive left as the last complete state."""
    options.check()
    now = options.now or vn.now()
    settings = VerifySettings(
        trust_dir=str(options.trust_dir) if options.trust_dir else None, profile_id=options.profile_id,
        validation_time=now.astimezone(dt.timezone.utc), stop_on_internal_error=True)
    settings.build()  # a bad trust folder or profile fails here, before anything is written
    tsa = configured_tsa(options.tsa_url, options.tsa_cert)  # so does a TSA setting that cannot work
    timestamper = make_timestamper(tsa)  # and a TSA certificate or data folder that cannot be read
    archive = Archive(options.out)
    run = _Run(options, archive, BuildResult(archive=options.out), progress or Progress(), now, time.perf_counter(),
               settings, tsa, timestamper)
    with archive.writing():
        try:
            _build(run)
        except DiskFull as exc:
            raise _disk_full(run, Path(exc.path or archive.root)) from None
        except OSError as exc:
            error = write_error(exc, archive.root)
            raise (_disk_full(run, archive.root) if isinstance(error, DiskFull) else error) from None
        finally:
            archive.clear_staging()  # what was kept there holds the students' data
    return run.result


def _disk_full(run: _Run, where: Path) -> DiskFull:
    """How much more room the build needs: what its unpublished transcripts take, at the
    size a transcript takes in this archive's packages (about 300 kB when it has none)."""
    from ..fsutil import disk_full_message

    published = [p for p in run.archive.packages().values() if not p.info.quarantine]
    members = sum(sum(p.info.counts.values()) for p in published)
    per_transcript = (sum(folder_size(p.path) for p in published) // members) if members else 300_000
    needed = per_transcript * max(run.unpublished, 1) + 2_000_000  # and the index, reports and site
    return DiskFull(disk_full_message(where, needed), str(where), needed)


def _build(run: _Run) -> None:
    archive, result = run.archive, run.result
    _complete_pending(run)
    # What the archive already holds, read from the packages themselves, and what waits
    # complete in .pending for its timestamp (kept, not to be packaged again).
    latest = archive.latest()
    known = _archived_hashes(latest.values())

    # 1. ingest
    stage = run.progress.stage("ingest", "Đọc tệp đầu vào / ingest")
    ingested = ingest(run.options.inputs, progress=stage.advance)
    stage.done()
    result.inputs = ingested.input_count + len(ingested.missing) + len(ingested.unreadable)
    result.unique = len(ingested.files)
    result.duplicates = sum(len(f.sources) - 1 for f in ingested.files.values())
    for item in ingested.missing:
        result.problems.append(f"{item.name}: {item.error}")
    for item, why in ingested.unreadable:
        result.problems.append(f"{item.name}: không đọc được / unreadable: {why}")
    new_files = {sha: f for sha, f in ingested.files.items() if sha not in known}
    _log_new_paths(archive, ingested.files, known, run.now)
    result.already_archived = len(ingested.files) - len(new_files)
    run.input_paths = {sha: f.paths for sha, f in ingested.files.items()}
    del ingested  # what is already archived needs only its paths from here on
    result.seconds["ingest"] = time.perf_counter() - run.started

    work = None
    if new_files:
        work = archive.new_staging("work")
        # One pool for the whole build: workers load profiles, trust, fonts once.
        jobs = run.options.jobs if len(new_files) >= 4 else 1
        with WorkerPool(jobs, init_worker, (run.settings,)) as pool:
            _build_new(run, latest, new_files, work, pool)
    # the site reads the transcripts kept in ``work`` instead of parsing them again
    _finish(run, kept_folder=work)


def _complete_pending(run: _Run) -> None:
    """Packages a down TSA left in ``.pending`` get their timestamp first, when it answers
    now (they are complete otherwise; their content counts as kept either way)."""
    if not run.archive.waiting_folders():
        return
    from ..archive.revise import complete_pending

    stamped = complete_pending(run.archive, run.timestamper, tsa_cert=run.tsa.cert, now=run.now)
    run.result.problems += stamped.problems
    run.result.tsa_requests += stamped.tsa_requests
    run.result.packages_written += stamped.packages


def _build_new(run: _Run, latest: dict[str, Package], new_files: dict[str, IngestedFile], work: Path,
               pool: WorkerPool) -> None:
    from ..archive.writer import PackagePlan, finish_package, start_package
    from ..timestamps.package import GivesUpOnce

    result = run.result
    t0 = time.perf_counter()
    stage = run.progress.stage("verify", "Kiểm tra chữ ký / verify", total=len(new_files))
    spool = Spool(work / "verified")
    years: Counter = Counter()
    rejected_years: Counter = Counter()
    replaced_by: dict[str, str] = {}  # ThayTheCho, across this build and the archive
    schools: dict[str, School] = {p.info.school_code: School(p.info.school_code, p.info.school_name, p.info.province)
                                  for p in latest.values() if p.info.school_code}
    jobs = ((sha, f.first, str(work)) for sha, f in new_files.items())
    for new in pool.imap(verify_one, jobs, count=len(new_files), tick=stage.advance):
        # 3. group into packages: classes, and a quarantine per school year
        record = new.record
        ingested = new_files[record.sha256]
        if ingested.size > FAT32_MAX_FILE:
            # FAT32 media cannot hold it, and it is no transcript: not archived, and said so
            result.problems.append(
                f"{ingested.paths[0]}: tệp {ingested.size:,} byte, lớn hơn giới hạn 4 GiB của "
                "thẻ nhớ FAT32; không đưa vào kho, hãy lưu tệp này riêng / larger than a FAT32 file can be: not "
                "archived, keep it elsewhere")
            continue
        if record.verdict == REJECTED:
            if record.school_year:
                rejected_years[record.school_year] += 1
            spool.add(quarantine_name(record.school_year) if record.school_year else _NO_YEAR, new)
        else:
            result.verified_now += 1
            result.untrusted_now += new.first_reason == "NO_CERTIFICATE_CHAIN_FOUND"
            if record.school_year:
                years[record.school_year] += 1
            spool.add(_class_package(record, latest), new)
        if record.replaces:
            replaced_by[record.replaces] = record.lookup_code
        if record.school_code:
            schools.setdefault(record.school_code, new.school)
    stage.done()
    result.seconds["verify"] = time.perf_counter() - t0
    # A rejected file that does not say its year joins the year most transcripts of this
    # run are from; else of the rejected files that say one; else of the archive.
    archived_years = Counter(p.info.school_year for p in latest.values() if p.info.school_year)
    default_year = next((c.most_common(1)[0][0] for c in (years, rejected_years, archived_years) if c),
                        "khong-ro-nam")
    spool.merge(_NO_YEAR, quarantine_name(default_year))
    for package in latest.values():
        for r in package.records():
            if r.replaces:
                replaced_by.setdefault(r.replaces, r.lookup_code)

    # 4-6. render, package, timestamp: one class at a time, so memory stays flat.
    timestamper = GivesUpOnce(run.timestamper)
    t0 = time.perf_counter()
    stage = run.progress.stage("package", "Kết xuất PDF/A, đóng gói, đóng dấu thời gian / render, package, timestamp",
                               total=spool.total)
    run.unpublished = spool.total
    only_school = next(iter(schools.values())) if len(schools) == 1 else School()

    def plan_for(name: str) -> PackagePlan:
        previous = latest.get(name)  # the new version carries the old one's content: each version is whole
        return PackagePlan(
            name=name, version=(previous.version + 1) if previous else 1, quarantine=name.startswith(QUARANTINE_PREFIX),
            previous=previous, new=[(v, new_files.pop(v.record.sha256)) for v in spool.load(name)],
            input_paths=run.input_paths, replaced_by=replaced_by, created=run.now, school=only_school)

    # Two packages in flight: while this process timestamps, bags and publishes one, the
    # workers already render the next.
    started = None  # the package whose members the workers are writing
    for name in [*sorted(spool.counts), None]:
        following = start_package(run.archive, plan_for(name), pool if pool.parallel else None) \
            if name is not None else None
        if started is not None:
            written = finish_package(run.archive, started, timestamper, run.tsa.cert, tick=stage.advance)
            run.unpublished -= len(started.plan.new)
            result.tsa_requests += written.tsa_requests
            (result.pending if written.pending else result.packages_written).append(written.path.name)
            for record in written.records:
                if record.render_error:
                    result.problems.append(f"{record.input_paths[0] if record.input_paths else record.stem}: "
                                           f"không tạo được bản PDF/A, học bạ vẫn được lưu / not rendered, archived "
                                           f"without its PDF: {record.render_error}")
        started = following
    stage.done()
    result.seconds["package"] = time.perf_counter() - t0


_NO_YEAR = ""


def _archived_hashes(packages) -> dict[str, frozenset[str]]:
    """Every archived original's SHA-256, with the input paths its package recorded."""
    return {r.sha256: frozenset(r.input_paths) for package in packages for r in package.records()}


def _log_new_paths(archive: Archive, ingested_files: dict[str, IngestedFile], known: dict[str, frozenset[str]],
                   now: dt.datetime) -> None:
    logged = archive.path_log()
    archive.log_paths({"sha256": sha, "path": path, "seen": now.isoformat(timespec="seconds")}
                      for sha, f in ingested_files.items() if sha in known
                      for path in f.paths if path not in known[sha] and path not in logged.get(sha, ()))


def _class_package(record, latest: dict[str, Package]) -> str:
    """The package of a transcript's class in this archive. An archive made before names
    carried a hash keeps its packages: a class already archived under the plain name gets
    its next version there; a plain name already taken by another class is not shared."""
    raw = class_key(record.school_code, record.school_year, record.class_name)
    name, plain = package_name(record.school_code, record.school_year, record.class_name), safe_name(raw)
    holder = latest.get(plain)
    holds_this_class = holder is not None and (
        holder.info.class_name, holder.info.school_code, holder.info.school_year
    ) == (record.class_name, record.school_code, record.school_year)
    if name != plain and holds_this_class:
        return plain  # archived before names carried a hash
    if name == plain and holder is not None and not holds_this_class:
        return hashed_name(raw)  # the plain name is another class's
    return name


# -- what every run ends with ---------------------------------------------------------------------
def _finish(run: _Run, *, report: bool = True, kept_folder: Path | None = None) -> None:
    """Archive-level index, build report and site: derived files, rewritten every run
    (``report=False``: a refresh after `timestamp --pending` or `renew` keeps the last
    build's report.json / report.html, which describe that build's inputs and problems)."""
    archive, result = run.archive, run.result
    current = archive.packages()
    known = _archived_hashes(archive.latest().values())
    for package in current.values():
        summary = result.classes.setdefault(package.base_name, ClassSummary(package=package.name))
        summary.package = package.name
        records = package.records()
        summary.counts = Counter(r.verdict for r in records)
        summary.warnings = sum(r.warnings for r in records)
        summary.written = package.name in result.packages_written
        summary.level = package.info.level
        result.counts.update(summary.counts)
    # A label is derived from its package: one missing (a run killed between publishing a
    # package and printing its label) is made again, for every version.
    for folder in archive.bag_folders():
        if not archive.label_path(folder.name).is_file():
            package = next((p for p in current.values() if p.path == folder), None)
            info = package.info if package is not None else _info(folder)
            if info is not None:
                from ..archive.label import write_label

                write_label(archive.root, folder, info)
    for sha, paths in run.input_paths.items():
        if sha not in known:
            result.problems.append(f"{paths[0]}: chưa được lưu / not archived")
    input_paths = dict(run.input_paths)
    for sha, paths in archive.path_log().items():  # paths met in earlier runs, kept
        input_paths[sha] = list(dict.fromkeys([*input_paths.get(sha, []), *paths]))
    index = write_index(archive, current, input_paths, run.now)
    if report or not (archive.root / "report.json").is_file():
        write_reports(archive, result, index, run.now)
    if run.options.site:
        _site(run, index.sha256, kept_folder)
    result.pending = sorted(set(result.pending) | {p.name for p in archive.waiting_folders()})
    result.seconds["total"] = time.perf_counter() - run.started


def _info(folder: Path):
    from ..archive.records import PackageManifest, PackageUnreadable

    try:
        return PackageManifest.read_info(folder)
    except PackageUnreadable:
        return None  # `archiver check` names it


def _site(run: _Run, fingerprint: str, kept_folder: Path | None) -> None:
    from ..site import build_site, site_is_current

    result = run.result
    t0 = time.perf_counter()
    if not result.packages_written and site_is_current(run.archive.root / "site", fingerprint):
        result.site_unchanged = True  # same index, same software: the site is as it would be
    else:
        stage = run.progress.stage("site", "Tạo trang tra cứu / site")
        try:
            run_site(build_site, run.archive.root, run.options.jobs, sum(result.counts.values()), kept_folder)
        except OSError:
            raise  # a full disk, say: the build's own message
        except Exception as exc:  # noqa: BLE001 - the packages are safe; say what failed, do not hide it
            result.problems.append(f"site: không tạo được trang tra cứu / the site failed: {exc!r}")
        stage.done()
    result.seconds["site"] = time.perf_counter() - t0


# From this many transcripts on, the site is built in a fresh process: the site holds the
# archive's index in memory, and the build's own heap should not come on top of it.
SITE_PROCESS_MIN = 2000


def run_site(build_site: Callable[..., Any], archive: Path, jobs: int | None, transcripts: int,
             kept_folder: Path | None = None) -> None:
    if transcripts < SITE_PROCESS_MIN:
        build_site(archive, jobs=jobs, kept_folder=kept_folder)
        return
    with WorkerPool(1, fresh=True) as pool:
        pool.submit(build_site, archive, jobs=jobs, kept_folder=kept_folder).result()


def refresh_archive(archive: Path, *, site: bool = True, now: dt.datetime | None = None) -> BuildResult:
    """Rewrite the derived files (index, reports, site, missing labels) from the packages.
    The caller holds the archive's lock."""
    store = Archive(archive)
    options = BuildOptions(inputs=[], out=archive, site=site, jobs=os.cpu_count() or 1, no_trust=True)
    run = _Run(options, store, BuildResult(archive=archive), Progress(), now or vn.now(), time.perf_counter(),
               VerifySettings(), TsaConfig(None, None, ""), None)  # type: ignore[arg-type]
    _finish(run, report=False)
    return run.result


__all__ = ["ArchiveWriteError", "BuildOptions", "BuildResult", "ClassSummary", "Progress", "build",
           "refresh_archive"]
