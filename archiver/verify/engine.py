"""The verdict on one transcript: every check of spec section 3, per signature.

A :class:`Verifier` holds what is shared across documents (profiles, the trust store,
the per-certificate cache); :meth:`Verifier.verify_bytes` is pure apart from that cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Mapping

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from .. import __version__
from ..errors import InternalError
from ..profiles import Profile, ProfileError, available_profiles, detect_profile
from ..safexml import UnsafeXml, parse_bytes
from ..transcript import nfc, xpath
from .certpath import CertificateEvaluator
from .lru import LruCache
from .report import (
    FAILED,
    INDETERMINATE,
    INVALID,
    PASSED,
    REJECTED,
    SUB_INDICATION_TEXT,
    UNDECIDED,
    VALID,
    CertificateInfo,
    Finding,
    SignatureCheck,
    VerificationReport,
)
from .subject import common_name, user_id
from .trust import TrustStore, sha256
from .xmldsig import (
    DS,
    CryptoChecker,
    ParsedSignature,
    algorithm_problems,
    collect_ids,
    load_certificate,
    parse_signature,
)

CHECK_ORDER = ("format", "hash", "crypto", "policy", "chain", "revocation", "role")


@dataclass
class Listed:
    """A TTKy: who must sign, as the signed data says."""

    role: str
    subject: str
    name: str
    signer_id: str
    signature_id: str


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        sha256=sha256(cert.public_bytes(Encoding.DER)),
    )


def undecided(report: VerificationReport, path: object, exc: Exception, *, stop: bool, what: str) -> None:
    """Something in a document defeated the checks. In a build (``stop``) that is a bug of
    ours and stops it, so no transcript is archived with a wrong verdict; in ``verify``
    the document is INDETERMINATE (VERIFIER_ERROR) and nothing else is decided."""
    if stop:
        raise InternalError(
            f"{path}: lỗi nội bộ khi kiểm tra {what} ({type(exc).__name__}: {exc}); không tệp nào được lưu với kết "
            "luận sai. Hãy báo lỗi này cho bộ phận kỹ thuật kèm tệp, hoặc tạm chuyển tệp ra khỏi thư mục đầu vào "
            "rồi chạy lại / internal error while verifying this file: please report it") from exc
    report.signatures.clear()
    report.verdict = INDETERMINATE
    report.reasons.append(Finding(
        "VERIFIER_ERROR", f"Không kiểm tra được tài liệu này ({type(exc).__name__}: {exc}); hãy báo bộ phận kỹ thuật "
                          "/ the verifier could not process this document; please report it"))


class Verifier:
    """Verifies transcripts against a trust store at a validation time."""

    def __init__(
        self,
        trust: TrustStore,
        *,
        profiles: Mapping[str, Profile] | None = None,
        profile: Profile | None = None,
        validation_time: dt.datetime | None = None,
        stop_on_internal_error: bool = False,
    ):
        """``stop_on_internal_error``: an exception inside the checks (a bug in us) is
        raised as :class:`~archiver.errors.InternalError` instead of becoming the
        document's INDETERMINATE verdict: what an archive keeps must not be a bug."""
        self.trust = trust
        self.stop_on_internal_error = stop_on_internal_error
        self.profiles = dict(profiles) if profiles is not None else available_profiles()
        self.profile = profile
        self.validation_time = validation_time or dt.datetime.now(dt.timezone.utc)
        self._evaluators: dict[bool, CertificateEvaluator] = {}
        # Per-certificate caches: a school has ~50 certificates and thousands of signatures.
        self._cert_by_b64: LruCache[str, x509.Certificate] = LruCache()
        self._cert_info: LruCache[x509.Certificate, tuple[CertificateInfo, str, str]] = LruCache()
        self._xmlsec_keys: LruCache = LruCache()
        # The document the last verify_bytes() parsed (None if it could not): the build
        # reads the transcript's content from it next instead of parsing the bytes again.
        # Verification reads this tree and never changes it (digests are recomputed on a copy).
        self.last_document: etree._ElementTree | None = None

    def _load_certificate(self, b64: str) -> x509.Certificate:
        cert = self._cert_by_b64.get(b64)
        if cert is None:
            cert = load_certificate(b64)
            # cryptography parses lazily: touch every field we use now, so a damaged
            # certificate is a format problem here rather than an exception later.
            try:
                self._describe(cert)
                cert.public_key()
                list(cert.extensions)
                cert.public_bytes(Encoding.DER)
            except Exception as exc:  # noqa: BLE001 - any parse error means "unreadable"
                raise ValueError(f"damaged certificate: {exc}") from None
            self._cert_by_b64[b64] = cert
        return cert

    def _describe(self, cert: x509.Certificate) -> tuple[CertificateInfo, str, str]:
        """(info, UID, CN) of a certificate, computed once."""
        found = self._cert_info.get(cert)
        if found is None:
            found = (certificate_info(cert), user_id(cert), common_name(cert))
            self._cert_info[cert] = found
        return found

    def _evaluator(self, profile: Profile) -> CertificateEvaluator:
        required = profile.policy.revocation_required
        if required not in self._evaluators:
            self._evaluators[required] = CertificateEvaluator(self.trust, revocation_required=required)
        return self._evaluators[required]

    # -- entry points -----------------------------------------------------------------------
    def verify_bytes(self, data: bytes, path: str = "", *,
                     proof_of_existence: dt.datetime | None = None) -> VerificationReport:
        report = VerificationReport(
            path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), verdict=REJECTED,
            validation_time=self.validation_time.isoformat(),
            proof_of_existence=proof_of_existence.isoformat() if proof_of_existence else "",
            software=f"archiver {__version__}",
        )
        max_bytes = self.profile.policy.max_bytes if self.profile else max(
            (p.policy.max_bytes for p in self.profiles.values()), default=5 * 1024 * 1024)
        self.last_document = None
        try:
            tree = parse_bytes(data, max_bytes=max_bytes)
        except UnsafeXml as exc:
            kind = _not_a_transcript(data, path)
            report.reasons.append(Finding("NOT_A_TRANSCRIPT", kind) if kind else Finding(exc.code, exc.message))
            return report
        self.last_document = tree
        root = tree.getroot()
        try:
            profile = self.profile or detect_profile(root, self.profiles)
        except ProfileError as exc:
            report.reasons.append(Finding("PROFILE_UNKNOWN", f"Không nhận ra định dạng học bạ / {exc}"))
            return report
        if self.profile is not None and not profile.matches(root):
            report.reasons.append(Finding(
                "PROFILE_MISMATCH",
                f"Tài liệu không thuộc định dạng {profile.id} / the document does not fit profile {profile.id}"))
            return report
        report.profile = profile.id
        try:
            self._check_document(root, profile, report, proof_of_existence)
        except Exception as exc:  # noqa: BLE001 - a verdict, never a traceback
            undecided(report, path, exc, stop=self.stop_on_internal_error, what="chữ ký")
        return report

    # -- the checks -------------------------------------------------------------------------
    def _check_document(self, root: etree._Element, profile: Profile, report: VerificationReport,
                        poe: dt.datetime | None) -> None:
        tree = root.getroottree()
        fields = profile.fields
        report.lookup_code = nfc(xpath(f"string({fields.get('lookup_code', '/')})")(tree)).lower()
        report.student_name = nfc(xpath(f"string({fields.get('student_name', '/')})")(tree))
        if not profile.schema.validate(tree):
            first = profile.schema.error_log.last_error
            report.warnings.append(Finding(
                "SCHEMA_INVALID",
                f"Không khớp lược đồ {profile.id} (dòng {first.line}): {first.message} / "
                "does not follow the profile's schema"))

        signer_map = profile.field_map("signer")
        listed = [
            Listed(**{k: nfc(xpath(f"string({p})")(node)) for k, p in signer_map.items()})
            for node in xpath(profile.signing.signer_list)(tree)
        ]
        if not listed:
            report.reasons.append(Finding("NO_SIGNER_LIST",
                                          "Không có danh sách người ký (DSTTKy) / no signer list"))
        missing = self._missing_signers(tree, profile, listed) if listed else []
        report.reasons.extend(missing)
        ids = collect_ids(root)
        duplicates = sorted(k for k, v in ids.items() if len(v) > 1)
        if duplicates:
            report.reasons.append(Finding(
                "DUPLICATE_ID", f"Trùng Id trong tài liệu: {', '.join(duplicates)} / duplicate Id values"))
        signatures = {s.get("Id") or "": s for s in root.iter(f"{DS}Signature")}
        crypto = CryptoChecker(root, profile.signing.id_elements, self._xmlsec_keys) if not duplicates else None
        allowed_regions = self._allowed_regions(tree, profile, listed)
        named = {entry.signature_id for entry in listed}

        for entry in listed:
            element = signatures.get(entry.signature_id)
            if element is None:
                check = SignatureCheck(
                    id=entry.signature_id, role=entry.role, subject=entry.subject, signer=entry.name,
                    signing_time="", status=FAILED, sub_indication="FORMAT_FAILURE", present=False,
                    message="Thiếu chữ ký trong tài liệu / the signature is missing",
                    checks={c: "NOT_CHECKED" for c in CHECK_ORDER} | {"format": "FAILED"})
                report.reasons.append(Finding("SIGNATURE_MISSING",
                                              f"Thiếu chữ ký {entry.signature_id} ({entry.role}) / missing signature"))
            else:
                check = self._check_signature(element, entry, tree, profile, ids, duplicates,
                                              crypto, allowed_regions, poe, report)
            report.signatures.append(check)

        for sig_id, element in signatures.items():
            if sig_id in named:
                continue
            check = self._check_signature(element, None, tree, profile, ids, duplicates, crypto,
                                          allowed_regions, poe, report)
            check.listed = False
            report.signatures.append(check)
            report.warnings.append(Finding(
                "UNLISTED_SIGNATURE",
                f"Chữ ký {sig_id or '(không Id)'} không có trong danh sách người ký (DSTTKy) / "
                "a signature not listed in DSTTKy"))

        # The reason for every listed signature that did not pass, in a clerk's words; the
        # same failure of several signatures (an untrusted CA, say) is said once.
        subject_names = profile.subject_names
        failing: dict[tuple[str, str], list[SignatureCheck]] = {}
        for check in report.signatures:
            if check.listed and check.present and check.status != PASSED:
                failing.setdefault((check.sub_indication or check.status, check.message), []).append(check)
        for (code, message), checks in failing.items():
            if len(checks) == 1:
                check = checks[0]
                rule = profile.signing.roles.get(check.role)
                subject = subject_names.get(check.subject, check.subject)
                who = f"{rule.label if rule else check.role}{' – ' + subject if subject else ''}"
                report.reasons.append(Finding(code, f"{check.id} ({who}): {message}"))
            else:
                report.reasons.append(Finding(
                    code, f"{len(checks)} chữ ký ({', '.join(c.id for c in checks)}): {message}"))
        self._signing_order(report, profile)
        report.verdict = self._verdict(report, listed, missing)

    @staticmethod
    def _missing_signers(tree: etree._ElementTree, profile: Profile, listed: list[Listed]) -> list[Finding]:
        """Required roles the signer list does not name (one per subject for GVBM)."""
        found: list[Finding] = []
        for rule in profile.signing.ordered_roles():
            if not rule.required:
                continue
            entries = [e for e in listed if e.role == rule.role]
            if rule.per_subject and rule.subjects:
                have = {e.subject for e in entries}
                lacking = [c for c in dict.fromkeys(str(v) for v in xpath(rule.subjects)(tree)) if c not in have]
                if lacking:
                    names = profile.subject_names
                    found.append(Finding(
                        "SIGNER_NOT_LISTED",
                        f"Danh sách người ký thiếu {rule.label} các môn {', '.join(names.get(c, c) for c in lacking)}"
                        f" / the signer list lacks the required {rule.label_en} of subjects {', '.join(lacking)}"))
            elif not entries:
                found.append(Finding(
                    "SIGNER_NOT_LISTED",
                    f"Danh sách người ký thiếu {rule.label} / the signer list lacks the required {rule.label_en}"))
        return found

    def _allowed_regions(self, tree: etree._ElementTree, profile: Profile,
                         listed: list[Listed]) -> set[etree._Element]:
        """The elements at a place the profile lets a region Reference point to: the signed
        data, and the subject of every listed per-subject signer and every subject the
        role's ``subjects`` XPath finds (in a primary school most subjects have no subject
        teacher's signature; theirs are still the document's subjects, not look-alikes)."""
        listed_subjects = {e.subject for e in listed if e.subject}
        found: set[etree._Element] = set()
        for rule in profile.signing.roles.values():
            subjects = {""}
            if "$subject" in rule.region:
                subjects = listed_subjects | ({str(v) for v in xpath(rule.subjects)(tree)} if rule.subjects else set())
            for subject in subjects:
                found.update(xpath(rule.region.replace("$subject", "$s"))(tree, s=subject))
        return found

    def _check_signature(self, element, entry: Listed | None, tree, profile: Profile, ids,
                         duplicates: list[str], crypto: CryptoChecker | None, allowed_regions,
                         poe: dt.datetime | None, report: VerificationReport) -> SignatureCheck:
        policy = profile.policy
        parsed: ParsedSignature = parse_signature(element, ids, policy.default_utc_offset,
                                                  self._load_certificate)
        role = entry.role if entry else (element.getparent().get("VaiTro", "") if element.getparent() is not None else "")
        check = SignatureCheck(
            id=parsed.id, role=role, subject=entry.subject if entry else "",
            signer=entry.name if entry else "", signing_time=parsed.signing_time.isoformat() if parsed.signing_time else parsed.signing_time_text,
            status=PASSED, sub_indication="", message="")
        checks = {c: "NOT_CHECKED" for c in CHECK_ORDER}
        findings: list[tuple[str, str, str, str]] = []  # (check, status, sub, detail)

        def fail(check_name: str, status: str, sub: str, detail: str) -> None:
            checks[check_name] = "FAILED" if status == FAILED else "INDETERMINATE"
            findings.append((check_name, status, sub, detail))

        cert = parsed.signer_certificate
        uid = ""
        if cert is not None:
            check.certificate, uid, common_name = self._describe(cert)
            if not check.signer:
                check.signer = common_name
        # 1. format
        format_problems = list(parsed.problems)
        if duplicates:
            format_problems.append("Id không duy nhất trong tài liệu / Ids are not unique: " + ", ".join(duplicates))
        region_refs = [r for r in parsed.references if r.target is not None and r.target.get("Id") != parsed.time_object_id]
        for ref in region_refs:
            if ref.target not in allowed_regions:
                format_problems.append(
                    f"Reference {ref.uri} trỏ tới phần tử ngoài vị trí quy định "
                    f"({tree.getpath(ref.target)}) / points to an element outside its profile location")
        if format_problems or crypto is None:
            fail("format", FAILED, "FORMAT_FAILURE", "; ".join(format_problems))
        else:
            checks["format"] = "PASSED"
            # 2-3. digests and signature value
            outcome = crypto.verify(parsed)
            if outcome == "PASSED":
                checks["hash"] = checks["crypto"] = "PASSED"
            elif outcome == "HASH_FAILURE":
                fail("hash", FAILED, "HASH_FAILURE", "")
            else:
                checks["hash"] = "PASSED"
                fail("crypto", FAILED, "SIG_CRYPTO_FAILURE", "")
            # 4. algorithm policy
            problems = algorithm_problems(parsed, policy)
            if problems:
                fail("policy", UNDECIDED, "CRYPTO_CONSTRAINTS_FAILURE", "; ".join(problems))
            else:
                checks["policy"] = "PASSED"
            # 5-6. certificate path and revocation at the signing time
            evaluator = self._evaluator(profile)
            result = evaluator.evaluate(cert, parsed.certificates[1:], parsed.signing_time,
                                        self.validation_time, poe)
            checks.update(result.checks)
            if result.status != PASSED:
                fail("chain" if result.checks.get("chain") != "PASSED" else "revocation",
                     result.status, result.sub_indication, result.message)
            facts = result.facts
            check.chain, check.crls = list(facts.path_sha256), list(facts.crl_sha256)
            report.certificates.update(zip(facts.path_sha256, facts.path_der))
            report.crls.update(zip(facts.crl_sha256, facts.crl_der))
            # 7. role and identity
            if entry is not None:
                role_problems = self._role_problems(entry, region_refs, tree, profile, uid)
                if role_problems:
                    fail("role", FAILED, "SIG_CONSTRAINTS_FAILURE", "; ".join(role_problems))
                else:
                    checks["role"] = "PASSED"
        check.checks = checks
        check.findings = [Finding(sub, detail or SUB_INDICATION_TEXT.get(sub, sub))
                          for _, _, sub, detail in findings]
        # A definitive failure outweighs an undecided check; otherwise the first in order.
        decisive = next((f for f in findings if f[1] == FAILED), findings[0] if findings else None)
        if decisive:
            _, check.status, check.sub_indication, detail = decisive
            check.message = SUB_INDICATION_TEXT.get(check.sub_indication, check.sub_indication)
            if detail:
                check.message += f" — {detail}"
        return check

    @staticmethod
    def _role_problems(entry: Listed, region_refs, tree, profile: Profile, uid: str) -> list[str]:
        problems = []
        rule = profile.signing.roles.get(entry.role)
        if rule is None:
            return [f"vai trò {entry.role!r} không có trong profile / unknown role"]
        expected = xpath(rule.region.replace("$subject", "$s"))(tree, s=entry.subject)
        targets = [r.target for r in region_refs]
        if len(expected) != 1 or targets != expected:
            where = ", ".join(tree.getpath(t) for t in targets) or "không có / none"
            problems.append(f"vùng ký không đúng vai trò {entry.role}: {where} / "
                            "the signed region is not the one this role signs")
        want = f"CCCD:{entry.signer_id}" if rule.identity == "person" else entry.signer_id
        if uid != want:
            problems.append(f"chứng thư của {uid or '(không UID)'}, danh sách ghi {want} / "
                            "the certificate is not the listed signer's")
        return problems

    @staticmethod
    def _signing_order(report: VerificationReport, profile: Profile) -> None:
        ranks = {r.role: r.rank for r in profile.signing.roles.values()}
        timed: list[tuple[int, SignatureCheck, dt.datetime]] = []
        for s in report.signatures:
            if not (s.listed and s.present and s.role in ranks):
                continue
            try:
                when = dt.datetime.fromisoformat(s.signing_time)
            except ValueError:
                continue  # a malformed SigningTime already failed the format check
            if when.tzinfo is not None:
                timed.append((ranks[s.role], s, when))
        for rank_a, a, when_a in timed:
            for rank_b, b, when_b in timed:
                if rank_a < rank_b and when_a > when_b:
                    report.warnings.append(Finding(
                        "SIGNING_ORDER",
                        f"{b.role} ({b.id}) ký lúc {b.signing_time} trước {a.role} ({a.id}) lúc "
                        f"{a.signing_time} / signed out of the regulated order"))
                    return

    @staticmethod
    def _verdict(report: VerificationReport, listed: list[Listed], missing: list[Finding]) -> str:
        named = [s for s in report.signatures if s.listed]
        if not listed or missing:  # a required signer missing from the list is a missing signature
            return INVALID
        if any(s.status == FAILED for s in named):
            return INVALID
        if any(s.status == UNDECIDED for s in named):
            return INDETERMINATE
        return VALID


