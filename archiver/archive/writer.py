"""Writing a package: its members, its timestamp, its bag, then publishing it.

A package (or a new version of one) is assembled under ``ARCHIVE/.staging``; its members'
files are written by worker processes (:mod:`.members`) while this process timestamps,
bags and publishes the package before. :func:`seal` is the one way a staged package is
finished: ``package.json``, README, the tree-root script, the bag's tag files, the rename
into place and the printable label. New versions made from a published or waiting
package (a completed timestamp, a renewal) are sealed the same way (:mod:`.revise`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from .. import __version__
from ..fsutil import write_error, write_file
from ..inputs import InputItem
from ..timestamps.package import PackageStamp, stamp_package
from ..timestamps.tsa import Timestamper, TimestampError
from ..verify.report import VERDICT_LABELS
from .bag import Digests, digests_of, reseal_bag, write_bag
from .layout import folder_name, member_files, transcript_stem, unique_stem
from .members import MemberJob, Written, write_member
from .premis import package_premis
from .records import NewTranscript, PackageInfo, PackageManifest, School, TranscriptRecord, verdict_counts
from .store import Archive, Package

if TYPE_CHECKING:
    from ..ingest import IngestedFile
    from ..pipeline.pool import WorkerPool


@dataclass
class PackagePlan:
    """The next version of one package: what it carries forward and what it adds."""

    name: str  # base name
    version: int
    quarantine: bool
    previous: Package | None  # the version it builds on (published or waiting)
    new: list[tuple[NewTranscript, "IngestedFile"]]
    input_paths: dict[str, list[str]]  # every path each content was met under in this run
    replaced_by: dict[str, str]  # ThayTheCho: lookup code -> the code of its replacement
    created: dt.datetime
    # The archive's school when it holds just one: what a quarantine package, whose
    # rejected files say nothing, is labelled with.
    school: School = School()

    @property
    def folder_name(self) -> str:
        return folder_name(self.name, self.version)


@dataclass
class WrittenPackage:
    path: Path
    records: list[TranscriptRecord]
    tsa_requests: int = 0
    pending: bool = False


@dataclass
class StartedPackage:
    """A package whose members are being written (rendered, reported) by the pool."""

    plan: PackagePlan
    staging: Path
    jobs: list[MemberJob]
    results: Iterator[tuple[TranscriptRecord, Written]] | None  # None: written on finishing
    written_bytes: int = field(default=0)


def start_package(archive: Archive, plan: PackagePlan, pool: "WorkerPool | None") -> StartedPackage:
    """Stage the package and hand its members to the pool. The build starts the next
    package before it finishes this one, so the workers render while this process
    hashes, timestamps, bags and publishes."""
    try:
        staging = archive.new_staging(plan.folder_name)
        jobs = _member_jobs(plan, staging)
    except OSError as exc:
        raise write_error(exc, archive.root / plan.folder_name) from None
    results = pool.map(write_member, jobs, chunksize=4) if pool is not None and len(jobs) >= 2 else None
    return StartedPackage(plan, staging, jobs, results)


def _member_jobs(plan: PackagePlan, staging: Path) -> list[MemberJob]:
    taken: set[str] = set()
    jobs: list[MemberJob] = []
    previous = plan.previous.records() if plan.previous is not None else []
    for old in previous:
        record = replace(old, files={}, hashes={}, stem=unique_stem(old.stem, taken))
        if record.lookup_code:
            record.superseded_by = plan.replaced_by.get(record.lookup_code, "")
        record.input_paths = sorted(set(old.input_paths) | set(plan.input_paths.get(old.sha256, [])))
        folder = plan.previous.path
        source = original = None
        if plan.quarantine:  # any size: copied in chunks by the worker, never held whole
            rel = old.files["original"]
            source = InputItem(name=rel, source=str(folder / rel))
        else:
            original = (folder / old.files[old.original]).read_bytes()
        jobs.append(MemberJob(
            record=record, staging=str(staging), quarantine=plan.quarantine, source=source, original=original,
            report=json.loads((folder / old.files["report_json"]).read_bytes()),
            previous_pdf=str(folder / old.files["pdf"]) if "pdf" in old.files else None,
            # rendered again when what the rendering shows changed, or when it failed before
            render=record.superseded_by != old.superseded_by or bool(old.render_error)))
    for new, ingested in plan.new:
        record = replace(new.record, input_paths=list(plan.input_paths.get(new.record.sha256, ingested.paths)))
        # The worker reads the original from its source (a rejected file, which may be
        # large, in chunks): sending every transcript through a pipe cost this process
        # more than bagging the package.
        if plan.quarantine:
            record.stem = unique_stem(record.sha256[:16], taken)
        else:
            record.superseded_by = plan.replaced_by.get(record.lookup_code, "")
            record.stem = unique_stem(transcript_stem(record.student_code, record.lookup_code, record.sha256),
                                      taken)
        jobs.append(MemberJob(record=record, staging=str(staging), quarantine=plan.quarantine,
                              source=ingested.first, kept_path=new.kept_path))
    return jobs


def finish_package(archive: Archive, started: StartedPackage, timestamper: Timestamper, tsa_cert: Path | None,
                   tick: Callable[[], None]) -> WrittenPackage:
    """Collect the members, timestamp, write the bag and publish it (in ``.pending`` when
    the TSA could not be reached: complete, waiting for its timestamp)."""
    plan, staging = started.plan, started.staging
    try:
        records: list[TranscriptRecord] = []
        digests: dict[str, tuple[str, str, int]] = {}
        results = started.results if started.results is not None else map(write_member, started.jobs)
        for record, written in results:
            records.append(record)
            digests.update(written)
            tick()
        records.sort(key=lambda r: (r.name, r.stem))
        try:
            stamp: PackageStamp | None = stamp_package([r.item_digests() for r in records], timestamper, tsa_cert)
            timestamp = stamp.info
        except TimestampError as exc:
            # The TSA it waits for: completing it later with another (the local one) would
            # not be what the clerk or IT staff configured.
            stamp, timestamp = None, {"status": "pending", "error": str(exc),
                                      "tsa_url": getattr(timestamper, "url", None)}
        if stamp is not None:
            digests.update(write_stamp(staging, records, stamp, payload=True))
        info = _package_info(plan, records, timestamp)
        manifest = PackageManifest(info, records)
        write_file(staging / "premis.xml", package_premis(plan.folder_name, plan.created, records, info, staging))
        path = seal(archive, staging, manifest, known=digests, pending=stamp is None)
    except OSError as exc:
        raise write_error(exc, archive.root / plan.folder_name) from None
    return WrittenPackage(path, records, tsa_requests=0 if stamp is None else 1, pending=stamp is None)


def write_stamp(folder: Path, records: list[TranscriptRecord], stamp: PackageStamp, *,
                payload: bool = False) -> Written:
    """The evidence record of each member and the timestamp files, into a staged package
    (``payload``: the folder that becomes data/; else a bag root). Fills each record's
    ``evidence`` file and hash; returns the bag digests of what was written."""
    written: Written = {}

    def put(rel: str, data: bytes) -> None:
        path = folder / (rel.removeprefix("data/") if payload else rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, data)
        written[rel] = digests_of(data)

    for record, evidence in zip(records, stamp.evidence, strict=True):
        rel = member_files(record.stem)["evidence"]
        put(rel, evidence)
        record.files["evidence"], record.hashes["evidence"] = rel, written[rel][0]
    for rel, data in stamp.files.items():
        put(rel, data)
    return written


def seal(archive: Archive, staged: Path, manifest: PackageManifest, *, known: Digests | None = None,
         pending: bool = False, replaces_waiting: bool = False) -> Path:
    """Finish a staged package and publish it: ``package.json``, README and the tree-root
    script from ``manifest``, then the bag's tag files (``known``: digests of payload files
    already hashed; a staged folder that is already a bag, a new version made from a copy,
    is hashed again), the rename into place, and its label. ``replaces_waiting``: the
    package was completed from its copy in ``.pending``, which is removed once it is out."""
    info = manifest.info
    is_bag = (staged / "bagit.txt").is_file()
    data = staged / "data" if is_bag else staged
    write_file(data / "package.json", manifest.to_bytes())
    write_file(data / "README.txt", readme(info, len(manifest.members),
                                           sum(1 for m in manifest.members if m.original == "pdf_signed")))
    (data / "timestamp").mkdir(exist_ok=True)
    write_file(data / "timestamp" / "tree_root.py", _tree_root_script())
    if is_bag:
        reseal_bag(staged, bag_info(info))
    else:
        write_bag(staged, bag_info(info), known)
    path = archive.publish(staged, info.package_id, pending=pending)
    if replaces_waiting:
        archive.drop_waiting(info.package_id)
    if not pending:
        from .label import write_label

        write_label(archive.root, path, info)
    return path


def _tree_root_script() -> bytes:
    """``data/timestamp/tree_root.py``: recomputes the hash-tree root from the files with
    Python's standard library, so the token can be tied to the files without archiver."""
    from ..templating import templates_dir

    return (templates_dir() / "package" / "tree_root.py").read_bytes()


