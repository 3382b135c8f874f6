"""The bundled fonts, and text made safe to typeset with them.

Fonts come from ``archiver/fonts`` inside the package, never from the system: a PDF/A
must embed its fonts, and a clerk's Windows PC must give the same bytes as CI.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"

# Names are prefixed so they never collide with fonts another reportlab user registers
# in the same process.
REGULAR = "ArchiverSerif"
BOLD = "ArchiverSerif-Bold"
_FILES = {REGULAR: "NotoSerif-Regular.ttf", BOLD: "NotoSerif-Bold.ttf"}

# Drawn instead of a character the font lacks, so no .notdef box is ever embedded.
REPLACEMENT = "\ufffd"

_lock = threading.Lock()
_coverage: frozenset[int] | None = None
# Characters that pass through clean() unchanged: drawable and not control/format.
_plain_chars: frozenset[str] = frozenset()
_DROPPED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn")


# Every rendering assigns these characters first, in this order (see layout), so that
# the font subsets it embeds are the same from one transcript to the next: they are made
# and compressed once per process instead of once per PDF (a tenth of a rendering), for
# PDFs about 10 kB larger. Vietnamese letters and the punctuation the pages print.
_LETTERS = "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệfghiìíỉĩịjklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvwxyỳýỷỹỵz"
REPERTOIRE = "".join(c for c in dict.fromkeys(_LETTERS + _LETTERS.upper() + "–—«»…•“”‘’") if ord(c) > 126)

# Font programs made by reportlab for a subset, and their Flate encoding once made
# (layout._FastFlate): keyed by the subset's bytes.
SUBSET_FLATE: dict[bytes, bytes | None] = {}
_SUBSETS: dict[tuple[str, tuple[int, ...]], bytes] = {}


def _remember_subsets(font: TTFont) -> None:
    """Make this font's subsets once per process (see REPERTOIRE)."""
    make = font.face.makeSubset

    def remembered(subset: list[int]) -> bytes:
        key = (font.fontName, tuple(subset))
        found = _SUBSETS.get(key)
        if found is None:
            if len(_SUBSETS) >= 64:
                _SUBSETS.clear()
                SUBSET_FLATE.clear()
            found = _SUBSETS[key] = make(subset)
            SUBSET_FLATE[found] = None
        return found

    font.face.makeSubset = remembered


@dataclass(frozen=True)
class FontSet:
    regular: str
    bold: str
    coverage: frozenset[int]


def ensure_fonts() -> FontSet:
    """Register the bundled fonts with reportlab once per process."""
    global _coverage
    with _lock:
        if _coverage is None:
            faces = []
            for name, filename in _FILES.items():
                # printable ASCII at its own codes (layout relies on it, whatever
                # reportlab's ttfAsciiReadable setting says)
                font = TTFont(name, str(FONT_DIR / filename), asciiReadable=True)
                _remember_subsets(font)
                pdfmetrics.registerFont(font)
                faces.append(frozenset(font.face.charToGlyph))
            _coverage = frozenset.intersection(*faces)
            global _plain_chars
            _plain_chars = frozenset(
                chr(c) for c in _coverage
                if unicodedata.category(chr(c)) not in _DROPPED_CATEGORIES
            )
    return FontSet(REGULAR, BOLD, _coverage)


def clean(value: object, missing: set[str] | None = None) -> str:
    """NFC text with only characters both faces can draw.

    Vietnamese letters all have precomposed forms, so NFC turns decomposed input
    (``a`` + U+0301) into single glyphs; reportlab does no mark positioning, and a
    combining mark drawn on its own would sit in the wrong place. Control characters
    are dropped; anything the font lacks becomes U+FFFD and is reported in ``missing``
    so the page can say the XML holds characters this rendering cannot show.
    """
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    if not _plain_chars:
        ensure_fonts()
    if _plain_chars.issuperset(text):  # the common case, checked at C speed
        return text
    coverage = ensure_fonts().coverage
    out: list[str] = []
    for ch in text:
        if ch in "\t\r\n":
            out.append(" ")
            continue
        if unicodedata.category(ch) in _DROPPED_CATEGORIES:
            continue
        if ord(ch) in coverage:
            out.append(ch)
        else:
            out.append(REPLACEMENT)
            if missing is not None:
                missing.add(ch)
    return "".join(out)
