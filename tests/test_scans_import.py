"""`archiver scans import`: one signed PDF/A-2b per roster row, checked with poppler, qpdf
and the files' own bytes (issue 17)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest

from archiver.scans.pages import page_images
from archiver.scans.record import XMP_NS, XMP_PREFIX, xmp_property

from .conftest import require_tool
from .scans_helpers import SCANS, import_sample, signed_scans, verify  # noqa: F401 - fixture

ROSTER = json.loads((SCANS.parent / "sample.json").read_text(encoding="utf-8"))["scans"]


def _pdfs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.pdf"))


def _record(pdf: Path) -> dict:
    from archiver.scans.record import read_pdf_record

    found = read_pdf_record(pdf.read_bytes())
    assert found is not None
    return found


def test_every_row_with_a_usable_scan_becomes_one_signed_pdf_and_the_150_dpi_one_is_refused(signed_scans: Path):
    pdfs = _pdfs(signed_scans)
    assert len(pdfs) == 3  # four rows, one scanned at 150 dpi
    defect = ROSTER["defects"][0]
    assert not (signed_scans / "9A1" / f"{defect['student_code']}.pdf").exists()
    assert all(p.parent.name == "9A1" for p in pdfs)


def test_the_refusal_names_the_row_and_says_what_to_do(tmp_path: Path):
    proc = import_sample(tmp_path / "out")
    assert proc.returncode == 1
    row = ROSTER["defects"][0]["row"]
    assert f"dòng {row} / row {row}" in proc.stderr
    assert "150×150 dpi, dưới 200 dpi" in proc.stderr and "never upsampled" in proc.stderr


def test_pdfsig_finds_both_signatures_valid_and_the_last_one_covering_the_whole_document(signed_scans: Path):
    require_tool("pdfsig")
    for pdf in _pdfs(signed_scans):
        out = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True, check=False).stdout
        blocks = re.split(r"Signature #\d+:", out)[1:]
        assert len(blocks) == 2, out
        assert "Signature Field Name: CKS-HT" in blocks[0] and "Signature Field Name: CKS-TC" in blocks[1]
        assert all("Signature Validation: Signature is Valid." in b for b in blocks), out
        assert "ETSI.CAdES.detached" in blocks[0] and "ETSI.CAdES.detached" in blocks[1]
        # the school's signature covers everything: nothing was changed after it
        assert "Total document signed" in blocks[1]
        assert "UID=CCCD:001074490020" in blocks[0] and "UID=MNS:0109944" in blocks[1]


def test_pdfimages_lists_each_page_at_its_source_pixel_size_and_dpi(signed_scans: Path):
    require_tool("pdfimages")
    for pdf in _pdfs(signed_scans):
        record = _record(pdf)
        listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True,
                                 check=True).stdout.splitlines()[2:]
        rows = [line.split() for line in listing]
        assert [int(r[0]) for r in rows] == [p["page"] for p in record["pages"]]  # after the information page
        for row, page in zip(rows, record["pages"]):
            assert (int(row[3]), int(row[4])) == (page["width"], page["height"])
            assert (int(row[12]), int(row[13])) == tuple(page["dpi"])
            from PIL import Image

            source = Image.open(SCANS / "images" / page["source"])
            if page["source_page"] > 1:
                source.seek(page["source_page"] - 1)
            assert source.size == (page["width"], page["height"])
            assert round(float(source.info["dpi"][0])) == page["dpi"][0]


def test_jpeg_pages_are_the_source_bytes_passed_through(signed_scans: Path, tmp_path: Path):
    require_tool("pdfimages")
    checked = 0
    for pdf in _pdfs(signed_scans):
        for page in _record(pdf)["pages"]:
            if page["encoding"] != "JPEG":
                continue
            prefix = tmp_path / f"{pdf.stem}-{page['page']}"
            subprocess.run(["pdfimages", "-j", "-f", str(page["page"]), "-l", str(page["page"]), str(pdf),
                            str(prefix)], check=True)
            extracted = sorted(tmp_path.glob(f"{prefix.name}-*.jpg"))
            assert len(extracted) == 1
            assert extracted[0].read_bytes() == (SCANS / "images" / page["source"]).read_bytes()
            checked += 1
    assert checked >= 1


def test_qpdf_finds_no_error(signed_scans: Path):
    require_tool("qpdf")
    for pdf in _pdfs(signed_scans):
        proc = subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No syntax or stream encoding errors found" in proc.stdout


def test_the_signed_document_still_claims_pdfa_2b_with_metadata_pdfa_accepts(signed_scans: Path):
    """pyHanko would rewrite the XMP when it signs: after both signatures the XMP is still
    the one written (PDF/A-2b, the extension schema describing the properties under the
    prefix it declares), the Info dictionary still equals its XMP twins, and nothing PDF/A-2
    forbids crept in (attachments, JavaScript, unembedded fonts, interpolated images)."""
    require_tool("pdffonts")
    for path in _pdfs(signed_scans):
        with pikepdf.open(path) as pdf:
            xmp = pdf.Root.Metadata.read_bytes()
            assert xmp_property(xmp, "http://www.aiim.org/pdfa/ns/id/", "part") == "2"
            assert xmp_property(xmp, "http://www.aiim.org/pdfa/ns/id/", "conformance") == "B"
            info = pdf.trailer.Info
            assert str(info.Producer) == xmp_property(xmp, "http://ns.adobe.com/pdf/1.3/", "Producer")
            assert str(info.Title) == _alt(xmp, "title")
            modified = xmp_property(xmp, "http://ns.adobe.com/xap/1.0/", "ModifyDate")
            assert _pdf_date(str(info.ModDate)) == _iso(modified)
            assert f'xmlns:{XMP_PREFIX}="{XMP_NS}"' in xmp.decode()
            assert f"<pdfaSchema:prefix>{XMP_PREFIX}</pdfaSchema:prefix>" in xmp.decode()
            assert b"pyHanko" not in xmp
            assert "/OutputIntents" in pdf.Root and "/Names" not in pdf.Root and "/OpenAction" not in pdf.Root
            assert pdf.pdf_version == "1.7"
            for page in pdf.pages:
                for image in page_images(page):
                    assert not image.get("/Interpolate", False)
                    assert "/LZWDecode" not in str(image.get("/Filter"))
            for field in pdf.Root.AcroForm.Fields:
                assert int(field.F) & 4 and not int(field.F) & 2  # printed, never hidden (ISO 19005-2 6.3.2)
                assert "/N" in field.AP  # an appearance, empty, for the invisible signature
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
        assert all(" yes " in line.split("TrueType", 1)[-1] for line in fonts.splitlines()[2:]), fonts


def test_the_signed_document_passes_pdfbox_preflight_but_for_the_part_number(signed_scans: Path):
    """PDFBox Preflight knows PDF/A-1b only; PDF/A-2b shares its rules on fonts, colour,
    metadata (the extension schema), annotations and signatures: the one error it may
    report is that the document says part 2."""
    from .pdftools import preflight

    for path in _pdfs(signed_scans):
        result = preflight(path)
        assert [code for code, _ in result.errors] == ["7.11.2"], result.output
        assert "part must be 1" in result.output


def _alt(xmp: bytes, name: str) -> str:
    from lxml import etree

    root = etree.fromstring(xmp[xmp.index(b"<x:xmpmeta"):xmp.rindex(b"</x:xmpmeta>") + 12])
    found = root.find(f".//{{http://purl.org/dc/elements/1.1/}}{name}//{{http://www.w3.org/1999/02/22-rdf-syntax-ns#}}li")
    return found.text if found is not None else ""


def _pdf_date(value: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    m = re.match(r"D:(\d{14})(Z|[+-]\d\d'\d\d'?)?", value)
    assert m, value
    when = dt.datetime.strptime(m[1], "%Y%m%d%H%M%S")
    offset = m[2] or "Z"
    if offset == "Z":
        return when.replace(tzinfo=dt.timezone.utc)
    sign = 1 if offset[0] == "+" else -1
    return when.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))))


def _iso(value: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.fromisoformat(value).replace(microsecond=0)


def test_the_information_page_and_the_record_say_what_the_roster_and_the_files_say(signed_scans: Path):
    require_tool("pdftotext")
    roster = (SCANS / "roster.csv").read_text(encoding="utf-8-sig").splitlines()
    first = roster[1].split(";")
    pdf = signed_scans / "9A1" / f"{first[1]}.pdf"
    record = _record(pdf)
    assert record["schema"] == "archiver.scan/1" and record["format"] == "hocba-scan-1"
    assert record["student"]["name"] == first[2] and record["student"]["code"] == first[1]
    assert record["roster"]["row"] == 2 and record["roster"]["values"]["Họ và tên"] == first[2]
    assert record["school_years"] == ["2021-2022", "2022-2023", "2023-2024", "2024-2025"]
    assert [s["role"] for s in record["signers"]] == ["HT", "TC"]
    for source in record["sources"]:
        data = (SCANS / "images" / source["file"]).read_bytes()
        assert source["sha256"] == hashlib.sha256(data).hexdigest() and source["size"] == len(data)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "THÔNG TIN SỐ HÓA HỌC BẠ" in text and first[2] in text
    for source in record["sources"]:
        assert source["sha256"] in text.replace("\n", "")
    assert "CCCD:001074490020" in text and "MNS:0109944" in text


def test_an_import_run_again_leaves_what_it_made_and_does_only_what_is_missing(tmp_path: Path):
    out = tmp_path / "out"
    assert import_sample(out).returncode == 1
    first = {p: p.read_bytes() for p in _pdfs(out)}
    victim = sorted(first)[0]
    victim.unlink()
    again = import_sample(out)
    assert again.returncode == 1
    assert "2 đã có từ trước" in again.stdout and "1 học bạ đã ký" in again.stdout
    for path, data in first.items():
        if path != victim:
            assert path.read_bytes() == data
    assert victim.is_file() and verify(victim)["verdict"] == "VALID"
    assert not any(p.name.startswith(".") for p in out.rglob("*"))  # no staging or temporary file left


@pytest.mark.parametrize("what", ["passphrase", "expired", "role"])
def test_a_key_problem_stops_the_import_before_anything_is_written(tmp_path: Path, what: str):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from .scans_helpers import KEYS, run_archiver

    key_file = KEYS / "school.p12"
    env = {"SCAN_PASS": "hocba-thu-nghiem"}
    expect = ""
    if what == "passphrase":
        env["SCAN_PASS"] = "sai-mat-khau"
        expect = "sai mật khẩu"
    elif what == "expired":
        key, cert = _expired_school()
        key_file = tmp_path / "expired.p12"
        key_file.write_bytes(pkcs12.serialize_key_and_certificates(b"x", key, cert, None,
                                                                   BestAvailableEncryption(b"hocba-thu-nghiem")))
        expect = "đã hết hạn"
    else:  # the principal's key given as the school's
        key_file = KEYS / "principal.p12"
        expect = "không đúng vai trò"
    out = tmp_path / "out"
    proc = run_archiver("scans", "import", SCANS / "roster.csv", "--images", SCANS / "images", "--out", out,
                        "--principal-key", KEYS / "principal.p12", "--school-key", key_file, "--passphrase-env",
                        "SCAN_PASS", env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expect in proc.stderr and "Lỗi khoá ký" in proc.stderr
    assert not out.exists()


def _expired_school():  # type: ignore[no-untyped-def]
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .scans_helpers import KEYS, TRUST, school_name

    ca_key = serialization.load_pem_private_key((KEYS / "issuing-ca.key.pem").read_bytes(), password=None)
    ca = x509.load_pem_x509_certificate((TRUST / "issuing-ca.pem").read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(school_name()).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc))
            .not_valid_after(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)).sign(ca_key, hashes.SHA256()))
    return key, cert


def test_the_template_has_every_column_the_import_reads(tmp_path: Path):
    from archiver.scans.roster import COLUMNS, read_roster

    from .scans_helpers import run_archiver

    for name in ("mau.xlsx", "mau.csv"):
        proc = run_archiver("scans", "template", "--out", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        roster = read_roster(tmp_path / name)
        assert roster.rows == [] and roster.problems == [] and roster.unused_headers == []
    header = (tmp_path / "mau.csv").read_bytes()
    assert header.startswith(b"\xef\xbb\xbf") and all(c.header.encode() in header for c in COLUMNS)


def test_a_scanners_pdf_is_embedded_page_by_page_with_its_images_as_they_are(tmp_path: Path):
    """A scanner that writes PDF: each page's image is copied as it is (the JPEG stream
    byte for byte), on a page of the image's size at its resolution."""
    import img2pdf

    from .scans_helpers import KEYS, PASSPHRASE, run_archiver

    from PIL import Image

    jpeg = next(p for p in sorted((SCANS / "images").rglob("*.jpg")) if Image.open(p).info["dpi"][0] >= 200)
    png = next((SCANS / "images").rglob("*.png"))
    images = tmp_path / "images"
    images.mkdir()
    (images / "may-quet.pdf").write_bytes(img2pdf.convert([jpeg.read_bytes(), png.read_bytes()]))
    roster = tmp_path / "roster.csv"
    roster.write_text("Mã học sinh;Họ và tên;Ngày sinh;Giới tính;Mã trường;Tên trường;Lớp;Năm học;Tệp quét\n"
                      "2001;Vũ Thị Lan;01/02/2010;Nữ;0109944;Trường THCS Trưng Vương;9A1;2024-2025;may-quet.pdf\n",
                      encoding="utf-8")
    proc = run_archiver("scans", "import", roster, "--images", images, "--out", tmp_path / "out", "--principal-key",
                        KEYS / "principal.p12", "--school-key", KEYS / "school.p12", "--passphrase-env", "P",
                        env={"P": PASSPHRASE})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pdf = tmp_path / "out" / "9A1" / "2001.pdf"
    record = _record(pdf)
    assert [(p["source"], p["source_page"], p["encoding"]) for p in record["pages"]] == [
        ("may-quet.pdf", 1, "JPEG"), ("may-quet.pdf", 2, "Flate")]
    require_tool("pdfimages")
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    for line, source in zip(listing, (jpeg, png)):
        fields = line.split()
        with Image.open(source) as picture:
            assert (int(fields[3]), int(fields[4])) == picture.size
            assert int(fields[12]) == round(float(picture.info["dpi"][0]))
    subprocess.run(["pdfimages", "-j", "-f", "2", "-l", "2", str(pdf), str(tmp_path / "x")], check=True)
    assert (tmp_path / "x-000.jpg").read_bytes() == jpeg.read_bytes()
    assert verify(pdf)["verdict"] == "VALID"
