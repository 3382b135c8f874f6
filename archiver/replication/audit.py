"""Fixity audits: every file of every package, in the archive and in each replica, against
the package's trusted manifests.

The decisions are pure functions (:func:`choose_reference`, :func:`compare`,
:func:`in_slice`); :func:`audit_package` gathers what they decide on from the
locations, reading each local file once for every algorithm at the same time.

Which copy's manifests are believed: each copy's are judged on their own
(:func:`archiver.archive.trust.manifest_trust`: tag manifests, the record in
``index.json``, the RFC 3161 token over the hash tree). The copies whose manifests are
trusted and agree give the reference; when trusted copies disagree (possible only for a
package that ``index.json`` does not list) a strict majority of the copies decides, and
otherwise nothing is decided and nothing will be repaired.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..archive.bag import file_digests
from ..archive.layout import INDEX, PAYLOAD_MANIFESTS, TAG_MANIFESTS, TIMESTAMP_DIR
from ..archive.trust import TRUST_FILES, ManifestTrust, manifest_trust
from .locations import FileFacts, Location
from .log import PremisEvent, RunLog

DAMAGED, MISSING, EXTRA, TAMPERED = "damaged", "missing", "extra", "manifest-tampered"
KIND_WORDS = {
    DAMAGED: "HỎNG / DAMAGED",
    MISSING: "THIẾU / MISSING",
    EXTRA: "THỪA / EXTRA",
    TAMPERED: "DANH SÁCH MÃ BĂM BỊ SỬA / MANIFEST TAMPERED",
}
MANIFEST_FILES = (*PAYLOAD_MANIFESTS, *TAG_MANIFESTS)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with one copy: ``path`` inside the package ("" for the whole package)."""

    location: str
    package: str
    path: str
    kind: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"location": self.location, "package": self.package, "path": self.path, "kind": self.kind,
                "detail": self.detail}


@dataclass(frozen=True)
class Reference:
    """What every file of a package must be (path -> {algorithm: hex digest})."""

    package: str
    digests: Mapping[str, Mapping[str, str]]
    tag_manifest_sha256: str
    vouched_by: tuple[str, ...]  # the locations whose trusted manifests say so


# -- pure decisions ------------------------------------------------------------------------------
def choose_reference(package: str, judged: Sequence[tuple[str, ManifestTrust]]) -> tuple[Reference | None, str]:
    """The reference of ``package`` from each copy's judgement (location, trust), or None and why."""
    trusted = [(name, t) for name, t in judged if t.trusted]
    if not trusted:
        return None, "; ".join(dict.fromkeys(p for _, t in judged for p in t.problems)) or "không có bản sao / no copy"
    groups: dict[str, list[tuple[str, ManifestTrust]]] = {}
    for name, t in trusted:
        groups.setdefault(t.tag_manifest_sha256, []).append((name, t))
    if len(groups) > 1:
        best = max(groups.values(), key=len)
        if len(best) * 2 <= len(judged):
            return None, ("các bản sao có danh sách mã băm khác nhau, đều hợp lệ, không bên nào chiếm đa số / the "
                          "copies hold different manifests, each consistent, and no majority decides")
        trusted = best
    first = trusted[0][1]
    digests = {rel: dict(d) for rel, d in first.digests.items()}
    for _, t in trusted[1:]:  # a tag manifest damaged in the first copy may be whole in another
        for rel, d in t.digests.items():
            digests.setdefault(rel, dict(d))
    return Reference(package, digests, first.tag_manifest_sha256, tuple(n for n, _ in trusted)), ""


def compare(reference: Reference, location: str, present: Mapping[str, FileFacts],
            found: Mapping[str, Mapping[str, str]]) -> list[Finding]:
    """One copy against the reference. ``present``: the files the copy has; ``found``: the
    digests measured (any algorithm the reference has; a file not measured is not judged)."""
    findings = []
    for rel, wanted in sorted(reference.digests.items()):
        if rel not in present:
            findings.append(Finding(location, reference.package, rel, MISSING,
                                    "tệp không có / the file is not there"))
            continue
        measured = found.get(rel, {})
        wrong = [a for a in measured if a in wanted and measured[a] != wanted[a]]
        if not wrong:
            continue
        kind = TAMPERED if rel in MANIFEST_FILES else DAMAGED
        expected = wanted.get("sha256") or next(iter(wanted.values()))
        findings.append(Finding(location, reference.package, rel, kind,
                                f"{wrong[0]} khác danh sách mã băm (cần {expected[:16]}…) / differs from the "
                                f"trusted manifest"))
    for rel in sorted(set(present) - set(reference.digests)):
        findings.append(Finding(location, reference.package, rel, EXTRA,
                                "tệp không có trong danh sách mã băm nào / no manifest lists this file"))
    return findings


