"""PDF/A renderings: checked by independent tools (PDFBox Preflight, poppler, qpdf, zbar).

The sample is the unsigned example transcript with a made-up verification result, so
these tests need neither keys nor the verifier; one test renders the signed sample
school through the CLI with --trust when that fixture is present.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from click.testing import CliRunner
from lxml import etree

from archiver.commands.render import command
from archiver.render import RenderError, render_transcript

from . import pdftools

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_XML = ROOT / "fixtures" / "spec" / "sample-transcript.xml"
SAMPLE_SCHOOL = ROOT / "fixtures" / "sample"
STUDENT = "Nguyễn Thị Ngọc Ánh"
LOOKUP = "3f9c2a7be41d4c0a9b6e58d21f07ac45"


def fake_verification(xml: bytes, *, verdict: str = "INVALID") -> dict[str, Any]:
    """A result shaped like the verifier's: every listed signer, the maths teacher failed."""
    root = etree.fromstring(xml)
    signatures = []
    for ttky in root.iter("TTKy"):
        signatures.append({
            "id": ttky.get("ChuKy"), "role": ttky.get("VaiTro"),
            "subject": ttky.get("MonHoc") or "", "signer": ttky.get("HoTen"),
            "signing_time": "2026-06-18T09:41:07+07:00", "status": "TOTAL_PASSED",
            "sub_indication": "", "message": "",
            "certificate": {
                "subject": f"UID=CCCD:{ttky.get('MaDinhDanh')},CN={ttky.get('HoTen')},C=VN",
                "issuer": "CN=CA Giáo dục thử nghiệm,O=Tổ chức thử,C=VN",
            },
        })
    if verdict == "INVALID":
        signatures[1].update(status="TOTAL_FAILED", sub_indication="HASH_FAILURE",
                             message="Digest mismatch for #MH-TOAN")
    return {
        "path": "fixtures/spec/sample-transcript.xml",
        "verdict": verdict,
        "reasons": [{"code": "SIGNATURE_FAILED",
                     "message": "Chữ ký CKS-GVBM-TOAN không hợp lệ / a signature failed"}]
        if verdict == "INVALID" else [],
        "signatures": signatures,
        "warnings": [{"code": "SIGNING_ORDER", "message": "Thứ tự ký không đúng quy định"}],
    }


@pytest.fixture(scope="module")
def sample_xml() -> bytes:
    return SAMPLE_XML.read_bytes()


