"""Signed PDF transcripts (PAdES): the same verdicts as the XML verifier, from pyHanko.

A signed PDF is read through a signed-PDF profile (:mod:`archiver.scans.profile`): where
its digitisation record is, which fields are the student's, who must sign. Each
signature is checked with pyHanko's validator (byte range and coverage, the digest, the
signature value, the signature timestamp, the difference analysis of every revision added
after it), and its certificate path with the same evaluator as the XML signatures
(:class:`~archiver.verify.certpath.CertificateEvaluator`: pyhanko-certvalidator against the
``--trust`` folder at the signing time, its CRLs, proof of existence), so a signature
gets the same ETSI EN 319 102-1 statuses and sub-indications, and a document the same
verdict words, as spec section 3 gives an XML transcript:

- format: a PAdES or PKCS#7 detached signature whose byte range covers its revision, a
  signing time (the signature timestamp's, else the one the signer claims)
  -> ``TOTAL_FAILED/FORMAT_FAILURE``;
- the digest of the signed bytes, and any change after signing other than validation
  data, timestamps and the later signatures the record lists (a page appended, an
  annotation, the record rewritten) -> ``TOTAL_FAILED/HASH_FAILURE``;
- the signature value -> ``TOTAL_FAILED/SIG_CRYPTO_FAILURE``; algorithms ->
  ``INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE``;
- certificate path and revocation at the signing time, as for XML;
- role and identity: the certificate of the signature in a role's field must be the
  signer the record lists (``UID=CCCD:<id>`` for a person, ``UID`` = the listed ``MNS:``/
  ``MST:`` code for the school) -> ``TOTAL_FAILED/SIG_CONSTRAINTS_FAILURE``.

A role the profile requires that the record does not list, or a listed signature that is
not there: INVALID. A document that does not claim PDF/A: a warning.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from typing import Any, Mapping

from cryptography import x509

from .. import __version__
from ..scans.profile import PdfProfile, PdfRole
from ..scans.record import RecordError, decode_record, nfc, pointer, xmp_property
from ..timestamps import tsa as _tsa  # noqa: F401 - quiets pyHanko's loggers
from ..timestamps.tsa import LOCAL_TSA_LABEL, LOCAL_TSA_LABEL_VI, LOCAL_TSA_ORGANIZATION
from .certpath import CertificateEvaluator
from .engine import CHECK_ORDER, certificate_info, undecided
from .report import (
    FAILED,
    INDETERMINATE,
    INVALID,
    PASSED,
    REJECTED,
    SUB_INDICATION_TEXT,
    UNDECIDED,
    VALID,
    Finding,
    SignatureCheck,
    VerificationReport,
)
from .subject import common_name, user_id
from .trust import TrustStore

PDFA_NS = "http://www.aiim.org/pdfa/ns/id/"
_KEPT = "được giữ nguyên trong gói kiểm duyệt"
NOT_A_TRANSCRIPT_PDF = (f"Tệp PDF, không phải học bạ XML và không phải học bạ PDF có chữ ký số mà archiver đọc được; {_KEPT}. "
                        "Nếu là bản PDF đi kèm học bạ XML thì không cần làm gì / a PDF, not an XML transcript nor a signed "
                        "PDF transcript archiver can read; kept. Nothing to do if it is the PDF that comes with one")


@dataclass
class Listed:
    role: str
    name: str
    signer_id: str
    field: str


def is_pdf(data: bytes) -> bool:
    """A PDF, by its header (which may follow a little junk, as readers allow)."""
    return b"%PDF-" in data[:1024]


class PdfVerifier:
    """Verifies signed PDF transcripts against a trust store at a validation time."""

    def __init__(self, trust: TrustStore, profiles: Mapping[str, PdfProfile], *, profile: PdfProfile | None = None,
                 validation_time: dt.datetime | None = None, stop_on_internal_error: bool = False):
        self.trust = trust
        self.profiles = dict(profiles)
        self.profile = profile
        self.validation_time = validation_time or dt.datetime.now(dt.timezone.utc)
        self.stop_on_internal_error = stop_on_internal_error
        self._evaluators: dict[bool, CertificateEvaluator] = {}
        self._ts_context = None
        # The record the last verify_bytes() read from the signed revision (None if none):
        # the build takes the student's facts from it.
        self.last_record: dict[str, Any] | None = None

    @property
    def max_bytes(self) -> int:
        candidates = [self.profile] if self.profile else list(self.profiles.values())
        return max((p.policy.max_bytes for p in candidates), default=512 * 1024 * 1024)

    def _evaluator(self, profile: PdfProfile) -> CertificateEvaluator:
        required = profile.policy.revocation_required
        if required not in self._evaluators:
            self._evaluators[required] = CertificateEvaluator(self.trust, revocation_required=required)
        return self._evaluators[required]

    def _timestamp_context(self):  # type: ignore[no-untyped-def]
        """Timestamps are checked against the same trust folder (a TSA's CA may be in it)."""
        if self._ts_context is None:
            from asn1crypto import x509 as asn1_x509
            from pyhanko_certvalidator import ValidationContext

            from .trust import der

            self._ts_context = ValidationContext(
                trust_roots=[asn1_x509.Certificate.load(der(c)) for c in self.trust.anchors],
                other_certs=[asn1_x509.Certificate.load(der(c)) for c in self.trust.intermediates],
                allow_fetching=False, revocation_mode="soft-fail", moment=self.validation_time)
        return self._ts_context

    # -- entry point ------------------------------------------------------------------------
    def verify_bytes(self, data: bytes, path: str = "", *,
                     proof_of_existence: dt.datetime | None = None) -> VerificationReport:
        report = VerificationReport(
            path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), verdict=REJECTED,
            validation_time=self.validation_time.isoformat(),
            proof_of_existence=proof_of_existence.isoformat() if proof_of_existence else "",
            software=f"archiver {__version__}")
        self.last_record = None
        if len(data) > self.max_bytes:
            report.reasons.append(Finding("TOO_LARGE", f"Tệp quá lớn ({len(data):,} byte) / the file is too large"))
            return report
        try:
            return self._verify(data, report, proof_of_existence)
        except Exception as exc:  # noqa: BLE001 - a verdict, never a traceback
            undecided(report, path, exc, stop=self.stop_on_internal_error, what="chữ ký PDF")
            return report

    def _verify(self, data: bytes, report: VerificationReport, poe: dt.datetime | None) -> VerificationReport:
        from pyhanko.pdf_utils.misc import PdfError
        from pyhanko.pdf_utils.reader import PdfFileReader

        if b"/ByteRange" not in data:  # no signature at all: a rendering, a form, a scan nobody signed
            report.reasons.append(Finding("NOT_A_TRANSCRIPT", NOT_A_TRANSCRIPT_PDF))
            return report
        try:
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            if reader.encrypted:
                report.reasons.append(Finding("ENCRYPTED_PDF", f"Tệp PDF được mã hoá; {_KEPT} / an encrypted PDF; kept"))
                return report
            signatures = reader.embedded_regular_signatures
        except (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            report.reasons.append(Finding("UNREADABLE_PDF", f"Tệp PDF hỏng, không đọc được ({exc}); {_KEPT} / a damaged "
                                                            "PDF; kept in quarantine"))
            return report
        if not signatures:
            report.reasons.append(Finding("NOT_A_TRANSCRIPT", NOT_A_TRANSCRIPT_PDF))
            return report
        # The record as the first signature signed it, and as the document says now.
        try:
            first = self._record(reader, signatures[0].signed_revision)
            final = self._record(reader, None)
        except RecordError as exc:
            report.reasons.append(Finding("RECORD_UNREADABLE", f"{exc}; {_KEPT}"))
            return report
        record = final if final is not None else first
        profile = self._profile_for(record)
        if record is None or profile is None:
            report.reasons.append(Finding(
                "PROFILE_UNKNOWN", f"Tệp PDF có chữ ký số nhưng không thuộc định dạng học bạ nào đã cài (không có bản ghi "
                                   f"số hóa); {_KEPT} / a signed PDF that no installed profile reads"))
            return report
        if self.profile is not None and not self.profile.matches(record):
            report.reasons.append(Finding(
                "PROFILE_MISMATCH", f"Tài liệu không thuộc định dạng {self.profile.id} / the document does not fit "
                                    f"profile {self.profile.id}"))
            return report
        self.last_record = record
        report.profile = profile.id
        report.lookup_code = nfc(pointer(record, profile.field_path("lookup_code")) or "").lower()
        report.student_name = nfc(pointer(record, profile.field_path("student_name")) or "")
        self._check_document(reader, signatures, record, profile, report, poe)
        return report

    def _profile_for(self, record: dict[str, Any] | None) -> PdfProfile | None:
        if record is None:
            return None
        if self.profile is not None:
            return self.profile
        matches = [p for p in self.profiles.values() if p.matches(record)]
        return matches[0] if len(matches) == 1 else None

    # -- the record ----------------------------------------------------------------------------
    def _record(self, reader, revision: int | None) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
        """The digitisation record at a revision (None: the latest), from the first profile
        place that holds one: an XMP property, else an attached file."""
        try:
            root = reader.root if revision is None else reader.get_historical_resolver(revision).root
        except Exception as exc:  # noqa: BLE001 - a damaged cross-reference section
            raise RecordError(f"không đọc được phiên bản {revision} của tài liệu / a revision cannot be read: {exc}") \
                from None
        places = list(self.profiles.values()) if self.profile is None else [self.profile]
        metadata = _stream_data(root.get("/Metadata")) if "/Metadata" in root else b""
        for profile in places:
            if metadata and profile.xmp_namespace and profile.xmp_property:
                text = xmp_property(metadata, profile.xmp_namespace, profile.xmp_property)
                if text:
                    return decode_record(text)
            if profile.attachment:
                attached = _attachment(root, profile.attachment)
                if attached is not None:
                    return decode_record(attached)
        return None

    # -- the checks ------------------------------------------------------------------------------
    def _check_document(self, reader, signatures, record: dict[str, Any], profile: PdfProfile,  # type: ignore[no-untyped-def]
                        report: VerificationReport, poe: dt.datetime | None) -> None:
        members = profile.signer_members
        listed = []
        for entry in pointer(record, profile.field_path("signers")) or []:
            if isinstance(entry, Mapping):
                listed.append(Listed(role=nfc(entry.get(members.get("role", "role"), "")),
                                     name=nfc(entry.get(members.get("name", "name"), "")),
                                     signer_id=nfc(entry.get(members.get("signer_id", "id"), "")),
                                     field=nfc(entry.get(members.get("signature_field", "field"), ""))))
        if not listed:
            report.reasons.append(Finding("NO_SIGNER_LIST", "Bản ghi số hóa không có danh sách người ký / no signer list"))
        missing: list[Finding] = []
        for role in profile.ordered_roles():
            if role.required and not any(e.role == role.role for e in listed):
                missing.append(Finding("SIGNER_NOT_LISTED", f"Danh sách người ký thiếu {role.label} / the signer list "
                                                            f"lacks the required {role.label_en}"))
        report.reasons.extend(missing)
        by_field = {}
        for sig in signatures:
            by_field.setdefault(str(sig.field_name), sig)
        listed_fields = {e.field for e in listed}
        for entry in listed:
            sig = by_field.get(entry.field)
            if sig is None:
                rule = profile.roles.get(entry.role)
                check = SignatureCheck(
                    id=entry.field, role=entry.role, subject="", signer=entry.name, signing_time="", status=FAILED,
                    sub_indication="FORMAT_FAILURE", present=False,
                    message="Thiếu chữ ký trong tài liệu / the signature is missing",
                    checks={c: "NOT_CHECKED" for c in CHECK_ORDER} | {"format": "FAILED"})
                report.reasons.append(Finding("SIGNATURE_MISSING", f"Thiếu chữ ký {entry.field} "
                                                                   f"({rule.label if rule else entry.role}) / missing "
                                                                   "signature"))
            else:
                check = self._check_signature(reader, sig, entry, profile, record, listed_fields, report, poe)
            report.signatures.append(check)
        for sig in signatures:
            if str(sig.field_name) in listed_fields:
                continue
            check = self._check_signature(reader, sig, None, profile, record, listed_fields, report, poe)
            check.listed = False
            report.signatures.append(check)
            report.warnings.append(Finding("UNLISTED_SIGNATURE", f"Chữ ký {sig.field_name} không có trong danh sách "
                                                                 "người ký của bản ghi số hóa / a signature not listed "
                                                                 "in the record"))
        self._reasons(report, profile)
        self._pdfa(reader, profile, report)
        self._signing_order(report, profile)
        named = [s for s in report.signatures if s.listed]
        if not listed or missing or any(s.status == FAILED for s in named):
            report.verdict = INVALID
        elif any(s.status == UNDECIDED for s in named):
            report.verdict = INDETERMINATE
        else:
            report.verdict = VALID

    def _check_signature(self, reader, sig, entry: Listed | None, profile: PdfProfile,  # type: ignore[no-untyped-def]
                         record: dict[str, Any], listed_fields: set[str], report: VerificationReport,
                         poe: dt.datetime | None) -> SignatureCheck:
        from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult, ModificationLevel
        from pyhanko.sign.validation import generic_cms
        from pyhanko.sign.validation.status import SignatureCoverageLevel

        field_name = str(sig.field_name)
        rule = profile.roles.get(entry.role) if entry else None
        check = SignatureCheck(id=field_name, role=entry.role if entry else "", subject="",
                               signer=entry.name if entry else "", signing_time="", status=PASSED, sub_indication="",
                               message="")
        checks = {c: "NOT_CHECKED" for c in CHECK_ORDER}
        findings: list[tuple[str, str, str, str]] = []

        def fail(name: str, status: str, sub: str, detail: str) -> None:
            checks[name] = "FAILED" if status == FAILED else "INDETERMINATE"
            findings.append((name, status, sub, detail))

        cert = None
        try:
            cert = x509.load_der_x509_certificate(sig.signer_cert.dump())
            check.certificate = certificate_info(cert)
            if not check.signer:
                check.signer = common_name(cert)
        except Exception:  # noqa: BLE001 - no or damaged signer certificate
            cert = None
        subfilter = str(sig.sig_object.get("/SubFilter", ""))
        format_problems = []
        if subfilter not in ("/ETSI.CAdES.detached", "/adbe.pkcs7.detached"):
            format_problems.append(f"SubFilter {subfilter or '(không có)'} không phải PAdES / not a PAdES signature")
        if cert is None:
            format_problems.append("thiếu chứng thư số của người ký / the signer's certificate is missing")
        if format_problems:
            fail("format", FAILED, "FORMAT_FAILURE", "; ".join(format_problems))
            return _finish(check, checks, findings)

        # 2. the signed bytes, and what changed after signing
        try:
            sig.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)
            digest = sig.compute_digest()
            intact, valid = generic_cms.validate_sig_integrity(sig.signer_info, sig.signer_cert, "data", digest)
        except Exception as exc:  # noqa: BLE001 - pyHanko refuses a malformed structure: a verdict, not a stop
            fail("format", FAILED, "FORMAT_FAILURE", f"cấu trúc chữ ký hoặc tài liệu sai / malformed: {exc}")
            return _finish(check, checks, findings)
        coverage = sig.coverage
        changed = ""
        if coverage == SignatureCoverageLevel.ENTIRE_REVISION:
            diff = sig.diff_result
            level = diff.modification_level if isinstance(diff, DiffResult) else ModificationLevel.OTHER
            later = set(diff.changed_form_fields) if isinstance(diff, DiffResult) else set()
            signed_later = {str(s.field_name) for s in reader.embedded_signatures
                            if s.signed_revision > sig.signed_revision}
            if level == ModificationLevel.FORM_FILLING and later <= (signed_later & listed_fields):
                pass  # the later signatures the record lists: what the school's signature adds
            elif level not in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES):
                what = (f"thêm hoặc sửa trường {', '.join(sorted(later - signed_later))}" if later - signed_later else
                        "thêm ghi chú (annotation)" if level == ModificationLevel.ANNOTATIONS else
                        "sửa nội dung, trang hoặc cấu trúc")
                changed = (f"tài liệu bị thay đổi sau khi ký ({what}) / the document was changed after this "
                           f"signature ({str(getattr(level, 'name', level)).lower()})")
        elif coverage != SignatureCoverageLevel.ENTIRE_FILE:
            fail("format", FAILED, "FORMAT_FAILURE", "vùng ký (ByteRange) không phủ trọn một phiên bản của tài liệu / "
                                                     "the byte range does not cover a whole revision")
            return _finish(check, checks, findings)
        if not changed and self._record_changed(reader, sig, profile, record):
            changed = ("bản ghi số hóa (thông tin học sinh, trang, người ký) bị sửa sau khi ký / the digitisation "
                       "record was changed after this signature")
        checks["format"] = "PASSED"
        if not intact:
            fail("hash", FAILED, "HASH_FAILURE", "nội dung đã ký không khớp mã băm / the signed bytes changed")
        elif changed:
            fail("hash", FAILED, "HASH_FAILURE", changed)
        else:
            checks["hash"] = "PASSED"
        if intact and not valid:
            fail("crypto", FAILED, "SIG_CRYPTO_FAILURE", "")
        elif intact:
            checks["crypto"] = "PASSED"
        # 4. algorithms
        problems = _algorithm_problems(sig, cert, profile)
        if problems:
            fail("policy", UNDECIDED, "CRYPTO_CONSTRAINTS_FAILURE", "; ".join(problems))
        else:
            checks["policy"] = "PASSED"
        # the signing time: the signature timestamp's when it holds, else the claimed one
        signing_time, stamped = self._signing_time(sig, check, report, profile)
        if profile.policy.timestamp_required and not stamped:
            fail("policy", UNDECIDED, "SIG_CONSTRAINTS_FAILURE", "chữ ký không có dấu thời gian mà profile yêu cầu / "
                                                                 "no signature timestamp, which the profile requires")
        if signing_time is None:
            fail("format", FAILED, "FORMAT_FAILURE", "không có thời điểm ký (dấu thời gian hoặc /M) / no signing time")
            checks["format"] = "FAILED"
            return _finish(check, checks, findings)
        check.signing_time = signing_time.isoformat()
        # 5-6. certificate path and revocation at the signing time
        supplied = []
        for other in sig.other_embedded_certs:
            try:
                supplied.append(x509.load_der_x509_certificate(other.dump()))
            except ValueError:
                continue
        outcome = self._evaluator(profile).evaluate(cert, supplied, signing_time, self.validation_time, poe)
        checks.update(outcome.checks)
        if outcome.status != PASSED:
            fail("chain" if outcome.checks.get("chain") != "PASSED" else "revocation", outcome.status,
                 outcome.sub_indication, outcome.message)
        facts = outcome.facts
        check.chain, check.crls = list(facts.path_sha256), list(facts.crl_sha256)
        report.certificates.update(zip(facts.path_sha256, facts.path_der))
        report.crls.update(zip(facts.crl_sha256, facts.crl_der))
        # 7. role and identity
        if entry is not None:
            problem = _role_problem(entry, rule, cert)
            if problem:
                fail("role", FAILED, "SIG_CONSTRAINTS_FAILURE", problem)
            else:
                checks["role"] = "PASSED"
        return _finish(check, checks, findings)

    def _record_changed(self, reader, sig, profile: PdfProfile, record: dict[str, Any]) -> bool:  # type: ignore[no-untyped-def]
        try:
            signed = self._record(reader, sig.signed_revision)
        except RecordError:
            return True
        return signed != record

    def _signing_time(self, sig, check: SignatureCheck, report: VerificationReport,  # type: ignore[no-untyped-def]
                      profile: PdfProfile) -> tuple[dt.datetime | None, bool]:
        """(the signing time, whether a valid signature timestamp gave it)."""
        from pyhanko.sign.validation import generic_cms

        try:
            timing = asyncio.run(generic_cms.collect_timing_info(sig.signer_info, self._timestamp_context(),
                                                                 raw_digest=sig.compute_digest))
        except Exception as exc:  # noqa: BLE001 - a damaged token: reported, the claimed time is used
            timing = {}
            check.findings.append(Finding("TIMESTAMP_INVALID", f"Dấu thời gian của chữ ký hỏng ({exc}) / the signature "
                                                               "timestamp cannot be read"))
        claimed = timing.get("signer_reported_dt") or sig.self_reported_timestamp
        stamp = timing.get("timestamp_validity")
        if stamp is not None and stamp.intact and stamp.valid:
            tsa_cert = stamp.signing_cert
            local = tsa_cert is not None and tsa_cert.subject.native.get("organization_name") == LOCAL_TSA_ORGANIZATION
            if local:
                _warn_once(report, "LOCAL_TIMESTAMP", f"Dấu thời gian của chữ ký là {LOCAL_TSA_LABEL_VI} / signature "
                                                      f"timestamps: {LOCAL_TSA_LABEL}")
            elif not stamp.trusted:
                _warn_once(report, "TIMESTAMP_UNTRUSTED", "Đơn vị cấp dấu thời gian của chữ ký không thuộc thư mục tin "
                                                          "cậy / the signature timestamps' TSA does not chain to the "
                                                          "trust folder")
            return _utc(stamp.timestamp), True
        if stamp is not None:
            check.findings.append(Finding("TIMESTAMP_INVALID", "Dấu thời gian của chữ ký không khớp chữ ký hoặc bị sửa; "
                                                               "dùng thời điểm người ký tự ghi / the signature timestamp "
                                                               "does not verify: the claimed signing time is used"))
        elif profile.policy.timestamp_required:
            pass  # _check_signature: the policy is not met
        else:
            _warn_once(report, "NO_TIMESTAMP", "Chữ ký không có dấu thời gian (PAdES B-B); thời điểm ký là thời điểm "
                                               "người ký tự ghi / a signature without a timestamp: its claimed time is "
                                               "used")
        return (_utc(claimed) if claimed else None), False

    def _pdfa(self, reader, profile: PdfProfile, report: VerificationReport) -> None:  # type: ignore[no-untyped-def]
        if not profile.policy.pdfa_expected:
            return
        root = reader.root
        part = None
        if "/Metadata" in root:
            try:
                part = xmp_property(_stream_data(root.get("/Metadata")), PDFA_NS, "part")
            except RecordError:
                part = None
        if not part or "/OutputIntents" not in root:
            report.warnings.append(Finding("NOT_PDFA", "Tài liệu không khai báo PDF/A (quy định số hóa lưu trữ yêu cầu "
                                                       "PDF/A) / the document does not claim PDF/A"))

    @staticmethod
    def _reasons(report: VerificationReport, profile: PdfProfile) -> None:
        failing: dict[tuple[str, str], list[SignatureCheck]] = {}
        for check in report.signatures:
            if check.listed and check.present and check.status != PASSED:
                failing.setdefault((check.sub_indication or check.status, check.message), []).append(check)
        for (code, message), checks in failing.items():
            if len(checks) == 1:
                rule = profile.roles.get(checks[0].role)
                report.reasons.append(Finding(code, f"{checks[0].id} ({rule.label if rule else checks[0].role}): "
                                                    f"{message}"))
            else:
                report.reasons.append(Finding(code, f"{len(checks)} chữ ký ({', '.join(c.id for c in checks)}): "
                                                    f"{message}"))

    @staticmethod
    def _signing_order(report: VerificationReport, profile: PdfProfile) -> None:
        ranks = {r.role: r.rank for r in profile.roles.values()}
        timed = [(ranks[s.role], s, dt.datetime.fromisoformat(s.signing_time)) for s in report.signatures
                 if s.listed and s.present and s.role in ranks and s.signing_time]
        for rank_a, a, when_a in timed:
            for rank_b, b, when_b in timed:
                if rank_a < rank_b and when_a > when_b:
                    report.warnings.append(Finding(
                        "SIGNING_ORDER", f"{b.role} ({b.id}) ký lúc {b.signing_time} trước {a.role} ({a.id}) lúc "
                                         f"{a.signing_time} / signed out of the regulated order"))
                    return


