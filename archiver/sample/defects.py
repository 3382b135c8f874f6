"""Labelled broken transcripts, each with the verdict the spec requires of it.

Every defect is a new student of the first class, signed like the others and then
broken in exactly one way, so a failing check points at one cause. ``defects.json``
lists, per file, the document verdict, the reason code (for REJECTED inputs), the
signatures whose status is not TOTAL_PASSED, and the expected warnings.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from lxml import etree

from . import pki, school
from .generator import SamplePKI, default_specs, signing_times, unsigned_document
from .school import SchoolPlan
from .signing import DSIG_NS, SignatureSpec, serialise, sign_document

DS = f"{{{DSIG_NS}}}"

FAILED, INDET = "TOTAL_FAILED", "INDETERMINATE"


@dataclass
class Defect:
    kind: str
    description: str  # Vietnamese / English, for people reading defects.json
    verdict: str
    signatures: dict[str, tuple[str, str]] = field(default_factory=dict)
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)


def make_defects(plan: SchoolPlan, pkis: SamplePKI, out: Path) -> list[dict]:
    folder = out / "defects"
    folder.mkdir(parents=True, exist_ok=True)
    cls = plan.classes[0]
    e = plan.end_year
    entries: list[dict] = []
    counter = iter(range(1001, 10_000))

    def student(kind: str):
        number = next(counter)
        record = school.make_student(plan, cls, number, tag=f"/defect/{kind}")
        times = signing_times(plan, cls, number % 60)
        specs = default_specs(pkis, plan, cls, record, times)
        return record, times, specs

    def signed(record, specs) -> etree._Element:
        keys = [(spec.sig_id, spec.signer.key_pem) for spec in specs]
        return sign_document(unsigned_document(plan, cls, record, specs), keys,
                             plan.profile.signing.id_elements)

    def emit(defect: Defect, data: bytes, base_code: str | None = None) -> None:
        name = f"{defect.kind}.xml"
        (folder / name).write_bytes(data)
        entries.append({
            "file": f"defects/{name}",
            "kind": defect.kind,
            "description": defect.description,
            "student_code": base_code,
            "verdict": defect.verdict,
            "reason": defect.reason,
            "signatures": {k: list(v) for k, v in defect.signatures.items()},
            "warnings": defect.warnings,
        })

    def with_spec(specs: list[SignatureSpec], sig_id: str, **changes) -> list[SignatureSpec]:
        return [replace(s, **changes) if s.sig_id == sig_id else s for s in specs]

    def sig(root: etree._Element, sig_id: str) -> etree._Element:
        return next(s for s in root.iter(f"{DS}Signature") if s.get("Id") == sig_id)

    # The first subject its own teacher signs (GVBM) and that has a mark or a level: in a
    # primary school the homeroom teacher's subjects carry no GVBM signature.
    first_scored = next(m for m in cls.subjects if m.teacher == "subject" and m.assessment != "comment").code
    gvbm = f"CKS-GVBM-{first_scored}"
    region_sigs = ["CKS-GVCN", "CKS-HT", "CKS-TC"]
    value_fields = plan.profile.field_map("subject")
    levels = list(plan.profile.scales.get("subject", {}))

    def changed(value: str | None) -> str:
        """Another value of the same kind: a mark, or another level."""
        if value in levels:
            return next(v for v in levels if v != value)
        return "10.0" if value != "10.0" else "9.0"

    # 1. Content changed after signing: a mark (a level) of the first signed subject.
    record, _, specs = student("tampered-content")
    root = signed(record, specs)
    mark = root.find(f"DLHocBa/KetQua/BangDiem/MonHoc[@Ma='{first_scored}']/{value_fields['term1']}")
    is_level = mark.text in levels
    mark.text = changed(mark.text)
    emit(Defect("tampered-content",
                "Sửa mức đạt sau khi ký / a level changed after signing" if is_level else
                "Sửa điểm sau khi ký / a score changed after signing",
                "INVALID", {s: (FAILED, "HASH_FAILURE") for s in [gvbm, *region_sigs]}),
         serialise(root), record.student_code)

    # 2. A signature value corrupted.
    record, _, specs = student("corrupted-signature-value")
    root = signed(record, specs)
    value = sig(root, "CKS-HT").find(f"{DS}SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[len(raw) // 2] ^= 0x5A
    value.text = base64.b64encode(bytes(raw)).decode()
    emit(Defect("corrupted-signature-value",
                "Giá trị chữ ký của hiệu trưởng bị hỏng / the principal's signature value is corrupted",
                "INVALID", {"CKS-HT": (FAILED, "SIG_CRYPTO_FAILURE")}),
         serialise(root), record.student_code)

    # 3. Signed by someone else than the listed principal (a valid, trusted teacher).
    record, _, specs = student("wrong-signer")
    impostor = cls.subject_teachers[first_scored]
    specs = with_spec(specs, "CKS-HT", signer=pkis.person(impostor))
    emit(Defect("wrong-signer",
                "Chữ ký HT do người khác ký / the principal's signature is made by someone else",
                "INVALID", {"CKS-HT": (FAILED, "SIG_CONSTRAINTS_FAILURE")}),
         serialise(signed(record, specs)), record.student_code)

    # 4. A subject teacher's signature covers another subject's region.
    record, _, specs = student("wrong-region")
    other = next(m for m in record.marks if m.subject.code != first_scored)
    specs = with_spec(specs, gvbm, region_uri=f"#{other.element_id}")
    emit(Defect("wrong-region",
                "Chữ ký GVBM ký sai môn / a subject teacher signed another subject's region",
                "INVALID", {gvbm: (FAILED, "SIG_CONSTRAINTS_FAILURE")}),
         serialise(signed(record, specs)), record.student_code)

    # 5-8, 16-18: certificate problems of the first subject's teacher or the principal.
    teacher = cls.subject_teachers[first_scored]
    cert_cases: list[tuple[str, str, str, str, Callable[[], object], str]] = [
        ("expired-certificate", "Chứng thư số hết hạn trước khi ký / certificate expired before signing",
         gvbm, "INVALID",
         lambda: pkis.person(teacher, variant="expired", not_before=pki.utc(e - 4, 1, 1),
                             not_after=pki.utc(e - 1, 1, 1)), f"{FAILED}:EXPIRED"),
        ("not-yet-valid-certificate", "Chứng thư số chưa có hiệu lực khi ký / certificate not yet valid at signing",
         gvbm, "INVALID",
         lambda: pkis.person(teacher, variant="future", not_before=pki.utc(e + 1, 1, 1),
                             not_after=pki.utc(e + 4, 1, 1)), f"{FAILED}:NOT_YET_VALID"),
        ("revoked-certificate", "Chứng thư số bị thu hồi trước khi ký / certificate revoked before signing",
         gvbm, "INVALID",
         lambda: pkis.person(teacher, variant="revoked", revoked_at=pki.utc(e, 5, 1)),
         f"{FAILED}:REVOKED"),
        ("revoked-after-signing", "Chứng thư số bị thu hồi sau khi ký, chưa có bằng chứng tồn tại "
         "/ certificate revoked after signing, no earlier proof of existence",
         gvbm, "INDETERMINATE",
         lambda: pkis.person(teacher, variant="revoked-later", revoked_at=pki.utc(e, 6, 28)),
         f"{INDET}:REVOKED_NO_POE"),
        ("expired-after-signing", "Chứng thư số còn hạn khi ký nhưng đã hết hạn lúc kiểm tra "
         "/ certificate valid at signing, expired at validation time, no proof of existence",
         gvbm, "INDETERMINATE",
         lambda: pkis.person(teacher, variant="short", not_before=pki.utc(e - 3, 8, 1),
                             not_after=pki.utc(e, 8, 1)), f"{INDET}:OUT_OF_BOUNDS_NO_POE"),
        ("untrusted-ca", "Chứng thư số của HT do CA không tin cậy cấp / the principal's certificate "
         "comes from an untrusted CA",
         "CKS-HT", "INDETERMINATE",
         lambda: pkis.person(plan.principal, variant="untrusted", authority=pkis.untrusted_root()),
         f"{INDET}:NO_CERTIFICATE_CHAIN_FOUND"),
        ("no-revocation-data", "Không có dữ liệu thu hồi (CRL) cho CA cấp chứng thư của HT "
         "/ no CRL for the CA of the principal's certificate",
         "CKS-HT", "INDETERMINATE",
         lambda: pkis.person(plan.principal, variant="no-crl", authority=pkis.no_crl_ca()),
         f"{INDET}:TRY_LATER"),
    ]
    for kind, description, sig_id, verdict, make_signer, expected in cert_cases:
        record, _, specs = student(kind)
        specs = with_spec(specs, sig_id, signer=make_signer())
        status, sub = expected.split(":")
        emit(Defect(kind, description, verdict, {sig_id: (status, sub)}),
             serialise(signed(record, specs)), record.student_code)

    # 9. A required signature is missing altogether.
    record, _, specs = student("missing-signature")
    root = signed(record, specs)
    wrapper = sig(root, "CKS-GVCN").getparent()
    wrapper.getparent().remove(wrapper)
    emit(Defect("missing-signature",
                "Thiếu chữ ký của giáo viên chủ nhiệm / the homeroom teacher's signature is missing",
                "INVALID", {"CKS-GVCN": (FAILED, "FORMAT_FAILURE")}),
         serialise(root), record.student_code)

    # 10. Signature wrapping: the signed original of a subject hidden in an Object, the
    # real subject changed and renamed. libxmlsec1 alone still says the signature is OK.
    # Done on the serialised text: lxml would drop the xmlns="" the hidden, un-namespaced
    # copy needs inside the default-namespace Signature.
    record, _, specs = student("wrapped-signature")
    root = signed(record, specs)
    real = root.find(f"DLHocBa/KetQua/BangDiem/MonHoc[@Ma='{first_scored}']")
    original = etree.tostring(real, encoding="UTF-8", with_tail=False)
    tampered = copy.deepcopy(real)
    tampered.set("Id", f"{real.get('Id')}-1")
    later = value_fields.get("term2") or value_fields["year"]
    tampered.find(later).text = "10.0" if real.find(later).text != "10.0" else "9.5"
    if real.find(later).text in levels:
        tampered.find(later).text = changed(real.find(later).text)
    changed = etree.tostring(tampered, encoding="UTF-8", with_tail=False)
    data = serialise(root)
    hidden = b"<Object>" + original.replace(b"<MonHoc ", b'<MonHoc xmlns="" ', 1) + b"</Object>"
    head, tail = data.split(f'Id="{gvbm}"'.encode(), 1)
    tail = tail.replace(b"</Signature>", hidden + b"</Signature>", 1)
    data = (head + f'Id="{gvbm}"'.encode() + tail).replace(original, changed, 1)
    emit(Defect("wrapped-signature",
                "Tấn công bọc chữ ký: bản gốc giấu trong Object, điểm thật bị sửa / signature wrapping: "
                "the signed original hidden in an Object, the real marks changed",
                "INVALID", {gvbm: (FAILED, "FORMAT_FAILURE"),
                            **{s: (FAILED, "HASH_FAILURE") for s in region_sigs}}),
         data, record.student_code)

    # 11. Duplicate Id: an unsigned element elsewhere claims the signed data's Id. Ids must
    # be unique in the whole document, so every signature fails its format check.
    record, _, specs = student("duplicate-id")
    root = signed(record, specs)
    etree.SubElement(sig(root, "CKS-TC"), f"{DS}Object", Id="DLHocBa")
    emit(Defect("duplicate-id",
                "Trùng Id trong tài liệu / an Id appears twice in the document",
                "INVALID", {s.sig_id: (FAILED, "FORMAT_FAILURE") for s in specs}),
         serialise(root), record.student_code)

    # 12-13. SigningTime missing, or present but not covered by a Reference.
    record, _, specs = student("signing-time-missing")
    specs = with_spec(specs, "CKS-HT", signing_time=None)
    emit(Defect("signing-time-missing",
                "Chữ ký HT không có thời điểm ký / the principal's signature has no SigningTime",
                "INVALID", {"CKS-HT": (FAILED, "FORMAT_FAILURE")}),
         serialise(signed(record, specs)), record.student_code)
    record, _, specs = student("signing-time-uncovered")
    specs = with_spec(specs, "CKS-HT", cover_time=False)
    emit(Defect("signing-time-uncovered",
                "Thời điểm ký của HT không được ký / the principal's SigningTime is not covered",
                "INVALID", {"CKS-HT": (FAILED, "FORMAT_FAILURE")}),
         serialise(signed(record, specs)), record.student_code)

    # 14. SHA-1: refused by policy.
    record, _, specs = student("sha1")
    specs = with_spec(specs, "CKS-HT", algorithm="rsa-sha1")
    emit(Defect("sha1",
                "Chữ ký HT dùng SHA-1 / the principal's signature uses SHA-1",
                "INDETERMINATE", {"CKS-HT": (INDET, "CRYPTO_CONSTRAINTS_FAILURE")}),
         serialise(signed(record, specs)), record.student_code)

    # Warnings only: the document stays VALID.
    record, times, specs = student("signing-order")
    early = times[gvbm]
    specs = with_spec(specs, "CKS-HT", signing_time=early)
    emit(Defect("signing-order",
                "HT ký trước GVCN (sai thứ tự, chỉ cảnh báo) / the principal signed before the "
                "homeroom teacher (a warning only)",
                "VALID", warnings=["SIGNING_ORDER"]),
         serialise(signed(record, specs)), record.student_code)

    record, times, specs = student("unlisted-signature")
    extra = SignatureSpec("CKS-THEM", "GVBM", None, "#DLHocBa", times["CKS-GVCN"],
                          pkis.person(teacher))
    emit(Defect("unlisted-signature",
                "Có chữ ký không nằm trong danh sách người ký (chỉ cảnh báo) / a signature not "
                "listed in DSTTKy (a warning only)",
                "VALID", warnings=["UNLISTED_SIGNATURE"]),
         serialise(signed(record, [*specs, extra])), record.student_code)

    # Unreadable inputs: REJECTED before any signature is looked at.
    record, _, specs = student("base-unreadable")
    good = serialise(signed(record, specs))
    body = good.split(b"\n", 1)[1]
    xxe = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<!DOCTYPE HocBa [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           + body.replace(record.person.name.encode(), b"&xxe;", 1))
    bomb = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HocBa [\n <!ENTITY a "aaaaaaaaaa">\n'
            + b"".join(f' <!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n'.encode()
                       for i in range(9))
            + b"]>\n" + body.replace(record.person.name.encode(), b"&j;", 1))
    rejected = [
        ("dtd-xxe", "Có DTD với thực thể ngoài (XXE) / a DTD with an external entity (XXE)",
         xxe, "DTD_FORBIDDEN"),
        ("entity-bomb", "Bom thực thể (billion laughs) / an entity expansion bomb", bomb,
         "DTD_FORBIDDEN"),
        ("truncated", "Tệp bị cắt cụt / the file is truncated", good[: len(good) * 3 // 5],
         "NOT_WELL_FORMED"),
        ("empty", "Tệp rỗng / an empty file", b"", "EMPTY"),
        ("not-xml", "Không phải XML (ảnh chụp) / not XML at all (a JPEG)",
         b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)),
         "NOT_WELL_FORMED"),
        ("wrong-root", "XML của định dạng khác (hoá đơn) / XML of another format (an e-invoice)",
         b'<?xml version="1.0" encoding="UTF-8"?>\n<HDon><DLHDon Id="DLHDon"><TTChung>'
         b"<PBan>2.0.1</PBan></TTChung></DLHDon></HDon>\n", "PROFILE_UNKNOWN"),
    ]
    for kind, description, data, reason in rejected:
        emit(Defect(kind, description, "REJECTED", reason=reason), data, record.student_code)
    return entries
