"""Stages 4-6 for one package: render, package (BagIt), timestamp (RFC 3161 + RFC 4998).

A package is assembled under ``ARCHIVE/.staging``, turned into a BagIt bag by
bagit-python (the Library of Congress implementation, so the bag is what the reference
validator expects), and renamed into place only when complete. Its ``data/package.json``
is the package's own index; the archive's state is read back from those files.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from . import __version__
from .fsutil import (
    ArchiveWriteError,
    describe_os_error,
    new_staging_dir,
    public_mode,
    publish_dir,
    safe_name,
    write_file,
)
from .bagit_writer import digests_of, write_bag
from .kept import kept_transcript, load_kept
from .qr import remember_matrix
from .verify.report import REJECTED, VERDICT_LABELS

QUARANTINE_PREFIX = "_KiemDuyet_"


def item_kinds(files: Mapping[str, str]) -> list[str]:
    """The member's data objects that its evidence record covers, in order: the original
    (``xml``, or ``original`` in a quarantine), its report JSON, its validation data.
    ``files`` is the member's ``files`` or ``hashes`` mapping."""
    return [k for k in ("xml" if "xml" in files else "original", "report_json", "validation") if k in files]


def item_objects(folder: Path, files: Mapping[str, str]) -> list[bytes]:
    """The bytes of those data objects, read from the package ``folder``."""
    return [(folder / files[k]).read_bytes() for k in item_kinds(files)]
PACKAGE_SCHEMA = "archiver.package/1"
VERDICT_ORDER = ("VALID", "INVALID", "INDETERMINATE", "REJECTED")


@dataclass
class PackageMember:
    """One archived item, as recorded in ``data/package.json``."""

    stem: str
    sha256: str
    verdict: str
    lookup_code: str = ""
    student_code: str = ""
    citizen_id: str = ""
    name: str = ""
    birth_date: str = ""
    gender: str = ""
    class_name: str = ""
    school_year: str = ""
    school_code: str = ""
    warnings: int = 0
    replaces: str = ""
    superseded_by: str = ""
    reason_code: str = ""
    reason: str = ""
    files: dict[str, str] = field(default_factory=dict)  # relative to the bag root
    hashes: dict[str, str] = field(default_factory=dict)  # sha256 of each file
    input_paths: list[str] = field(default_factory=list)


@dataclass
class PublishedPackage:
    name: str  # folder name, with its version suffix
    base_name: str
    version: int
    path: Path
    meta: dict[str, Any]  # data/package.json without its members

    @property
    def members(self) -> list[PackageMember]:
        """Read from ``data/package.json`` on each use: an archive of many classes is
        walked one package at a time, never held whole in memory."""
        meta = json.loads((self.path / "data" / "package.json").read_text(encoding="utf-8"))
        return [PackageMember(**m) for m in meta.get("members", [])]


@dataclass
class PackagePlan:
    name: str  # base name
    version: int
    quarantine: bool
    previous: PublishedPackage | None
    carried: list[PackageMember]
    new: list[tuple[Any, Any]]  # (build.Verified, ingest.IngestedFile)
    input_paths: dict[str, list[str]]
    replaced_by: dict[str, str]
    created: dt.datetime
    settings: Any
    pool: Any  # a ProcessPoolExecutor shared by the whole build, or None
    config: Any
    # (code, name, province) of the archive's school when it holds just one: what a
    # quarantine package, whose rejected files say nothing, is labelled with
    school: tuple[str, str, str] = ("", "", "")

    @property
    def folder_name(self) -> str:
        return self.name if self.version == 1 else f"{self.name}_v{self.version}"


@dataclass
class WrittenPackage:
    path: Path
    tsa_requests: int
    pending: bool = False


# -- reading what is published ----------------------------------------------------------------
def _version_of(folder: str) -> tuple[str, int]:
    base, sep, tail = folder.rpartition("_v")
    if sep and tail.isdigit() and base:
        return base, int(tail)
    return folder, 1


def published_packages(archive: Path) -> dict[str, PublishedPackage]:
    """The current (highest) version of every package, by base name."""
    found: dict[str, PublishedPackage] = {}
    if not archive.is_dir():
        return found
    for folder in sorted(archive.iterdir()):
        index = folder / "data" / "package.json"
        if folder.name.startswith(".") or not index.is_file():
            continue
        try:
            meta = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # `archiver check` names it; the build does not build on it
        base, version = _version_of(folder.name)
        meta.pop("members", None)
        pkg = PublishedPackage(folder.name, base, version, folder, meta)
        if base not in found or found[base].version < version:
            found[base] = pkg
    return found


