"""Stage 2, verify: re-verify every signature of a transcript and keep the verdict.

Library use::

    from archiver.verify import Verifier, load_trust
    verifier = Verifier(load_trust("school/trust"))
    report = verifier.verify_bytes(data, path="9A1/x.xml")
    report.verdict, report.to_dict()

``verify_inputs`` runs a verifier over files, folders and zips, in parallel, in order.
"""

from __future__ import annotations

import datetime as dt
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..inputs import InputItem, iter_inputs
from ..profiles import available_profiles, get_profile
from .engine import Verifier
from .report import (
    INDETERMINATE,
    INVALID,
    REJECTED,
    SCHEMA,
    VALID,
    VERDICT_LABELS,
    Finding,
    SignatureCheck,
    VerificationReport,
)
from .trust import TrustConfigError, TrustStore, load_trust

__all__ = [
    "INDETERMINATE", "INVALID", "REJECTED", "SCHEMA", "VALID", "VERDICT_LABELS", "Finding",
    "SignatureCheck", "TrustConfigError", "TrustStore", "VerificationReport", "Verifier",
    "VerifySettings", "load_trust", "verify_file", "verify_inputs",
]


@dataclass(frozen=True)
class VerifySettings:
    """What a verifier needs, in a form that crosses process boundaries."""

    trust_dir: str | None = None
    profile_id: str | None = None
    profiles_dirs: tuple[str, ...] = ()
    validation_time: dt.datetime | None = None
    proof_of_existence: dt.datetime | None = None
    validation_data: bool = True  # keep the DER of certificates and CRLs in the report
    stop_on_internal_error: bool = False  # the build: a bug in us stops it (see Verifier)

    def build(self) -> Verifier:
        profiles = available_profiles(self.profiles_dirs)
        # a signed-PDF profile (hocba-scan-1) forces nothing on XML transcripts
        xml_profile = self.profile_id and self.profile_id not in _pdf_profile_ids(self.profiles_dirs)
        profile = get_profile(self.profile_id, self.profiles_dirs) if xml_profile else None
        return Verifier(load_trust(self.trust_dir), profiles=profiles, profile=profile,
                        validation_time=self.validation_time, stop_on_internal_error=self.stop_on_internal_error)


def verify_item(verifier: Verifier, item: InputItem, settings: VerifySettings) -> VerificationReport:
    if item.error:
        report = VerificationReport(path=item.name, sha256="", size=0, verdict=REJECTED,
                                    validation_time=verifier.validation_time.isoformat())
        report.reasons.append(Finding("UNREADABLE", item.error))
        return report
    limit = verifier.profile.policy.max_bytes if verifier.profile else max(
        (p.policy.max_bytes for p in verifier.profiles.values()), default=5 * 1024 * 1024)
    try:
        data = item.read(limit)
    except OSError as exc:
        report = VerificationReport(path=item.name, sha256="", size=0, verdict=REJECTED,
                                    validation_time=verifier.validation_time.isoformat())
        report.reasons.append(Finding("UNREADABLE", f"Không đọc được tệp / cannot read: {exc.strerror or exc}"))
        return report
    if data[:5] == b"%PDF-" or b"%PDF-" in data[:1024]:  # a signed PDF transcript (archiver.verify.pdf)
        return _verify_pdf(verifier, item, settings, data, limit)
    report = verifier.verify_bytes(data, item.name, proof_of_existence=settings.proof_of_existence)
    if len(data) > limit:  # only the first limit + 1 bytes were read: hash and count them all
        try:
            report.sha256, report.size = item.digest()
        except OSError:
            pass
        for finding in report.reasons:
            if finding.code == "TOO_LARGE":
                finding.message = (f"Tệp quá lớn ({report.size:,} byte, giới hạn {limit:,}) / "
                                   f"the file is larger than the {limit:,}-byte limit")
    if not settings.validation_data:
        report.certificates, report.crls = {}, {}
    return report


