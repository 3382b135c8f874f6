"""``archiver repair``: put every damaged, missing or altered file of a copy right from a
copy whose bytes match the trusted manifest.

For each package with a finding at a copy being repaired (the archive with ``--from``,
a replica with ``--to``):

1. a good copy of each file is found among the other locations (one the audit found
   matching the reference) and its bytes are checked again, here, before use;
2. the files go to the repaired copy's staging folder under temporary names and are
   checked there again (read back, or the remote's hash);
3. the damaged copy (and any file no manifest lists) is moved to ``.damaged/<time>/`` at
   that location, never deleted; then the checked file is renamed into place, and the
   package is checked once more.

A file that was good is never touched. A file with no good copy anywhere, or a package
whose manifests no copy can vouch for, is named and left exactly as it is. Every step is
an event in the archive's audit log and the package's PREMIS file.
"""

from __future__ import annotations

import datetime as dt
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..archive.bag import file_digests
from ..fsutil import scratch_folder
from .audit import EXTRA, MISSING, CopyResult, Finding, PackageAudit, Reference, anchors_of, audit_package, check_copy
from .locations import DAMAGED, Location
from .log import PremisEvent, RunLog

Event = tuple[str, str, str, list[str]]


@dataclass
class RepairResult:
    packages: int = 0
    repaired: list[Finding] = field(default_factory=list)
    moved_aside: list[str] = field(default_factory=list)  # location: path under .damaged
    unrepaired: list[tuple[Finding, str]] = field(default_factory=list)  # and why

    @property
    def ok(self) -> bool:
        return not self.unrepaired


def repair(locations: Sequence[Location], targets: Sequence[Location], *, now: dt.datetime | None = None,
           progress: Callable[[str], None] | None = None, jobs: int = 1) -> RepairResult:
    """Repair ``targets`` (some of ``locations``; the archive is ``locations[0]``) from any
    good copy among ``locations``. Every package is audited first, ``jobs`` at a time in
    worker processes; a package with a finding at a target is audited again here and
    repaired, one at a time. The caller holds the archive's lock."""
    from .. import vn
    from ..pipeline.pool import WorkerPool
    from .audit import _audit_one, _set_up_worker, _warm_up

    now = now or vn.now()
    archive = locations[0]
    result = RepairResult()
    names: set[str] = set()
    for loc in locations:
        names |= set(loc.packages())
    anchors = anchors_of(archive.root)  # type: ignore[attr-defined]
    need_md5 = any(loc.remote_hash == "md5" for loc in locations)
    target_names = {t.name for t in targets}
    log = RunLog("repair", now)
    jobs = max(1, min(jobs, len(names)))
    if jobs > 1:
        _warm_up()
    try:
        with ExitStack() as stack:
            for target in targets:
                if target is not archive:
                    stack.enter_context(target.locked())
                target.begin_writing()
                stack.callback(target.end_writing)
            pool = stack.enter_context(WorkerPool(jobs, _set_up_worker, (locations, anchors, need_md5)))
            for outcome in pool.imap(_audit_one, sorted(names), count=len(names)):
                package = outcome.package
                result.packages += 1
                if any(f.location in target_names for f in outcome.findings):
                    audit = audit_package(package, locations, anchors.get(package), need_md5=need_md5)
                    for target in targets:
                        _repair_target(target, audit, locations, result, log, now)
                if progress:
                    progress(package)
            when = now.isoformat(timespec="seconds")
            for f in result.repaired:
                log.add({"event": "repair", "run": log.run, "time": when, "location": f.location,
                         "package": f.package, "path": f.path, "kind": f.kind, "outcome": "repaired"})
            for f, why in result.unrepaired:
                log.add({"event": "repair", "run": log.run, "time": when, "location": f.location,
                         "package": f.package, "path": f.path, "kind": f.kind, "outcome": "not repaired",
                         "why": why})
            log.add({"event": "repair-run", "run": log.run, "time": vn.now().isoformat(timespec="seconds"),
                     "targets": sorted(target_names), "sources": [loc.name for loc in locations],
                     "repaired": len(result.repaired), "not_repaired": len(result.unrepaired),
                     "outcome": "pass" if result.ok else "fail"})
            log.write(archive.root, held=True)  # type: ignore[attr-defined]
    finally:
        log.close()
    return result


def _repair_target(target: Location, audit: PackageAudit, locations: Sequence[Location], result: RepairResult,
                   log: RunLog, now: dt.datetime) -> None:
    findings = audit.findings_at(target.name)
    if not findings:
        return
    if audit.reference is None:
        for f in findings:
            result.unrepaired.append((f, "không bản sao nào có danh sách mã băm đáng tin, không sửa gì / "
                                         "no copy's manifests can be trusted: nothing changed"))
        return
    events: list[Event] = []
    _repair_copy(target, audit, [loc for loc in locations if loc.name != target.name], result, events, now)
    for kind, detail, outcome, digests in events:
        log.add(event=PremisEvent(audit.package, kind, detail + "".join(f" (SHA-256 {d})" for d in digests if d),
                                  outcome, audit.reference.tag_manifest_sha256, audit.tag_manifest_size,
                                  now.isoformat(timespec="seconds")))


