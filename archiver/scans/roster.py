"""The roster of scanned paper transcripts: a CSV as Excel saves it, or an XLSX workbook.

One row per student and paper transcript. Headers are Vietnamese as a clerk writes them,
with or without diacritics ("Mã học sinh", "Ma hoc sinh", "MÃ HS"); a title above the
header row is skipped. CSV: UTF-8 with or without a byte-order mark, comma or semicolon
(Excel's "CSV UTF-8" uses the list separator of the PC's region: a semicolon in Vietnam).
A roster in the old Windows code page (Windows-1258) is refused with the row where it
shows, since guessing an encoding would put wrong names under signatures.

Row numbers are the ones Excel shows (the header's row, then the rows below it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from ..errors import UsageError


class RosterError(UsageError):
    """The roster as a whole cannot be read (nothing is imported)."""


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # as the template writes it
    header_en: str
    required: bool
    aliases: tuple[str, ...] = ()
    help: str = ""


COLUMNS = (
    Column("number", "STT", "No.", False, ("so thu tu", "tt"), "Số thứ tự (không bắt buộc, không dùng)"),
    Column("student_code", "Mã học sinh", "Student code", True, ("ma hs", "mahs", "ma so hoc sinh"),
           "Mã học sinh trên hệ thống (định dạng cột là Văn bản để giữ số 0 ở đầu)"),
    Column("name", "Họ và tên", "Full name", True, ("ho ten", "ho ten hoc sinh", "ho va ten hoc sinh"),
           "Họ và tên học sinh, có dấu"),
    Column("birth_date", "Ngày sinh", "Birth date", True, (), "dd/mm/yyyy"),
    Column("gender", "Giới tính", "Gender", True, ("gioi",), "Nam hoặc Nữ"),
    Column("citizen_id", "Số định danh", "Citizen ID", False,
           ("ma dinh danh", "so dinh danh ca nhan", "cccd", "so cccd", "can cuoc", "so can cuoc", "ma dinh danh ca nhan"),
           "12 chữ số (không bắt buộc)"),
    Column("school_code", "Mã trường", "School code", True, ("ma truong hoc",), "Mã trường (như trên học bạ số)"),
    Column("school_name", "Tên trường", "School name", True, ("truong", "ten truong hoc"), "Tên trường"),
    Column("province", "Tỉnh/Thành phố", "Province", False, ("tinh", "tinh tp", "tinh thanh", "tinh thanh pho"),
           "Tỉnh hoặc thành phố của trường (không bắt buộc)"),
    Column("class_name", "Lớp", "Class", True, ("ten lop",), "Lớp, ví dụ 9A1: gói lưu trữ của lớp này"),
    Column("school_years", "Năm học", "School year(s)", True,
           ("cac nam hoc", "nam hoc tren hoc ba", "nien khoa"),
           "Năm học học bạ giấy ghi, ví dụ 2024-2025, hoặc 2021-2022 đến 2024-2025; gói lưu trữ là của năm cuối"),
    Column("scan", "Tệp quét", "Scan", True,
           ("ban quet", "anh quet", "thu muc anh", "thu muc quet", "tep anh", "duong dan", "file quet", "file"),
           "Thư mục ảnh các trang, hoặc một tệp PDF/TIFF, tính từ thư mục --images"),
    Column("lookup_code", "Mã tra cứu", "Lookup code", False, ("ma tra cuu hoc ba",),
           "32 ký tự hex (không bắt buộc; để trống thì archiver tự tạo)"),
    Column("note", "Ghi chú", "Note", False, ("ghi chu them",), "Ghi chú (không bắt buộc)"),
)
REQUIRED = tuple(c for c in COLUMNS if c.required)
_CODES = ("student_code", "citizen_id", "school_code")  # codes, never numbers: leading zeros matter


def fold(text: str) -> str:
    """Lower case, no diacritics (đ as d), letters and digits only: how headers are matched."""
    text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D")).lower()
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "", text)


_HEADER_KEYS: dict[str, str] = {}
for _column in COLUMNS:
    for _name in (_column.header, _column.header_en, *_column.aliases):
        _HEADER_KEYS.setdefault(fold(_name), _column.key)


@dataclass(frozen=True)
class RowProblem:
    row: int  # 0: the roster as a whole
    message: str

    def __str__(self) -> str:
        return f"dòng {self.row} / row {self.row}: {self.message}" if self.row else self.message


@dataclass
class RosterRow:
    row: int  # Excel's row number
    values: dict[str, str]  # the row as written, by header as written
    student_code: str = ""
    name: str = ""
    birth_date: str = ""  # ISO
    gender: str = ""
    citizen_id: str = ""
    school_code: str = ""
    school_name: str = ""
    province: str = ""
    class_name: str = ""
    school_years: list[str] = field(default_factory=list)
    scan: str = ""  # relative to --images, with "/"
    lookup_code: str = ""
    note: str = ""


@dataclass
class Roster:
    file: str
    rows: list[RosterRow]
    problems: list[RowProblem]
    unused_headers: list[str]
    refused: list[RosterRow] = field(default_factory=list)  # rows with a problem, as far as they were read


# -- reading the cells ------------------------------------------------------------------------
def read_roster(path: Path) -> Roster:
    """Every row of the roster, checked; rows with a problem are listed in ``problems``
    (and left out of ``rows``). Raises :class:`RosterError` when the file cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"không đọc được danh sách {path} / cannot read the roster: {exc.strerror or exc}") from None
    if data.startswith(b"PK\x03\x04"):
        table = _xlsx_rows(path)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise RosterError(f"{path}: tệp Excel cũ (.xls) chưa đọc được; hãy lưu lại thành .xlsx hoặc \"CSV UTF-8\" / an "
                          "old .xls workbook: save it as .xlsx or as \"CSV UTF-8\"")
    else:
        table = _csv_rows(data, path)
    return _roster(path, table)


