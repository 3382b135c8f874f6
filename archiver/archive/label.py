"""Printable labels for archive media: an A4 sheet with a CD/DVD sleeve and a USB tag.

Drawn with reportlab and the bundled Vietnamese fonts. The label carries what an
archivist checks against the medium: school, year, class, counts by verdict, the package
id and the SHA-256 of the bag's tag manifest (as text and as a QR code): one hash that
fixes every file of the package.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from ..fsutil import atomic_write
from ..qr import draw_qr
from ..verify.report import VERDICT_LABELS
from .layout import label_name
from .records import PackageInfo

SLEEVE = 120 * mm  # a CD/DVD paper sleeve's front
TAG_W, TAG_H = 90 * mm, 32 * mm  # a tag tied to a USB stick
MARK = 5 * mm


def cut_marks(c: canvas.Canvas, x: float, y: float, w: float, h: float) -> None:
    """Marks at the four corners of a piece to cut out (A4 sheets, cut by hand)."""
    c.setLineWidth(0.3)
    for cx, cy, dx, dy in ((x, y, -1, -1), (x + w, y, 1, -1), (x, y + h, -1, 1), (x + w, y + h, 1, 1)):
        c.line(cx + dx * 1 * mm, cy, cx + dx * (1 * mm + MARK), cy)
        c.line(cx, cy + dy * 1 * mm, cx, cy + dy * (1 * mm + MARK))


def label_pdf(info: PackageInfo, tag_sha256: str) -> bytes:
    from ..render.fonts import ensure_fonts

    fonts = ensure_fonts()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"Nhãn lưu trữ {info.package_id}")
    c.setAuthor(info.school_name or "archiver")
    page_w, page_h = A4
    counts = info.counts
    count_text = " · ".join(f"{VERDICT_LABELS.get(k, k)}: {v}" for k, v in counts.items()) or "—"
    title = (f"Lớp {info.class_name}" if info.class_name else "Tệp bị từ chối (kiểm duyệt)")
    # the level, for an archive that holds several (a trường liên cấp)
    heading = f"HỌC BẠ SỐ {info.level.upper()} – LƯU TRỮ" if info.level else "HỌC BẠ SỐ – LƯU TRỮ"
    tag_title = f"{title} · {info.level}" if info.level else title

    # CD/DVD sleeve, top of the page.
    x, y = (page_w - SLEEVE) / 2, page_h - 25 * mm - SLEEVE
    cut_marks(c, x, y, SLEEVE, SLEEVE)
    c.setLineWidth(0.2)
    c.setDash(1, 2)
    c.rect(x, y, SLEEVE, SLEEVE)
    c.setDash()
    pad = 8 * mm
    c.setFont(fonts.bold, 11)
    c.drawString(x + pad, y + SLEEVE - pad - 4 * mm, heading)
    c.setFont(fonts.regular, 10)
    c.drawString(x + pad, y + SLEEVE - pad - 10 * mm, (info.school_name or "")[:60])
    c.setFont(fonts.bold, 20)
    c.drawString(x + pad, y + SLEEVE - pad - 21 * mm, title)
    c.setFont(fonts.regular, 12)
    c.drawString(x + pad, y + SLEEVE - pad - 28 * mm, f"Năm học {info.school_year}")
    c.setFont(fonts.regular, 9)
    c.drawString(x + pad, y + SLEEVE - pad - 36 * mm, count_text[:80])
    c.drawString(x + pad, y + SLEEVE - pad - 42 * mm, f"Mã gói: {info.package_id}")
    created = info.created[:10]  # ISO date -> dd/mm/yyyy, as a Vietnamese reader writes it
    created = "/".join(reversed(created.split("-"))) if len(created) == 10 else created
    c.drawString(x + pad, y + SLEEVE - pad - 48 * mm, f"Ngày lập: {created}")
    c.setFont(fonts.regular, 7)
    c.drawString(x + pad, y + 22 * mm, "SHA-256 của tagmanifest-sha256.txt:")
    c.drawString(x + pad, y + 18 * mm, tag_sha256[:32])
    c.drawString(x + pad, y + 14 * mm, tag_sha256[32:])
    c.drawString(x + pad, y + 8 * mm, "Kiểm tra: sha256sum tagmanifest-sha256.txt, rồi sha256sum -c manifest-sha256.txt")
    draw_qr(c, tag_sha256, x + SLEEVE - pad - 34 * mm, y + pad + 14 * mm, 34 * mm)

    # USB tag, below.
    tx, ty = (page_w - TAG_W) / 2, y - 25 * mm - TAG_H
    cut_marks(c, tx, ty, TAG_W, TAG_H)
    c.setDash(1, 2)
    c.rect(tx, ty, TAG_W, TAG_H)
    c.setDash()
    c.setFont(fonts.bold, 10)
    c.drawString(tx + 4 * mm, ty + TAG_H - 7 * mm, f"{tag_title} · {info.school_year}")
    c.setFont(fonts.regular, 7)
    c.drawString(tx + 4 * mm, ty + TAG_H - 12 * mm, (info.school_name or "")[:48])
    c.drawString(tx + 4 * mm, ty + TAG_H - 17 * mm, info.package_id)
    c.drawString(tx + 4 * mm, ty + TAG_H - 22 * mm, count_text[:56])
    c.drawString(tx + 4 * mm, ty + 3 * mm, f"SHA-256: {tag_sha256[:16]}…")
    draw_qr(c, tag_sha256, tx + TAG_W - 4 * mm - 24 * mm, ty + 4 * mm, 24 * mm)

    c.setFont(fonts.regular, 8)
    c.drawString(20 * mm, 15 * mm, "Cắt theo dấu cắt. Nhãn trên: bìa đĩa CD/DVD; nhãn dưới: thẻ gắn USB. "
                                   "/ Cut along the marks: CD/DVD sleeve above, USB tag below.")
    c.showPage()
    c.save()
    return buf.getvalue()


def write_label(archive: Path, package: Path, info: PackageInfo) -> Path:
    tag = hashlib.sha256((package / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    target = archive / label_name(package.name)
    atomic_write(target, label_pdf(info, tag))
    return target