# -- per-member work (in worker processes) ---------------------------------------------------
def _stem(candidate: str, taken: set[str]) -> str:
    stem, n = candidate, 2
    while stem.lower() in taken:  # FAT32: no names differing only by case
        stem, n = f"{candidate}-{n}", n + 1
    taken.add(stem.lower())
    return stem


def _report_html(report: dict[str, Any], member: PackageMember) -> bytes:
    from .templating import render_template

    return render_template("report/transcript.html.j2", report=report, member=member,
                           labels=VERDICT_LABELS).encode("utf-8")


def _validation_der(report: dict[str, Any]) -> bytes:
    data = report.get("validation_data", {})
    parts = [base64.b64decode(data.get("certificates", {})[k]) for k in sorted(data.get("certificates", {}))]
    parts += [base64.b64decode(data.get("crls", {})[k]) for k in sorted(data.get("crls", {}))]
    return b"".join(parts)


@dataclass
class MemberJob:
    stem: str
    staging: str
    original: bytes | None  # for carried members: read from the previous package
    source: Any  # InputItem, for new members
    report: dict[str, Any] | None
    kept_path: str | None  # for new members: what the verify stage kept (archiver.kept)
    member: PackageMember
    render: bool  # False: copy the previous rendering (content and report unchanged)
    previous_pdf: str | None
    quarantine: bool


def _process_member(job: MemberJob) -> tuple[PackageMember, dict[str, tuple[str, str, int]]]:
    """Write one member's files into the staging folder; returns the member and the
    bag's digests of the files written (see archiver.bagit_writer)."""
    staging = Path(job.staging)
    member = job.member
    # A quarantined original is copied in chunks (it may be large); a transcript is small.
    original = job.original if job.original is not None or job.quarantine else job.source.read()
    kept = load_kept(job.kept_path)
    if job.report is None and kept is None:
        raise ArchiveWriteError(f"{job.kept_path}: kết quả kiểm tra trong thư mục tạm đã mất; hãy chạy lại / the "
                                "verification kept for this build is gone: run again")
    report = job.report if job.report is not None else kept.report
    # What the archive knows beyond the verifier: replacement, every path it came from.
    report["archive"] = {
        "package_stem": job.stem,
        "replaces": member.replaces or None,
        "superseded_by": member.superseded_by or None,
        "input_paths": member.input_paths,
    }
    warnings = report.setdefault("warnings", [])
    warnings[:] = [w for w in warnings if w.get("code") not in {"SUPERSEDED", "REPLACES"}]
    if member.superseded_by:
        warnings.append({"code": "SUPERSEDED",
                         "message": f"Học bạ này đã bị thu hồi và thay thế bởi học bạ mã tra cứu "
                                    f"{member.superseded_by} / revoked and replaced"})
    if member.replaces:
        warnings.append({"code": "REPLACES",
                         "message": f"Học bạ này thay thế học bạ mã tra cứu {member.replaces} "
                                    f"/ replaces a revoked transcript"})
    files: dict[str, str] = {}
    hashes: dict[str, str] = {}
    digests: dict[str, tuple[str, str, int]] = {}

    def put(kind: str, rel: str, data: bytes) -> None:
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, data)
        files[kind] = f"data/{rel}"
        digests[files[kind]] = digests_of(data)
        hashes[kind] = digests[files[kind]][0]

    if job.quarantine:
        ext = Path(member.input_paths[0] if member.input_paths else "").suffix.lower()
        ext = ext if ext.isascii() and ext[1:].isalnum() and len(ext) <= 6 else ".bin"
        rel = f"rejected/{job.stem}{ext}"
        if original is not None:
            put("original", rel, original)
        else:
            files["original"] = f"data/{rel}"
            digests[files["original"]] = _copy_in_chunks(job.source, staging / rel)
            hashes["original"] = digests[files["original"]][0]
    else:
        put("xml", f"transcripts/{job.stem}.xml", original)
    kind = "original" if job.quarantine else "xml"
    verified = report.get("sha256") or member.sha256  # what the verifier read (none if it could not)
    if hashes[kind] != member.sha256 or verified != member.sha256:
        # read again for the package after it was verified: a file changed meanwhile
        raise ArchiveWriteError(
            f"{member.input_paths[0] if member.input_paths else job.stem}: tệp đầu vào đã thay đổi trong khi "
            "lập kho; không lưu nội dung chưa được kiểm tra. Hãy chạy lại khi không còn ai sửa các tệp đầu vào / "
            "an input changed during the build; nothing unverified is archived: run again")
    report_bytes = json.dumps(report, ensure_ascii=False, indent=1).encode("utf-8")
    put("report_json", f"reports/{job.stem}.json", report_bytes)
    put("report_html", f"reports/{job.stem}.html", _report_html(report, member))
    put("validation", f"validation/{job.stem}.der", _validation_der(report))
    _write_trust(staging, report)
    if not job.quarantine:
        if job.render or not job.previous_pdf:
            from .render import RenderError, render_transcript

            summary = {k: v for k, v in report.items() if k != "validation_data"}
            profile = report.get("profile") or None
            transcript = kept_transcript(kept, profile or "")
            if transcript is not None and kept.qr and transcript.lookup_code:
                remember_matrix(transcript.lookup_code, kept.qr)
            try:
                pdf = render_transcript(original, profile=profile, verification=summary,
                                        attachment_name=f"{job.stem}.xml", transcript=transcript)
            except RenderError as exc:
                pdf = None
                member.reason = f"PDF: {exc}"
            if pdf is not None:
                put("pdf", f"renderings/{job.stem}.pdf", pdf)
        else:
            put("pdf", f"renderings/{job.stem}.pdf", Path(job.previous_pdf).read_bytes())
    member.files, member.hashes = files, hashes
    return member, digests


