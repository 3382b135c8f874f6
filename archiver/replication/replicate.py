"""``archiver replicate``: copy an archive to a local folder or an rclone remote, append-only.

Per package version (oldest first), unless the destination already confirmed it:

1. the package is audited at the source and at the destination against its trusted
   manifests (:func:`archiver.replication.audit.audit_package`), every source file read
   once: a damaged source file is never copied, a destination file that differs from the
   manifest is never overwritten (both are reported; ``audit`` and ``repair`` deal with
   them), a file nobody's manifest lists is never copied;
2. the files the destination lacks go to its staging folder, then are renamed into place
   (a package the destination lacks entirely: the whole folder, in one rename);
3. the copy is confirmed by hash (the remote's SHA-256, or its MD5 against the MD5 of
   the checked source bytes, or a download read back here) and only then recorded in
   ``DEST/.archiver-replica.json``: a second run skips it without reading it.

Then the archive's own files: labels, ``index.json``, ``input-paths.jsonl``, the build
report and the site. They change when the archive does (they are made from the
packages): a changed one goes in through staging, and the destination's older version is
moved to ``DEST/.archiver-replaced/<time>/``, never deleted. Nothing at the destination
is ever deleted but archiver's own staging folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..archive.layout import INDEX, MEDIA, PATH_LOG, REPORT_HTML, REPORT_JSON, SITE, label_name
from .audit import MISSING, Finding, anchors_of, audit_package, check_copy, CopyResult
from .locations import REPLACED, FileFacts, LocalFolder, Location
from .log import AUDIT_DIR, AUDIT_LOG

STATE_SCHEMA = "archiver.replica/1"
_SAVE_EVERY = 30.0  # seconds between saves of the destination's record (resumable runs)


@dataclass
class ReplicationResult:
    destination: str
    method: str
    packages: int = 0  # package versions in the archive
    already: int = 0  # confirmed by an earlier run, not read again
    copied: list[str] = field(default_factory=list)  # packages this run copied files of
    confirmed: list[str] = field(default_factory=list)  # packages confirmed this run
    confirmed_tags: dict[str, tuple[str, int]] = field(default_factory=dict)  # their tag manifests' SHA-256, size
    files_copied: int = 0
    bytes_copied: int = 0
    archive_files_copied: int = 0  # labels, index, reports, site pages
    audit_files_copied: int = 0  # the audit log and PREMIS documents (always one run behind)
    moved_aside: int = 0
    findings: list[Finding] = field(default_factory=list)  # what was not copied, and why
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings and not self.notes


def replicate(archive: Path, dest: Location, *, now: dt.datetime | None = None,
              progress: Callable[[str], None] | None = None) -> ReplicationResult:
    """Copy what ``dest`` lacks of ``archive``; see the module's description."""
    from .. import vn

    started = time.monotonic()
    now = now or vn.now()
    source = LocalFolder(Path(archive), archive=True)
    result = ReplicationResult(dest.name, getattr(dest, "method", "read"))
    with dest.locked():
        dest.begin_writing()
        state = dest.read_state()
        if state.get("schema") != STATE_SCHEMA:
            state = {"schema": STATE_SCHEMA, "packages": {}, "files": {}}
        confirmed = state.setdefault("packages", {})
        state.setdefault("files", {})
        before = json.dumps(state, sort_keys=True)
        anchors: dict[str, str] | None = None  # read from index.json when a package is to be copied
        last_save = time.monotonic()
        for package in _oldest_first(source.packages()):
            result.packages += 1
            tag = _sha256_or_empty(source.root / package / "tagmanifest-sha256.txt")
            known = confirmed.get(package)
            if isinstance(known, dict) and known.get("tag_manifest_sha256") == tag and tag:
                result.already += 1
                continue
            if isinstance(known, dict) and known.get("tag_manifest_sha256"):
                result.notes.append(f"{package}: danh sách mã băm ở kho khác bản đã sao trước đây — chạy `archiver "
                                    f"audit` / the archive's manifests differ from those replicated before: run audit")
                continue
            if anchors is None:
                anchors = anchors_of(source.root)
            entry = _replicate_package(source, dest, package, anchors.get(package), result, now)
            if entry:
                confirmed[package] = entry
            if progress:
                progress(package)
            if time.monotonic() - last_save > _SAVE_EVERY:
                dest.write_state(state)
                last_save = time.monotonic()
        _replicate_archive_files(source, dest, state, result, now)
        if json.dumps(state, sort_keys=True) != before:  # a run with nothing new writes nothing
            state["updated"] = now.isoformat(timespec="seconds")
            dest.write_state(state)
        dest.end_writing()
    result.seconds = time.monotonic() - started
    return result