# -- helpers -----------------------------------------------------------------------------------
def _finish(check: SignatureCheck, checks: dict[str, str], findings: list[tuple[str, str, str, str]]) -> SignatureCheck:
    check.checks = checks
    check.findings = [*check.findings, *(Finding(sub, detail or SUB_INDICATION_TEXT.get(sub, sub))
                                         for _, _, sub, detail in findings)]
    decisive = next((f for f in findings if f[1] == FAILED), findings[0] if findings else None)
    if decisive:
        _, check.status, check.sub_indication, detail = decisive
        check.message = SUB_INDICATION_TEXT.get(check.sub_indication, check.sub_indication)
        if detail:
            check.message += f" — {detail}"
    return check


def _warn_once(report: VerificationReport, code: str, message: str) -> None:
    if not any(w.code == code for w in report.warnings):
        report.warnings.append(Finding(code, message))


def _utc(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _role_problem(entry: Listed, rule: PdfRole | None, cert: x509.Certificate) -> str:
    """Spec section 3: the certificate must be the listed signer's."""
    if rule is None:
        return f"vai trò {entry.role!r} không có trong profile / unknown role"
    uid = user_id(cert)
    want = f"CCCD:{entry.signer_id}" if rule.identity == "person" else entry.signer_id
    if rule.identity == "organisation" and not entry.signer_id.startswith(("MNS:", "MST:")):
        return (f"danh sách ghi {entry.signer_id!r} cho {rule.label}, không phải mã MNS:/MST: của tổ chức / the listed "
                "identity is not an organisation's")
    if uid != want:
        return (f"chứng thư của {uid or '(không UID)'}, danh sách ghi {want} cho {rule.label} / the certificate is not "
                "the listed signer's")
    return ""


def _algorithm_problems(sig, cert: x509.Certificate, profile: PdfProfile) -> list[str]:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    policy = profile.policy
    problems = []
    digest = str(sig.signer_info["digest_algorithm"]["algorithm"].native).lower()
    if digest not in policy.digest_algorithms:
        problems.append(f"thuật toán băm {digest} không được chấp nhận / digest {digest} refused")
    try:
        mechanism = sig.signer_info["signature_algorithm"].signature_algo
        hash_of_mechanism = sig.signer_info["signature_algorithm"].hash_algo
    except ValueError:
        mechanism, hash_of_mechanism = "", digest
    if hash_of_mechanism and str(hash_of_mechanism).lower() not in policy.digest_algorithms:
        problems.append(f"chữ ký {mechanism} dùng {hash_of_mechanism} / signature hash refused")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < policy.min_rsa_bits:
        problems.append(f"khoá RSA {key.key_size} bit, cần ≥ {policy.min_rsa_bits} / RSA key too short")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < policy.min_ec_bits:
        problems.append(f"khoá EC {key.curve.key_size} bit, cần ≥ {policy.min_ec_bits} / EC key too short")
    return problems


def _stream_data(obj) -> bytes:  # type: ignore[no-untyped-def]
    try:
        stream = obj.get_object() if hasattr(obj, "get_object") else obj
        return bytes(stream.data)
    except Exception:  # noqa: BLE001 - a damaged stream reads as none
        return b""


def _attachment(root, name: str) -> bytes | None:  # type: ignore[no-untyped-def]
    """An embedded file by name, from the EmbeddedFiles name tree (flat or with /Kids)."""
    try:
        tree = root["/Names"]["/EmbeddedFiles"]
    except (KeyError, TypeError):
        return None
    nodes, seen = [tree], 0
    while nodes and seen < 10_000:
        item = nodes.pop()
        node = item.get_object() if hasattr(item, "get_object") else item
        seen += 1
        names = node.get("/Names")
        if names is not None:
            for i in range(0, len(names) - 1, 2):
                if str(names[i]) == name:
                    spec = names[i + 1].get_object()
                    try:
                        return bytes(spec["/EF"]["/F"].get_object().data)
                    except (KeyError, TypeError, AttributeError):
                        return None
        nodes.extend(node.get("/Kids") or [])
    return None