def _copy_in_chunks(source: Any, target: Path) -> tuple[str, str, int]:
    """Copy an input (an InputItem) to ``target`` a megabyte at a time; its SHA-256,
    SHA-512 and size."""
    sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open() as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            sha256.update(chunk)
            sha512.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return sha256.hexdigest(), sha512.hexdigest(), size


# -- the package -------------------------------------------------------------------------------
def _member_for(verified: Any, input_paths: list[str]) -> PackageMember:
    return PackageMember(
        stem="", sha256=verified.sha256, verdict=verified.verdict,
        lookup_code=verified.lookup_code, student_code=verified.student_code,
        citizen_id=verified.citizen_id, name=verified.name, birth_date=verified.birth_date,
        gender=verified.gender, class_name=verified.class_name, school_year=verified.school_year,
        school_code=verified.school_code, warnings=verified.warnings, replaces=verified.replaces,
        reason_code=verified.reason_code if verified.verdict == REJECTED else "",
        reason=verified.reason, input_paths=list(input_paths),
    )


@dataclass
class StartedPackage:
    """A package whose members are being processed (rendered, reported) in the pool."""

    plan: PackagePlan
    staging: Path
    jobs: list[MemberJob]
    results: Iterator[tuple[PackageMember, dict[str, tuple[str, str, int]]]] | None  # None: processed on finishing


def start_package(archive: Path, plan: PackagePlan) -> StartedPackage:
    """Stage the package and hand its members to the pool. The build starts the next
    package before it finishes this one, so the workers render while this process
    hashes, timestamps, bags and publishes."""
    try:
        return _start_package(archive, plan)
    except OSError as exc:
        raise ArchiveWriteError(describe_os_error(exc, archive / plan.folder_name)) from None


def finish_package(archive: Path, started: StartedPackage, timestamper, tick: Callable[[], None]) -> WrittenPackage:
    """Collect the members, timestamp, write the bag and publish it."""
    try:
        return _finish_package(archive, started, timestamper, tick)
    except OSError as exc:
        raise ArchiveWriteError(describe_os_error(exc, archive / started.plan.folder_name)) from None