def _oldest_first(names: list[str]) -> list[str]:
    from ..archive.layout import version_of

    return sorted(names, key=lambda n: (version_of(n)[1], n))


def _sha256_or_empty(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _replicate_package(source: LocalFolder, dest: Location, package: str, anchor: str | None,
                       result: ReplicationResult, now: dt.datetime) -> dict | None:
    """Copy one package's missing good files; the record of its confirmation, or None."""
    need_md5 = dest.remote_hash == "md5"
    audit = audit_package(package, [source, dest], anchor, need_md5=need_md5)
    reference = audit.reference
    if reference is None:
        result.findings += [f for f in audit.findings]
        return None
    at_source = audit.copies[source.name]
    at_dest = audit.copies[dest.name]
    for finding in audit.findings_at(source.name):
        result.findings.append(Finding(finding.location, package, finding.path, finding.kind,
                                       f"{finding.detail}; không sao tệp này / not copied"))
    wanted: list[str] = []
    for finding in audit.findings_at(dest.name):
        if finding.kind == MISSING:
            wanted += list(reference.digests) if not finding.path else [finding.path]
        else:
            result.findings.append(Finding(finding.location, package, finding.path, finding.kind,
                                           f"{finding.detail}; không ghi đè, dùng `archiver repair --to` / not "
                                           "overwritten: use archiver repair --to"))
    to_copy = sorted(rel for rel in set(wanted) if rel in at_source.good)
    if to_copy:
        staged = dest.staging_name(package)
        dest.upload(source.root / package, to_copy, staged)
        if not at_dest.present:
            dest.rename(staged, package)
        else:
            dest.move_files(staged, package, to_copy)
        result.copied.append(package)
        result.files_copied += len(to_copy)
        result.bytes_copied += sum((source.root / package / rel).stat().st_size for rel in to_copy)
    if result.findings and any(f.package == package for f in result.findings):
        return None
    # confirmed by hash at the destination, as it is now
    copy = CopyResult(dest.name, True)
    found = check_copy(dest, package, reference, None, copy, audit.md5, False)
    if found:
        result.findings += found
        return None
    result.confirmed.append(package)
    result.confirmed_tags[package] = (reference.tag_manifest_sha256, audit.tag_manifest_size)
    return {"tag_manifest_sha256": reference.tag_manifest_sha256, "confirmed": now.isoformat(timespec="seconds"),
            "method": copy.method, "files": copy.files, "bytes": copy.bytes}


# -- the archive's own files -------------------------------------------------------------------
def _archive_files(source: LocalFolder) -> dict[str, tuple[int, int]]:
    """Labels, index, path log, report, site, audit log, media records: path -> (size, mtime_ns)."""
    out: dict[str, tuple[int, int]] = {}
    names = [INDEX, PATH_LOG, REPORT_JSON, REPORT_HTML] + [label_name(p) for p in source.packages()]
    for name in names:
        try:
            stat = (source.root / name).stat()
        except OSError:
            continue
        out[name] = (stat.st_size, stat.st_mtime_ns)
    for rel, facts in source.list_tree(SITE).items():
        out[f"{SITE}/{rel}"] = (facts.size, facts.mtime_ns)
    for rel, facts in source.list_tree(AUDIT_DIR).items():
        if not rel.startswith(".") and "/" not in rel:  # not a file being written (atomic_writer's)
            out[f"{AUDIT_DIR}/{rel}"] = (facts.size, facts.mtime_ns)
    for rel, facts in source.list_tree(MEDIA).items():  # which disc holds which package (archiver.media)
        if not rel.startswith(".") and "/" not in rel and rel.endswith(".json"):
            out[f"{MEDIA}/{rel}"] = (facts.size, facts.mtime_ns)
    return out


def _replicate_archive_files(source: LocalFolder, dest: Location, state: dict, result: ReplicationResult,
                             now: dt.datetime) -> None:
    """Copy the labels, index, reports, site pages and audit log that changed since the
    last run, once checked; move the destination's older versions, and site pages the site
    no longer has, aside (an older audit log that the new one continues is replaced)."""
    from ..archive.bag import file_digests

    recorded = state.setdefault("files", {})
    present = _archive_files(source)
    changed: dict[str, str] = {}
    for rel, (size, mtime) in present.items():
        known = recorded.get(rel)
        if isinstance(known, dict) and known.get("size") == size and known.get("mtime_ns") == mtime:
            continue
        digest = file_digests(source.root / rel, ("sha256",))[0]["sha256"]
        if isinstance(known, dict) and known.get("sha256") == digest:
            known.update(size=size, mtime_ns=mtime)
            continue
        changed[rel] = digest
    if INDEX in changed or any(rel.startswith(f"{SITE}/") for rel in changed):
        _hold_back_unchecked(source.root, changed, result)
    site_changed = any(rel.startswith(f"{SITE}/") for rel in changed)
    stale = []
    if site_changed:
        stale = [f"{SITE}/{rel}" for rel in dest.list_tree(SITE) if f"{SITE}/{rel}" not in present]
    if not changed and not stale:
        return
    at_dest = _dest_files(dest, list(changed))
    if isinstance(dest, LocalFolder):  # an identical file already there is recorded, not replaced
        for rel in [r for r in changed if r in at_dest]:
            if file_digests(dest.root / rel, ("sha256",))[0]["sha256"] == changed[rel]:
                recorded[rel] = {"sha256": changed.pop(rel), "size": present[rel][0], "mtime_ns": present[rel][1]}
                at_dest.pop(rel)
    continued = [rel for rel in changed if rel in at_dest and _continues(source.root, rel, recorded.get(rel),
                                                                          at_dest[rel])]
    aside = [rel for rel in changed if rel in at_dest and rel not in continued] + stale
    staged = dest.staging_name("archive-files")
    dest.upload(source.root, sorted(changed), staged)
    if aside:
        dest.move_files("", f"{REPLACED}/{now:%Y%m%dT%H%M%S}", sorted(aside))
        result.moved_aside += len(aside)
    if continued:  # every byte of the old one is in the new one: into the staging folder, cleared at the end
        dest.move_files("", dest.staging_name("continued"), continued)
    dest.move_files(staged, "", sorted(changed))
    for rel, digest in changed.items():
        recorded[rel] = {"sha256": digest, "size": present[rel][0], "mtime_ns": present[rel][1]}
    audit = sum(1 for rel in changed if rel.startswith(f"{AUDIT_DIR}/"))
    result.audit_files_copied += audit
    result.archive_files_copied += len(changed) - audit


def _hold_back_unchecked(archive: Path, changed: dict[str, str], result: ReplicationResult) -> None:
    """What ``archiver check`` would name is not spread: an index.json that does not say what
    the packages say, a site with a page that is not the page index.json gives. Each is
    named, and the destination keeps what it has. (The audit log needs no such check: a
    destination's copy is replaced only by a log that continues it byte for byte, see
    :func:`_continues`; any other is moved aside, kept.)"""
    def problems_of(check, *args) -> list[str]:
        from ..archive.check import CheckResult
        from ..archive.store import Archive

        found = CheckResult()
        try:
            check(Archive(archive), found, *args)
        except Exception as exc:  # noqa: BLE001 - a damaged file is named, never raised
            return [f"{type(exc).__name__}: {exc}"]
        return found.problems

    from ..archive.check import _check_index, _check_site

    held: list[tuple[str, list[str], list[str]]] = []
    if INDEX in changed:
        held.append((INDEX, [INDEX], [p for p in problems_of(_check_index, set()) if p.startswith(INDEX)]))
    site = [rel for rel in changed if rel.startswith(f"{SITE}/")]
    if site:
        held.append((SITE, site, problems_of(_check_site)))
    for what, rels, problems in held:
        if problems:
            for rel in rels:
                del changed[rel]
            result.notes.append(f"{what}: không sao vì `archiver check` thấy vấn đề ({problems[0]}) / not copied: "
                                f"`archiver check` names a problem")


def _continues(archive: Path, rel: str, known: object, there: object) -> bool:
    """Whether the destination's ``rel`` is the audit log copied last time and the archive's
    log continues it (the same bytes, lines appended): replacing it loses nothing."""
    if rel != f"{AUDIT_DIR}/{AUDIT_LOG}" or not isinstance(known, dict) or not isinstance(there, FileFacts):
        return False
    size = known.get("size")
    if not isinstance(size, int) or there.size != size:
        return False
    with open(archive / rel, "rb") as fh:
        return hashlib.sha256(fh.read(size)).hexdigest() == known.get("sha256")


def _dest_files(dest: Location, rels: list[str]) -> dict[str, object]:
    """Which of ``rels`` the destination has (with its facts, where listed)."""
    found: dict[str, object] = {}
    for folder in (SITE, AUDIT_DIR):
        if any(r.startswith(f"{folder}/") for r in rels):
            for rel, facts in dest.list_tree(folder).items():
                found[f"{folder}/{rel}"] = facts
    if any("/" not in r for r in rels):
        for name in dest.top_files():
            found[name] = True
    return {rel: found[rel] for rel in rels if rel in found}