@pytest.fixture(scope="module")
def rendered(sample_xml: bytes, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample rendered both ways, with an INVALID verification and a local timestamp."""
    out = tmp_path_factory.mktemp("render")
    paths = {}
    for flavour in ("3b", "1b"):
        pdf = render_transcript(
            sample_xml, verification=fake_verification(sample_xml), flavour=flavour,
            archive_timestamp={"time": "2026-07-01T08:00:00Z", "tsa": "archiver (cục bộ)",
                               "local": True},
        )
        paths[flavour] = out / f"sample-{flavour}.pdf"
        paths[flavour].write_bytes(pdf)
    return paths


def _xmp(pdf: pikepdf.Pdf) -> str:
    return pdf.Root.Metadata.read_bytes().decode("utf-8")


def _text(pdf_path: Path) -> str:
    return pdftools.pdftotext(pdf_path)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# -- PDF/A structure --------------------------------------------------------------------

def test_pdfa3b_structure(rendered: dict[str, Path], sample_xml: bytes) -> None:
    with pikepdf.open(rendered["3b"]) as pdf:
        assert pdf.pdf_version == "1.7"
        spec = pdf.Root.AF[0]
        assert spec.AFRelationship == pikepdf.Name.Source
        assert spec.Type == pikepdf.Name.Filespec
        embedded = spec.EF.F
        assert embedded.Subtype == pikepdf.Name("/application/xml")
        assert embedded.read_bytes() == sample_xml
        assert int(embedded.Params.Size) == len(sample_xml)
        names = pdf.Root.Names.EmbeddedFiles.Names
        assert str(names[0]) == "sample-transcript.xml" and names[1].objgen == spec.objgen
        intent = pdf.Root.OutputIntents[0]
        assert intent.S == pikepdf.Name.GTS_PDFA1
        assert int(intent.DestOutputProfile.N) == 3
        assert len(pdf.trailer.ID) == 2
        xmp = _xmp(pdf)
        assert "<pdfaid:part>3</pdfaid:part>" in xmp
        assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
        assert STUDENT in xmp and LOOKUP in xmp and "Trường THCS Đại An" in xmp
        assert "<dc:title>" in xmp and "<dc:creator>" in xmp
        # The XMP stays unfiltered, as PDF/A readers expect to find it.
        assert "/Filter" not in pdf.Root.Metadata.stream_dict
        assert str(pdf.docinfo.Title).startswith("Học bạ số – " + STUDENT)


def test_pdfa1b_has_no_attachment(rendered: dict[str, Path]) -> None:
    with pikepdf.open(rendered["1b"]) as pdf:
        assert pdf.pdf_version == "1.4"
        assert "/AF" not in pdf.Root and "/Names" not in pdf.Root
        assert "<pdfaid:part>1</pdfaid:part>" in _xmp(pdf)
    assert "không đính kèm tệp XML gốc" in _flat(_text(rendered["1b"]))


def test_preflight_passes_1b(rendered: dict[str, Path]) -> None:
    result = pdftools.preflight(rendered["1b"])
    assert result.valid, result.output


def test_preflight_on_3b_reports_only_what_pdfa1_forbids(rendered: dict[str, Path]) -> None:
    """PDFBox 2 knows PDF/A-1 only: a PDF/A-3 may differ from it exactly by the attachment
    (embedded files are forbidden in PDF/A-1) and by pdfaid:part."""
    result = pdftools.preflight(rendered["3b"])
    allowed = {"1.4.7", "1.2.9", "7.11.2"}
    assert result.errors, result.output
    assert {code for code, _ in result.errors} <= allowed, result.output


def test_fonts_all_embedded(rendered: dict[str, Path]) -> None:
    for path in rendered.values():
        fonts = pdftools.pdffonts(path)
        assert fonts, "no fonts listed"
        for font in fonts:
            assert font.embedded, f"{font.name} is not embedded"
            assert font.unicode, f"{font.name} has no ToUnicode map"
            assert "NotoSerif" in font.name
        # ISO 32000-1 9.6.4: each subset has its own six-letter tag
        tags = [font.name.partition("+")[0] for font in fonts if "+" in font.name]
        assert len(tags) == len(set(tags)) and all(len(t) == 6 and t.isupper() for t in tags)


def test_attachment_is_bit_exact(rendered: dict[str, Path], sample_xml: bytes,
                                 tmp_path: Path) -> None:
    files = pdftools.pdfdetach_all(rendered["3b"], tmp_path / "detached")
    assert files == {"sample-transcript.xml": sample_xml}


def test_qpdf_check_is_clean(rendered: dict[str, Path]) -> None:
    for path in rendered.values():
        proc = pdftools.qpdf_check(path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "WARNING" not in proc.stdout + proc.stderr


def test_document_dates_come_from_the_transcript(rendered: dict[str, Path]) -> None:
    with pikepdf.open(rendered["3b"]) as pdf:
        assert str(pdf.docinfo.CreationDate) == "D:20260630000000+07'00'"
        assert str(pdf.docinfo.ModDate) == "D:20260630000000+07'00'"
        assert "<xmp:CreateDate>2026-06-30T00:00:00+07:00</xmp:CreateDate>" in _xmp(pdf)


# -- what a reader sees -----------------------------------------------------------------

def test_text_has_name_form_and_verification(rendered: dict[str, Path]) -> None:
    text = _text(rendered["3b"])
    assert unicodedata.is_normalized("NFC", text)
    assert STUDENT in text
    flat = _flat(text)
    for phrase in ("HỌC BẠ", "TRUNG HỌC CƠ SỞ", "7405537946/THCS", "THÔNG TIN HỌC SINH",
                   "QUÁ TRÌNH HỌC TẬP", "KẾT QUẢ HỌC TẬP NĂM HỌC 2025-2026", "Học kì I",
                   "Cả năm", "Đỗ Thị Hằng", "TỔNG KẾT NĂM HỌC", "PHẨM CHẤT VÀ NĂNG LỰC",
                   "NHẬN XÉT CỦA GIÁO VIÊN CHỦ NHIỆM", "Chăm ngoan, học tập tiến bộ rõ rệt",
                   "THÔNG TIN XÁC THỰC", "KẾT LUẬN XÁC THỰC: KHÔNG HỢP LỆ", LOOKUP,
                   "Nội dung không khớp với nội dung đã ký (bị sửa sau khi ký, hoặc ký sai cách)",
                   "Giáo viên bộ môn – Toán",
                   "Tổ chức (con dấu điện tử của trường)", "Phạm Văn Khiêm",
                   "dấu thời gian cục bộ, không phải của TSA tin cậy", "SIGNING_ORDER",
                   "được đính kèm nguyên vẹn", "Bản thể hiện của học bạ số"):
        assert phrase in flat, phrase
    # Scores are written the Vietnamese way; comment-assessed subjects as Đ / CĐ.
    assert "8,9" in flat and " Đ " in flat
    # Every page says what it is, and which page of how many.
    pages = text.split("\f")[:-1]
    for number, page in enumerate(pages, start=1):
        assert f"Trang {number}/{len(pages)}" in page
        assert "bản gốc là tệp XML có chữ ký số" in page


def test_decomposed_input_is_shown_in_nfc(sample_xml: bytes, tmp_path: Path) -> None:
    nfd_name = unicodedata.normalize("NFD", STUDENT)
    assert nfd_name != STUDENT
    xml = sample_xml.replace(STUDENT.encode(), nfd_name.encode())
    path = tmp_path / "nfd.pdf"
    path.write_bytes(render_transcript(xml, flavour="1b"))
    text = _text(path)
    assert STUDENT in text and nfd_name not in text


# Every letter Vietnamese writes with a diacritic, both cases. With ASCII, Cyrillic and
# Greek the text needs more than the 256 glyphs of one reportlab font subset, so this also
# checks a font split in two.
VIETNAMESE_LETTERS = "".join(sorted({
    ch for base in "aăâeêioôơuưy"
    for mark in ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
    for ch in (unicodedata.normalize("NFC", base + mark),
               unicodedata.normalize("NFC", base.upper() + mark))
    if len(ch) == 1
} | set("đĐ")))


def test_every_vietnamese_letter_survives(sample_xml: bytes, tmp_path: Path) -> None:
    words = [VIETNAMESE_LETTERS[i:i + 12] for i in range(0, len(VIETNAMESE_LETTERS), 12)]
    ascii_marks = " ".join(chr(c) for c in range(0x21, 0x7F))
    cyrillic_greek = ["".join(chr(c) for c in range(0x430, 0x450)),
                      "".join(chr(c) for c in range(0x3B1, 0x3CA))]
    comment = " ".join(words + cyrillic_greek) + " " + ascii_marks

    def change(root: etree._Element) -> None:
        root.find(".//KetQua/NhanXetChung").text = comment

    assert len(VIETNAMESE_LETTERS) == 146  # 12 vowels x 6 tones x 2 cases + đ, Đ
    xml = _mutate(sample_xml, change)
    path = tmp_path / "letters.pdf"
    path.write_bytes(render_transcript(xml, flavour="1b"))
    flat = _flat(_text(path))
    for word in words + cyrillic_greek:
        assert word in flat, word
    fonts = pdftools.pdffonts(path)
    assert all(font.embedded for font in fonts)
    assert len(fonts) >= 3  # the regular face needed a second subset
    result = pdftools.preflight(path)
    assert result.valid, result.output


def test_unverified_says_so(sample_xml: bytes, tmp_path: Path) -> None:
    path = tmp_path / "plain.pdf"
    path.write_bytes(render_transcript(sample_xml))
    flat = _flat(_text(path))
    assert "CHƯA XÁC THỰC" in flat
    assert "chưa được kiểm tra chữ ký số" in flat
    assert "Chưa kiểm tra" in flat  # each listed signer
    assert "DẤU THỜI GIAN" not in flat


@pytest.mark.parametrize("verdict,label", [
    ("VALID", "HỢP LỆ"), ("INDETERMINATE", "CHƯA XÁC ĐỊNH"), ("REJECTED", "BỊ TỪ CHỐI"),
])
def test_every_verdict_is_shown(sample_xml: bytes, tmp_path: Path, verdict: str,
                                label: str) -> None:
    path = tmp_path / f"{verdict}.pdf"
    path.write_bytes(render_transcript(
        sample_xml, verification=fake_verification(sample_xml, verdict=verdict)))
    flat = _flat(_text(path))
    assert f"KẾT LUẬN XÁC THỰC: {label}" in flat
    assert f"Tình trạng xác thực: {label}" in flat  # on the cover too


def test_every_page_of_a_transcript_not_to_be_trusted_says_so(sample_xml: bytes, tmp_path: Path) -> None:
    """A page read on its own (a photocopy of page 3) still carries the verdict, and a
    replaced transcript says it was replaced, on the cover and on every page."""
    path = tmp_path / "invalid.pdf"
    path.write_bytes(render_transcript(sample_xml, verification=fake_verification(sample_xml, verdict="INVALID")))
    pages = _text(path).split("\f")[1:-1]  # every page after the cover
    assert pages and all("KHÔNG HỢP LỆ" in page for page in pages)

    verification = fake_verification(sample_xml, verdict="VALID")
    verification["archive"] = {"superseded_by": "eafccd910e1ac2a14068c4407440eb5f"}
    path = tmp_path / "superseded.pdf"
    path.write_bytes(render_transcript(sample_xml, verification=verification))
    text = _text(path)
    cover = _flat(text.split("\f")[0])
    assert "HỌC BẠ NÀY ĐÃ BỊ THU HỒI VÀ THAY THẾ" in cover and "eafccd910e1ac2a14068c4407440eb5f" in cover
    assert all("ĐÃ BỊ THU HỒI" in page for page in text.split("\f")[1:-1])

    valid = tmp_path / "valid.pdf"
    valid.write_bytes(render_transcript(sample_xml, verification=fake_verification(sample_xml, verdict="VALID")))
    assert "THU HỒI" not in _text(valid) and "KHÔNG HỢP LỆ" not in _text(valid)


def test_tolerates_sparse_and_odd_verification(sample_xml: bytes, tmp_path: Path) -> None:
    odd: dict[str, Any] = {
        "verdict": "INDETERMINATE",
        "reasons": [{"code": "X"}, "not a dict"],
        "signatures": [
            {"id": "CKS-HT"},  # nothing else
            {"id": "CKS-TC", "status": "INDETERMINATE", "sub_indication": "TRY_LATER",
             "certificate": None, "signing_time": "not a time", "message": None},
            {"id": "CKS-UNLISTED", "role": "XX", "listed": False, "present": True,
             "status": "TOTAL_PASSED", "certificate": {"subject": "CN=Ai đó"}},
            None,
        ],
        "warnings": None,
    }
    path = tmp_path / "odd.pdf"
    path.write_bytes(render_transcript(sample_xml, verification=odd))
    flat = _flat(_text(path))
    assert "CHƯA XÁC ĐỊNH" in flat
    assert "Chưa có dữ liệu thu hồi chứng thư (CRL)" in flat
    assert "Không có trong danh sách người ký" in flat
    assert "Không có trong kết quả xác thực" in flat  # listed signers the result skipped


def _mutate(xml: bytes, change) -> bytes:
    root = etree.fromstring(xml)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_long_values_wrap_inside_the_page(sample_xml: bytes, tmp_path: Path) -> None:
    long_name = "Tôn Nữ Hoàng Thị Phương Thảo Nguyên Khánh Ngọc Bảo Trân Quỳnh Như Ý"
    comment = ("Em chăm ngoan, lễ phép, tích cực tham gia phong trào của lớp và của trường; "
               * 25).strip()
    unbroken = "X" * 160

    def change(root: etree._Element) -> None:
        root.find(".//HocSinh/HoTen").text = long_name
        root.find(".//KetQua/NhanXetChung").text = comment
        root.find(".//Truong/TenTruong").text = "Trường Trung học cơ sở " + "Đại An " * 12
        root.find(".//MonHoc[@Ma='TOAN']/NhanXet").text = comment[:600]
        root.find(".//MonHoc[@Ma='NV']/GiaoVien").text = unbroken
        root.find(".//HocSinh/NoiSinh").text = unbroken

    xml = _mutate(sample_xml, change)
    path = tmp_path / "long.pdf"
    path.write_bytes(render_transcript(xml, verification=fake_verification(xml)))
    flat = _flat(_text(path))
    assert long_name in flat
    assert comment[:200] in flat
    # Every word lies inside the page, clear of the left and right edges.
    bbox = pdftools.pdftotext(path, "-bbox")
    width = 595.28
    words = re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"', bbox)
    assert words
    for x_min, x_max in words:
        assert float(x_min) >= 30 and float(x_max) <= width - 30, (x_min, x_max)


def test_cell_text_breaks_at_spaces_and_inside_overlong_words() -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from archiver.render.pages import _styles
    from archiver.render.text import Line

    s = _styles()
    name = "Nguyễn Thị Phương Thảo Quỳnh " * 3
    runs = [("GV: ", s.cell_small), (name, s.cell_small_b), (" " + "X" * 90, s.cell_small)]
    cell = Line(runs, s.cell_small)
    _, height = cell.wrap(120, 1000)
    lines = cell._lines
    assert len(lines) > 3 and height == s.cell_small.leading * len(lines)
    for line, width in lines:
        # no line is wider than the cell, and the width it reports is the width drawn
        assert width <= 120
        assert width == pytest.approx(sum(stringWidth(t, st.fontName, st.fontSize) for t, st in line))
    # Nothing is lost or restyled: the words come back in order, each in its own style.
    pieces = [(t, st) for line, _ in lines for t, st in line]
    assert "".join(t for t, _ in pieces).replace(" ", "") == "".join(t for t, _ in runs).replace(" ", "")
    assert "".join(t for t, st in pieces if st is s.cell_small_b).replace(" ", "") == name.replace(" ", "")
    # wrapped wide and then narrow again, it breaks again
    assert cell.wrap(10_000, 1000)[1] == s.cell_small.leading
    assert cell.wrap(120, 1000)[1] == height
    # a short text stays on one line, unchanged
    short = Line("Hợp lệ", s.cell)
    assert short.wrap(120, 1000)[1] == s.cell.leading and short._lines[0][0] == [("Hợp lệ", s.cell)]


def test_missing_glyphs_are_replaced_and_reported(sample_xml: bytes, tmp_path: Path) -> None:
    xml = sample_xml.replace(STUDENT.encode(), (STUDENT + " 😀").encode())
    path = tmp_path / "emoji.pdf"
    path.write_bytes(render_transcript(xml))
    flat = _flat(_text(path))
    assert STUDENT + " \ufffd" in flat
    assert "U+1F600" in flat
    for font in pdftools.pdffonts(path):
        assert font.embedded


def test_missing_optional_fields_render(sample_xml: bytes, tmp_path: Path) -> None:
    def change(root: etree._Element) -> None:
        for tag in ("HoTenCha", "HoTenMe", "DanhHieu"):
            node = root.find(f".//{tag}")
            node.getparent().remove(node)
        root.find(".//QuaTrinhHocTap").clear()
        root.find(".//NangLucPhamChat").clear()
        root.find(".//TTChung/NgayHieuLuc").text = ""

    xml = _mutate(sample_xml, change)
    path = tmp_path / "sparse.pdf"
    path.write_bytes(render_transcript(xml, flavour="1b"))
    flat = _flat(_text(path))
    assert STUDENT in flat and "Không có dữ liệu quá trình học tập" in flat
    with pikepdf.open(path) as pdf:  # no effective date: a fixed date, never the clock
        assert str(pdf.docinfo.CreationDate).startswith("D:2000")


def test_replacement_transcript_says_what_it_replaces(sample_xml: bytes,
                                                      tmp_path: Path) -> None:
    def change(root: etree._Element) -> None:
        ttchung = root.find(".//TTChung")
        replaced = etree.SubElement(ttchung, "ThayTheCho")
        etree.SubElement(replaced, "MaTraCuu").text = "0" * 32
        etree.SubElement(replaced, "LyDo").text = "Sai điểm môn Toán"

    xml = _mutate(sample_xml, change)
    path = tmp_path / "replacement.pdf"
    path.write_bytes(render_transcript(xml))
    flat = _flat(_text(path))
    assert "Học bạ thay thế" in flat and "0" * 32 in flat and "Sai điểm môn Toán" in flat


def test_no_matching_profile_still_renders_with_a_note(sample_xml: bytes,
                                                       tmp_path: Path) -> None:
    xml = sample_xml.replace(b"<CapHoc>THCS</CapHoc>", b"<CapHoc>GDTX</CapHoc>")  # a level no profile reads
    path = tmp_path / "noprofile.pdf"
    path.write_bytes(render_transcript(
        xml, verification={"verdict": "REJECTED",
                           "reasons": [{"code": "NO_PROFILE", "message": "no profile"}]}))
    flat = _flat(_text(path))
    assert "BỊ TỪ CHỐI" in flat and "Không hồ sơ định dạng nào khớp" in flat


@pytest.mark.parametrize("data,code", [
    (b"", "EMPTY"),
    (b"this is not xml", "NOT_WELL_FORMED"),
    (b'<?xml version="1.0"?><!DOCTYPE HocBa [<!ENTITY x "y">]><HocBa>&x;</HocBa>',
     "DTD_FORBIDDEN"),
    (b"<Other/>", "NO_PROFILE"),
])
def test_unreadable_input_raises_render_error(data: bytes, code: str) -> None:
    with pytest.raises(RenderError) as info:
        render_transcript(data)
    assert info.value.code == code
    assert " / " in str(info.value)  # Vietnamese, then English


def test_profile_can_be_named(sample_xml: bytes) -> None:
    assert render_transcript(sample_xml, profile="hocba-1-thcs", flavour="1b") == \
        render_transcript(sample_xml, flavour="1b")
    with pytest.raises(RenderError) as info:
        render_transcript(sample_xml, profile="no-such-profile")
    assert info.value.code == "UNKNOWN_PROFILE"


def test_bad_flavour_is_a_programming_error(sample_xml: bytes) -> None:
    with pytest.raises(ValueError):
        render_transcript(sample_xml, flavour="2u")


def test_qr_code_holds_the_lookup_code(rendered: dict[str, Path], tmp_path: Path) -> None:
    pages = _text(rendered["3b"]).split("\f")
    page = next(i for i, text in enumerate(pages, start=1) if "THÔNG TIN XÁC THỰC" in text)
    pngs = pdftools.render_png(rendered["3b"], tmp_path / "page", dpi=150, page=page)
    assert pdftools.zbar_qr(pngs[-1]) == [LOOKUP]


# -- determinism --------------------------------------------------------------------------

def test_same_input_same_bytes(sample_xml: bytes) -> None:
    verification = fake_verification(sample_xml)
    first = render_transcript(sample_xml, verification=copy.deepcopy(verification))
    second = render_transcript(sample_xml, verification=copy.deepcopy(verification))
    assert first == second
    assert render_transcript(sample_xml, flavour="1b") == render_transcript(sample_xml,
                                                                            flavour="1b")


def test_same_bytes_in_a_fresh_process(sample_xml: bytes, tmp_path: Path) -> None:
    """Another interpreter, another hash seed, another day: still the same bytes."""
    script = (
        "import sys; from pathlib import Path; from archiver.render import render_transcript;"
        "sys.stdout.buffer.write(render_transcript(Path(sys.argv[1]).read_bytes()))"
    )
    expected = render_transcript(sample_xml)
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": "America/Los_Angeles"}
        proc = subprocess.run([sys.executable, "-c", script, str(SAMPLE_XML)],
                              capture_output=True, env=env, check=True, timeout=120)
        assert proc.stdout == expected


# -- CLI ---------------------------------------------------------------------------------

def test_cli_renders_and_reports_bad_files(sample_xml: bytes, tmp_path: Path) -> None:
    good = tmp_path / "in" / "hoc-sinh.xml"
    good.parent.mkdir()
    good.write_bytes(sample_xml)
    bad = tmp_path / "in" / "hong.xml"
    bad.write_bytes(b"<HocBa><unclosed></HocBa>")
    out = tmp_path / "out"
    result = CliRunner().invoke(command, [str(good), str(bad), "--out", str(out),
                                          "--pdfa", "1b"])
    assert result.exit_code == 1
    assert (out / "hoc-sinh.pdf").is_file()
    assert not (out / "hong.pdf").exists()
    errors = [line for line in result.output.splitlines() if line.startswith("LỖI")]
    assert len(errors) == 1 and " / ERROR " in errors[0] and "hong.xml" in errors[0]
    assert "Traceback" not in result.output
    with pikepdf.open(out / "hoc-sinh.pdf") as pdf:
        assert "/AF" not in pdf.Root


def test_cli_default_is_3b_named_after_the_input(sample_xml: bytes, tmp_path: Path) -> None:
    src = tmp_path / "9A2-anh.xml"
    src.write_bytes(sample_xml)
    result = CliRunner().invoke(command, [str(src), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    with pikepdf.open(tmp_path / "o" / "9A2-anh.pdf") as pdf:
        assert str(pdf.Root.Names.EmbeddedFiles.Names[0]) == "9A2-anh.xml"


def test_cli_with_a_verification_time_gives_the_same_bytes_every_time(tmp_path: Path) -> None:
    """The verification page shows when the transcript was verified: with --at the same
    input, time and version give the same PDF, so a rendering can be made again and compared."""
    valid = sorted((SAMPLE_SCHOOL / "input").glob("*/*.xml"))[0]
    args = [str(valid), "--trust", str(SAMPLE_SCHOOL / "trust"), "--at", "2026-12-01 09:00"]
    for out in ("a", "b"):
        assert CliRunner().invoke(command, [*args, "--out", str(tmp_path / out)]).exit_code == 0
    first, second = (tmp_path / out / f"{valid.stem}.pdf" for out in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
    assert "01/12/2026" in _flat(_text(first))


@pytest.mark.skipif(not (SAMPLE_SCHOOL / "trust").is_dir(), reason="signed sample school absent")
def test_cli_with_the_real_verifier_on_signed_samples(tmp_path: Path) -> None:
    valid = sorted((SAMPLE_SCHOOL / "input").glob("*/*.xml"))[0]
    tampered = SAMPLE_SCHOOL / "defects" / "tampered-content.xml"
    result = CliRunner().invoke(command, [str(valid), str(tampered), "--out", str(tmp_path),
                                          "--trust", str(SAMPLE_SCHOOL / "trust")])
    assert result.exit_code == 0, result.output
    assert "KẾT LUẬN XÁC THỰC: HỢP LỆ" in _flat(_text(tmp_path / f"{valid.stem}.pdf"))
    flat = _flat(_text(tmp_path / "tampered-content.pdf"))
    assert "KẾT LUẬN XÁC THỰC: KHÔNG HỢP LỆ" in flat
    assert "HASH_FAILURE" in flat
    result = pdftools.preflight(tmp_path / f"{valid.stem}.pdf")
    assert {code for code, _ in result.errors} <= {"1.4.7", "1.2.9", "7.11.2"}, result.output


def test_markup_becomes_styled_runs() -> None:
    from archiver.render.fonts import BOLD, REGULAR
    from archiver.render.pages import _styles
    from archiver.render.text import markup_runs

    s = _styles()
    runs = markup_runs("  Họ và tên: <b>Lê  Văn &amp; Tí</b>&nbsp;&nbsp;<font size='7' color='#a65f00'>(ghi chú)</font> ",
                       s.small)
    assert [t for t, _ in runs] == ["Họ và tên: ", "Lê Văn & Tí", "\u00a0\u00a0", "(ghi chú)"]
    assert runs[0][1] is s.small and runs[0][1].fontName == REGULAR
    assert runs[1][1].fontName == BOLD and runs[1][1].fontSize == s.small.fontSize
    assert runs[3][1].fontSize == 7 and runs[3][1].textColor.hexval().lower() == "0xa65f00"


@pytest.mark.parametrize("gap", [" ", "\u00a0"], ids=["spaces", "no-break-spaces"])
def test_a_justified_text_reaches_both_edges_and_the_next_text_is_not_spread(sample_xml: bytes, tmp_path: Path,
                                                                              gap: str) -> None:
    # a comment pasted from a word processor may hold no-break spaces; they widen too
    words = ("Em chăm ngoan, lễ phép, tích cực tham gia phong trào của lớp và của trường; " * 4).split()
    comment = "".join(w + (gap if i % 3 == 1 else " ") for i, w in enumerate(words)).strip()

    def change(root: etree._Element) -> None:
        root.find(".//KetQua/NhanXetChung").text = comment

    xml = _mutate(sample_xml, change)
    path = tmp_path / "justified.pdf"
    path.write_bytes(render_transcript(xml, verification=fake_verification(xml)))
    bbox = pdftools.pdftotext(path, "-f", "4", "-l", "4", "-bbox")
    lines: dict[float, list[tuple[float, str]]] = {}
    for y, x_max, word in re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="([\d.]+)"[^>]*>([^<]*)<', bbox):
        lines.setdefault(float(y), []).append((float(x_max), word))
    words = set(comment.replace("\u00a0", " ").split())
    box = [max(x for x, _ in ws) for _, ws in sorted(lines.items()) if all(w in words for _, w in ws)]
    # The comment's full lines end at the same right edge (within a point); its last line does not.
    assert len(box) >= 3
    assert max(box[:-1]) - min(box[:-1]) < 1.0 and box[-1] < min(box[:-1]) - 20
    with pikepdf.open(path) as pdf:
        contents = pdf.pages[3].obj.Contents
        content = b"".join(c.read_bytes() for c in (contents if isinstance(contents, pikepdf.Array) else [contents]))
    # word spacing is set for the justified lines only, and put back after each of them
    assert b" Tw " in content and content.count(b" Tw ") == 2 * content.count(b"0 Tw ET")


def test_a_long_table_splits_between_rows_and_repeats_its_header(tmp_path: Path) -> None:
    from reportlab.platypus import SimpleDocTemplate

    from archiver.render.fonts import REGULAR
    from archiver.render.grid import Grid, GridStyle
    from archiver.render.pages import _styles
    from archiver.render.text import Line

    s = _styles()
    rows = [[Line("TT", s.head), Line("Tiêu đề", s.head), "", Line("Ghi chú", s.head)],
            ["", Line("Trái", s.head), Line("Phải", s.head), ""]]
    rows += [[Line(str(i), s.cell_c), Line(f"dòng {i}", s.cell), Line("x", s.cell_c),
              Line(("rất dài " * 12) if i % 7 == 0 else "", s.cell)] for i in range(1, 121)]
    grid = Grid(rows, [40, 120, 120, 150], GridStyle(header_rows=2, zebra=True),
                spans=[(0, 0, 0, 1), (1, 0, 2, 0), (3, 0, 3, 1)])
    path = tmp_path / "grid.pdf"
    SimpleDocTemplate(str(path), initialFontName=REGULAR).build([grid])
    pages = pdftools.pdftotext(path).split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 3
    seen: list[int] = []
    for page in pages:
        assert "Tiêu đề" in page and "Trái" in page and "Ghi chú" in page  # the header on every page
        seen += [int(n) for n in re.findall(r"dòng (\d+)", page)]
    assert seen == list(range(1, 121))  # every row once, in order, none cut between pages


def test_what_the_renderer_remembers_stays_bounded(sample_xml: bytes, monkeypatch) -> None:
    """Widths, encoded texts and positions are remembered across renderings (the labels
    recur), but a worker rendering a whole province must not grow with it."""
    from archiver.render import text as layout

    monkeypatch.setattr(layout, "_REMEMBERED", 40)
    monkeypatch.setattr(layout, "_STYLES_REMEMBERED", 3)
    for name in ("_WIDTHS", "_ENCODED", "_POSITIONS", "_DERIVED"):  # as in a fresh worker
        monkeypatch.setattr(layout, name, {})
    for _ in range(3):  # the verdict box makes its styles for each document
        render_transcript(sample_xml, verification=fake_verification(sample_xml))
    assert 0 < len(layout._DERIVED) <= 3
    assert 0 < len(layout._WIDTHS) <= 40
    assert 0 < len(layout._ENCODED) <= 40
    assert 0 < len(layout._POSITIONS) <= 40


def test_a_text_longer_than_a_page_goes_on_to_the_next(tmp_path: Path) -> None:
    """A replacement reason or a comment of thousands of words breaks between lines across
    pages instead of failing the rendering (and the build with it)."""
    from reportlab.platypus import SimpleDocTemplate

    from archiver.render.fonts import REGULAR
    from archiver.render.pages import _styles
    from archiver.render.text import Line

    words = [f"từ{i}" for i in range(2500)]
    path = tmp_path / "long.pdf"
    SimpleDocTemplate(str(path), initialFontName=REGULAR).build([Line(" ".join(words), _styles().body)])
    text = pdftools.pdftotext(path)
    assert text.count("\f") >= 3
    assert re.findall(r"từ\d+", text) == words  # every word once, in order