def in_slice(package: str, k: int, n: int) -> bool:
    """Slice ``k`` of ``n`` (1-based): a fixed share of the packages, the same every time."""
    return int(hashlib.sha256(package.encode("utf-8")).hexdigest()[:16], 16) % n == k - 1


def slice_of_day(days: int, today: dt.date) -> tuple[int, int]:
    """``--days N``: today's slice, so that a daily job covers every package every N days."""
    return today.toordinal() % days + 1, days


def choose_packages(names: Iterable[str], slice_: tuple[int, int] | None, sample: int,
                    rng: random.Random | None = None) -> list[str]:
    """The packages of this run: the slice (all when none), plus ``sample`` others at random."""
    names = sorted(set(names))
    chosen = [n for n in names if slice_ is None or in_slice(n, *slice_)]
    rest = [n for n in names if n not in set(chosen)]
    if sample and rest:
        chosen += (rng or random.SystemRandom()).sample(rest, min(sample, len(rest)))
    return sorted(chosen)


# -- gathering -----------------------------------------------------------------------------------
@dataclass
class CopyResult:
    """One package at one location."""

    location: str
    present: bool
    files: int = 0
    bytes: int = 0
    method: str = ""
    good: set[str] = field(default_factory=set)  # files that match the reference here


@dataclass
class PackageAudit:
    package: str
    reference: Reference | None
    why_untrusted: str
    findings: list[Finding]
    copies: dict[str, CopyResult]
    md5: dict[str, str] = field(default_factory=dict)  # MD5 of files checked good (for MD5 remotes)
    tag_manifest_size: int = 0

    def findings_at(self, location: str) -> list[Finding]:
        return [f for f in self.findings if f.location == location]

    def outcome(self) -> "PackageAudit":
        """What a run keeps of it: the findings and what each copy measured, without the
        reference's digests and the lists of good files (a worker sends back only this)."""
        reference = None if self.reference is None else Reference(
            self.package, {}, self.reference.tag_manifest_sha256, self.reference.vouched_by)
        copies = {name: CopyResult(c.location, c.present, c.files, c.bytes, c.method) for name, c in self.copies.items()}
        return PackageAudit(self.package, reference, self.why_untrusted, self.findings, copies,
                            tag_manifest_size=self.tag_manifest_size)


def anchors_of(archive: Path) -> dict[str, str]:
    """The tag-manifest SHA-256 that ``index.json`` records for each current package (the
    value printed on its label); {} when the index cannot be read (``check`` says why)."""
    from ..jsonstream import load_object

    def packages_only(entry: dict) -> dict | None:  # a transcript or quarantine entry is not kept
        return None if "stem" in entry or "reason_code" in entry else entry

    try:
        with (Path(archive) / INDEX).open(encoding="utf-8") as fh:
            index = load_object(fh, packages_only)
    except (OSError, ValueError):
        return {}
    found: dict[str, str] = {}
    for entry in index.get("packages", []) if isinstance(index, dict) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and \
                isinstance(entry.get("tag_manifest_sha256"), str):
            found[entry["path"]] = entry["tag_manifest_sha256"]
    return found


def _small_files(listing: Mapping[str, FileFacts]) -> list[str]:
    return sorted(set(TRUST_FILES) | {rel for rel in listing if rel.startswith(f"{TIMESTAMP_DIR}/")})


