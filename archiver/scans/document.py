"""The PDF/A-2b of one scanned paper transcript, before it is signed.

First the information page(s) "Thông tin số hóa": the roster's facts, the number of pages,
each page's pixel size and resolution, each source file's SHA-256, who signs. Then the
scanned pages, each at its native resolution (the page is exactly the image's size at
its dpi, so a PDF reader's "pixels per inch" is the scan's). The digitisation record goes
into the XMP (:mod:`.record`). PDF/A-2b as ISO 19005-2 asks: fonts embedded (the bundled
Noto Serif), an sRGB output intent, XMP identifying the part and matching the document
information dictionary, no LZW, no transparency, no JavaScript, no attachments.
"""

from __future__ import annotations

import io
import pikepdf
from pikepdf import Array, Dictionary, Name, String

from .. import __version__
from ..vn import thousands
from .pages import Page, PageError, Scan, _scanned_image, page_images
from .record import ScanRecord, xmp_packet

def producer() -> str:
    """The producer named in the Info dictionary and the XMP (equal, as PDF/A requires;
    signing leaves both as they are: archiver.scans.signing)."""
    return f"archiver {__version__}"


ROLE_LABELS = {"HT": ("Hiệu trưởng", "Principal"), "TC": ("Nhà trường (chứng thư số tổ chức)", "School (organisation)")}


def assemble(record: ScanRecord, scan: Scan) -> bytes:
    """The unsigned PDF/A-2b; ``record.pages`` is filled with where each page landed."""
    images = _image_pages(scan)
    info_pages = 1
    for _ in range(3):  # the information page lists page numbers, which depend on its own length
        record.pages = [page.info(info_pages + i + 1) for i, page in enumerate(scan.pages)]
        info = _information_page(record)
        with pikepdf.open(io.BytesIO(info)) as probe:
            counted = len(probe.pages)
        if counted == info_pages:
            break
        info_pages = counted
    return _pdfa(record, info, images)


# -- the scanned pages ---------------------------------------------------------------------------
def _image_pages(scan: Scan) -> pikepdf.Pdf:
    """Every scanned page, in order, in one PDF."""
    import img2pdf

    out = pikepdf.new()
    data_of = {source.file: data for source, data in scan.files}
    done: set[str] = set()
    for page in scan.pages:
        if page.source in done:
            continue
        done.add(page.source)
        data = data_of[page.source]
        if page.kind == "pdf":
            _copy_scanner_pages(out, data, [p for p in scan.pages if p.source == page.source])
            continue
        try:
            # img2pdf embeds a JPEG as it is (DCTDecode, the file's own bytes), keeps PNG
            # data or re-compresses it without loss (Flate), CCITT G4 TIFF as it is.
            made = img2pdf.convert(data, rotation=img2pdf.Rotation.ifvalid)
        except Exception as exc:  # noqa: BLE001 - img2pdf raises its own and Pillow's errors
            raise PageError(f"{page.source}: không đưa được ảnh vào PDF ({type(exc).__name__}: {exc}) / the image "
                            "cannot be embedded") from None
        with pikepdf.open(io.BytesIO(made)) as single:
            frames = [p for p in scan.pages if p.source == page.source]
            if len(single.pages) != len(frames):
                raise PageError(f"{page.source}: {len(single.pages)} trang sau khi chuyển, cần {len(frames)} / page "
                                "count changed")
            for made_page, frame in zip(single.pages, frames):
                _check_resolution(made_page, frame)
            out.pages.extend(single.pages)
    return out


def _check_resolution(page, frame: Page) -> None:  # type: ignore[no-untyped-def]
    """The page is the image's size at its dpi (what img2pdf was asked for)."""
    box = [float(v) for v in page.MediaBox]
    width, height = box[2] - box[0], box[3] - box[1]
    # img2pdf turns a page by /Rotate (EXIF orientation): the MediaBox stays the image's own
    for pixels, points, dpi in ((frame.width, width, frame.dpi[0]), (frame.height, height, frame.dpi[1])):
        if abs(pixels * 72 / points - dpi) > 1:
            raise PageError(f"{frame.source}: trang {pixels * 72 / points:.0f} dpi, ảnh {dpi} dpi / the page would not "
                            "keep the image's resolution")