_KEPT = "được giữ nguyên trong gói kiểm duyệt"


def _not_a_transcript(data: bytes, path: str) -> str | None:
    """What a file that is not XML is, when it is recognisable, and whether the clerk has
    anything to do: class exports hold PDFs beside the XML, and folders copied from
    Windows hold its system files."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    lower = name.lower()
    if lower in {"thumbs.db", "desktop.ini", ".ds_store"} or name.startswith(("~$", "._")):
        return (f"Tệp hệ thống hoặc tệp tạm của Windows/macOS, không phải học bạ; {_KEPT}, không cần làm gì / "
                "a Windows or macOS system or temporary file, not a transcript; kept, nothing to do")
    if data.startswith(b"%PDF"):
        return (f"Tệp PDF, không phải học bạ XML; {_KEPT}. Nếu là bản PDF đi kèm học bạ XML thì không cần làm gì "
                "/ a PDF, not an XML transcript; kept. Nothing to do if it is the PDF that comes with one")
    if data.startswith(b"PK\x03\x04") and not lower.endswith((".docx", ".xlsx", ".pptx", ".odt", ".ods")):
        return (f"Tệp zip nằm trong tệp zip khác: chưa đọc các học bạ bên trong; {_KEPT}. Hãy giải nén tệp zip "
                "này rồi chạy lại / a zip inside a zip: the transcripts in it were not read; unzip it and run again")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return (f"Tài liệu Office (Word, Excel…), không phải học bạ XML; {_KEPT} / an Office document, not an XML "
                "transcript; kept")
    return None
