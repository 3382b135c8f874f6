"""`archiver verify` on signed PDF transcripts: the verdicts of spec section 3 (issue 17)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from archiver.scans.record import Signer

from .scans_helpers import (
    KEYS,
    PRINCIPAL_ID,
    SCHOOL_UID,
    TRUST,
    copy_trust,
    issue,
    make_key,
    pem_key,
    scan_document,
    school_name,
    signed_scans,  # noqa: F401 - fixture
    verify,
)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _principal():  # type: ignore[no-untyped-def]
    return pem_key(f"cccd-{PRINCIPAL_ID}", "HT")


def _school():  # type: ignore[no-untyped-def]
    return pem_key("mns-0109944", "TC")


def test_the_samples_scans_verify_valid_with_both_signatures_passed(signed_scans: Path):
    for pdf in sorted(signed_scans.rglob("*.pdf")):
        report = verify(pdf)
        assert report["verdict"] == "VALID", report["reasons"]
        assert report["profile"] == "hocba-scan-1"
        assert [(s["id"], s["role"], s["status"]) for s in report["signatures"]] == [
            ("CKS-HT", "HT", "TOTAL_PASSED"), ("CKS-TC", "TC", "TOTAL_PASSED")]
        assert all(s["checks"] == {c: "PASSED" for c in ("format", "hash", "crypto", "policy", "chain",
                                                         "revocation", "role")} for s in report["signatures"])
        # labelled, as every local timestamp is
        assert [w["code"] for w in report["warnings"]] == ["LOCAL_TIMESTAMP"]


def test_a_page_appended_after_signing_makes_it_invalid(signed_scans: Path, tmp_path: Path):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    source = sorted(signed_scans.rglob("*.pdf"))[0]
    writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()))
    writer.insert_page(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Page"), pdf_name("/Resources"): generic.DictionaryObject(),
        pdf_name("/MediaBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842)))}))
    out = io.BytesIO()
    writer.write(out)
    report = verify(_write(tmp_path, "appended.pdf", out.getvalue()))
    assert report["verdict"] == "INVALID"
    assert {s["sub_indication"] for s in report["signatures"]} == {"HASH_FAILURE"}
    assert "changed after this signature" in report["reasons"][0]["message"]


def test_a_changed_byte_inside_the_signed_range_makes_it_invalid(signed_scans: Path, tmp_path: Path):
    data = bytearray(sorted(signed_scans.rglob("*.pdf"))[0].read_bytes())
    at = data.index(b"THONG") if b"THONG" in data else len(data) // 3  # inside the image data
    data[at] ^= 1
    report = verify(_write(tmp_path, "flipped.pdf", bytes(data)))
    assert report["verdict"] == "INVALID"
    assert any(s["sub_indication"] == "HASH_FAILURE" for s in report["signatures"])


def test_validation_data_and_timestamps_added_after_signing_keep_it_valid(signed_scans: Path, tmp_path: Path):
    """PAdES LTA updates (a document timestamp here) are the one change allowed."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    from archiver.scans.signing import time_stamper
    from archiver.timestamps.tsa import LocalTimestamper

    source = sorted(signed_scans.rglob("*.pdf"))[0]
    writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()))
    out = PdfTimeStamper(time_stamper(LocalTimestamper())).timestamp_pdf(writer, "sha256", bytes_reserved=16384)
    report = verify(_write(tmp_path, "timestamped.pdf", out.getvalue()))
    assert report["verdict"] == "VALID", report["reasons"]


