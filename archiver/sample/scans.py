"""``archiver sample --scans``: paper transcripts to digitise, and the keys to sign them.

Writes, beside the sample school::

    DIR/scans/roster.csv               the roster, as Excel saves "CSV UTF-8"
    DIR/scans/images/<class>/<code>/   each student's scanned pages (JPEG, PNG, TIFF)
    DIR/keys/principal.p12             the principal's key and certificate (role HT)
    DIR/keys/school.p12                the school's organisation key and certificate (TC)

The pages are drawn with Pillow: a printed form (the school, the subjects, a grid) with
handwriting-like blue strokes for the marks and the comments, as a scanner would give
them: colour JPEG and greyscale PNG at 200 dpi, a two-page bilevel TIFF (CCITT G4) at 300 dpi.
One scan is the labelled defect of the set: 150 dpi, which the import refuses.
Everything is derived from the seed; the PKCS#12 files (whose encryption is salted) are
kept when they already hold the same key and certificate, so generating again into the
same folder gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

from . import names

PASSPHRASE = "hocba-thu-nghiem"
PAGE_MM = (210, 297)  # A4
DEFECT_DPI = 150


@dataclass(frozen=True)
class ScanPlan:
    code: str
    name: str
    female: bool
    birth: str  # dd/mm/yyyy
    citizen_id: str
    pages: tuple[tuple[str, int, str], ...]  # (file name, dpi, kind: jpeg|png|tiff)
    defect: str = ""


def write_scans(out: Path, plan, pkis, *, students: int = 3) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The scans, the roster and the two PKCS#12 keys; returns the defects (what the
    import must say of each)."""
    rng = random.Random(f"{plan.seed}/scans")
    end = plan.start_year  # the paper transcripts end the year before the sample's school year
    years = f"{end - 4}-{end - 3} đến {end - 1}-{end}"
    klass = f"{plan.profile.grades[-1]}A1" if plan.profile.grades else "9A1"
    scans: list[ScanPlan] = []
    for number in range(max(students, 2) + 1):
        female = rng.random() < 0.5
        birth_year = end - 1 - (plan.profile.grades[-1] if plan.profile.grades else 9) - 5
        citizen = names.citizen_id(rng, plan.province_code, female, birth_year)
        code = f"{plan.school_code[:2]}{rng.randrange(10 ** 8):08d}"
        defect = number == max(students, 2)
        # kept small (the sample is committed as a test fixture): one page each, but a
        # two-page TIFF; the benchmark makes its own 300-dpi colour pages
        if defect:
            pages = (("trang-1.jpg", DEFECT_DPI, "jpeg-gray"),)
        elif number % 3 == 1:
            pages = (("hoc-ba.tif", 300, "tiff"),)
        elif number % 3 == 2:
            pages = (("trang-1.png", 200, "png"),)
        else:
            pages = (("trang-1.jpg", 200, "jpeg"),)
        scans.append(ScanPlan(code, names.person_name(rng, female), female,
                              f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{birth_year}", citizen, pages,
                              "150 dpi" if defect else ""))
    folder = out / "scans"
    images = folder / "images" / klass
    defects: list[dict[str, str]] = []
    for scan in scans:
        target = images / scan.code
        target.mkdir(parents=True, exist_ok=True)
        for index, (file_name, dpi, kind) in enumerate(scan.pages):
            draw_rng = random.Random(f"{plan.seed}/scans/{scan.code}/{index}")
            if kind == "tiff":
                _write_if_changed(target / file_name, _tiff([_page(plan, scan, i, dpi, draw_rng, "1") for i in range(2)],
                                                           dpi))
            else:
                mode = "RGB" if kind == "jpeg" else "L"
                _write_if_changed(target / file_name, _encode(_page(plan, scan, index, dpi, draw_rng, mode),
                                                              kind.removesuffix("-gray"), dpi))
        if scan.defect:
            defects.append({"row": "", "student_code": scan.code, "scan": f"{klass}/{scan.code}",
                            "expect": f"refused: {scan.defect}"})
    rows = []
    for number, scan in enumerate(scans, start=1):
        rows.append([str(number), scan.code, scan.name, scan.birth, "Nữ" if scan.female else "Nam", scan.citizen_id,
                     plan.school_code, plan.school_name, plan.province, klass, years, f"{klass}/{scan.code}", ""])
        for d in defects:
            if d["student_code"] == scan.code:
                d["row"] = str(number + 1)  # the header is row 1
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")  # Excel's "CSV UTF-8" in Vietnam
    writer.writerow(["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Số định danh", "Mã trường",
                     "Tên trường", "Tỉnh/Thành phố", "Lớp", "Năm học", "Tệp quét", "Ghi chú"])
    writer.writerows(rows)
    _write_if_changed(folder / "roster.csv", b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    _keys(out / "keys", plan, pkis)
    return defects


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# -- drawing ------------------------------------------------------------------------------------
def _page(plan, scan: ScanPlan, index: int, dpi: int, rng: random.Random, mode: str):  # type: ignore[no-untyped-def]
    from PIL import Image, ImageDraw, ImageFont

    from ..render.fonts import FONT_DIR

    width, height = (round(mm / 25.4 * dpi) for mm in PAGE_MM)
    paper = (247, 243, 232) if mode == "RGB" else 245
    ink = (28, 45, 140) if mode == "RGB" else 40
    printed = (40, 40, 40) if mode == "RGB" else 30
    page = Image.new("RGB" if mode == "RGB" else "L", (width, height), paper)
    draw = ImageDraw.Draw(page)
    unit = dpi / 25.4  # pixels per millimetre

    def font(size_pt: float, bold: bool = False):  # type: ignore[no-untyped-def]
        name = "NotoSerif-Bold.ttf" if bold else "NotoSerif-Regular.ttf"
        return ImageFont.truetype(str(FONT_DIR / name), max(6, round(size_pt / 72 * dpi)))

    def text(x_mm: float, y_mm: float, value: str, size: float = 10, bold: bool = False) -> None:
        draw.text((x_mm * unit, y_mm * unit), value, fill=printed, font=font(size, bold))

    def scribble(x_mm: float, y_mm: float, length_mm: float) -> None:
        """Handwriting-like: loops and strokes along a wobbly base line, in ink."""
        x, end = x_mm * unit, (x_mm + length_mm) * unit
        base = y_mm * unit
        stroke = max(1, round(0.35 * unit))
        while x < end:
            word = rng.uniform(4, 14) * unit
            points = []
            t = 0.0
            while t < word:
                points.append((x + t, base + rng.uniform(-1.6, 1.6) * unit - abs(rng.gauss(0, 1.2)) * unit))
                t += rng.uniform(0.5, 1.3) * unit
            if len(points) > 1:
                draw.line(points, fill=ink, width=stroke, joint="curve")
            x += word + rng.uniform(1.5, 3.5) * unit

    text(20, 14, "HỌC BẠ", 20, bold=True)
    text(20, 24, f"{plan.school_name} — {plan.province}", 10)
    text(20, 31, "Họ và tên học sinh: ", 10)
    scribble(58, 35, 60)
    text(20, 38, f"Trang {index + 1}", 8)
    top, row_mm = 48, 9.5
    left, right = 18, PAGE_MM[0] - 18
    subjects = [s.name for s in plan.profile.subjects][:18]
    for i, subject in enumerate(subjects):
        y = top + i * row_mm
        draw.line([(left * unit, y * unit), (right * unit, y * unit)], fill=printed, width=max(1, round(0.2 * unit)))
        text(left + 2, y + 2, subject, 9)
        for column in range(3):
            scribble(100 + column * 30, y + 6.5, 9)
    bottom = top + len(subjects) * row_mm
    draw.line([(left * unit, bottom * unit), (right * unit, bottom * unit)], fill=printed,
              width=max(1, round(0.2 * unit)))
    for column_mm in (left, 95, 125, 155, right):
        draw.line([(column_mm * unit, top * unit), (column_mm * unit, bottom * unit)], fill=printed,
                  width=max(1, round(0.2 * unit)))
    text(20, bottom + 6, "Nhận xét của giáo viên chủ nhiệm:", 10)
    for line in range(4):
        scribble(22, bottom + 18 + line * 8, 160)
    text(130, bottom + 56, "Hiệu trưởng", 10, bold=True)
    scribble(128, bottom + 70, 35)
    if mode == "1":
        return page.point(lambda v: 0 if v < 160 else 255, mode="1")
    return page


def _encode(page, kind: str, dpi: int) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    if kind == "jpeg":
        page.save(out, "JPEG", quality=40, dpi=(dpi, dpi), optimize=False, progressive=False)
    else:
        page.save(out, "PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def _tiff(pages, dpi: int) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:], compression="group4", dpi=(dpi, dpi))
    return out.getvalue()


# -- keys --------------------------------------------------------------------------------------
def _keys(folder: Path, plan, pkis) -> None:  # type: ignore[no-untyped-def]
    """keys/principal.p12 and keys/school.p12 (passphrase in keys/README.txt), written
    again only when the key or the certificate in them changed."""
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    folder.mkdir(parents=True, exist_ok=True)
    from cryptography import x509

    pkis.person(plan.principal)  # issued (and remembered in pkis.certs) if not yet
    pkis.organisation()
    for file_name, key_name in (("principal.p12", plan.principal.key_name), ("school.p12", f"mns-{plan.school_code}")):
        key = pkis.keys.get(key_name)
        cert = x509.load_pem_x509_certificate(pkis.certs[key_name])
        target = folder / file_name
        if target.is_file():
            try:
                old_key, old_cert, _ = pkcs12.load_key_and_certificates(target.read_bytes(), PASSPHRASE.encode())
                if old_cert == cert and old_key is not None and old_key.private_numbers() == key.private_numbers():
                    continue
            except ValueError:
                pass
        data = pkcs12.serialize_key_and_certificates(key_name.encode(), key, cert, [pkis.issuing.cert],
                                                     BestAvailableEncryption(PASSPHRASE.encode()))
        target.write_bytes(data)


README = f"""
PKCS#12 (archiver sample --scans): principal.p12 (hiệu trưởng / principal, role HT) and
school.p12 (nhà trường / school organisation certificate, role TC).
Mật khẩu / passphrase: {PASSPHRASE}
  archiver scans import scans/roster.csv --images scans/images --out scans-signed \\
    --principal-key keys/principal.p12 --school-key keys/school.p12
"""