def _csv_rows(data: bytes, path: Path) -> list[tuple[int, list[str]]]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RosterError(f"{path}: tệp mã hoá UTF-16 (\"Unicode Text\"); hãy lưu lại bằng \"CSV UTF-8\" / a UTF-16 file: "
                          "save it as \"CSV UTF-8 (Comma delimited)\"")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raw = data.split(b"\n")[line - 1]
        guess = ""
        try:
            sample = raw.decode("cp1258")
            if any(ord(c) > 127 for c in sample):
                guess = (" Tệp có vẻ dùng bảng mã Windows-1258 (tiếng Việt cũ) / it looks like the Windows-1258 "
                         "code page.")
        except UnicodeDecodeError:
            pass
        raise RosterError(
            f"{path}: dòng {line} không phải UTF-8.{guess} Trong Excel chọn File > Save As > \"CSV UTF-8 (Comma "
            f"delimited)\" rồi chạy lại; không dòng nào được nhập / row {line} is not UTF-8: save the roster as "
            "\"CSV UTF-8\" and run again; nothing was imported") from None
    # the separator the header row uses most (a title line above it has none)
    lines = text.splitlines()[:15]
    delimiter = max((";", ",", "\t"), key=lambda d: max((line.count(d) for line in lines), default=0))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(index, row) for index, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise RosterError(f"{path}: dòng {reader.line_num}: {exc} / the CSV is malformed at row {reader.line_num}") from None


def _xlsx_rows(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a dependency
        raise RosterError("cần gói openpyxl để đọc .xlsx / openpyxl is needed to read .xlsx rosters") from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zipfile, XML and openpyxl's own errors alike
        raise RosterError(f"{path}: không mở được tệp Excel ({exc}) / the workbook cannot be opened") from None
    try:
        sheet = workbook.worksheets[0]
        return [(index, list(row)) for index, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value))