def _repair_copy(target: Location, audit: PackageAudit, sources: list[Location], result: RepairResult,
                 events: list[Event], now: dt.datetime) -> None:
    reference = audit.reference
    assert reference is not None
    package = audit.package
    findings = audit.findings_at(target.name)
    stamp = f"{DAMAGED}/{now:%Y%m%dT%H%M%S}/{package}"
    whole = any(f.kind == MISSING and not f.path for f in findings)
    extras = [f for f in findings if f.kind == EXTRA]
    needed = sorted(reference.digests) if whole else sorted({f.path for f in findings if f.kind != EXTRA})
    by_path = {f.path: f for f in findings}
    work = scratch_folder("repair")
    try:
        fetched = _fetch_good(package, needed, reference, audit, sources, work)
        missing_good = [rel for rel in needed if rel not in fetched]
        for rel in missing_good:
            finding = by_path.get(rel) or Finding(target.name, package, rel, MISSING, "")
            result.unrepaired.append((finding, "không có bản sao tốt ở nơi nào, không sửa gì / no good copy anywhere: "
                                               "nothing changed"))
        rels = sorted(fetched)
        if rels:
            staged = target.staging_name(f"repair-{package}")
            target.upload(work, rels, staged)
            # checked again where it was written, under its temporary name
            sub = Reference(package, {rel: reference.digests[rel] for rel in rels}, reference.tag_manifest_sha256,
                            reference.vouched_by)
            copy = CopyResult(target.name, True)
            problems = check_copy(target, staged, sub, None, copy, dict(audit.md5))
            if problems:
                for rel in rels:
                    result.unrepaired.append((by_path.get(rel) or Finding(target.name, package, rel, MISSING, ""),
                                              "bản ghi tạm không khớp sau khi ghi, không thay gì / the copy written "
                                              "under a temporary name did not check: nothing replaced"))
                return
            damaged = [rel for rel in rels if rel in by_path and by_path[rel].kind != MISSING]
            if damaged:
                target.move_files(package, stamp, damaged)
                for rel in damaged:
                    result.moved_aside.append(f"{target.name}: {stamp}/{rel}")
                    events.append(("quarantine", f"Chuyển bản hỏng {rel} tại {target.name} sang {stamp}/ (giữ lại, "
                                                 f"không xoá) / damaged copy moved aside, kept",
                                   "success", [reference.digests[rel].get("sha256", "")]))
            if whole:
                target.rename(staged, package)
            else:
                target.move_files(staged, package, rels)
        if extras:
            target.move_files(package, stamp, [f.path for f in extras])
            for f in extras:
                result.moved_aside.append(f"{target.name}: {stamp}/{f.path}")
                events.append(("quarantine", f"Chuyển tệp thừa {f.path} tại {target.name} sang {stamp}/ (giữ lại) / "
                                             "a file no manifest lists moved aside, kept", "success", []))
        # the package checked once more, as it now is
        copy = CopyResult(target.name, True)
        left = {f.path for f in check_copy(target, package, reference, None, copy, dict(audit.md5))}
        for rel in rels:
            finding = by_path.get(rel) or Finding(target.name, package, rel, MISSING, "")
            source = fetched[rel]
            if rel in left:
                result.unrepaired.append((finding, "vẫn sai sau khi sửa / still wrong after the repair"))
                events.append(("replication", f"Sửa {rel} tại {target.name} từ {source}: vẫn sai / repair failed",
                               "failure", [reference.digests[rel].get("sha256", "")]))
            else:
                result.repaired.append(finding)
                events.append(("replication", f"Sửa {rel} tại {target.name} từ bản sao tốt ở {source} (đã kiểm mã "
                                              f"băm trước và sau khi ghi) / restored from the good copy at {source}",
                               "success", [reference.digests[rel].get("sha256", "")]))
        for f in extras:
            if f.path not in left:
                result.repaired.append(f)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch_good(package: str, rels: list[str], reference: Reference, audit: PackageAudit, sources: list[Location],
                work: Path) -> dict[str, str]:
    """Copy a good copy of each of ``rels`` into ``work``, each checked against the
    reference after it arrived here; path -> the location it came from."""
    fetched: dict[str, str] = {}
    for source in sources:
        copy = audit.copies.get(source.name)
        wanted = [rel for rel in rels if rel not in fetched and copy is not None and rel in copy.good]
        if not wanted:
            continue
        with source.local_files(package, wanted) as folder:
            for rel in wanted:
                try:
                    digests, _ = file_digests(folder / rel, tuple(reference.digests[rel]))
                except OSError:
                    continue
                if digests != dict(reference.digests[rel]):
                    continue  # changed since the audit: not used
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / rel, work / rel)
                fetched[rel] = source.name
    return fetched