def audit_package(package: str, locations: Sequence[Location], anchor: str | None, *,
                  need_md5: bool = False, threads: int = 1) -> PackageAudit:
    """Judge every copy of ``package``: the reference from the copies' trusted manifests,
    then every file of every copy against it. The local copies are read first (one read
    per file, every algorithm), so that MD5-only remotes compare with checked bytes. The
    small files read to judge a copy are hashed from memory, not read again."""
    listings = {loc.name: loc.listing(package) for loc in locations}
    small: dict[str, dict[str, bytes | None]] = {}
    for loc in locations:
        listing = listings[loc.name]
        if listing is not None:
            small[loc.name] = loc.read_small(package, [r for r in _small_files(listing) if r in listing])
    judged = _judge_copies(package, small, anchor)
    reference, why = choose_reference(package, judged)
    audit = PackageAudit(package, reference, why, [], {})
    if reference is not None:
        audit.tag_manifest_size = len(small[reference.vouched_by[0]].get("tagmanifest-sha256.txt") or b"")
    for loc in locations:
        listing = listings[loc.name]
        copy = CopyResult(loc.name, listing is not None)
        audit.copies[loc.name] = copy
        if listing is None:
            if reference is not None or small:
                audit.findings.append(Finding(loc.name, package, "", MISSING,
                                              "gói không có ở nơi này / the package is not at this location"))
            continue
        if reference is None:
            problems = dict(judged).get(loc.name)
            detail = "; ".join(problems.problems) if problems and problems.problems else why
            audit.findings.append(Finding(loc.name, package, "", TAMPERED,
                                          f"không tin được danh sách mã băm của gói, không kiểm được tệp nào / the "
                                          f"package's manifests cannot be trusted: {detail}"))
            continue
        audit.findings += check_copy(loc, package, reference, listing, copy, audit.md5, need_md5, small[loc.name],
                                     threads)
    return audit


def _judge_copies(package: str, small: Mapping[str, Mapping[str, bytes | None]],
                  anchor: str | None) -> list[tuple[str, ManifestTrust]]:
    """Each copy's manifests judged (:func:`manifest_trust`); copies whose small files are
    byte for byte the same get the same judgement, made once (the usual case: a replica)."""
    made: dict[tuple, ManifestTrust] = {}
    judged = []
    for name, files in small.items():
        key = tuple(sorted(files.items()))
        if key not in made:
            def others(rel: str, name: str = name) -> list[bytes]:
                return [f[rel] for other, f in small.items() if other != name and f.get(rel) is not None]

            made[key] = manifest_trust(package, files.get, anchor, others)
        judged.append((name, made[key]))
    return judged


def check_copy(loc: Location, package: str, reference: Reference, listing: Mapping[str, FileFacts] | None,
               copy: CopyResult, md5: dict[str, str], need_md5: bool = False,
               read: Mapping[str, bytes | None] | None = None, threads: int = 1) -> list[Finding]:
    """One copy of ``package`` against ``reference`` (listed now when ``listing`` is None);
    fills ``copy`` (what was measured, which files are good) and ``md5`` (the MD5 of files
    read and found good). ``read``: files of this copy already read (hashed from memory)."""
    if listing is None:
        listing = loc.listing(package)
        if listing is None:
            copy.present = False
            return [Finding(loc.name, package, "", MISSING, "gói không có ở nơi này / the package is not at this "
                                                            "location")]
    copy.present = True
    found = _measure(loc, package, listing, reference, md5, copy, need_md5, read or {}, threads)
    findings = compare(reference, loc.name, listing, found)
    bad = {f.path for f in findings}
    copy.good = {rel for rel in reference.digests if rel in found and rel not in bad}
    return findings


def _measure(loc: Location, package: str, listing: Mapping[str, FileFacts], reference: Reference,
             md5s: dict[str, str], copy: CopyResult, need_md5: bool,
             read: Mapping[str, bytes | None], threads: int = 1) -> dict[str, dict[str, str]]:
    """The digests of the copy's files that the reference names: read here (a local disk),
    from the remote's own hashes, or downloaded and read."""
    wanted = [rel for rel in reference.digests if rel in listing]
    found: dict[str, dict[str, str]] = {}
    to_read = wanted
    if loc.remote_hash == "sha256":
        to_read = []
        for rel in wanted:
            found[rel] = {"sha256": listing[rel].hashes.get("sha256", "")}
            if not found[rel]["sha256"]:
                to_read.append(rel)
        copy.method = "SHA-256 (rclone)"
    elif loc.remote_hash == "md5":
        to_read = []
        for rel in wanted:
            theirs, ours = listing[rel].hashes.get("md5"), md5s.get(rel)
            if theirs and ours:
                # MD5 of bytes that matched the manifest: equal MD5, equal bytes (for fixity)
                found[rel] = {"sha256": reference.digests[rel].get("sha256", "")} if theirs == ours \
                    else {"sha256": "md5:" + theirs}
            else:
                to_read.append(rel)
        copy.method = "MD5 (rclone)" + (", download" if to_read else "")
    else:
        copy.method = "read" if loc.kind != "remote" else "download"
    sizes = {rel: max(listing[rel].size, 0) for rel in wanted if rel not in to_read}
    if to_read:
        algorithms = ("sha256", "sha512", "md5") if need_md5 else ("sha256", "sha512")

        def keep(rel: str, digests: dict[str, str], size: int) -> None:
            md5 = digests.pop("md5", None)
            found[rel] = digests
            sizes[rel] = size
            if md5 and all(digests.get(a) == v for a, v in reference.digests[rel].items() if a in digests):
                md5s.setdefault(rel, md5)

        in_memory = [rel for rel in to_read if read.get(rel) is not None]
        for rel in in_memory:
            data = read[rel]
            keep(rel, {a: hashlib.new(a, data).hexdigest() for a in algorithms}, len(data))
        rest = [rel for rel in to_read if read.get(rel) is None]
        if rest:
            with loc.local_files(package, rest) as folder:
                base = os.fspath(folder)

                def measured(rel: str) -> tuple[dict[str, str], int] | None:
                    try:
                        return file_digests(os.path.join(base, rel), algorithms)
                    except OSError:
                        return None  # vanished meanwhile (or not downloaded): not judged

                for rel, digests in zip(rest, _each(measured, rest, threads)):
                    if digests is not None:
                        keep(rel, *digests)
    copy.files = len(wanted)
    copy.bytes = sum(sizes.values())
    return found