def _copy_scanner_pages(out: pikepdf.Pdf, data: bytes, frames: list[Page]) -> None:
    """A scanner PDF's pages: each page's one image, copied as it is (LZW, which PDF/A
    forbids, re-compressed with Flate, which loses nothing), on a page of the image's
    size at its resolution. Text a scanner's OCR laid over the image is not kept."""
    with pikepdf.open(io.BytesIO(data)) as source:
        for frame in frames:
            image, _placed = _scanned_image(source.pages[frame.index], f"{frame.source} (trang {frame.source_page})")
            copied = out.copy_foreign(image)
            filters = copied.get("/Filter")
            names = [str(f) for f in filters] if isinstance(filters, Array) else [str(filters)] if filters else []
            if "/LZWDecode" in names:
                raw = copied.read_bytes()
                copied.write(raw, filter=Name.FlateDecode)
                if "/DecodeParms" in copied:
                    del copied["/DecodeParms"]
            width = frame.width * 72 / frame.dpi[0]
            height = frame.height * 72 / frame.dpi[1]
            content = pikepdf.Stream(out, f"q {width:.4f} 0 0 {height:.4f} 0 0 cm /Im0 Do Q".encode())
            page = Dictionary(Type=Name.Page, MediaBox=Array([0, 0, round(width, 4), round(height, 4)]),
                              Resources=Dictionary(XObject=Dictionary(Im0=copied)), Contents=content)
            rotate = int(source.pages[frame.index].obj.get("/Rotate", 0)) % 360
            if rotate:
                page.Rotate = rotate
            out.pages.append(pikepdf.Page(page))


