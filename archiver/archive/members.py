"""A member's files in a package being written: what a worker process does per transcript.

For each member: its original (bit-exact), its verification report (JSON and HTML), its
validation data (DER), the trust files its report used, and its PDF/A rendering. The
worker hashes every file as it writes it, so the bag is made without reading them again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import ArchiveWriteError
from ..fsutil import public_mode, write_file
from ..inputs import InputItem
from ..pipeline.kept import kept_transcript, load_kept
from ..qr import remember_matrix
from ..verify.report import VERDICT_LABELS
from .bag import digests_of
from .layout import member_files, rejected_file
from .records import TranscriptRecord

Written = dict[str, tuple[str, str, int]]  # "data/…" -> (sha256, sha512, size), for the bag


@dataclass
class MemberJob:
    """One member to write into the staged package ``staging`` (its future data/ folder)."""

    record: TranscriptRecord  # stem set; files and hashes filled by the worker
    staging: str
    quarantine: bool
    source: InputItem | None = None  # a new member's input; a carried rejected file's old copy
    kept_path: str | None = None  # a new member: what the verify stage kept (pipeline.kept)
    original: bytes | None = None  # a carried transcript: its bytes, from the previous version
    report: dict[str, Any] | None = None  # a carried member: its report, from the previous version
    previous_pdf: str | None = None  # a carried member's rendering, copied when nothing changed
    render: bool = True


def write_member(job: MemberJob) -> tuple[TranscriptRecord, Written]:
    """Write one member's files into the staging folder; returns the record (with its
    files and hashes) and the bag's digests of the files written."""
    staging = Path(job.staging)
    record = job.record
    kept = load_kept(job.kept_path)
    if job.report is None and kept is None:
        raise ArchiveWriteError(f"{job.kept_path}: kết quả kiểm tra trong thư mục tạm đã mất; hãy chạy lại / the "
                                "verification kept for this build is gone: run again")
    report = job.report if job.report is not None else kept.report
    _annotate(report, record)
    if not job.quarantine:
        record.profile = str(report.get("profile") or "")
    names = member_files(record.stem)
    files: dict[str, str] = {}
    hashes: dict[str, str] = {}
    written: Written = {}

    def put(kind: str, rel: str, data: bytes) -> None:
        path = staging / rel.removeprefix("data/")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, data)
        files[kind], written[rel] = rel, digests_of(data)
        hashes[kind] = written[rel][0]

    original: bytes | None = job.original
    if job.quarantine:  # any size: copied in chunks, never held whole
        rel = rejected_file(record.stem, record.input_paths[0] if record.input_paths else "")
        files["original"], written[rel] = rel, _copy_in_chunks(job.source, staging / rel.removeprefix("data/"))
        hashes["original"] = written[rel][0]
    else:
        if original is None:
            original = job.source.read()
        put(_original_kind(original), names[_original_kind(original)], original)
    verified = report.get("sha256") or record.sha256  # what the verifier read (none if it could not)
    if hashes[next(iter(files))] != record.sha256 or verified != record.sha256:
        # read again for the package after it was verified: a file changed meanwhile
        raise ArchiveWriteError(
            f"{record.input_paths[0] if record.input_paths else record.stem}: tệp đầu vào đã thay đổi trong khi "
            "lập kho; không lưu nội dung chưa được kiểm tra. Hãy chạy lại khi không còn ai sửa các tệp đầu vào / "
            "an input changed during the build; nothing unverified is archived: run again")
    put("report_json", names["report_json"], json.dumps(report, ensure_ascii=False, indent=1).encode("utf-8"))
    put("report_html", names["report_html"], _report_html(report, record))
    put("validation", names["validation"], _validation_der(report))
    _write_trust(staging, report)
    if not job.quarantine and "xml" in files:  # a signed PDF transcript is its own rendering
        if job.render or not job.previous_pdf:
            pdf = _render(original, report, kept, record)
            if pdf is not None:
                put("pdf", names["pdf"], pdf)
        else:
            put("pdf", names["pdf"], Path(job.previous_pdf).read_bytes())
    record.files, record.hashes = files, hashes
    return record, written


def _original_kind(original: bytes) -> str:
    """``pdf_signed`` for a signed PDF transcript (what the verifier accepted as one),
    else ``xml``."""
    return "pdf_signed" if b"%PDF-" in original[:1024] else "xml"


def _render(original: bytes, report: dict[str, Any], kept: Any, record: TranscriptRecord) -> bytes | None:
    """The PDF/A rendering, or None with the reason kept in ``record.render_error`` (the
    transcript is archived all the same, and the build names it as a problem)."""
    from ..render import RenderError, render_transcript

    summary = {k: v for k, v in report.items() if k != "validation_data"}
    profile = report.get("profile") or None
    transcript = kept_transcript(kept, profile or "")
    if transcript is not None and kept.qr and transcript.lookup_code:
        remember_matrix(transcript.lookup_code, kept.qr)
    try:
        pdf = render_transcript(original, profile=profile, verification=summary,
                                attachment_name=f"{record.stem}.xml", transcript=transcript)
    except RenderError as exc:
        record.render_error = str(exc)
        return None
    record.render_error = ""
    return pdf


def _annotate(report: dict[str, Any], record: TranscriptRecord) -> None:
    """What the archive knows beyond the verifier: replacement, every path it came from."""
    report["archive"] = {
        "package_stem": record.stem,
        "replaces": record.replaces or None,
        "superseded_by": record.superseded_by or None,
        "input_paths": record.input_paths,
    }
    warnings = report.setdefault("warnings", [])
    warnings[:] = [w for w in warnings if w.get("code") not in {"SUPERSEDED", "REPLACES"}]
    if record.superseded_by:
        warnings.append({"code": "SUPERSEDED",
                         "message": f"Học bạ này đã bị thu hồi và thay thế bởi học bạ mã tra cứu "
                                    f"{record.superseded_by} / revoked and replaced"})
    if record.replaces:
        warnings.append({"code": "REPLACES",
                         "message": f"Học bạ này thay thế học bạ mã tra cứu {record.replaces} "
                                    f"/ replaces a revoked transcript"})


def _copy_in_chunks(source: InputItem, target: Path) -> tuple[str, str, int]:
    """Copy an input to ``target`` a megabyte at a time; its SHA-256, SHA-512 and size."""
    sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open() as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            sha256.update(chunk)
            sha512.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return sha256.hexdigest(), sha512.hexdigest(), size


def _report_html(report: dict[str, Any], record: TranscriptRecord) -> bytes:
    from ..templating import render_template

    return render_template("report/transcript.html.j2", report=report, member=record,
                           labels=VERDICT_LABELS).encode("utf-8")


def _validation_der(report: dict[str, Any]) -> bytes:
    data = report.get("validation_data", {})
    parts = [base64.b64decode(data.get("certificates", {})[k]) for k in sorted(data.get("certificates", {}))]
    parts += [base64.b64decode(data.get("crls", {})[k]) for k in sorted(data.get("crls", {}))]
    return b"".join(parts)


def _write_trust(staging: Path, report: dict[str, Any]) -> None:
    """The certificates and CRLs a report used, as PEM files in ``trust/`` (shared by the
    package's members; written by whichever worker meets a file first)."""
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