def readme(info: PackageInfo, members: int, signed_pdfs: int = 0) -> bytes:
    """The package's README (how to check it by hand), from its package.json facts."""
    from ..templating import render_template

    return render_template("package/README.txt.j2", meta=info, members=range(members),
                           labels=VERDICT_LABELS, signed_pdfs=signed_pdfs).encode("utf-8")


def bag_info(info: PackageInfo) -> dict[str, str]:
    """``bag-info.txt``: the label fields, from the package's record."""
    stamp = info.timestamp
    fields = {
        "Source-Organization": info.school_name or "không rõ",
        "Organization-Address": info.province or "",
        "External-Identifier": info.package_id,
        "External-Description": info.title,
        "Bagging-Date": info.created[:10],
        "Bag-Group-Identifier": info.school_year,
        "Internal-Sender-Identifier": info.class_name or "quarantine",
        "School-Code": info.school_code,
        "School-Year": info.school_year,
        "Class": info.class_name,
        "Package-Id": info.package_id,
        "Package-Version": str(info.version),
        "Created": info.created,
        "Software": f"archiver {__version__}",
        "Bag-Software-Agent": f"archiver {__version__}",
        "Timestamp-Status": "pending" if stamp.get("status") == "pending" else (
            "local" if stamp.get("local") else "tsa"),
    }
    if info.profile:
        fields["Transcript-Profile"] = info.profile
        fields["Level"] = info.level
    for verdict in ("VALID", "INVALID", "INDETERMINATE", "REJECTED"):
        fields[f"Count-{verdict}"] = str(info.counts.get(verdict, 0))
    return fields