# -- the information page -------------------------------------------------------------------------
def _information_page(record: ScanRecord) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from xml.sax.saxutils import escape

    from ..qr import draw_qr
    from ..render.fonts import clean, ensure_fonts
    from ..vn import VN

    fonts = ensure_fonts()

    def text(value: object) -> str:
        return escape(clean(value))

    beside_qr = 36 * mm  # the QR code of the lookup code sits in the top right corner
    title = ParagraphStyle("title", fontName=fonts.bold, fontSize=15, leading=19, spaceAfter=1 * mm,
                           rightIndent=beside_qr)
    sub = ParagraphStyle("sub", fontName=fonts.regular, fontSize=9, leading=11, textColor=colors.HexColor("#444444"),
                         rightIndent=beside_qr)
    body = ParagraphStyle("body", fontName=fonts.regular, fontSize=9, leading=11.5)
    intro = ParagraphStyle("intro", parent=body, rightIndent=beside_qr)
    small = ParagraphStyle("small", fontName=fonts.regular, fontSize=7, leading=8.6)
    mono = ParagraphStyle("mono", fontName=fonts.regular, fontSize=6.4, leading=8)
    head = ParagraphStyle("head", fontName=fonts.bold, fontSize=10.5, leading=13, spaceBefore=3 * mm, spaceAfter=1 * mm)
    cell_bold = ParagraphStyle("cellbold", parent=small, fontName=fonts.bold)

    def date_vn(iso: str) -> str:
        parts = iso.split("-")
        return f"{parts[2]}/{parts[1]}/{parts[0]}" if len(parts) == 3 else iso

    import datetime as dt

    try:
        digitised = dt.datetime.fromisoformat(record.digitised).astimezone(VN).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        digitised = record.digitised
    facts = [
        ("Họ và tên / Full name", record.name),
        ("Ngày sinh / Birth date", date_vn(record.birth_date)),
        ("Giới tính / Gender", record.gender),
        ("Số định danh / Citizen ID", record.citizen_id or "—"),
        ("Mã học sinh / Student code", record.student_code),
        ("Trường / School", f"{record.school_name} ({record.school_code})"
                            + (f", {record.province}" if record.province else "")),
        ("Lớp / Class", record.class_name),
        ("Năm học trên học bạ / School years", ", ".join(record.school_years)),
        ("Mã tra cứu / Lookup code", record.lookup_code),
        ("Danh sách / Roster", f"{record.roster_file}, dòng / row {record.roster_row}"),
        ("Thời điểm số hóa / Digitised", f"{digitised} (giờ Việt Nam)"),
        ("Số trang quét / Scanned pages", str(len(record.pages))),
    ]
    if record.note:
        facts.append(("Ghi chú / Note", record.note))
    story = [
        Paragraph("THÔNG TIN SỐ HÓA HỌC BẠ", title),
        Paragraph("Digitisation record of a paper transcript", sub),
        Spacer(1, 2 * mm),
        Paragraph(text("Học bạ giấy của học sinh dưới đây được quét và lưu trữ trên môi trường số. Hiệu trưởng ký số "
                       "bằng chứng thư số cá nhân và nhà trường ký số bằng chứng thư số tổ chức, xác nhận bản điện tử "
                       "này thống nhất với học bạ giấy. Các trang sau trang này là ảnh quét, giữ nguyên độ phân giải "
                       "gốc. / The paper transcript below was scanned and kept in digital form; the principal's and "
                       "the school's digital signatures confirm that this copy matches the paper one. The pages after "
                       "this one are the scans at their original resolution."), intro),
        Spacer(1, 2 * mm),
    ]
    grid = TableStyle([("FONT", (0, 0), (-1, -1), fonts.regular, 8.5), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
                       ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                       ("TOPPADDING", (0, 0), (-1, -1), 1.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2)])
    story.append(Table([[Paragraph(text(k), cell_bold), Paragraph(text(v), body)] for k, v in facts],
                       colWidths=[52 * mm, 90 * mm], style=grid, hAlign="LEFT"))

    story.append(Paragraph("Trang quét / Scanned pages", head))
    rows = [[Paragraph(t, cell_bold) for t in ("Trang / page", "Tệp nguồn / source file", "Điểm ảnh / pixels",
                                               "dpi", "Màu / colour", "Mã hóa / encoding")]]
    for page in record.pages:
        where = page.source + (f" ({page.source_page})" if page.source_page > 1 or _multi(record, page.source) else "")
        rows.append([Paragraph(str(page.page), small), Paragraph(text(where), small),
                     Paragraph(f"{page.width} × {page.height}", small),
                     Paragraph(f"{page.dpi[0]}" if page.dpi[0] == page.dpi[1] else f"{page.dpi[0]} × {page.dpi[1]}",
                               small),
                     Paragraph(text(page.colour), small), Paragraph(text(page.encoding), small)])
    story.append(Table(rows, colWidths=[15 * mm, 75 * mm, 28 * mm, 16 * mm, 20 * mm, 22 * mm], style=grid,
                       repeatRows=1, hAlign="LEFT"))

    story.append(Paragraph("Tệp nguồn và mã SHA-256 / Source files and their SHA-256", head))
    rows = [[Paragraph(t, cell_bold) for t in ("Tệp nguồn / source file", "Byte", "SHA-256")]]
    for source in record.sources:
        rows.append([Paragraph(text(source.file), small), Paragraph(thousands(source.size), small),
                     Paragraph(source.sha256, mono)])
    story.append(Table(rows, colWidths=[62 * mm, 20 * mm, 94 * mm], style=grid, repeatRows=1, hAlign="LEFT"))

    story.append(Paragraph("Người ký số / Who signs", head))
    rows = [[Paragraph(t, cell_bold) for t in ("Vai trò / role", "Họ tên / name", "Định danh / identity",
                                               "Ô chữ ký / field")]]
    for signer in record.signers:
        vi, en = ROLE_LABELS.get(signer.role, (signer.role, signer.role))
        identity = f"CCCD:{signer.id}" if signer.id.isdigit() else signer.id
        rows.append([Paragraph(text(f"{vi} / {en}"), small), Paragraph(text(signer.name), small),
                     Paragraph(text(identity), small), Paragraph(text(signer.field), small)])
    story.append(Table(rows, colWidths=[55 * mm, 55 * mm, 40 * mm, 26 * mm], style=grid, repeatRows=1,
                       hAlign="LEFT"))
    story.append(Spacer(1, 3 * mm))
    story.append(Paragraph(text(f"Tạo bởi / made by archiver {__version__}. Kiểm tra chữ ký: archiver verify, "
                                "hoặc Adobe Reader, Foxit, công cụ ký số của cơ quan nhà nước / check the signatures "
                                "with archiver verify or any PAdES-capable reader."), small))

    def decorate(canv, doc) -> None:  # type: ignore[no-untyped-def]
        canv.saveState()
        if record.lookup_code and doc.page == 1:
            draw_qr(canv, record.lookup_code, A4[0] - 15 * mm - 30 * mm, A4[1] - 15 * mm - 30 * mm, 30 * mm)
        canv.setFont(fonts.regular, 7.5)
        canv.drawString(15 * mm, 9 * mm, clean(f"{record.name} — {record.student_code} — {record.school_name}"))
        canv.drawRightString(A4[0] - 15 * mm, 9 * mm, f"Thông tin số hóa, trang {doc.page}")
        canv.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=clean(f"Thông tin số hóa học bạ — {record.name}"),
                            initialFontName=fonts.regular, initialFontSize=9,
                            author=clean(record.school_name), invariant=1)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


