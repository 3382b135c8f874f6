"""Scanned paper transcripts on the lookup site: their page, with the scanned pages to see.

A scan's page shows the digitisation record (the roster's facts, the pages, the source
files' SHA-256), the verification of its two signatures, and every scanned page as a
picture, made from the image the signed PDF holds (a JPEG page decoded at a fraction of
its size, which libjpeg does directly): browsers show JPEG from ``file://`` everywhere,
while a PDF viewer inside the page is not something every browser on a clerk's PC has.
The pictures are previews, 1000 pixels wide at most; the signed PDF linked beside them is
the document itself, at full resolution. The output is deterministic (the site is compared
byte for byte by ``archiver check``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

PREVIEW_WIDTH = 1000
PREVIEW_QUALITY = 72


def is_scan(entry: dict[str, Any]) -> bool:
    return "pdf_signed" in (entry.get("files") or {})


def previews(pdf_path: Path, pages: list[int], out_prefix: Path) -> list[dict[str, Any]]:
    """A JPEG preview of each scanned page (1-based page numbers of the PDF), written as
    ``<out_prefix>-trang-<n>.jpg``; one dict per page (``file`` None when it could not be
    made: the page is still in the PDF)."""
    import pikepdf

    made: list[dict[str, Any]] = []
    try:
        pdf = pikepdf.open(pdf_path)
    except (OSError, pikepdf.PdfError):
        return [{"page": n, "file": None} for n in pages]
    with pdf:
        for number in pages:
            target = out_prefix.with_name(f"{out_prefix.name}-trang-{number}.jpg")
            try:
                data = _preview(pdf.pages[number - 1])
            except Exception:  # noqa: BLE001 - an image Pillow or pikepdf cannot decode: no preview
                data = None
            if data is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            made.append({"page": number, "file": target.name if data is not None else None})
    return made


def _preview(page) -> bytes | None:  # type: ignore[no-untyped-def]
    import pikepdf
    from PIL import Image

    from ..scans.pages import page_images

    images = page_images(page)
    if len(images) != 1:
        return None
    stream = images[0]
    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)] if filters else []
    if names == ["/DCTDecode"]:
        picture = Image.open(io.BytesIO(stream.read_raw_bytes()))
        picture.draft("RGB" if picture.mode not in ("L", "1") else "L", (PREVIEW_WIDTH, PREVIEW_WIDTH * 4))
    else:
        picture = pikepdf.PdfImage(stream).as_pil_image()
    if picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    if picture.width > PREVIEW_WIDTH:
        height = max(1, round(picture.height * PREVIEW_WIDTH / picture.width))
        picture = picture.resize((PREVIEW_WIDTH, height), Image.Resampling.LANCZOS)
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    if rotate:
        picture = picture.rotate(-rotate, expand=True)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=PREVIEW_QUALITY, optimize=False, progressive=False)
    return out.getvalue()


def scan_context(entry: dict[str, Any], package: dict[str, Any] | None, archive: Path, out: Path,
                 report: dict[str, Any] | None) -> dict[str, Any]:
    """What ``scan.html`` shows beyond what every transcript page has."""
    from ..scans.record import read_pdf_record, record_from_json
    from .model import package_href

    files = entry.get("files") or {}
    base = archive / ((package or {}).get("path") or (package or {}).get("id") or entry.get("package", ""))
    pdf_path = base / files["pdf_signed"]
    try:
        record_json = read_pdf_record(pdf_path.read_bytes())
    except OSError:
        record_json = None
    record = record_from_json(record_json) if record_json else None
    pages: list[dict[str, Any]] = []
    if record is not None:
        shots = previews(pdf_path, [p.page for p in record.pages], out / entry["url"].removesuffix(".html"))
        for info, shot in zip(record.pages, shots):
            pages.append({"page": info.page, "file": shot["file"], "source": info.source,
                          "source_page": info.source_page, "width": info.width, "height": info.height,
                          "dpi": info.dpi, "colour": info.colour, "encoding": info.encoding})
    pdf_href = package_href(package or {"id": entry.get("package", "")}, files.get("pdf_signed"))
    return {"record": record, "pages": pages, "pdf_href": pdf_href}
