"""The printable label of a volume: an A4 sheet with cut marks, a disc face above and a
sleeve or jewel-case insert below (drawn as the packages' labels are, reportlab and the
bundled Vietnamese fonts).

Both carry what a clerk checks a disc against: the school (or the set's scope), the
school years, "đĩa 3/7", the classes on it, the set's date, and the SHA-256 of the image
(of its SHA256SUMS for a USB folder) as text and as a QR code. ``archiver media verify``
compares the disc with that value.
"""

from __future__ import annotations

import io
import textwrap

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from ..archive.label import cut_marks
from ..qr import draw_qr
from .medium import DISC_NAMES_VI, Medium

DISC = 118 * mm  # a CD/DVD/BD face
HOLE = 41 * mm  # the unprintable hub around the centre hole
INSERT = 120 * mm  # a jewel-case insert or paper sleeve front


def _centred(c: canvas.Canvas, font: str, size: float, x: float, y: float, text: str) -> None:
    c.setFont(font, size)
    c.drawCentredString(x, y, text)


def volume_label_pdf(volume, names, medium: Medium) -> bytes:
    """The label of ``volume`` (archiver.media.make.VolumeResult) of the set ``names``."""
    from ..render.fonts import ensure_fonts

    fonts = ensure_fonts()
    usb = not medium.is_image
    what = "USB" if usb else "Đĩa"
    disc_text = f"{what} {volume.number}/{volume.count}"
    years = ", ".join(volume.years)
    date = names.date.strftime("%d/%m/%Y")
    classes = ", ".join(volume.classes)
    digest_of = "SHA-256 của SHA256SUMS" if usb else "SHA-256 của ảnh đĩa"
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"Nhãn đĩa {volume.name}")
    c.setAuthor(names.school_title or "archiver")
    page_w, page_h = A4

    # Disc face, top of the page: a ring between the hub and the rim.
    cx, cy = page_w / 2, page_h - 18 * mm - DISC / 2
    cut_marks(c, cx - DISC / 2, cy - DISC / 2, DISC, DISC)
    c.setLineWidth(0.2)
    c.setDash(1, 2)
    c.circle(cx, cy, DISC / 2)
    c.circle(cx, cy, HOLE / 2)
    c.setDash()
    _centred(c, fonts.bold, 10, cx, cy + 45 * mm, "HỌC BẠ SỐ – LƯU TRỮ")
    _centred(c, fonts.regular, 8, cx, cy + 40 * mm, names.school_title[:48])
    _centred(c, fonts.bold, 16, cx, cy + 29 * mm, disc_text)
    _centred(c, fonts.regular, 9, cx, cy + 23 * mm, f"Năm học {years}"[:60])
    _centred(c, fonts.regular, 7, cx, cy - 24 * mm, f"Lớp: {classes}"[:80])
    _centred(c, fonts.regular, 7, cx, cy - 29 * mm, f"{volume.name} · {date}")
    _centred(c, fonts.regular, 6, cx, cy - 34 * mm, f"{digest_of}: {volume.sha256[:32]}")
    _centred(c, fonts.regular, 6, cx, cy - 38 * mm, volume.sha256[32:])
    draw_qr(c, volume.sha256, cx + 24 * mm, cy - 9 * mm, 18 * mm)

    # Sleeve / jewel-case insert, below.
    x, y = (page_w - INSERT) / 2, 22 * mm
    cut_marks(c, x, y, INSERT, INSERT)
    c.setDash(1, 2)
    c.rect(x, y, INSERT, INSERT)
    c.setDash()
    pad = 8 * mm
    top = y + INSERT - pad
    c.setFont(fonts.bold, 11)
    c.drawString(x + pad, top - 4 * mm, "HỌC BẠ SỐ – LƯU TRỮ")
    c.setFont(fonts.regular, 9)
    c.drawString(x + pad, top - 10 * mm, names.school_title[:62])
    c.setFont(fonts.bold, 20)
    c.drawString(x + pad, top - 21 * mm, disc_text)
    c.setFont(fonts.regular, 11)
    c.drawString(x + pad, top - 28 * mm, f"Năm học {years}"[:60])
    c.setFont(fonts.regular, 8)
    line = top - 35 * mm
    for part in textwrap.wrap(f"Các lớp: {classes}", 80)[:6]:
        c.drawString(x + pad, line, part)
        line -= 4 * mm
    c.drawString(x + pad, line - 1 * mm, f"Nhãn / label: {volume.name}")
    c.drawString(x + pad, line - 5 * mm, f"Bộ đĩa / set: {names.set_id}")
    c.drawString(x + pad, line - 9 * mm, f"Ngày / date: {date} · {DISC_NAMES_VI.get(medium.name, medium.name)}")
    c.setFont(fonts.regular, 7)
    c.drawString(x + pad, y + 22 * mm, f"{digest_of}:")
    c.drawString(x + pad, y + 18 * mm, volume.sha256[:32])
    c.drawString(x + pad, y + 14 * mm, volume.sha256[32:])
    c.drawString(x + pad, y + 8 * mm, "Kiểm tra / check: archiver media verify <ổ đĩa>; python kiem_tra.py")
    draw_qr(c, volume.sha256, x + INSERT - pad - 30 * mm, y + pad + 16 * mm, 30 * mm)

    c.setFont(fonts.regular, 8)
    c.drawString(20 * mm, 12 * mm, "Cắt theo dấu cắt. Trên: mặt đĩa; dưới: bìa đĩa. "
                                   "/ Cut along the marks: disc face above, sleeve or insert below.")
    c.showPage()
    c.save()
    return buf.getvalue()