def _start_package(archive: Path, plan: PackagePlan) -> StartedPackage:
    staging = new_staging_dir(archive, plan.folder_name)
    taken: set[str] = set()
    jobs: list[MemberJob] = []
    for old in plan.carried:
        member = PackageMember(**{**asdict(old)})
        member.superseded_by = plan.replaced_by.get(member.lookup_code, "") if member.lookup_code else ""
        member.input_paths = sorted(set(old.input_paths) | set(plan.input_paths.get(old.sha256, [])))
        stem = _stem(old.stem, taken)
        prev = plan.previous.path
        original_rel = old.files.get("xml") or old.files.get("original")
        changed = member.superseded_by != old.superseded_by
        if plan.quarantine:  # any size: copied in chunks by the worker, never held whole
            from .inputs import InputItem

            original, source = None, InputItem(name=original_rel, source=str(prev / original_rel))
        else:
            original, source = (prev / original_rel).read_bytes(), None
        jobs.append(MemberJob(
            stem=stem, staging=str(staging), original=original, source=source,
            report=json.loads((prev / old.files["report_json"]).read_text("utf-8")), kept_path=None,
            member=member, render=changed,
            previous_pdf=str(prev / old.files["pdf"]) if "pdf" in old.files else None,
            quarantine=plan.quarantine))
    for verified, ingested in plan.new:
        member = _member_for(verified, plan.input_paths.get(verified.sha256, ingested.paths))
        # The worker reads the original from its source (a rejected file, which may be
        # large, in chunks): sending every transcript through a pipe cost this process
        # more than bagging the package.
        if not plan.quarantine:
            member.superseded_by = plan.replaced_by.get(member.lookup_code, "")
            # both come from the XML: only file-safe characters (no "/", "..", "%", ":")
            stem = _stem(safe_name(f"{member.student_code or 'hocba'}_{member.lookup_code[:8] or verified.sha256[:8]}"),
                         taken)
        else:
            stem = _stem(verified.sha256[:16], taken)
        jobs.append(MemberJob(stem=stem, staging=str(staging), original=None, source=ingested.first,
                              report=None, kept_path=verified.kept_path, member=member,
                              render=True, previous_pdf=None, quarantine=plan.quarantine))

    results = plan.pool.map(_process_member, jobs, chunksize=4) \
        if plan.pool is not None and len(jobs) >= 2 else None
    return StartedPackage(plan, staging, jobs, results)


