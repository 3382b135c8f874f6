"""Page intake: the scan of one paper transcript, read and checked, pages made ready to embed.

A scan is a folder of page images (TIFF, multi-page too; PNG; JPEG) in name order, or one
file (a scanner's PDF, a multi-page TIFF, an image). Pages are embedded losslessly at
their native resolution: a JPEG is passed through byte for byte (never decoded and
encoded again), PNG and TIFF data are kept or re-compressed without loss (img2pdf), the
images of a scanner's PDF are copied as they are. A page under 200 dpi, or with no
resolution recorded, is refused, never upsampled (the national digitisation rule,
Circular 02/2019/TT-BNV, asks for at least 200 dpi); colour and greyscale stay as scanned.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .record import PageInfo, SourceFile

MIN_DPI = 200
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".pdf"}
SYSTEM_FILES = {"thumbs.db", "desktop.ini", ".ds_store"}
_ALLOWED_FILTERS = {"/DCTDecode", "/FlateDecode", "/CCITTFaxDecode", "/JBIG2Decode", "/JPXDecode",
                    "/RunLengthDecode", "/ASCIIHexDecode", "/ASCII85Decode"}  # PDF/A-2 forbids LZW (6.1.7.2)


class PageError(ValueError):
    """A scan cannot be embedded as it is: the message says which file and why."""


@dataclass
class Page:
    """One page to embed, with what the record says of it."""

    source: str
    source_page: int
    width: int
    height: int
    dpi: tuple[int, int]
    colour: str
    encoding: str
    kind: str  # "image" (an image file: img2pdf) or "pdf" (a scanner PDF's page image)
    index: int  # the frame of an image file, or the page of a scanner PDF (0-based)

    def info(self, page: int) -> PageInfo:
        return PageInfo(page, self.source, self.source_page, self.width, self.height, self.dpi, self.colour,
                        self.encoding)


@dataclass
class Scan:
    """The files of one scan, read, hashed and checked."""

    files: list[tuple[SourceFile, bytes]] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    @property
    def sources(self) -> list[SourceFile]:
        return [f for f, _ in self.files]


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def scan_files(images: Path, relative: str) -> list[Path]:
    """The files of the scan ``relative`` (inside ``images``), in page order. PageError when
    it does not exist, is empty, or holds files that are not page images."""
    target = images.joinpath(*relative.split("/"))
    if not target.exists():
        raise PageError(f"không thấy {relative} trong thư mục ảnh / {relative} not found in --images")
    links = [p for p in (target, *(target.rglob("*") if target.is_dir() else ())) if p.is_symlink()]
    if links:  # as for every input: a link may point outside the folder the clerk gave
        raise PageError(f"{links[0].relative_to(images).as_posix()}: là liên kết tượng trưng (symlink), không đọc "
                        "theo / a symbolic link, not followed")
    if target.is_file():
        return [target]
    found = [p for p in target.rglob("*") if p.is_file() and p.name.lower() not in SYSTEM_FILES
             and not p.name.startswith((".", "~$"))]
    others = [p for p in found if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise PageError(f"{relative}: có tệp không phải ảnh trang ({others[0].relative_to(target).as_posix()}); chỉ "
                        "nhận TIFF, PNG, JPEG hoặc PDF / holds a file that is not a page image")
    if not found:
        raise PageError(f"{relative}: thư mục trống, không có trang nào / the folder holds no pages")
    return sorted(found, key=lambda p: _natural(p.relative_to(target).as_posix()))


def read_scan(images: Path, relative: str) -> Scan:
    """Read and check every page of a scan (PageError with the file named when one is not
    usable). Each file is read once: its bytes are hashed here and embedded later."""
    scan = Scan()
    for path in scan_files(images, relative):
        rel = path.relative_to(images).as_posix()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PageError(f"{rel}: không đọc được ({exc.strerror or exc}) / cannot be read") from None
        scan.files.append((SourceFile(rel, hashlib.sha256(data).hexdigest(), len(data)), data))
        if data.startswith(b"%PDF"):
            scan.pages.extend(_pdf_pages(rel, data))
        else:
            scan.pages.extend(_image_pages(rel, data))
    return scan


def _dpi(rel: str, info: dict, frame: int, frames: int) -> tuple[int, int]:
    where = f"{rel}{f' (trang {frame + 1})' if frames > 1 else ''}"
    try:  # TIFF resolutions are rationals (PIL.TiffImagePlugin.IFDRational), others floats
        dpi = tuple(float(v) for v in info.get("dpi") or ())[:2]
    except (TypeError, ValueError, ZeroDivisionError):
        dpi = ()
    if len(dpi) != 2 or not all(v > 1 for v in dpi):
        raise PageError(f"{where}: ảnh không ghi độ phân giải (dpi); hãy quét lại ở 200 dpi trở lên, ảnh không được "
                        "phóng to / the image records no resolution: scan again at 200 dpi or more")
    x, y = (int(round(v)) for v in dpi)
    if min(x, y) < MIN_DPI:
        raise PageError(f"{where}: độ phân giải {x}×{y} dpi, dưới {MIN_DPI} dpi; hãy quét lại (ảnh không được phóng "
                        f"to) / {x}x{y} dpi is below {MIN_DPI} dpi: scan it again, it is never upsampled")
    return x, y


_MODES = {"1": "Bilevel", "L": "Gray", "I;16": "Gray", "I;16B": "Gray", "I": "Gray", "RGB": "RGB", "P": "Indexed",
          "LA": "Gray+alpha", "RGBA": "RGB+alpha", "PA": "Indexed+alpha", "CMYK": "CMYK", "YCbCr": "RGB",
          "LAB": "Lab"}


def _image_pages(rel: str, data: bytes) -> list[Page]:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        fmt = image.format or ""
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PageError(f"{rel}: không đọc được ảnh (hỏng, hoặc không phải TIFF/PNG/JPEG) / the image cannot be read "
                        f"(damaged, or not TIFF/PNG/JPEG): {exc}") from None
    if fmt not in ("JPEG", "PNG", "TIFF", "MPO"):
        raise PageError(f"{rel}: ảnh định dạng {fmt or 'không rõ'}; chỉ nhận TIFF, PNG, JPEG hoặc PDF / a {fmt} image: "
                        "only TIFF, PNG, JPEG or PDF")
    frames = getattr(image, "n_frames", 1) if fmt == "TIFF" else 1
    pages: list[Page] = []
    for frame in range(frames):
        if frame:
            image.seek(frame)
        colour = _MODES.get(image.mode, image.mode)
        if colour in ("CMYK", "Lab"):
            raise PageError(f"{rel}: ảnh hệ màu {image.mode}; hãy quét ở chế độ màu (RGB) hoặc xám / a {image.mode} "
                            "image: scan in colour (RGB) or greyscale")
        if "alpha" in colour or "transparency" in image.info:
            raise PageError(f"{rel}: ảnh có kênh trong suốt (alpha); hãy lưu lại không có độ trong suốt / the image has "
                            "transparency: save it without")
        dpi = _dpi(rel, image.info, frame, frames)
        width, height = image.size
        encoding = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}.get(fmt, _tiff_encoding(image))
        pages.append(Page(rel, frame + 1, width, height, dpi, colour, encoding, "image", frame))
    _check_readable(rel, image, fmt, data)
    return pages


def _tiff_encoding(image) -> str:  # type: ignore[no-untyped-def]
    compression = str(image.info.get("compression", "raw"))
    return {"group4": "CCITT", "group3": "CCITT", "tiff_ccitt": "CCITT", "jpeg": "Flate", "tiff_jpeg": "Flate"}.get(
        compression, "Flate")


def _check_readable(rel: str, image, fmt: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """Know the file is whole without decoding it all: a JPEG (embedded as it is) must end
    with its end-of-image marker, which a truncated copy lacks; a PNG's chunks must pass
    their CRCs; a TIFF is decoded by img2pdf, whose errors name the file too."""
    try:
        if fmt in ("JPEG", "MPO"):
            if b"\xff\xd9" not in data[-1024:]:
                raise OSError("thiếu dấu kết thúc ảnh JPEG (tệp bị cắt) / no end-of-image marker: the file is truncated")
        elif fmt == "PNG":
            image.verify()
    except (OSError, ValueError, SyntaxError) as exc:
        raise PageError(f"{rel}: ảnh hỏng, không giải mã được ({exc}); hãy quét lại / the image is damaged: "
                        "scan it again") from None


# -- scanner PDFs ---------------------------------------------------------------------------
def page_images(page) -> list:  # type: ignore[no-untyped-def]
    """The image XObjects a page's resources name directly (pikepdf's Page.images, which
    newer versions deprecate)."""
    resources = page.obj.get("/Resources") or {}
    xobjects = resources.get("/XObject") or {}
    return [xobjects[name] for name in xobjects.keys() if xobjects[name].get("/Subtype") == "/Image"]



def _matrix(a: list[float], b: list[float]) -> list[float]:
    """a × b for PDF matrices [a b c d e f] (a applied first)."""
    return [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
            a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5]]


def _placement(page) -> tuple[str, list[float]] | None:  # type: ignore[no-untyped-def]
    """(XObject name, CTM) of the one image the page draws; None unless exactly one."""
    import pikepdf

    ctm, stack, drawn = [1.0, 0, 0, 1.0, 0, 0], [], []
    for operands, operator in pikepdf.parse_content_stream(page):
        op = str(operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else ctm
        elif op == "cm":
            ctm = _matrix([float(v) for v in operands], ctm)
        elif op == "Do":
            drawn.append((str(operands[0]), ctm))
    return drawn[0] if len(drawn) == 1 else None


def _pdf_pages(rel: str, data: bytes) -> list[Page]:
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError) as exc:
        raise PageError(f"{rel}: tệp PDF hỏng hoặc có mật khẩu / the PDF is damaged or encrypted: {exc}") from None
    pages: list[Page] = []
    with pdf:
        if not pdf.pages:
            raise PageError(f"{rel}: tệp PDF không có trang nào / the PDF has no pages")
        for index, page in enumerate(pdf.pages):
            where = f"{rel} (trang {index + 1})"
            image, placed = _scanned_image(page, where)
            width, height = int(image.Width), int(image.Height)
            # the image's size on the page, in points: the lengths of the CTM's axes
            w_pt = math.hypot(placed[0], placed[1])
            h_pt = math.hypot(placed[2], placed[3])
            dpi = _dpi(rel, {"dpi": (width * 72 / w_pt, height * 72 / h_pt)} if w_pt and h_pt else {}, index,
                       len(pdf.pages))
            colour, encoding = _pdf_image_kind(image, where)
            pages.append(Page(rel, index + 1, width, height, dpi, colour, encoding, "pdf", index))
    return pages


def _scanned_image(page, where: str):  # type: ignore[no-untyped-def]
    import pikepdf

    resources = page.obj.get("/Resources") or {}
    xobjects = resources.get("/XObject") or {}
    try:
        placement = _placement(page)
    except (pikepdf.PdfError, ValueError, TypeError, IndexError) as exc:
        raise PageError(f"{where}: không đọc được nội dung trang ({exc}) / the page cannot be read") from None
    if placement is None or placement[0] not in xobjects or xobjects[placement[0]].get("/Subtype") != "/Image":
        raise PageError(f"{where}: trang không phải một ảnh quét duy nhất; hãy xuất bản quét thành ảnh / the page is "
                        "not one scanned image: export the scan as images")
    image = xobjects[placement[0]]
    a, b, c, d = placement[1][:4]
    if not ((abs(b) < 1e-6 and abs(c) < 1e-6 and a > 0 and d > 0)):
        raise PageError(f"{where}: ảnh bị xoay hoặc lật trong trang; hãy xuất bản quét thành ảnh / the image is "
                        "rotated or mirrored inside the page: export the scan as images")
    return image, placement[1]


def _pdf_image_kind(image, where: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    if "/SMask" in image or "/Mask" in image:
        raise PageError(f"{where}: ảnh có độ trong suốt / the image has transparency")
    import pikepdf

    space = image.get("/ColorSpace")
    name = str(space[0]) if isinstance(space, pikepdf.Array) and len(space) else str(space)
    bits = int(image.get("/BitsPerComponent", 8))
    raw = image.get("/Filter")
    filters = [str(f) for f in raw] if isinstance(raw, pikepdf.Array) else [str(raw)] if raw is not None else []
    if bool(image.get("/ImageMask", False)):
        colour = "Bilevel"
    elif name in ("/DeviceRGB", "/CalRGB"):
        colour = "RGB"
    elif name in ("/DeviceGray", "/CalGray"):
        colour = "Bilevel" if bits == 1 else "Gray"
    elif name == "/ICCBased":
        colour = {1: "Gray", 3: "RGB"}.get(int(space[1].get("/N", 0)), "")
    elif name == "/Indexed":
        colour = "Indexed"
    else:
        colour = ""
    if not colour:
        raise PageError(f"{where}: hệ màu {name} không được hỗ trợ; hãy quét ở chế độ màu (RGB) hoặc xám / colour "
                        f"space {name} is not supported: scan in colour (RGB) or greyscale")
    if any(f not in _ALLOWED_FILTERS and f != "/LZWDecode" for f in filters):
        raise PageError(f"{where}: ảnh nén theo cách không hỗ trợ ({', '.join(filters)}) / unsupported compression")
    encoding = {"/DCTDecode": "JPEG", "/JPXDecode": "JPEG2000", "/CCITTFaxDecode": "CCITT", "/JBIG2Decode": "JBIG2"}
    return colour, next((encoding[f] for f in filters if f in encoding), "Flate")
