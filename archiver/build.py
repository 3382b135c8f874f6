"""``archiver build``: the main job. A thin orchestrator over the stages.

ingest → verify → render → package → timestamp → site

- One BagIt package per school year and class; REJECTED and unreadable inputs go, bit
  exact, into a per-year quarantine package. Every input ends in exactly one package.
- Incremental by content: what is already in a current package is not touched again. A
  class with new content gets a new version of its package beside the old one (the
  highest version is current); a finished package is never rewritten.
- Crash-safe: packages are assembled under ``.staging`` and renamed into place; the
  archive's state is read back from the published packages themselves, so a build
  killed at any moment leaves the previous complete state, and the next run goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import time
import unicodedata
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .fsutil import ArchiveWriteError, archive_lock, clear_staging, new_staging_dir, safe_name
from .ingest import ingest
from .inputs import InputItem
from .package import (
    PackagePlan,
    QUARANTINE_PREFIX,
    StartedPackage,
    finish_package,
    published_packages,
    start_package,
)
from .verify import VerifySettings
from .verify.report import REJECTED, Finding

VN = dt.timezone(dt.timedelta(hours=7))


@dataclass
class BuildOptions:
    inputs: list[Path]
    out: Path
    trust_dir: Path | None = None
    profile_id: str | None = None
    tsa_url: str | None = None
    tsa_cert: Path | None = None
    jobs: int = 1
    site: bool = True
    now: dt.datetime | None = None  # the validation time and package dates (tests fix it)


@dataclass
class ClassSummary:
    package: str
    counts: Counter = field(default_factory=Counter)
    warnings: int = 0
    written: bool = False


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


# -- verification of new content (in worker processes) -----------------------------------
@dataclass(slots=True)
class Verified:
    """What the orchestrator keeps in memory about one unique input: light fields only;
    the full report waits on disk in the staging area."""

    sha256: str
    verdict: str
    kept_path: str  # what the verify stage kept for the package stage (archiver.kept)
    school_code: str = ""
    school_name: str = ""
    province: str = ""
    school_year: str = ""
    class_name: str = ""
    grade: str = ""
    lookup_code: str = ""
    replaces: str = ""
    warnings: int = 0
    reason: str = ""
    reason_code: str = ""
    student_code: str = ""
    citizen_id: str = ""
    name: str = ""
    birth_date: str = ""
    gender: str = ""


_WORKER: dict[str, Any] = {}


def _init_worker(settings: VerifySettings) -> None:
    _WORKER["verifier"] = settings.build()
    _WORKER["settings"] = settings


def _verify_one(job: tuple[str, InputItem, str, str | None]) -> Verified:
    from .profiles import get_profile
    from .safexml import parse_bytes
    from .kept import Kept, keep, kept_path
    from .qr import qr_matrix
    from .transcript import read_transcript
    from .verify import verify_item

    sha, item, work_dir, poe = job
    verifier = _WORKER["verifier"]
    settings: VerifySettings = _WORKER["settings"]
    if poe:
        settings = VerifySettings(**{**settings.__dict__, "proof_of_existence": dt.datetime.fromisoformat(poe)})
    verifier.last_document = None  # verify_item may stop before parsing
    report = verify_item(verifier, item, settings)
    report.path = item.name
    if item.kept_whole:
        # a member could not be read, or would expand beyond any transcript: the zip is
        # kept whole (its other members are archived as usual), and says why
        report.verdict = REJECTED
        report.reasons = [Finding(
            "ZIP_KEPT_WHOLE", f"Tệp zip có tệp bên trong không đọc được hoặc quá lớn; cả tệp zip được giữ nguyên trong "
                              f"gói kiểm duyệt, các học bạ đọc được trong đó vẫn được lưu như thường. Hãy xuất lại từ hệ "
                              f"thống học bạ / a zip with a member that is unreadable or too large, kept whole; its "
                              f"readable transcripts are archived as usual: {item.kept_whole}")]
    elif report.verdict == REJECTED and item.source.lower().endswith(".zip") and item.member is None:
        # ingest could not open it as a zip: the export is kept whole, and says why
        report.reasons = [Finding(
            "DAMAGED_ZIP", "Tệp zip hỏng, không mở được; cả tệp được giữ nguyên trong gói kiểm duyệt. Hãy xuất lại "
                           "từ hệ thống học bạ / a damaged zip export, kept whole in quarantine: export it again")]
    kept = Kept(report=report.to_dict(validation_data=True))
    out = Verified(sha256=sha, verdict=report.verdict, kept_path=str(kept_path(work_dir, sha)),
                   warnings=len(report.warnings), lookup_code=report.lookup_code,
                   reason="; ".join(r.message for r in report.reasons),
                   reason_code=report.reasons[0].code if report.reasons else "",
                   name=report.student_name)
    if report.verdict != REJECTED:
        # The worker reads the content once, here, for everything the packaging needs.
        document = verifier.last_document if verifier.last_document is not None else parse_bytes(item.read())
        t = read_transcript(document, verifier.profiles.get(report.profile) or get_profile(report.profile))
        kept.transcript = t
        kept.qr = qr_matrix(t.lookup_code) if t.lookup_code else None  # for its PDF and site page
        out.school_code, out.school_name, out.province = t.school.code, t.school.name, t.school.province
        out.school_year, out.class_name, out.grade = t.school_year, t.class_name, t.grade
        out.replaces = t.replaces.lookup_code if t.replaces else ""
        s = t.student
        out.student_code, out.citizen_id, out.name = s.student_code, s.citizen_id, s.name
        out.birth_date, out.gender = s.birth_date, s.gender
    else:
        # A rejected file may still tell its school year; quarantine is kept per year.
        match = re.search(rb"<NamHoc>\s*(\d{4}-\d{4})\s*</NamHoc>", item.read(1 << 20))
        out.school_year = match[1].decode() if match else ""
    keep(out.kept_path, kept)
    return out


_NO_YEAR = ""


class _Spool:
    """Verification results on disk, one JSON-lines file per package to be written."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.counts: Counter = Counter()

    def _file(self, group: str) -> Path:
        return self.folder / f"{group or '_'}.jsonl"  # group names are already file-safe

    def add(self, group: str, v: Verified) -> None:
        with open(self._file(group), "a", encoding="utf-8") as fh:
            fh.write(json.dumps({f: getattr(v, f) for f in Verified.__slots__}, ensure_ascii=False) + "\n")
        self.counts[group] += 1

    def merge(self, source: str, target: str) -> None:
        if not self.counts[source]:
            self.counts.pop(source, None)
            return
        with open(self._file(target), "a", encoding="utf-8") as fh:
            fh.write(self._file(source).read_text(encoding="utf-8"))
        self._file(source).unlink()
        self.counts[target] += self.counts.pop(source)

    def load(self, group: str) -> list[Verified]:
        with open(self._file(group), encoding="utf-8") as fh:
            return [Verified(**json.loads(line)) for line in fh]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _archived_hashes(current: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Every archived original's SHA-256, with the input paths its package recorded."""
    return {m.sha256: frozenset(m.input_paths) for pkg in current.values() for m in pkg.members}


PATH_LOG = "input-paths.jsonl"
PENDING = ".pending"  # complete packages waiting for their timestamp


def read_path_log(archive: Path) -> dict[str, list[str]]:
    """``ARCHIVE/input-paths.jsonl``: paths under which already archived content was met
    again in later runs. Packages are never rewritten, so this append-only log is where
    those paths are kept (a torn last line, from a crash, is skipped)."""
    found: dict[str, list[str]] = {}
    try:
        with (archive / PATH_LOG).open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                    found.setdefault(entry["sha256"], []).append(entry["path"])
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:
        pass
    return found


def _log_new_paths(archive: Path, ingested_files, known: dict[str, frozenset[str]], now: dt.datetime) -> None:
    logged = read_path_log(archive)
    lines = [json.dumps({"sha256": sha, "path": path, "seen": now.isoformat(timespec="seconds")},
                        ensure_ascii=False) + "\n"
             for sha, f in ingested_files.items() if sha in known
             for path in f.paths if path not in known[sha] and path not in logged.get(sha, ())]
    if lines:
        try:
            with (archive / PATH_LOG).open("a", encoding="utf-8") as fh:
                fh.writelines(lines)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            from .fsutil import describe_os_error

            raise ArchiveWriteError(describe_os_error(exc, archive / PATH_LOG)) from None


BATCH = 16  # at most this many transcripts per task sent to a worker, as `archiver verify` sends them


def _pool_map(fn: Callable, jobs: Iterable, pool: ProcessPoolExecutor | None,
              tick: Callable[[], None], count: int = 0) -> Iterator:
    if pool is None:
        for job in jobs:
            yield fn(job)
            tick()
        return
    # Batches, a bounded window of them in flight: results are consumed as they come, so
    # memory does not grow with the number of files; one task per transcript cost the
    # pool's bookkeeping a tenth of the verification.
    window: deque[Future] = deque()
    # small builds (one class) still keep every worker busy: at least four tasks each
    size = max(1, min(BATCH, count // (4 * pool._max_workers))) if count else BATCH
    batches = iter(lambda it=iter(jobs): list(itertools.islice(it, size)), [])
    for batch in batches:
        window.append(pool.submit(_run_batch, fn, batch))
        if len(window) >= 3 * pool._max_workers:
            for result in window.popleft().result():
                yield result
                tick()
    while window:
        for result in window.popleft().result():
            yield result
            tick()


def _run_batch(fn: Callable, batch: list) -> list:
    return [fn(job) for job in batch]


# -- the build -------------------------------------------------------------------------------
FAT32_MAX_FILE = 4 * 1024 ** 3 - 1  # the largest file FAT32 media hold

# Joliet (CD/DVD) allows 64 characters; a label adds ".label.pdf" to the package name.
_MAX_PACKAGE_NAME = 48


def package_name(school_code: str, school_year: str, class_name: str) -> str:
    """``<MaTruong>_<NamHoc>_<Lop>``. Two classes must never share a package, nor get names
    that differ only by case (FAT32, NTFS and ISO 9660 ignore case): a name that lost
    characters in the making ("8A1/2" and "8A1-2"), holds lower-case letters ("9a1" beside
    "9A1") or is too long carries a short hash of the class as written."""
    raw = unicodedata.normalize("NFC", f"{school_code}_{school_year}_{class_name}")
    plain = safe_name(raw)
    keeps_all = plain == raw and plain == plain.upper() and len(plain) <= _MAX_PACKAGE_NAME
    return plain if keeps_all else _hashed_name(raw)


def _hashed_name(raw: str) -> str:
    """The package name of class ``raw`` (school_year_class) with 8 hex digits of its hash."""
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
    return f"{safe_name(raw)[:_MAX_PACKAGE_NAME - 9].rstrip('-_')}-{digest}"


def _class_package(v: "Verified", current: dict[str, Any]) -> str:
    """The package of a transcript's class in this archive. An archive made before names
    carried a hash keeps its packages: a class already archived under the plain name gets
    its next version there; a plain name already taken by another class is not shared."""
    raw = unicodedata.normalize("NFC", f"{v.school_code}_{v.school_year}_{v.class_name}")
    name, plain = package_name(v.school_code, v.school_year, v.class_name), safe_name(raw)
    holder = current.get(plain)
    holds_this_class = holder is not None and (
        holder.meta.get("class_name"), holder.meta.get("school_code"), holder.meta.get("school_year")
    ) == (v.class_name, v.school_code, v.school_year)
    if name != plain and holds_this_class:
        return plain  # archived before names carried a hash
    if name == plain and holder is not None and not holds_this_class:
        return _hashed_name(raw)  # the plain name is another class's
    return name


def build(options: BuildOptions, progress: "Progress | None" = None) -> BuildResult:
    progress = progress or Progress()
    archive = options.out
    result = BuildResult(archive=archive)
    now = options.now or dt.datetime.now(VN)
    started = time.perf_counter()
    settings = VerifySettings(
        trust_dir=str(options.trust_dir) if options.trust_dir else None,
        profile_id=options.profile_id, validation_time=now.astimezone(dt.timezone.utc))
    settings.build()  # a bad trust folder or profile fails here, before anything is written
    tsa_config = _tsa_config(options)  # so does a TSA setting that cannot work
    from .tsa import make_timestamper

    timestamper = make_timestamper(tsa_config)  # and a TSA certificate or data folder that cannot be read
    with archive_lock(archive):
        return _build_locked(options, progress, archive, result, now, started, settings, tsa_config, timestamper)


def _build_locked(options: BuildOptions, progress: "Progress", archive: Path, result: BuildResult,
                  now: dt.datetime, started: float, settings: VerifySettings, tsa_config, timestamper) -> BuildResult:
    try:
        archive.mkdir(parents=True, exist_ok=True)
        clear_staging(archive)
    except OSError as exc:
        from .fsutil import describe_os_error

        raise ArchiveWriteError(describe_os_error(exc, archive)) from None

    _complete_pending(archive, timestamper, options, result, now)
    # What the archive already holds, read from the published packages themselves, and
    # what waits complete in .pending for its timestamp (kept, not to be packaged again).
    current = published_packages(archive)
    known = _archived_hashes(current) | _archived_hashes(published_packages(archive / PENDING))

    # 1. ingest
    stage = progress.stage("ingest", "Đọc tệp đầu vào / ingest")
    ingested = ingest(options.inputs, progress=stage.advance)
    stage.done()
    result.inputs = ingested.input_count + len(ingested.missing) + len(ingested.unreadable)
    result.unique = len(ingested.files)
    result.duplicates = sum(len(f.sources) - 1 for f in ingested.files.values())
    for item in ingested.missing:
        result.problems.append(f"{item.name}: {item.error}")
    for item, why in ingested.unreadable:
        result.problems.append(f"{item.name}: không đọc được / unreadable: {why}")
    new_files = {sha: f for sha, f in ingested.files.items() if sha not in known}
    _log_new_paths(archive, ingested.files, known, now)
    result.already_archived = len(ingested.files) - len(new_files)
    input_paths: dict[str, list[str]] = {sha: f.paths for sha, f in ingested.files.items()}
    del ingested  # what is already archived needs only its paths from here on
    result.seconds["ingest"] = time.perf_counter() - started

    if not new_files:
        _finish(archive, options, result, current, known, input_paths, now, progress, started)
        return result

    # 2. verify what is new
    work = new_staging_dir(archive, "work")
    # One pool for the whole build: workers load profiles, trust, fonts once.
    pool = ProcessPoolExecutor(max_workers=options.jobs, initializer=_init_worker, initargs=(settings,)) \
        if options.jobs > 1 and len(new_files) >= 4 else None
    if pool is None:
        _init_worker(settings)
    try:
        _build_new(archive, options, result, current, new_files, input_paths, work, settings, tsa_config,
                   timestamper, now, progress, pool)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # after a failure, do not render on
    try:
        current = published_packages(archive)
        known = _archived_hashes(current) | _archived_hashes(published_packages(archive / PENDING))
        # the site reads the transcripts kept in ``work`` instead of parsing them again
        _finish(archive, options, result, current, known, input_paths, now, progress, started,
                kept_folder=work)
    finally:
        clear_staging(archive)  # what was kept there holds the students' data
    return result


class _GivesUpOnce:
    """A timestamper that, once its TSA was unreachable after all retries, fails the next
    packages at once: they wait in .pending all the same, without a minute of retries each."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.down: Exception | None = None

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def timestamp(self, digest: bytes) -> bytes:
        from .tsa import TsaUnavailable

        if self.down is not None:
            raise self.down
        try:
            return self.inner.timestamp(digest)
        except TsaUnavailable as exc:
            self.down = exc
            raise


def _tsa_config(options: BuildOptions):  # -> TsaConfig
    from .tsa import read_config_file, resolve_tsa_config

    return resolve_tsa_config(
        options.tsa_url, str(options.tsa_cert) if options.tsa_cert else None, env=os.environ,
        file_config=read_config_file(Path("archiver.toml")) if Path("archiver.toml").is_file() else None,
        file_dir=Path.cwd())


def _complete_pending(archive: Path, timestamper, options: BuildOptions, result: BuildResult,
                      now: dt.datetime) -> None:
    """Packages a down TSA left in ``.pending`` get their timestamp first, when it answers
    now (they are complete otherwise; their content counts as kept either way)."""
    from .timestamping import complete_pending

    if not published_packages(archive / PENDING):
        return
    stamped = complete_pending(archive, timestamper, tsa_cert=options.tsa_cert, now=now)
    result.problems += stamped.problems
    result.tsa_requests += stamped.tsa_requests
    result.packages_written += stamped.packages


def _build_new(archive: Path, options: BuildOptions, result: BuildResult, current, new_files,
               input_paths, work: Path, settings: VerifySettings, config, timestamper, now: dt.datetime,
               progress: "Progress", pool: ProcessPoolExecutor | None) -> None:
    t0 = time.perf_counter()
    stage = progress.stage("verify", "Kiểm tra chữ ký / verify", total=len(new_files))
    # Results go to disk as they come, grouped by package: the orchestrator's memory
    # does not grow with the number of transcripts.
    spool = _Spool(work / "verified")
    years: Counter = Counter()
    rejected_years: Counter = Counter()
    replaced_by: dict[str, str] = {}  # ThayTheCho, across this build and the archive
    schools: dict[str, tuple[str, str, str]] = {
        p.meta["school_code"]: (p.meta["school_code"], p.meta.get("school_name", ""), p.meta.get("province", ""))
        for p in current.values() if p.meta.get("school_code")}
    jobs = ((sha, f.first, str(work), None) for sha, f in new_files.items())
    for v in _pool_map(_verify_one, jobs, pool, stage.advance, len(new_files)):
        # 3. group into packages: classes, and a quarantine per school year
        ingested = new_files[v.sha256]
        if ingested.size > FAT32_MAX_FILE:
            # FAT32 media cannot hold it, and it is no transcript: not archived, and said so
            result.problems.append(
                f"{ingested.paths[0]}: tệp {ingested.size:,} byte, lớn hơn giới hạn 4 GiB của "
                "thẻ nhớ FAT32; không đưa vào kho, hãy lưu tệp này riêng / larger than a FAT32 file can be: not "
                "archived, keep it elsewhere")
            continue
        if v.verdict == REJECTED:
            if v.school_year:
                rejected_years[v.school_year] += 1
            spool.add(safe_name(f"{QUARANTINE_PREFIX}{v.school_year}") if v.school_year else _NO_YEAR, v)
        else:
            result.verified_now += 1
            result.untrusted_now += v.reason_code == "NO_CERTIFICATE_CHAIN_FOUND"
            if v.school_year:
                years[v.school_year] += 1
            spool.add(_class_package(v, current), v)
        if v.replaces:
            replaced_by[v.replaces] = v.lookup_code
        if v.school_code:
            schools.setdefault(v.school_code, (v.school_code, v.school_name, v.province))
    stage.done()
    result.seconds["verify"] = time.perf_counter() - t0
    # A rejected file that does not say its year joins the year most transcripts of this
    # run are from; else of the rejected files that say one; else of the archive.
    archived_years = Counter(p.meta.get("school_year") for p in current.values() if p.meta.get("school_year"))
    default_year = next((c.most_common(1)[0][0] for c in (years, rejected_years, archived_years) if c),
                        "khong-ro-nam")
    spool.merge(_NO_YEAR, safe_name(f"{QUARANTINE_PREFIX}{default_year}"))
    for pkg in current.values():
        for m in pkg.members:
            if m.replaces:
                replaced_by.setdefault(m.replaces, m.lookup_code)

    # 4-6. render, package, timestamp: one class at a time, so memory stays flat.
    timestamper = _GivesUpOnce(timestamper)
    t0 = time.perf_counter()
    stage = progress.stage("package", "Kết xuất PDF/A, đóng gói, đóng dấu thời gian / render, package, timestamp",
                           total=spool.total)

    def plan_for(name: str) -> PackagePlan:
        previous = current.get(name)
        members = []
        if previous is not None:
            # The new version carries the old one's content forward: each version is whole.
            members = [m for m in previous.members]
        return PackagePlan(
            name=name,
            version=(previous.version + 1) if previous else 1,
            quarantine=name.startswith(QUARANTINE_PREFIX),
            previous=previous,
            carried=members,
            new=[(v, new_files.pop(v.sha256)) for v in spool.load(name)],
            input_paths=input_paths,
            replaced_by=replaced_by,
            created=now,
            settings=settings,
            pool=pool,
            config=config,
            school=next(iter(schools.values())) if len(schools) == 1 else ("", "", ""),
        )

    # Two packages in flight: while this process timestamps, bags and publishes one,
    # the workers already render the next.
    started: StartedPackage | None = None
    for name in [*sorted(spool.counts), None]:
        following = start_package(archive, plan_for(name)) if name is not None else None
        if started is not None:
            written = finish_package(archive, started, timestamper, tick=stage.advance)
            result.tsa_requests += written.tsa_requests
            if written.pending:
                result.pending.append(written.path.name)
            else:
                result.packages_written.append(written.path.name)
        started = following
    stage.done()
    result.seconds["package"] = time.perf_counter() - t0


def _finish(archive: Path, options: BuildOptions, result: BuildResult, current, known,
            input_paths: dict[str, list[str]], now: dt.datetime, progress: "Progress",
            started: float, *, report: bool = True, kept_folder: Path | None = None) -> None:
    """Archive-level index, build report and site: derived files, rewritten every run
    (``report=False``: a refresh after `timestamp --pending` or `renew` keeps the last
    build's report.json / report.html, which describe that build's inputs and problems)."""
    from .archive_index import write_index, write_reports

    for pkg in current.values():
        summary = result.classes.setdefault(pkg.base_name, ClassSummary(package=pkg.name))
        summary.package = pkg.name
        members = pkg.members
        summary.counts = Counter(m.verdict for m in members)
        summary.warnings = sum(m.warnings for m in members)
        del members
        summary.written = pkg.name in result.packages_written
        result.counts.update(summary.counts)
    # A label is derived from its package: one missing (a build killed between publishing a
    # package and printing its label) is made again.
    from .label import write_label

    for pkg in current.values():
        if not (archive / f"{pkg.name}.label.pdf").is_file():
            write_label(archive, pkg.path, pkg.meta)
    for sha, paths in input_paths.items():
        if sha not in known:
            result.problems.append(f"{paths[0]}: chưa được lưu / not archived")
    for sha, paths in read_path_log(archive).items():  # paths met in earlier runs, kept
        input_paths[sha] = list(dict.fromkeys([*input_paths.get(sha, []), *paths]))
    index = write_index(archive, current, input_paths, now)
    if report or not (archive / "report.json").is_file():
        write_reports(archive, result, index, now)
    if options.site:
        t0 = time.perf_counter()
        try:
            from .site import build_site, site_is_current
        except ImportError:
            build_site = None
        if build_site is not None and not result.packages_written \
                and site_is_current(archive / "site", index.fingerprint):
            result.site_unchanged = True  # same index, same software: the site is as it would be
        elif build_site is not None:
            stage = progress.stage("site", "Tạo trang tra cứu / site")
            try:
                _run_site(build_site, archive, options.jobs, sum(result.counts.values()), index.fingerprint,
                          kept_folder)
            except Exception as exc:  # the packages are safe; say what failed, do not hide it
                result.problems.append(f"site: không tạo được trang tra cứu / the site failed: {exc!r}")
            stage.done()
        result.seconds["site"] = time.perf_counter() - t0
    result.pending = sorted(set(result.pending) | set(p.name for p in published_packages(archive / PENDING).values()))
    result.seconds["total"] = time.perf_counter() - started


# From this many transcripts on, the site is built in a fresh process: the site holds the
# archive's index in memory, and the build's own heap should not come on top of it.
SITE_PROCESS_MIN = 2000


def _run_site(build_site: Callable[..., Any], archive: Path, jobs: int | None, transcripts: int,
              fingerprint: str = "", kept_folder: Path | None = None) -> None:
    if transcripts < SITE_PROCESS_MIN:
        build_site(archive, jobs=jobs, fingerprint=fingerprint, kept_folder=kept_folder)
        return
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(build_site, archive, jobs=jobs, fingerprint=fingerprint,
                    kept_folder=kept_folder).result()


class Progress:
    """Stage progress; the CLI swaps in rich progress bars, the library stays quiet."""

    def stage(self, key: str, label: str, total: int | None = None) -> "Progress":
        return self

    def advance(self) -> None:
        pass

    def done(self) -> None:
        pass


def refresh_archive(archive: Path, *, site: bool = True, now: dt.datetime | None = None) -> BuildResult:
    """Rewrite the derived files (index, reports, site) from the published packages."""
    now = now or dt.datetime.now(VN)
    current = published_packages(archive)
    known = _archived_hashes(current)
    input_paths: dict[str, list[str]] = {}  # every path is already recorded in its package
    result = BuildResult(archive=archive)
    _finish(archive, BuildOptions(inputs=[], out=archive, site=site, jobs=os.cpu_count() or 1), result, current, known,
            input_paths, now, Progress(), time.perf_counter(), report=False)
    return result