def _roster(path: Path, table: list[tuple[int, list[Any]]]) -> Roster:
    header_at = next((i for i, (_, cells) in enumerate(table[:15])
                      if sum(fold(_cell(c)) in _HEADER_KEYS for c in cells) >= 3), None)
    if header_at is None:
        names = ", ".join(c.header for c in REQUIRED)
        raise RosterError(f"{path}: không tìm thấy dòng tiêu đề (cần các cột {names}); xem `archiver scans template` / "
                          "no header row with the expected columns: see `archiver scans template`")
    header_row, header_cells = table[header_at]
    headers = [_cell(c).strip() for c in header_cells]
    for name in headers:
        if "\ufeff" in name:
            raise RosterError(f"{path}: dòng {header_row} (tiêu đề) có ký tự BOM lạc (U+FEFF) ở cột {name.strip(chr(0xfeff))!r}"
                              f"; hãy lưu lại bằng \"CSV UTF-8\" / row {header_row} (the header) holds a stray "
                              "byte-order mark")
    keys: dict[int, str] = {}
    unused: list[str] = []
    for index, name in enumerate(headers):
        key = _HEADER_KEYS.get(fold(name))
        if key is None:
            if name:
                unused.append(name)
        elif key in keys.values():
            raise RosterError(f"{path}: dòng {header_row}: cột {name!r} lặp lại / the column appears twice")
        else:
            keys[index] = key
    missing = [c.header for c in REQUIRED if c.key not in keys.values()]
    if missing:
        raise RosterError(f"{path}: thiếu cột {', '.join(missing)} (dòng tiêu đề {header_row}); xem `archiver scans "
                          f"template` / missing columns: {', '.join(missing)}")
    rows: list[RosterRow] = []
    problems: list[RowProblem] = []
    refused: list[RosterRow] = []
    for number, cells in table[header_at + 1:]:
        texts = [_cell(c) for c in cells]
        if not any(t.strip() for t in texts):
            continue  # an empty row
        values = {headers[i] or f"#{i + 1}": texts[i] for i in range(min(len(headers), len(texts)))}
        row = RosterRow(row=number, values=values)
        found = {key: texts[i].strip() if i < len(texts) else "" for i, key in keys.items()}
        stray = [headers[i] for i, t in enumerate(texts) if "\ufeff" in t and i < len(headers)]
        if stray:
            problems.append(RowProblem(number, f"có ký tự BOM lạc (U+FEFF, vô hình) ở cột {', '.join(stray)}: xoá nó "
                                               f"rồi chạy lại / a stray byte-order mark (U+FEFF) in {', '.join(stray)}"))
            _fill(row, {k: v.replace("\ufeff", "") for k, v in found.items()})
            refused.append(row)
            continue
        numeric = [headers[i] for i, key in keys.items() if key in _CODES and i < len(cells)
                   and isinstance(cells[i], (int, float)) and not isinstance(cells[i], bool)]
        why = _fill(row, found) or (
            f"{', '.join(numeric)} là ô kiểu số, Excel đã có thể bỏ số 0 ở đầu; định dạng cột là Văn bản (Text) rồi nhập "
            "lại mã / a number cell: Excel may have dropped leading zeros; format the column as Text" if numeric else "")
        if why:
            problems.append(RowProblem(number, why))
            refused.append(row)
        else:
            rows.append(row)
    refused += _duplicates(rows, problems)
    return Roster(file=path.name, rows=rows, problems=sorted(problems, key=lambda p: p.row), unused_headers=unused,
                  refused=refused)


def _duplicates(rows: list[RosterRow], problems: list[RowProblem]) -> list[RosterRow]:
    """A student code on two rows: which scan is the right one is the clerk's call, so
    neither row is imported."""
    seen: dict[str, list[RosterRow]] = {}
    removed: list[RosterRow] = []
    for row in rows:
        seen.setdefault(row.student_code, []).append(row)
    for code, same in seen.items():
        if len(same) < 2:
            continue
        numbers = ", ".join(str(r.row) for r in same)
        for row in same:
            problems.append(RowProblem(row.row, f"mã học sinh {code} trùng ở các dòng {numbers}; không dòng nào được "
                                                f"nhập / duplicate student code (rows {numbers}): none imported"))
            rows.remove(row)
            removed.append(row)
    return removed


_YEAR = re.compile(r"(\d{4})\s*[-–/]\s*(\d{4})")
_RANGE_WORDS = re.compile(r"đến|den|to|->|→|–|—|\.\.", re.IGNORECASE)


def parse_school_years(text: str) -> list[str]:
    """``2024-2025``, ``2021-2022, 2022-2023``, ``2021-2022 đến 2024-2025`` or ``2021-2025``
    -> the school years, in order. ValueError when none, or one that is not a school year."""
    matches = list(_YEAR.finditer(text))
    if not matches:
        raise ValueError(f"không có năm học dạng 2024-2025 trong {text!r} / no school year like 2024-2025")
    years: set[int] = set()
    for m in matches:
        a, b = int(m[1]), int(m[2])
        if not 1950 <= a < b <= 2100 or b - a > 12:
            raise ValueError(f"năm học {a}-{b} không hợp lệ / not a school year")
        years.update(range(a, b))  # 2021-2025 means four school years
    if len(matches) == 2 and _RANGE_WORDS.search(text[matches[0].end():matches[1].start()]):
        years.update(range(int(matches[0][1]), int(matches[1][1]) + 1))
    if max(years) - min(years) >= 12:
        raise ValueError("học bạ giấy trải quá 12 năm học / the paper covers more than 12 school years")
    return [f"{y}-{y + 1}" for y in sorted(years)]


_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d")


def parse_date(text: str) -> str:
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00", value):
        value = value[:10]
    for pattern in _DATE_FORMATS:
        try:
            day = dt.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
        if not 1900 <= day.year <= 2100:
            break
        return day.isoformat()
    raise ValueError(f"ngày sinh {text!r} không đọc được (dd/mm/yyyy) / the birth date is not a date like 31/12/2010")


_GENDERS = {"nam": "Nam", "nu": "Nữ", "male": "Nam", "female": "Nữ", "m": "Nam", "f": "Nữ"}


