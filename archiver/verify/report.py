"""The verification report: what the archive keeps as the verdict and its evidence.

Versioned (``schema``), serialisable to JSON and back. ``to_dict()`` gives the spec's
section 5 fields plus detail; the validation data actually used (certificates and CRLs,
DER) is included when asked, so an archived report can be re-checked offline.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "archiver.verification/1"

VALID, INVALID, INDETERMINATE, REJECTED = "VALID", "INVALID", "INDETERMINATE", "REJECTED"
PASSED, FAILED, UNDECIDED = "TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"

VERDICT_LABELS = {
    VALID: "Hợp lệ",
    INVALID: "Không hợp lệ",
    INDETERMINATE: "Chưa xác định",
    REJECTED: "Bị từ chối",
}
STATUS_LABELS = {PASSED: "Đạt", FAILED: "Không đạt", UNDECIDED: "Chưa xác định"}

# What each sub-indication means, in the words a clerk reads (Vietnamese / English).
SUB_INDICATION_TEXT = {
    "FORMAT_FAILURE": "Sai cấu trúc chữ ký / malformed signature",
    "HASH_FAILURE": "Nội dung không khớp với nội dung đã ký (bị sửa sau khi ký, hoặc ký sai cách) / does not match the "
                    "signed content (changed after signing, or signed incorrectly)",
    "SIG_CRYPTO_FAILURE": "Giá trị chữ ký không đúng / the signature value does not verify",
    "CRYPTO_CONSTRAINTS_FAILURE": "Thuật toán không được chấp nhận / algorithm refused by policy",
    "NO_CERTIFICATE_CHAIN_FOUND": "Chứng thư số không thuộc CA tin cậy / no path to a trusted CA",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "Chuỗi chứng thư số không hợp lệ / the certificate chain is invalid",
    "EXPIRED": "Chứng thư số đã hết hạn khi ký / certificate expired at signing time",
    "NOT_YET_VALID": "Chứng thư số chưa có hiệu lực khi ký / certificate not yet valid at signing time",
    "REVOKED": "Chứng thư số đã bị thu hồi trước khi ký / certificate revoked before signing",
    "REVOKED_NO_POE": "Chứng thư số bị thu hồi sau khi ký, chưa có bằng chứng tồn tại trước đó "
                      "/ revoked after signing, no earlier proof of existence",
    "TRY_LATER": "Không có dữ liệu thu hồi (CRL) / no revocation data",
    "OUT_OF_BOUNDS_NO_POE": "Chứng thư số đã hết hạn, chưa có bằng chứng tồn tại khi còn hạn "
                            "/ certificate expired since, no proof of existence while valid",
    "SIG_CONSTRAINTS_FAILURE": "Người ký hoặc vùng ký không đúng vai trò / wrong signer or region for the role",
}


@dataclass
class Finding:
    """A reason or a warning: a stable ``code`` and a message for people."""

    code: str
    message: str


@dataclass
class CertificateInfo:
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sha256: str


@dataclass
class SignatureCheck:
    """The outcome of one signature (ETSI EN 319 102-1 status and sub-indication)."""

    id: str
    role: str
    subject: str  # subject code for GVBM, '' otherwise
    signer: str  # the listed signer's name (TTKy), or the certificate's CN
    signing_time: str  # ISO 8601 with offset, '' when absent
    status: str
    sub_indication: str
    message: str
    listed: bool = True  # named in DSTTKy
    present: bool = True
    certificate: CertificateInfo | None = None
    chain: list[str] = field(default_factory=list)  # sha256 of the path, signer first
    crls: list[str] = field(default_factory=list)  # sha256 of the CRLs consulted
    # Per check: "PASSED", "FAILED", "INDETERMINATE" or "NOT_CHECKED".
    checks: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # every problem found, in check order

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["certificate"] = vars(self.certificate).copy() if self.certificate else None
        data["chain"], data["crls"] = list(self.chain), list(self.crls)
        data["checks"] = dict(self.checks)
        data["findings"] = [vars(f).copy() for f in self.findings]
        data["subject_dn"] = self.subject_dn
        data["status_label"] = STATUS_LABELS.get(self.status, self.status)
        return data

    @property
    def subject_dn(self) -> str:
        return self.certificate.subject if self.certificate else ""


@dataclass
class VerificationReport:
    """The verdict on one input file, with its evidence."""

    path: str
    sha256: str
    size: int
    verdict: str
    profile: str = ""
    reasons: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    signatures: list[SignatureCheck] = field(default_factory=list)
    validation_time: str = ""
    proof_of_existence: str = ""
    lookup_code: str = ""
    student_name: str = ""
    software: str = ""
    schema: str = SCHEMA
    # DER of what was used, by sha256 (kept out of the summary JSON unless asked for).
    certificates: dict[str, bytes] = field(default_factory=dict, repr=False)
    crls: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS.get(self.verdict, self.verdict)

    def to_dict(self, *, validation_data: bool = False) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies every string, which costs more
        # than the verification of a signature.
        data = {k: getattr(self, k) for k in self.__dataclass_fields__
                if k not in {"signatures", "reasons", "warnings", "certificates", "crls"}}
        data["reasons"] = [vars(f).copy() for f in self.reasons]
        data["warnings"] = [vars(f).copy() for f in self.warnings]
        data["signatures"] = [s.to_dict() for s in self.signatures]
        data["verdict_label"] = self.verdict_label
        if validation_data:
            data["validation_data"] = {
                "certificates": {k: base64.b64encode(v).decode() for k, v in sorted(self.certificates.items())},
                "crls": {k: base64.b64encode(v).decode() for k, v in sorted(self.crls.items())},
            }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VerificationReport":
        sigs = []
        for s in data.get("signatures", []):
            s = {k: v for k, v in s.items() if k not in {"subject_dn", "status_label"}}
            cert = s.pop("certificate", None)
            findings = [Finding(**f) for f in s.pop("findings", [])]
            sigs.append(SignatureCheck(**s, certificate=CertificateInfo(**cert) if cert else None,
                                       findings=findings))
        vd = data.get("validation_data", {})
        known = {f for f in cls.__dataclass_fields__} - {"signatures", "reasons", "warnings",
                                                         "certificates", "crls"}
        return cls(
            **{k: v for k, v in data.items() if k in known},
            reasons=[Finding(**r) for r in data.get("reasons", [])],
            warnings=[Finding(**w) for w in data.get("warnings", [])],
            signatures=sigs,
            certificates={k: base64.b64decode(v) for k, v in vd.get("certificates", {}).items()},
            crls={k: base64.b64decode(v) for k, v in vd.get("crls", {}).items()},
        )

    def validation_data(self) -> list[bytes]:
        """The certificates and CRLs used, DER, in a stable order (for evidence records)."""
        return [self.certificates[k] for k in sorted(self.certificates)] + \
               [self.crls[k] for k in sorted(self.crls)]