def _each(fn, items: list, threads: int) -> Iterable:
    """``map(fn, items)``, in ``threads`` threads when more than one: reading and hashing
    release the interpreter's lock, so the files of one large package are hashed on every
    core (a run with fewer packages than cores has cores to spare)."""
    if threads <= 1 or len(items) < 2:
        return map(fn, items)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


# -- a run ----------------------------------------------------------------------------------------
@dataclass
class LocationSummary:
    name: str
    kind: str
    method: str = ""
    packages: int = 0
    files: int = 0
    bytes: int = 0
    findings: int = 0
    error: str = ""

    def to_json(self) -> dict:
        return {"location": self.name, "kind": self.kind, "method": self.method, "packages": self.packages,
                "files": self.files, "bytes": self.bytes, "findings": self.findings, "error": self.error}


@dataclass
class AuditResult:
    archive: Path
    run: str
    started: dt.datetime
    finished: dt.datetime | None = None
    slice: tuple[int, int] | None = None
    sample: int = 0
    packages: list[str] = field(default_factory=list)
    locations: list[LocationSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    untrusted: dict[str, str] = field(default_factory=dict)  # package -> why no reference

    @property
    def ok(self) -> bool:
        return not self.findings and not any(s.error for s in self.locations)

    def to_json(self) -> dict:
        return {"schema": "archiver.audit/1", "archive": str(self.archive), "run": self.run,
                "started": self.started.isoformat(timespec="seconds"),
                "finished": self.finished.isoformat(timespec="seconds") if self.finished else None,
                "slice": f"{self.slice[0]}/{self.slice[1]}" if self.slice else None, "sample": self.sample,
                "ok": self.ok, "packages": self.packages, "locations": [s.to_json() for s in self.locations],
                "findings": [f.to_json() for f in self.findings]}


def open_locations(archive: Path, replicas: Sequence[str], *, rclone_program: str | None = None,
                   download: bool = False) -> list[Location]:
    """The archive, then each replica as given (usage errors before anything is read)."""
    from ..errors import UsageError
    from .locations import LocalFolder, open_location
    from .rclone import Rclone

    archive = Path(archive)
    if not archive.is_dir() or not (LocalFolder(archive, archive=True).packages() or (archive / INDEX).is_file()):
        raise UsageError(f"{archive}: không phải kho lưu trữ archiver (không có gói nào, không có index.json) / not "
                         "an archive: no packages and no index.json")
    rclone = None
    locations: list[Location] = [LocalFolder(archive, archive=True)]
    for spec in replicas:
        from .locations import is_remote

        if is_remote(spec) and rclone is None:
            rclone = Rclone(rclone_program)
        loc = open_location(spec, download=download, rclone=rclone)
        if any(loc.name == other.name for other in locations):
            raise UsageError(f"{spec}: nơi lưu được nêu hai lần / the same location is given twice")
        locations.append(loc)
    return locations


def run_audit(archive: Path, locations: Sequence[Location], *, slice_: tuple[int, int] | None = None,
              sample: int = 0, now: dt.datetime | None = None, progress=None, write_log: bool = True,
              rng: random.Random | None = None, jobs: int = 1) -> AuditResult:
    """Audit the chosen packages at every location, ``jobs`` packages at a time (worker
    processes); append the results to the archive's audit log and a PREMIS document."""
    from .. import vn
    from ..pipeline.pool import WorkerPool
    from .rclone import TransferFailed

    started = now or vn.now()
    log = RunLog("audit", started)
    result = AuditResult(Path(archive), log.run, started, slice=slice_, sample=sample)
    usable: list[Location] = []
    names: set[str] = set()
    for loc in locations:
        summary = LocationSummary(loc.name, loc.kind, getattr(loc, "method", "read"))
        result.locations.append(summary)
        try:
            names |= set(loc.packages())
            usable.append(loc)
        except TransferFailed as exc:
            summary.error = str(exc)
    result.packages = choose_packages(names, slice_, sample, rng)
    summaries = {s.name: s for s in result.locations}
    processes = max(1, min(jobs, len(result.packages)))
    setup = (usable, anchors_of(archive), any(loc.remote_hash == "md5" for loc in usable), max(1, jobs // processes))
    if processes > 1:
        _warm_up()  # imported once here, not in every worker
    try:
        with WorkerPool(processes, _set_up_worker, setup) as pool:
            for audit in pool.imap(_audit_one, result.packages, count=len(result.packages)):
                _tally(audit, result, summaries, log)
                if progress:
                    progress(audit.package)
        result.finished = vn.now()
        log.add({"event": "audit", "run": result.run, "time": result.finished.isoformat(timespec="seconds"),
                 "started": started.isoformat(timespec="seconds"),
                 "slice": f"{slice_[0]}/{slice_[1]}" if slice_ else None, "sample": sample,
                 "packages": len(result.packages), "outcome": "pass" if result.ok else "fail",
                 "locations": [s.to_json() for s in result.locations]})
        if write_log:
            log.write(Path(archive))
    finally:
        log.close()
    return result


def _tally(audit: PackageAudit, result: AuditResult, summaries: dict[str, LocationSummary], log: RunLog) -> None:
    """One package's audit into the run's result, log lines and PREMIS events."""
    from .. import vn

    package = audit.package
    if audit.reference is None:
        result.untrusted[package] = audit.why_untrusted
    result.findings += audit.findings
    tag = audit.reference.tag_manifest_sha256 if audit.reference else ""
    when = vn.now().isoformat(timespec="seconds")
    for name, copy in audit.copies.items():
        found = audit.findings_at(name)
        summary = summaries[name]
        summary.packages += copy.present
        summary.files += copy.files
        summary.bytes += copy.bytes
        summary.findings += len(found)
        if copy.method:
            summary.method = copy.method
        outcome = "pass" if not found else "fail"
        log.add({"event": "fixity-check", "run": result.run, "time": when, "location": name, "package": package,
                 "outcome": outcome, "files": copy.files, "bytes": copy.bytes, "method": copy.method,
                 "tag_manifest_sha256": tag, "findings": [{"path": f.path, "kind": f.kind} for f in found]},
                PremisEvent(package, "fixity check",
                            f"Kiểm tra tính toàn vẹn tại {name} ({copy.method or '-'}): {copy.files} tệp, "
                            f"{len(found)} phát hiện / fixity check at {name}: {copy.files} files, {len(found)} "
                            "findings" + "".join(f"; {f.kind} {f.path or '(gói / package)'}" for f in found[:20]),
                            "success" if not found else "failure", tag, audit.tag_manifest_size, when))


# -- the worker side of a run: each worker audits whole packages -----------------------------
_WORKER: dict = {}


def _set_up_worker(locations: Sequence[Location], anchors: Mapping[str, str], need_md5: bool,
                   threads: int = 1) -> None:
    _WORKER.update(locations=locations, anchors=anchors, need_md5=need_md5, threads=threads)


def _audit_one(package: str) -> PackageAudit:
    audit = audit_package(package, _WORKER["locations"], _WORKER["anchors"].get(package),
                          need_md5=_WORKER["need_md5"], threads=_WORKER["threads"])
    return audit.outcome()


def _warm_up() -> None:
    """Import what judging a package's token needs before the workers are forked."""
    from cryptography.hazmat.primitives.asymmetric import ec, padding  # noqa: F401

    from ..timestamps import evidence, tsa  # noqa: F401