def test_the_digitisation_record_rewritten_after_signing_makes_it_invalid(tmp_path: Path):
    """The principal signed one record; the school's later signature covers another (the
    student's name changed between them): the principal's signature fails."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from archiver.scans.signing import sign, time_stamper
    from archiver.timestamps.tsa import LocalTimestamper

    data = scan_document([_principal()])
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    meta = writer.root["/Metadata"]
    stream = meta.get_object()
    stream._data = stream.data.replace("Hoàng Yến Phương".encode(), "Hoàng Yến Phượng".encode())
    stream._encoded_data = None
    writer.update_container(stream)
    out = io.BytesIO()
    writer.write(out)
    data = sign(out.getvalue(), _school(), stamper=time_stamper(LocalTimestamper()))
    report = verify(_write(tmp_path, "rewritten.pdf", data))
    assert report["verdict"] == "INVALID"
    principal = next(s for s in report["signatures"] if s["role"] == "HT")
    assert principal["sub_indication"] == "HASH_FAILURE"


def test_a_signature_by_the_wrong_roles_certificate_fails_role_and_identity(tmp_path: Path):
    # the school's organisation certificate in the principal's field
    wrong = pem_key("mns-0109944", "HT")
    report = verify(_write(tmp_path, "wrong-role.pdf", scan_document([wrong, _school()])))
    assert report["verdict"] == "INVALID"
    principal = next(s for s in report["signatures"] if s["id"] == "CKS-HT")
    assert (principal["status"], principal["sub_indication"]) == ("TOTAL_FAILED", "SIG_CONSTRAINTS_FAILURE")
    assert principal["checks"]["role"] == "FAILED" and principal["checks"]["crypto"] == "PASSED"


def test_another_persons_certificate_in_the_principals_field_is_not_the_listed_signer(tmp_path: Path):
    teacher = pem_key("cccd-001085882498", "HT")  # a teacher of the sample school
    report = verify(_write(tmp_path, "teacher.pdf", scan_document([teacher, _school()])))
    principal = next(s for s in report["signatures"] if s["id"] == "CKS-HT")
    assert report["verdict"] == "INVALID" and principal["sub_indication"] == "SIG_CONSTRAINTS_FAILURE"
    assert "CCCD:001085882498" in principal["message"] and f"CCCD:{PRINCIPAL_ID}" in principal["message"]


def test_a_revoked_school_certificate_makes_it_invalid(tmp_path: Path):
    ca_key = serialization.load_pem_private_key((KEYS / "issuing-ca.key.pem").read_bytes(), password=None)
    ca = x509.load_pem_x509_certificate((TRUST / "issuing-ca.pem").read_bytes())
    key, cert = issue(school_name())
    trust = copy_trust(tmp_path / "trust")
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc))
           .next_update(dt.datetime(2032, 7, 1, tzinfo=dt.timezone.utc))
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                                    .revocation_date(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)).build())
           .sign(ca_key, hashes.SHA256()))
    (trust / "issuing-ca-revoked.crl").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    data = scan_document([_principal(), make_key(key, cert, "TC")])
    report = verify(_write(tmp_path, "revoked.pdf", data), trust)
    assert report["verdict"] == "INVALID"
    school = next(s for s in report["signatures"] if s["role"] == "TC")
    assert (school["status"], school["sub_indication"]) == ("TOTAL_FAILED", "REVOKED")
    assert next(s for s in report["signatures"] if s["role"] == "HT")["status"] == "TOTAL_PASSED"


def test_a_certificate_from_an_untrusted_ca_is_indeterminate(tmp_path: Path):
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Untrusted TEST CA")])
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(root_key.public_key())
            .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
            .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    key, cert = issue(school_name(), ca_cert=root, ca_key=root_key)
    data = scan_document([_principal(), make_key(key, cert, "TC", chain=[root])])
    report = verify(_write(tmp_path, "untrusted.pdf", data))
    assert report["verdict"] == "INDETERMINATE"
    school = next(s for s in report["signatures"] if s["role"] == "TC")
    assert (school["status"], school["sub_indication"]) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


def test_a_missing_principal_signature_makes_it_invalid(tmp_path: Path):
    report = verify(_write(tmp_path, "no-principal.pdf", scan_document([_school()])))
    assert report["verdict"] == "INVALID"
    assert "SIGNATURE_MISSING" in [r["code"] for r in report["reasons"]]
    principal = next(s for s in report["signatures"] if s["role"] == "HT")
    assert principal["present"] is False and principal["status"] == "TOTAL_FAILED"


def test_a_record_that_does_not_list_the_principal_makes_it_invalid(tmp_path: Path):
    listed = [Signer("TC", "CKS-TC", "Trường", SCHOOL_UID)]
    report = verify(_write(tmp_path, "unlisted.pdf", scan_document([_school()], listed=listed)))
    assert report["verdict"] == "INVALID"
    assert "SIGNER_NOT_LISTED" in [r["code"] for r in report["reasons"]]


def test_signing_out_of_order_is_a_warning(tmp_path: Path):
    from archiver.scans.signing import FIELDS

    # the school signs first in its field, then the principal in hers
    data = scan_document([_school(), _principal()])
    report = verify(_write(tmp_path, "order.pdf", data))
    assert report["verdict"] == "VALID", report["reasons"]
    assert "SIGNING_ORDER" in [w["code"] for w in report["warnings"]]
    assert set(FIELDS.values()) == {s["id"] for s in report["signatures"]}


def test_an_unsigned_pdf_is_rejected_as_before(tmp_path: Path):
    report = verify(_write(tmp_path, "plain.pdf", b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"))
    assert report["verdict"] == "REJECTED"
    assert report["reasons"][0]["message"].startswith("Tệp PDF, không phải học bạ XML")


def test_verify_finds_signed_pdfs_in_folders_and_skips_other_pdfs(signed_scans: Path, tmp_path: Path):
    import json
    import shutil

    from .scans_helpers import run_archiver

    folder = tmp_path / "export"
    shutil.copytree(signed_scans, folder)
    (folder / "9A1" / "rendering.pdf").write_bytes(b"%PDF-1.7\n%%EOF\n")  # a rendering beside them
    proc = run_archiver("verify", "--trust", TRUST, "--json", folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    assert len(reports) == 3 and {r["verdict"] for r in reports} == {"VALID"}


def test_verify_with_the_pdf_profile_named(signed_scans: Path):
    from .scans_helpers import run_archiver

    pdf = sorted(signed_scans.rglob("*.pdf"))[0]
    proc = run_archiver("verify", "--trust", TRUST, "--profile", "hocba-scan-1", pdf)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_pades_export_with_its_record_attached_and_no_pdfa_is_valid_with_a_warning(tmp_path: Path):
    """Software that attaches the record (``hocba-scan.json``) instead of putting it in
    the XMP, and writes plain PDF: read through the profile's attachment, verified the
    same way; not claiming PDF/A is a warning, not a verdict."""
    import json

    import pikepdf
    from reportlab.pdfgen import canvas

    from archiver.scans.signing import sign, time_stamper
    from archiver.timestamps.tsa import LocalTimestamper

    record = {"schema": "archiver.scan/1", "format": "hocba-scan-1", "lookup_code": "cd" * 16,
              "student": {"code": "3001", "name": "Đinh Văn Khoa", "birth_date": "2010-05-06", "gender": "Nam",
                          "citizen_id": ""},
              "school": {"code": "0109944", "name": "Trường THCS Trưng Vương", "province": "Hà Nội"},
              "class_name": "9A1", "school_years": ["2024-2025"], "school_year": "2024-2025",
              "signers": [{"role": "HT", "field": "CKS-HT", "name": "HT", "id": PRINCIPAL_ID},
                          {"role": "TC", "field": "CKS-TC", "name": "Trường", "id": SCHOOL_UID}]}
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Hoc ba (ban xuat tu phan mem)")
    page.save()
    with pikepdf.open(io.BytesIO(buffer.getvalue())) as pdf:
        pdf.attachments["hocba-scan.json"] = pikepdf.AttachedFileSpec(pdf, json.dumps(record).encode("utf-8"))
        out = io.BytesIO()
        pdf.save(out)
    data = out.getvalue()
    stamper = time_stamper(LocalTimestamper())
    for key in (_principal(), _school()):
        data = sign(data, key, stamper=stamper)
    report = verify(_write(tmp_path, "export.pdf", data))
    assert report["verdict"] == "VALID", report["reasons"]
    assert report["lookup_code"] == "cd" * 16 and report["student_name"] == "Đinh Văn Khoa"
    assert "NOT_PDFA" in [w["code"] for w in report["warnings"]]