# -- signed PDF transcripts (scans; PAdES exports of school software) -----------------------
def _pdf_profile_ids(dirs: tuple[str, ...]) -> set[str]:
    from ..scans.profile import pdf_profiles

    return set(pdf_profiles(dirs))


_PDF_VERIFIERS: "weakref.WeakKeyDictionary[Verifier, Any]" = weakref.WeakKeyDictionary()


def pdf_verifier(verifier: Verifier, settings: VerifySettings):  # type: ignore[no-untyped-def]
    """The signed-PDF verifier that goes with ``verifier``: same trust store, validation
    time and internal-error rule; made once."""
    found = _PDF_VERIFIERS.get(verifier)
    if found is None:
        from ..scans.profile import pdf_profiles
        from .pdf import PdfVerifier

        profiles = pdf_profiles(settings.profiles_dirs)
        forced = profiles.get(settings.profile_id or "")
        if settings.profile_id and forced is None:
            profiles = {}  # an XML profile was asked for: no PDF fits it
        found = PdfVerifier(verifier.trust, profiles, profile=forced, validation_time=verifier.validation_time,
                            stop_on_internal_error=verifier.stop_on_internal_error)
        _PDF_VERIFIERS[verifier] = found
    return found


def _verify_pdf(verifier: Verifier, item: InputItem, settings: VerifySettings, data: bytes,
                xml_limit: int) -> VerificationReport:
    checker = pdf_verifier(verifier, settings)
    if len(data) > xml_limit:  # read as far as a PDF may go
        try:
            data = item.read(checker.max_bytes)
        except OSError as exc:
            report = VerificationReport(path=item.name, sha256="", size=0, verdict=REJECTED,
                                        validation_time=verifier.validation_time.isoformat())
            report.reasons.append(Finding("UNREADABLE", f"Không đọc được tệp / cannot read: {exc.strerror or exc}"))
            return report
    report = checker.verify_bytes(data, item.name, proof_of_existence=settings.proof_of_existence)
    if len(data) > checker.max_bytes:
        try:
            report.sha256, report.size = item.digest()
        except OSError:
            pass
    if not settings.validation_data:
        report.certificates, report.crls = {}, {}
    return report


def verify_file(path: str | os.PathLike, trust: str | os.PathLike | None = None, *,
                profile: str | None = None, at: dt.datetime | None = None) -> VerificationReport:
    """Verify one file (convenience for other stages and scripts)."""
    settings = VerifySettings(trust_dir=str(trust) if trust else None, profile_id=profile,
                              validation_time=at)
    return verify_item(settings.build(), InputItem(name=str(path), source=str(path)), settings)


# -- parallel runs ---------------------------------------------------------------------
_WORKER: tuple[Verifier, VerifySettings] | None = None


def _init_worker(settings: VerifySettings) -> None:
    global _WORKER
    _WORKER = (settings.build(), settings)


def _verify(item: InputItem) -> VerificationReport:
    verifier, settings = _WORKER
    return verify_item(verifier, item, settings)


def verify_inputs(paths: Iterable[str | os.PathLike], settings: VerifySettings, *,
                  jobs: int = 1, batch_size: int = 16) -> Iterator[VerificationReport]:
    """Reports for every input under ``paths``, in input order.

    With ``jobs > 1`` the work is spread over processes, each with its own verifier
    (and certificate cache); at most a few batches per process are in flight, so memory
    stays flat however many files there are.
    """
    from ..pipeline.pool import WorkerPool

    if jobs > 1:
        settings.build()  # fail fast, in this process, on a bad trust folder or profile
    with WorkerPool(jobs, _init_worker, (settings,)) as pool:
        yield from pool.imap(_verify, iter_inputs(paths), batch=batch_size)


def write_report(report: VerificationReport, path: Path) -> None:
    import json

    path.write_text(json.dumps(report.to_dict(validation_data=True), ensure_ascii=False, indent=1),
                    encoding="utf-8")