def _package_info(plan: PackagePlan, records: list[TranscriptRecord], timestamp: dict) -> PackageInfo:
    first = next((r for r in records if r.school_code), None)
    school = plan.new[0][0].school if plan.new else School()
    if not plan.new and plan.previous is not None:
        school = School(plan.previous.info.school_code, plan.previous.info.school_name, plan.previous.info.province)
    code = first.school_code if first else plan.school.code
    name, province = school.name, school.province
    if code == plan.school.code:
        name, province = name or plan.school.name, province or plan.school.province
    class_name = first.class_name if first and not plan.quarantine else ""
    school_year = (first.school_year if first else "") or plan.name.rsplit("_", 1)[-1]
    title = (f"Học bạ số lớp {class_name}, năm học {school_year}, {name}" if not plan.quarantine
             else f"Tệp bị từ chối (kiểm duyệt), năm học {school_year}")
    profile, level = _level(records) if not plan.quarantine else ("", "")
    return PackageInfo(
        package_id=plan.folder_name, base_name=plan.name, version=plan.version,
        previous_version=plan.previous.name if plan.previous else None, quarantine=plan.quarantine, title=title,
        school_code=code, school_name=name, province=province, school_year=school_year, class_name=class_name,
        created=plan.created.isoformat(timespec="seconds"), software=f"archiver {__version__}",
        counts=verdict_counts(records), timestamp=timestamp, profile=profile, level=level)


def _level(records: list[TranscriptRecord]) -> tuple[str, str]:
    """(profile id, level name) of a class's transcripts: the profile most of them were
    read with, and the level that profile names (the id itself when it is not installed)."""
    from collections import Counter

    from ..profiles import ProfileError, get_profile

    found = Counter(r.profile for r in records if r.profile).most_common(1)
    if not found:
        return "", ""
    profile_id = found[0][0]
    try:
        return profile_id, get_profile(profile_id).level_name or profile_id
    except ProfileError:
        return profile_id, profile_id
