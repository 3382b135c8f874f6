"""Bad input to `archiver scans import`: each a clear message with the row number, and
nothing that was readable lost (issue 17)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archiver.scans.roster import RosterError, parse_school_years, read_roster

from .scans_helpers import KEYS, PASSPHRASE, SCANS, run_archiver, verify

HEADER = "Mã học sinh;Họ và tên;Ngày sinh;Giới tính;Số định danh;Mã trường;Tên trường;Lớp;Năm học;Tệp quét"


def _row(code: str, name: str, scan: str) -> str:
    return f"{code};{name};03/04/2010;Nam;;0109944;Trường THCS Trưng Vương;9A1;2024-2025;{scan}"


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """Two good scans of the sample, copied so that the test can add bad ones."""
    folder = tmp_path / "images"
    roster = read_roster(SCANS / "roster.csv")
    for row in roster.rows[:2]:
        shutil.copytree(SCANS / "images" / row.scan, folder / row.scan)
    return folder


def _good(images: Path) -> list[str]:
    return sorted(p.relative_to(images).as_posix() for p in images.glob("9A1/*"))


def _import(roster: Path, images: Path, out: Path):
    return run_archiver("scans", "import", roster, "--images", images, "--out", out, "--principal-key",
                        KEYS / "principal.p12", "--school-key", KEYS / "school.p12", "--passphrase-env", "P",
                        env={"P": PASSPHRASE})


def _write(path: Path, lines: list[str], encoding: str = "utf-8-sig") -> Path:
    text = "\r\n".join(lines) + "\r\n"
    path.write_bytes(_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


def _cp1258(text: str) -> bytes:
    """What Windows' "ANSI" save gives in Vietnam: letters with a circumflex, breve or horn
    precomposed, tone marks as combining characters (code page 1258)."""
    import unicodedata

    out = []
    for ch in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", ch)
        for split in range(len(parts), 0, -1):
            try:
                out.append(unicodedata.normalize("NFC", parts[:split]).encode("cp1258") + parts[split:].encode("cp1258"))
                break
            except UnicodeEncodeError:
                continue
    return b"".join(out)


def test_bad_rows_are_named_by_row_number_and_the_good_rows_are_imported(tmp_path: Path, images: Path):
    good = _good(images)
    (images / "9A1" / "hong").mkdir()
    (images / "9A1" / "hong" / "trang-1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (images / "9A1" / "thap").mkdir()
    defect = json.loads((SCANS.parent / "sample.json").read_text(encoding="utf-8"))["scans"]["defects"][0]
    shutil.copy(SCANS / "images" / defect["scan"] / "trang-1.jpg", images / "9A1" / "thap" / "trang-1.jpg")
    (images / "9A1" / "khong-co-dong").mkdir()
    shutil.copy(next((images / good[0]).iterdir()), images / "9A1" / "khong-co-dong" / "p1.jpg")
    before = {p: p.read_bytes() for p in images.rglob("*") if p.is_file()}
    roster = _write(tmp_path / "roster.csv", [
        HEADER,
        _row("1001", "Nguyễn Văn An", good[0]),           # row 2: imported
        _row("1002", "Trần Thị Bình", "9A1/khong-thay"),  # row 3: no such scan
        _row("1003", "Lê Văn Cường", good[1]),            # rows 4 and 5: the same student code
        _row("1003", "Lê Văn Cường", good[1]),
        _row("1004", "Phạm Thị Dung", "9A1/hong"),        # row 6: an unreadable image
        _row("1005", "Hoàng Văn Em", "9A1/thap"),         # row 7: 150 dpi
        "1006;\ufeffĐỗ Thị Gấm;03/04/2010;Nữ;;0109944;Trường;9A1;2024-2025;" + good[0],  # row 8: a stray BOM
    ])
    proc = _import(roster, images, tmp_path / "out")
    assert proc.returncode == 1
    said = proc.stderr
    assert "dòng 3 / row 3: không thấy 9A1/khong-thay" in said
    assert "dòng 4 / row 4: mã học sinh 1003 trùng ở các dòng 4, 5" in said and "dòng 5 / row 5" in said
    assert "dòng 6 / row 6: 9A1/hong/trang-1.jpg: không đọc được ảnh" in said
    assert "dòng 7 / row 7" in said and "150×150 dpi" in said
    assert "dòng 8 / row 8: có ký tự BOM lạc (U+FEFF" in said
    assert "9A1/khong-co-dong: ảnh quét không có dòng nào trong danh sách" in said
    made = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.pdf"))
    assert made == ["9A1/1001.pdf"]
    assert verify(tmp_path / "out" / "9A1" / "1001.pdf")["verdict"] == "VALID"
    # nothing that was readable is lost: every source is as it was
    assert {p: p.read_bytes() for p in images.rglob("*") if p.is_file()} == before


def test_a_roster_in_windows_1258_is_refused_with_the_row_where_it_shows(tmp_path: Path, images: Path):
    good = _good(images)
    roster = _write(tmp_path / "roster.csv", [
        "Ma hoc sinh;Ho va ten;Ngay sinh;Gioi tinh;Ma truong;Ten truong;Lop;Nam hoc;Tep quet",  # no diacritics
        "1001;Nguyen Van An;03/04/2010;Nam;0109944;Truong;9A1;2024-2025;" + good[0],
        "1002;Trần Thị Bình;03/04/2010;Nữ;0109944;Trường;9A1;2024-2025;" + good[1],
    ], encoding="cp1258")
    assert "Trần".encode("utf-8") not in roster.read_bytes()
    proc = _import(roster, images, tmp_path / "out")
    assert proc.returncode == 2
    assert "dòng 3 không phải UTF-8" in proc.stderr and "Windows-1258" in proc.stderr
    assert "CSV UTF-8" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_headers_without_diacritics_comma_separated_and_no_bom_are_read(tmp_path: Path, images: Path):
    good = _good(images)
    roster = tmp_path / "roster.csv"
    roster.write_text("DANH SÁCH HỌC BẠ GIẤY CẦN SỐ HÓA\n\n"
                      "STT,MA HS,Ho ten,Ngay sinh,Gioi tinh,CCCD,Ma truong,Ten truong,Lop,Nam hoc,Thu muc anh\n"
                      f"1,1001,Nguyễn Văn An,2010-04-03,nam,001210012345,0109944,Trường,9A1,2021-2025,{good[0]}\n",
                      encoding="utf-8")
    read = read_roster(roster)
    assert read.problems == [] and len(read.rows) == 1
    row = read.rows[0]
    assert (row.row, row.student_code, row.gender, row.birth_date, row.citizen_id) == \
           (4, "1001", "Nam", "2010-04-03", "001210012345")
    assert row.school_years == ["2021-2022", "2022-2023", "2023-2024", "2024-2025"]


def test_an_xlsx_roster_is_read_like_the_csv(tmp_path: Path, images: Path):
    import datetime as dt

    import openpyxl

    good = _good(images)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(";"))
    sheet.append(["1001", "Nguyễn Văn An", dt.datetime(2010, 4, 3), "Nam", None, "0109944", "Trường", "9A1",
                  "2024-2025", good[0]])
    sheet.append([1.05756e9, "Trần Thị Bình", "03/04/2010", "Nữ", None, "0109944", "Trường", "9A1", "2024-2025",
                  good[1]])
    book.save(tmp_path / "roster.xlsx")
    read = read_roster(tmp_path / "roster.xlsx")
    assert [r.student_code for r in read.rows] == ["1001"] and read.rows[0].birth_date == "2010-04-03"
    assert [p.row for p in read.problems] == [3]  # Excel turned the code into a number
    proc = _import(tmp_path / "roster.xlsx", images, tmp_path / "out")
    assert proc.returncode == 1 and "dòng 3 / row 3" in proc.stderr and "Văn bản (Text)" in proc.stderr
    assert (tmp_path / "out" / "9A1" / "1001.pdf").is_file()


def test_a_roster_without_the_needed_columns_says_which(tmp_path: Path):
    roster = _write(tmp_path / "roster.csv", ["Mã học sinh;Họ và tên;Ngày sinh;Lớp"])
    with pytest.raises(RosterError, match="thiếu cột Giới tính, Mã trường, Tên trường, Năm học, Tệp quét"):
        read_roster(roster)


def test_a_bom_doubled_at_the_start_is_named_in_the_header_row(tmp_path: Path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + (HEADER + "\r\n").encode())
    with pytest.raises(RosterError, match="dòng 1 .*BOM"):
        read_roster(roster)


@pytest.mark.parametrize("text, years", [
    ("2024-2025", ["2024-2025"]), ("2022 - 2023, 2023-2024", ["2022-2023", "2023-2024"]),
    ("2020-2021 đến 2022-2023", ["2020-2021", "2021-2022", "2022-2023"]), ("2019-2023", ["2019-2020", "2020-2021",
                                                                                         "2021-2022", "2022-2023"])])
def test_school_years_as_clerks_write_them(text: str, years: list[str]):
    assert parse_school_years(text) == years


def test_the_output_folder_may_not_be_inside_the_images(tmp_path: Path, images: Path):
    roster = _write(tmp_path / "roster.csv", [HEADER])
    proc = _import(roster, images, images / "out")
    assert proc.returncode == 2 and "--out must not be inside --images" in proc.stderr