def _finish_package(archive: Path, started: StartedPackage, timestamper, tick) -> WrittenPackage:
    from .evidence import build_evidence, evidence_tokens
    from .tsa import TimestampError

    plan, staging, jobs = started.plan, started.staging, started.jobs
    members: list[PackageMember] = []
    digests: dict[str, tuple[str, str, int]] = {}
    for member, written in started.results if started.results is not None else map(_process_member, jobs):
        members.append(member)
        digests.update(written)
        tick()
    for job, member in zip(jobs, members):
        member.stem = job.stem
    members.sort(key=lambda m: (m.name, m.stem))

    # Timestamp: one request for the whole package, over each member's three objects.
    items = [[bytes.fromhex(m.hashes[k]) for k in item_kinds(m.hashes)] for m in members]
    tsa_requests = 0
    pending = False
    timestamp_meta: dict[str, Any] = {}
    try:
        records = build_evidence(items, timestamper, prehashed=True)
        tsa_requests = 1
    except TimestampError as exc:
        records, pending = None, True
        # The TSA it waits for: completing it later with another (the local one) would
        # not be what the clerk or IT staff configured.
        timestamp_meta = {"status": "pending", "error": str(exc),
                          "tsa_url": getattr(timestamper, "url", None)}
    if records is not None:
        for member, record in zip(members, records):
            rel = f"evidence/{member.stem}.ers"
            (staging / "evidence").mkdir(exist_ok=True)
            write_file(staging / rel, record)
            member.files["evidence"] = f"data/{rel}"
            digests[member.files["evidence"]] = digests_of(record)
            member.hashes["evidence"] = digests[member.files["evidence"]][0]
        timestamp_meta = _write_timestamp(staging, evidence_tokens(records[0])[0],
                                          getattr(plan.config, "cert", None))

    meta = _package_meta(plan, members, timestamp_meta)
    write_file(staging / "package.json", json.dumps(
        {**meta, "members": [asdict(m) for m in members]}, ensure_ascii=False, indent=1).encode("utf-8"))
    write_file(staging / "premis.xml", _premis(plan, members, meta, staging))
    write_package_readme(staging / "README.txt", meta, len(members))
    write_tree_root_script(staging)

    bag_info = {
        "Source-Organization": meta["school_name"] or "không rõ",
        "Organization-Address": meta["province"] or "",
        "External-Identifier": plan.folder_name,
        "External-Description": meta["title"],
        "Bagging-Date": plan.created.date().isoformat(),
        "Bag-Group-Identifier": meta["school_year"],
        "Internal-Sender-Identifier": meta["class_name"] or "quarantine",
        "School-Code": meta["school_code"],
        "School-Year": meta["school_year"],
        "Class": meta["class_name"],
        "Package-Id": meta["package_id"],
        "Package-Version": str(plan.version),
        "Created": plan.created.isoformat(timespec="seconds"),
        "Software": f"archiver {__version__}",
        "Bag-Software-Agent": f"archiver {__version__}",
        "Timestamp-Status": "pending" if pending else ("local" if timestamp_meta.get("local") else "tsa"),
    }
    for verdict in VERDICT_ORDER:
        bag_info[f"Count-{verdict}"] = str(meta["counts"].get(verdict, 0))
    write_bag(staging, bag_info, digests)
    if pending:
        target = archive / ".pending" / plan.folder_name
        target.parent.mkdir(exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        publish_dir(staging, target)
        return WrittenPackage(target, 0, pending=True)
    final = archive / plan.folder_name
    publish_dir(staging, final)
    from .label import write_label

    write_label(archive, final, meta)
    return WrittenPackage(final, tsa_requests)


def _package_meta(plan: PackagePlan, members: list[PackageMember], timestamp: dict[str, Any]) -> dict[str, Any]:
    from collections import Counter

    first = next((m for m in members if m.school_code), None)
    counts = Counter(m.verdict for m in members)
    school_name = ""
    province = ""
    if plan.new:
        v = plan.new[0][0]
        school_name, province = v.school_name, v.province
    elif plan.previous:
        school_name, province = plan.previous.meta.get("school_name", ""), plan.previous.meta.get("province", "")
    school_code = first.school_code if first else plan.school[0]
    if school_code == plan.school[0]:
        school_name, province = school_name or plan.school[1], province or plan.school[2]
    class_name = first.class_name if first and not plan.quarantine else ""
    school_year = (first.school_year if first else "") or plan.name.rsplit("_", 1)[-1]
    title = (f"Học bạ số lớp {class_name}, năm học {school_year}, {school_name}" if not plan.quarantine
             else f"Tệp bị từ chối (kiểm duyệt), năm học {school_year}")
    return {
        "schema": PACKAGE_SCHEMA,
        "package_id": plan.folder_name,
        "base_name": plan.name,
        "version": plan.version,
        "previous_version": plan.previous.name if plan.previous else None,
        "quarantine": plan.quarantine,
        "title": title,
        "school_code": school_code,
        "school_name": school_name,
        "province": province,
        "school_year": school_year,
        "class_name": class_name,
        "created": plan.created.isoformat(timespec="seconds"),
        "software": f"archiver {__version__}",
        "counts": {k: counts[k] for k in VERDICT_ORDER if counts[k]},
        "timestamp": timestamp,
        "evidence_item": "RFC 4998 data-object group per member, SHA-256 of: the original file, "
                         "its report JSON, its validation data (DER)",
    }


def token_facts(token: bytes) -> dict[str, Any]:
    """What a timestamp token says: its imprint (bytes) and hash algorithm, genTime, the
    TSA's name (the certificate with the timeStamping EKU) and whether it is the
    embedded local TSA, plus the certificates it carries. Raises ValueError when the
    bytes are not a timestamp token."""
    from asn1crypto import cms, tsp
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from .tsa import LOCAL_TSA_ORGANIZATION

    try:
        signed = cms.ContentInfo.load(token)["content"]
        tst = tsp.TSTInfo.load(signed["encap_content_info"]["content"].parsed.dump())
        imprint = tst["message_imprint"]["hashed_message"].native
        algorithm = tst["message_imprint"]["hash_algorithm"]["algorithm"].native
        gen_time = tst["gen_time"].native
        certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed["certificates"] or []]
    except Exception as exc:  # asn1crypto raises many kinds on damaged input
        raise ValueError(f"not a timestamp token: {exc}") from None

    def is_tsa(cert: x509.Certificate) -> bool:
        try:
            return ExtendedKeyUsageOID.TIME_STAMPING in cert.extensions.get_extension_for_class(
                x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return False

    signer = next((c for c in certs if is_tsa(c)), certs[0] if certs else None)
    return {"imprint": imprint, "algorithm": algorithm, "time": gen_time,
            "tsa": signer.subject.rfc4514_string() if signer else "",
            "local": any(LOCAL_TSA_ORGANIZATION in c.subject.rfc4514_string() for c in certs),
            "certificates": certs}


def _write_timestamp(staging: Path, token: bytes, tsa_cert: str | None, name: str = "package") -> dict[str, Any]:
    """The token, its imprint and the TSA chain in ``data/timestamp/``: ``package.tst``,
    ``root.sha256.txt``, ``tsa-chain.pem`` for the package's own timestamp, and
    ``<name>.tst``, ``<name>.root.sha256.txt``, ``<name>.tsa-chain.pem`` for a renewal,
    so the original stays where the package README says it is."""
    folder = staging / "timestamp"
    folder.mkdir(exist_ok=True)
    prefix = "" if name == "package" else f"{name}."
    token_file, root_file, chain_file = f"{name}.tst", f"{prefix}root.sha256.txt", f"{prefix}tsa-chain.pem"
    write_file(folder / token_file, token)
    facts = token_facts(token)
    imprint = facts["imprint"]
    write_file(folder / root_file, imprint.hex().encode() + b"\n")
    certs = list(facts["certificates"])
    if tsa_cert:
        try:
            certs += x509.load_pem_x509_certificates(Path(tsa_cert).read_bytes())
        except (OSError, ValueError):
            pass
    if facts["local"]:
        from .tsa import LocalTimestamper

        root = LocalTimestamper().root_cert
        certs.append(root if isinstance(root, x509.Certificate) else x509.load_der_x509_certificate(root.dump()))
    unique = list({c.fingerprint(hashes.SHA256()): c for c in certs}.values())  # each certificate once
    write_file(folder / chain_file, b"".join(c.public_bytes(Encoding.PEM) for c in unique))
    return {"status": "done", "time": facts["time"].isoformat(), "tsa": facts["tsa"], "local": facts["local"],
            "token": f"data/timestamp/{token_file}", "root_sha256": imprint.hex()}


def _write_trust(staging: Path, report: dict[str, Any]) -> None:
    """The certificates and CRLs a report used, as PEM files in ``trust/`` (shared by the
    package's members; written by whichever worker meets a file first)."""
    import os
    import tempfile

    folder = staging / "trust"
    data = report.get("validation_data", {})
    for kind in ("certificates", "crls"):
        for digest, b64 in data.get(kind, {}).items():
            key = (folder, kind, digest)
            if key in _TRUST_WRITTEN:
                continue
            name, pem = _trust_file(kind, digest, b64)
            target = folder / name
            if not target.exists():
                folder.mkdir(exist_ok=True)
                # under a temporary name: another worker may be writing the same file
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
                os.chmod(tmp, public_mode())
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
                os.replace(tmp, target)  # same content from every writer: the last rename wins harmlessly
            if len(_TRUST_WRITTEN) >= 4096:
                _TRUST_WRITTEN.clear()
            _TRUST_WRITTEN.add(key)


# Trust files this worker has written or seen (staging folders are never reused): each member
# of a package carries the same few, and asking the file system each time cost more than
# writing the member's report.
_TRUST_WRITTEN: set[tuple[Path, str, str]] = set()

# Every report of a school carries the same few certificates and CRLs: each is parsed
# once per process, not once per transcript. Keyed by the SHA-256 of its DER.
_TRUST_FILES: dict[tuple[str, str], tuple[str, bytes]] = {}


def _trust_file(kind: str, digest: str, b64: str) -> tuple[str, bytes]:
    """The file name and PEM bytes of one certificate or CRL from a report."""
    key = (kind, digest)
    if key not in _TRUST_FILES:
        if len(_TRUST_FILES) >= 4096:
            _TRUST_FILES.clear()
        der = base64.b64decode(b64)
        if kind == "certificates":
            item: x509.Certificate | x509.CertificateRevocationList = x509.load_der_x509_certificate(der)
            suffix = "pem"
        else:
            item, suffix = x509.load_der_x509_crl(der), "crl"
        _TRUST_FILES[key] = (f"{_trust_role(item)}-{digest[:16]}.{suffix}", item.public_bytes(Encoding.PEM))
    return _TRUST_FILES[key]


PREMIS_NS = "http://www.loc.gov/premis/v3"
EVENT_TYPES = "http://id.loc.gov/vocabulary/preservation/eventType"


XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
HASH_FUNCTIONS = "http://id.loc.gov/vocabulary/preservation/cryptographicHashFunctions"
RELATIONSHIP_TYPES = "http://id.loc.gov/vocabulary/preservation/relationshipType"
_MEDIA_TYPES = {"xml": "application/xml", "pdf": "application/pdf"}


def premis_event(root: etree._Element, identifier: str, kind: str, detail: str, outcome: str,
                 when: dt.datetime, objects: list[str]) -> None:
    """Add one PREMIS 3 event, its type from the Library of Congress vocabulary. Events
    go after the objects and before the agent, the order the PREMIS schema requires (so
    events appended later, by renewal, keep the document valid)."""
    P = f"{{{PREMIS_NS}}}"
    ev = etree.Element(f"{P}event")
    agent = root.find(f"{P}agent")
    if agent is not None:
        agent.addprevious(ev)
    else:
        root.append(ev)
    ident = etree.SubElement(ev, f"{P}eventIdentifier")
    etree.SubElement(ident, f"{P}eventIdentifierType").text = "local"
    etree.SubElement(ident, f"{P}eventIdentifierValue").text = identifier
    etree.SubElement(ev, f"{P}eventType", authority="eventType", authorityURI=EVENT_TYPES).text = kind
    etree.SubElement(ev, f"{P}eventDateTime").text = when.isoformat(timespec="seconds")
    etree.SubElement(ev, f"{P}eventDetailInformation").append(_el(f"{P}eventDetail", detail))
    out = etree.SubElement(ev, f"{P}eventOutcomeInformation")
    etree.SubElement(out, f"{P}eventOutcome").text = outcome
    agent = etree.SubElement(ev, f"{P}linkingAgentIdentifier")
    etree.SubElement(agent, f"{P}linkingAgentIdentifierType").text = "software"
    etree.SubElement(agent, f"{P}linkingAgentIdentifierValue").text = f"archiver {__version__}"
    for obj in objects:
        link = etree.SubElement(ev, f"{P}linkingObjectIdentifier")
        etree.SubElement(link, f"{P}linkingObjectIdentifierType").text = "sha256"
        etree.SubElement(link, f"{P}linkingObjectIdentifierValue").text = obj


def _premis_object(root: etree._Element, digest: str, size: int, media_type: str, original_name: str,
                   relationships: list[tuple[str, str, str, str]]) -> None:
    """A PREMIS 3 file object identified by its SHA-256 (what the events link to).
    ``relationships``: (type, sub-type, identifier type, identifier value)."""
    P = f"{{{PREMIS_NS}}}"
    obj = etree.SubElement(root, f"{P}object", {f"{{{XSI_NS}}}type": "premis:file"})
    ident = etree.SubElement(obj, f"{P}objectIdentifier")
    etree.SubElement(ident, f"{P}objectIdentifierType").text = "sha256"
    etree.SubElement(ident, f"{P}objectIdentifierValue").text = digest
    chars = etree.SubElement(obj, f"{P}objectCharacteristics")
    etree.SubElement(chars, f"{P}compositionLevel").text = "0"
    fixity = etree.SubElement(chars, f"{P}fixity")
    etree.SubElement(fixity, f"{P}messageDigestAlgorithm", authority="cryptographicHashFunctions",
                     authorityURI=HASH_FUNCTIONS).text = "SHA-256"
    etree.SubElement(fixity, f"{P}messageDigest").text = digest
    etree.SubElement(chars, f"{P}size").text = str(size)
    designation = etree.SubElement(etree.SubElement(chars, f"{P}format"), f"{P}formatDesignation")
    etree.SubElement(designation, f"{P}formatName").text = media_type
    if original_name:
        etree.SubElement(obj, f"{P}originalName").text = original_name
    for kind, sub, id_type, value in relationships:
        rel = etree.SubElement(obj, f"{P}relationship")
        etree.SubElement(rel, f"{P}relationshipType", authority="relationshipType",
                         authorityURI=RELATIONSHIP_TYPES).text = kind
        etree.SubElement(rel, f"{P}relationshipSubType").text = sub
        related = etree.SubElement(rel, f"{P}relatedObjectIdentifier")
        etree.SubElement(related, f"{P}relatedObjectIdentifierType").text = id_type
        etree.SubElement(related, f"{P}relatedObjectIdentifierValue").text = value


def _premis(plan: PackagePlan, members: list[PackageMember], meta: dict[str, Any], payload: Path) -> bytes:
    """The package's preservation metadata (PREMIS 3): an object per original and per
    rendering, the events, and the software agent that did them. ``payload`` is the
    folder that becomes the bag's data/ (member paths start with "data/")."""

    def size(rel: str) -> int:
        return (payload / rel.removeprefix("data/")).stat().st_size

    P = f"{{{PREMIS_NS}}}"
    root = etree.Element(f"{P}premis", nsmap={"premis": PREMIS_NS, "xsi": XSI_NS}, version="3.0")
    for m in members:
        kind = "xml" if "xml" in m.files else "original"
        links = []
        if m.replaces:
            links.append(("reference", "thay thế / replaces", "MaTraCuu", m.replaces))
        if m.superseded_by:
            links.append(("reference", "bị thay thế bởi / is superseded by", "MaTraCuu", m.superseded_by))
        _premis_object(root, m.sha256, size(m.files[kind]),
                       _MEDIA_TYPES["xml"] if kind == "xml" else "application/octet-stream",
                       m.input_paths[0] if m.input_paths else "", links)
        if "pdf" in m.hashes:
            _premis_object(root, m.hashes["pdf"], size(m.files["pdf"]),
                           _MEDIA_TYPES["pdf"], "", [("derivation", "has source", "sha256", m.sha256)])
    counter = 0

    def event(kind: str, detail: str, outcome: str, objects: list[str]) -> None:
        nonlocal counter
        counter += 1
        premis_event(root, f"{plan.folder_name}-{counter}", kind, detail, outcome, plan.created, objects)

    for m in members:
        event("ingestion", "Nhận tệp gốc, giữ nguyên từng byte / original received, kept bit-exact; from: "
              + "; ".join(m.input_paths), "success", [m.sha256])
        event("validation", "Kiểm tra lại chữ ký số theo hocba-xml mục 3 / signatures re-verified",
              m.verdict, [m.sha256])
        if "pdf" in m.hashes:
            event("creation", "Kết xuất PDF/A-3b, nhúng tệp XML gốc / PDF/A-3b rendering created",
                  "success", [m.sha256, m.hashes["pdf"]])
    status = meta["timestamp"].get("status")
    event("message digest calculation",
          "Cây băm RFC 4998 và dấu thời gian RFC 3161 cho cả gói / RFC 4998 hash tree, RFC 3161 "
          f"timestamp of its root ({'pending' if status == 'pending' else meta['timestamp'].get('time', '')})",
          "pending" if status == "pending" else "success", [m.sha256 for m in members])
    agent = etree.SubElement(root, f"{P}agent")
    ident = etree.SubElement(agent, f"{P}agentIdentifier")
    etree.SubElement(ident, f"{P}agentIdentifierType").text = "software"
    etree.SubElement(ident, f"{P}agentIdentifierValue").text = f"archiver {__version__}"
    etree.SubElement(agent, f"{P}agentName").text = "archiver"
    etree.SubElement(agent, f"{P}agentType").text = "software"
    etree.SubElement(agent, f"{P}agentVersion").text = __version__
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_package_readme(path: Path, meta: dict[str, Any], members: int) -> None:
    """The package's README (how to check it by hand), from its package.json facts; made
    again whenever those change (a completed pending timestamp, a renewal)."""
    from .templating import render_template

    write_file(path, render_template("package/README.txt.j2", meta=meta, members=range(members),
                                     labels=VERDICT_LABELS).encode("utf-8"))


def write_tree_root_script(data: Path) -> None:
    """``data/timestamp/tree_root.py``: recomputes the hash-tree root from the files with
    Python's standard library, so the token can be tied to the files without archiver."""
    from .templating import templates_dir

    (data / "timestamp").mkdir(exist_ok=True)
    write_file(data / "timestamp" / "tree_root.py", (templates_dir() / "package" / "tree_root.py").read_bytes())


def _trust_role(item: x509.Certificate | x509.CertificateRevocationList) -> str:
    """What a trust file is, for its name: what xmlsec1's --trusted-pem (root) and
    --untrusted-pem (ca) take, the signers' own certificates, and CRLs."""
    if isinstance(item, x509.CertificateRevocationList):
        return "crl"
    if item.issuer == item.subject:
        return "root"
    try:
        is_ca = item.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return "ca" if is_ca else "signer"


def _el(tag: str, text: str) -> etree._Element:
    node = etree.Element(tag)
    node.text = text
    return node