def _multi(record: ScanRecord, source: str) -> bool:
    return sum(1 for p in record.pages if p.source == source) > 1


# -- PDF/A -------------------------------------------------------------------------------------------
def _signature_fields(pdf: pikepdf.Pdf, record: ScanRecord) -> None:
    """The empty signature fields the principal and the school sign in, made here so that
    they are part of what the first signature covers, invisible (a zero rectangle), printed
    and locked, each with an empty appearance: PDF/A wants an appearance for every widget
    (ISO 19005-1 6.5.3; pyHanko makes none for an invisible signature)."""
    page = pdf.pages[0].obj
    annots = page.get("/Annots")
    if annots is None:
        annots = page.Annots = Array()
    fields = Array()
    for signer in record.signers:
        appearance = pikepdf.Stream(pdf, b"")
        appearance.Type, appearance.Subtype, appearance.BBox = Name.XObject, Name.Form, Array([0, 0, 0, 0])
        widget = pdf.make_indirect(Dictionary(
            Type=Name.Annot, Subtype=Name.Widget, FT=Name.Sig, T=String(signer.field), Rect=Array([0, 0, 0, 0]),
            F=132, P=page, AP=Dictionary(N=pdf.make_indirect(appearance))))  # 132: Print and Locked
        fields.append(widget)
        annots.append(widget)
    if len(fields):
        pdf.Root.AcroForm = Dictionary(Fields=fields)



def _pdfa(record: ScanRecord, info_pdf: bytes, images: pikepdf.Pdf) -> bytes:
    from ..render.pdfa import _distinct_subset_tags, pdf_date, set_metadata_and_intent

    title = f"Học bạ giấy số hóa — {record.name} — {record.student_code}"
    author = record.school_name
    description = (f"Bản quét học bạ giấy, lớp {record.class_name}, năm học {', '.join(record.school_years)} / "
                   "scanned paper transcript")
    made_by = f"archiver {__version__}"
    with pikepdf.open(io.BytesIO(info_pdf)) as pdf:
        pdf.pages.extend(images.pages)
        date = pdf_date(record.digitised)
        pdf.trailer.Info = pdf.make_indirect(Dictionary(
            Title=String(title), Author=String(author), Subject=String(description), Creator=String(made_by),
            Producer=String(producer()), CreationDate=String(date), ModDate=String(date)))
        set_metadata_and_intent(pdf, xmp_packet(record, title=title, author=author, description=description,
                                                date=record.digitised, creator_tool=made_by, producer=producer()))
        pdf.Root.Lang = String("vi")
        _signature_fields(pdf, record)
        for page in pdf.pages:  # PDF/A: nothing an image asks to be smoothed (6.2.8.1: /Interpolate false)
            for image in page_images(page):
                if image.get("/Interpolate"):
                    image.Interpolate = False
        _distinct_subset_tags(pdf)
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.disable,
                 compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none, force_version="1.7",
                 fix_metadata_version=False, linearize=False)
    return out.getvalue()