def safe_relative(text: str) -> str:
    """A path inside --images, with "/": no drive, no root, no "..". ValueError otherwise."""
    parts = [p for p in text.strip().replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts or re.match(r"^[A-Za-z]:$", parts[0]) or text.strip().startswith(("/", "\\")):
        raise ValueError(f"đường dẫn {text!r} phải nằm trong thư mục --images / the scan must be a path inside "
                         "--images")
    return str(PurePosixPath(*parts))


def _fill(row: RosterRow, found: dict[str, str]) -> str:
    """Fill the row from its cells; the reasons it cannot be imported, or ''."""
    reasons: list[str] = []
    labels = {c.key: c.header for c in COLUMNS}
    for column in REQUIRED:
        if not found.get(column.key):
            reasons.append(f"thiếu {column.header} / {column.header_en} missing")
    if reasons:
        return "; ".join(reasons)
    code = found["student_code"]
    if re.fullmatch(r"\d+(?:[.,]\d+)?[eE]\+?\d+", code):
        reasons.append(f"{labels['student_code']} {code!r} đã bị Excel đổi thành số; định dạng cột là Văn bản (Text) rồi "
                       "nhập lại / Excel turned the student code into a number: format the column as Text")
    elif not re.fullmatch(r"[0-9A-Za-z._-]{1,40}", code):
        reasons.append(f"{labels['student_code']} {code!r} chỉ gồm chữ, số, '-', '_' / the student code holds other "
                       "characters")
    row.student_code = code
    row.name = " ".join(found["name"].split())
    try:
        row.birth_date = parse_date(found["birth_date"])
    except ValueError as exc:
        reasons.append(str(exc))
    gender = _GENDERS.get(fold(found["gender"]))
    if gender is None:
        reasons.append(f"giới tính {found['gender']!r}: ghi Nam hoặc Nữ / gender must be Nam or Nữ")
    row.gender = gender or ""
    citizen = re.sub(r"[\s.]", "", found.get("citizen_id", ""))
    if citizen and not re.fullmatch(r"\d{12}", citizen):
        reasons.append(f"số định danh {found['citizen_id']!r} phải gồm 12 chữ số / the citizen ID must be 12 digits")
    row.citizen_id = citizen
    row.school_code = found["school_code"]
    row.school_name = " ".join(found["school_name"].split())
    row.province = " ".join(found.get("province", "").split())
    row.class_name = " ".join(found["class_name"].split())
    try:
        row.school_years = parse_school_years(found["school_years"])
    except ValueError as exc:
        reasons.append(str(exc))
    try:
        row.scan = safe_relative(found["scan"])
    except ValueError as exc:
        reasons.append(str(exc))
    lookup = found.get("lookup_code", "").lower()
    if lookup and not re.fullmatch(r"[0-9a-f]{32}", lookup):
        reasons.append(f"mã tra cứu {found['lookup_code']!r} phải gồm 32 ký tự hex / the lookup code must be 32 hex "
                       "characters")
    row.lookup_code = lookup
    row.note = found.get("note", "")
    return "; ".join(reasons)


# -- the template -------------------------------------------------------------------------------
def write_template(path: Path) -> None:
    """A roster with the headers (and, in a workbook, a sheet of instructions): ``.xlsx``
    writes a workbook, anything else a CSV in UTF-8 with a byte-order mark, which Excel
    opens with the Vietnamese letters intact."""
    from ..fsutil import atomic_write

    headers = [c.header for c in COLUMNS]
    if path.suffix.lower() == ".xlsx":
        import openpyxl
        from openpyxl.styles import Font

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.title = "Danh sách"
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, column in enumerate(COLUMNS, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = max(12, len(column.header) + 4)
            if column.key in ("student_code", "citizen_id", "lookup_code", "school_code"):
                for row in range(2, 1001):
                    sheet.cell(row=row, column=index).number_format = "@"  # text: keeps leading zeros
        guide = workbook.create_sheet("Hướng dẫn")
        guide.append(["Cột / column", "Bắt buộc / required", "Ghi chú / notes"])
        for column in COLUMNS:
            guide.append([f"{column.header} / {column.header_en}", "có" if column.required else "không", column.help])
        buffer = io.BytesIO()
        workbook.save(buffer)
        atomic_write(path, buffer.getvalue())
        return
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerow(headers)
    atomic_write(path, b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))


def template_help() -> Iterable[str]:
    for column in COLUMNS:
        yield f"{column.header} ({column.header_en}){'' if column.required else ' — không bắt buộc / optional'}: " \
              f"{column.help}"
