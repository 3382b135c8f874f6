"""Text on the pages: :class:`Line`, one flowable for every text of a rendering.

A full Paragraph for each of the hundreds of short texts on the pages (markup parsing,
line breaking, twice per table) cost more than the rest of the page. A :class:`Line`
breaks and justifies its own lines and writes them straight into the content stream;
the little markup the pages use (``<b>``, ``<font size color>``, ``&nbsp;``) becomes
styled runs (:func:`markup_runs`).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import getFont
from reportlab.pdfbase.pdfmetrics import stringWidth as _measure
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from .fonts import BOLD, REPERTOIRE

Run = tuple[str, ParagraphStyle]


# How many widths, encoded texts and text positions a process remembers (each). The
# labels recur in every transcript, names and comments do not: past this the memory of a
# worker would grow with the school (100,000 of each took 90 MB at 10,000 transcripts),
# so the memory is emptied and the labels come back at once.
_REMEMBERED = 10_000
_WIDTHS: dict[tuple[str, str, float], float] = {}


def stringWidth(text: str, font: str, size: float) -> float:  # noqa: N802 - reportlab's name
    """reportlab's string width, remembered: labels, ratings, subjects, teachers and the
    words of the comments recur on every page of a class, and measuring them was a
    fourteenth of a rendering (measured with callgrind)."""
    key = (text, font, size)
    width = _WIDTHS.get(key)
    if width is None:
        if len(_WIDTHS) >= _REMEMBERED:
            _WIDTHS.clear()
        width = _WIDTHS[key] = _measure(text, font, size)
    return width




class Line(Flowable):
    """Text in one style or a few styled runs: a score, a name, a label, a cell, a note.

    A full Paragraph for each of the hundreds of short texts on the pages (markup parsing,
    line breaking, twice per table) cost more than the rest of the page. Text wider than
    its cell breaks at spaces (a word wider than the cell, at any character) and justified
    text is spread to both edges, as a Paragraph would do. ``style`` gives the alignment,
    leading and spacing; each run has its own font, size and colour.
    """

    _continued = False  # the first part of a text split across pages (see split)

    def __init__(self, text: str | Sequence[Run], style: ParagraphStyle) -> None:
        super().__init__()
        self.style = style
        self._broken_for: float | None = None
        # Measured once: a table asks every cell for its size several times.
        if isinstance(text, str):  # most texts: one run
            self.runs = [(text, style)] if text else []
            self.text_width = stringWidth(text, style.fontName, style.fontSize) if text else 0.0
        else:
            self.runs = [(t, st) for t, st in text if t]
            self.text_width = sum(stringWidth(t, st.fontName, st.fontSize) for t, st in self.runs)
        self._lines: list[tuple[list[Run], float]] = [(self.runs, self.text_width)]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        if self.text_width <= availWidth:
            if self._broken_for is not None:
                self._lines, self._broken_for = [(self.runs, self.text_width)], None
        elif self._broken_for != availWidth:
            self._lines, self._broken_for = _break_runs(self.runs, availWidth), availWidth
        self.width, self.height = availWidth, self.style.leading * len(self._lines)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        """Between lines, when a text is taller than what is left of the page (a very
        long reason or comment): the lines that fit, then the others."""
        self.wrap(availWidth, availHeight)
        fit = int(availHeight // self.style.leading)
        if fit < 1 or fit >= len(self._lines):
            return []
        return [_Lines(self._lines[:fit], self.style, continued=True), _Lines(self._lines[fit:], self.style)]

    def getSpaceBefore(self) -> float:  # noqa: N802 - reportlab's name
        return self.style.spaceBefore

    def getSpaceAfter(self) -> float:  # noqa: N802
        return self.style.spaceAfter

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N803
        # Text is placed with absolute coordinates, so the state save, translation and
        # restore reportlab wraps around every flowable are not needed: with hundreds of
        # cells per transcript they cost more than drawing the text.
        if _sW:
            x = self._hAlignAdjust(x, _sW)
        align, leading = self.style.alignment, self.style.leading
        baseline = y + self.height - self.style.fontSize  # Paragraph's first baseline
        if len(self._lines) == 1 and align != TA_CENTER and align != TA_RIGHT and not self._continued:  # most texts
            show_runs(canvas, x, baseline, self._lines[0][0])
            return
        # the last line is not justified, unless the text goes on on the next page
        last = len(self._lines) - (0 if self._continued else 1)
        for i, (runs, width) in enumerate(self._lines):
            word_space = 0.0
            if align == TA_CENTER:
                offset = (self.width - width) / 2
            elif align == TA_RIGHT:
                offset = self.width - width
            else:
                offset = 0.0
                if align == TA_JUSTIFY and i < last:  # every line but the last, as a Paragraph
                    # reportlab draws a no-break space as code 32 too, so Tw widens it as well
                    spaces = sum(t.count(" ") + t.count("\u00a0") for t, _ in runs)
                    word_space = (self.width - width) / spaces if spaces else 0.0
            show_runs(canvas, x + offset, baseline, runs, word_space)
            baseline -= leading

    def draw(self) -> None:
        self.drawOn(self.canv, 0, 0)


class _Lines(Line):
    """Part of a :class:`Line` split across pages: lines already broken."""

    def __init__(self, lines: list[tuple[list[Run], float]], style: ParagraphStyle, continued: bool = False) -> None:
        super().__init__([run for line, _ in lines for run in line], style)
        self._continued = continued
        self._broken = lines

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self._lines = self._broken
        self.width, self.height = availWidth, self.style.leading * len(self._lines)
        return self.width, self.height


def _break_runs(runs: Sequence[Run], width: float) -> list[tuple[list[Run], float]]:
    """Break styled runs into lines no wider than ``width``: greedily at spaces, and a
    word wider than a whole line at the character that no longer fits. Returns each
    line's runs and its width."""
    # Words as pieces of runs: a word may change style in its middle.
    words: list[list[Run]] = [[]]
    for text, st in runs:
        for i, piece in enumerate(text.split(" ")):
            if i:
                words.append([])
            if piece:
                words[-1].append((piece, st))
    lines: list[tuple[list[Run], float]] = []
    line: list[Run] = []
    line_w = 0.0

    def flush() -> None:
        nonlocal line, line_w
        if line:
            lines.append((_merge_runs(line), line_w))
        line, line_w = [], 0.0

    for word in (w for w in words if w):
        word_w = sum(stringWidth(t, st.fontName, st.fontSize) for t, st in word)
        space_st = word[0][1]
        space_w = stringWidth(" ", space_st.fontName, space_st.fontSize) if line else 0.0
        if line and line_w + space_w + word_w <= width:
            line.append((" ", space_st))
            line.extend(word)
            line_w += space_w + word_w
            continue
        flush()
        if word_w <= width:
            line, line_w = list(word), word_w
            continue
        for text, st in word:  # a word wider than the line: break it anywhere
            for ch in text:
                ch_w = stringWidth(ch, st.fontName, st.fontSize)
                if line and line_w + ch_w > width:
                    flush()
                line.append((ch, st))
                line_w += ch_w
    flush()
    return lines or [([], 0.0)]


def _merge_runs(runs: Sequence[Run]) -> list[Run]:
    merged: list[Run] = []
    for text, st in runs:
        if merged and merged[-1][1] is st:
            merged[-1] = (merged[-1][0] + text, st)
        else:
            merged.append((text, st))
    return merged


_MARKUP = re.compile(r"<(/?)(b|i|font)\b([^>]*)>|([^<]+)")
_ATTRIBUTE = re.compile(r"""(\w+)\s*=\s*['"]([^'"]*)['"]""")
_ENTITIES = {"&nbsp;": "\u00a0", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'"}


def para(markup: str, style: ParagraphStyle) -> Line:
    return Line(markup_runs(markup, style), style)


def markup_runs(markup: str, style: ParagraphStyle) -> list[Run]:
    """Styled runs from the little markup the pages use: ``<b>``, ``<i>`` (the serif has
    no italic face; reportlab drew it upright too), ``<font size= color=>`` and entities.
    Spaces collapse as in a Paragraph; ``&nbsp;`` keeps a gap that never breaks."""
    runs: list[Run] = []
    stack: list[dict[str, Any]] = [{}]
    for match in _MARKUP.finditer(markup):
        closing, tag, attributes, text = match.groups()
        if text is not None:
            text = re.sub(r"\s+", " ", text)
            text = re.sub(r"&(nbsp|lt|gt|quot|#39|apos);", lambda m: _ENTITIES[m[0]], text).replace("&amp;", "&")
            if text:
                runs.append((text, _derived(style, **stack[-1])))
        elif closing:
            if len(stack) > 1:
                stack.pop()
        else:
            change = dict(stack[-1])
            if tag == "b":
                change["bold"] = True
            elif tag == "font":
                for name, value in _ATTRIBUTE.findall(attributes):
                    if name == "size":
                        change["size"] = float(value)
                    elif name == "color":
                        change["colour"] = value
            stack.append(change)
    if runs:  # leading and trailing spaces go, as in a Paragraph
        runs[0] = (runs[0][0].lstrip(" "), runs[0][1])
        runs[-1] = (runs[-1][0].rstrip(" "), runs[-1][1])
    return [(t, st) for t, st in runs if t]


_DERIVED: dict[tuple[int, bool, float | None, str | None], tuple[ParagraphStyle, ParagraphStyle]] = {}
_STYLES_REMEMBERED = 256


def _derived(style: ParagraphStyle, bold: bool = False, size: float | None = None,
             colour: str | None = None) -> ParagraphStyle:
    """``style`` in bold, another size or another colour, made once per combination."""
    if not (bold or size or colour):
        return style
    key = (id(style), bold, size, colour)
    found = _DERIVED.get(key)
    if found is None or found[0] is not style:
        kw: dict[str, Any] = {}
        if bold:
            kw["fontName"] = BOLD
        if size:
            kw["fontSize"] = size
        if colour:
            kw["textColor"] = colors.toColor(colour)
        if len(_DERIVED) >= _STYLES_REMEMBERED:  # some styles are made per document (the verdict box's)
            _DERIVED.clear()
        found = _DERIVED[key] = (style, ParagraphStyle(f"{style.name}+", parent=style, **kw))
    return found[1]


def colour_operator(colour: colors.Color) -> str:
    key = (colour.red, colour.green, colour.blue)
    op = _COLOUR_OPS.get(key)
    if op is None:
        op = _COLOUR_OPS[key] = f"{fp_str(*key)} rg"
    return op


_COLOUR_OPS: dict[tuple[float, float, float], str] = {}


# Text made only of these characters is encoded the same way in every rendering: printable
# ASCII keeps its own codes in reportlab's first subset, a no-break space is drawn as a
# space, and the rest is assigned first, in a fixed order, by every rendering's canvas
# (fonts.REPERTOIRE). Such text is encoded once per process, not once per line drawn.
_FIXED_CODES = frozenset(chr(c) for c in range(32, 127)) | frozenset(REPERTOIRE) | {"\u00a0"}
_ENCODED: dict[tuple[str, str], list[tuple[int, str]]] = {}
_SIZES: dict[float, str] = {}
_POSITIONS: dict[tuple[float, float], str] = {}


def _encoded(font: Any, text: str, canv: Canvas) -> list[tuple[int, str]]:
    """``text`` as (subset, escaped codes) chunks in ``canv``'s document."""
    fixed = getattr(canv._doc, "_archiver_fixed_codes", False)
    key = (text, font.fontName)
    found = _ENCODED.get(key) if fixed else None
    if found is None:
        found = [(subset, canv._escape(chunk)) for subset, chunk in font.splitString(text, canv._doc)]
        if fixed and _FIXED_CODES.issuperset(text):
            if len(_ENCODED) >= _REMEMBERED:
                _ENCODED.clear()
            _ENCODED[key] = found
    return found


def show_runs(canv: Canvas, x: float, y: float, runs: Sequence[Run], word_space: float = 0.0) -> None:
    """Draw styled runs on one line from (x, y), as one PDF text object.

    These are the operators reportlab's text object writes for an embedded TrueType font
    (font subset, size, colour, show), written in one go: through the text object API each
    line cost several times more, and the pages hold hundreds of short lines.
    ``word_space`` widens each space (Tw; reportlab keeps the space at code 32 of the first
    subset, as Tw requires) to justify a line.
    """
    doc = canv._doc
    at = _POSITIONS.get((x, y))
    if at is None:  # the pages put their texts at the same places, transcript after transcript
        if len(_POSITIONS) >= _REMEMBERED:
            _POSITIONS.clear()
        at = _POSITIONS[(x, y)] = fp_str(x, y)
    parts = [f"BT 1 0 0 1 {at} Tm"]
    if word_space:
        parts.append(f"{fp_str(word_space)} Tw")
    for text, st in runs:
        font = getFont(st.fontName)
        parts.append(colour_operator(st.textColor))
        size = _SIZES.get(st.fontSize) or _SIZES.setdefault(st.fontSize, fp_str(st.fontSize))
        for subset, chunk in _encoded(font, text, canv):
            parts.append(f"{font.getSubsetInternalName(subset, doc)} {size} Tf ({chunk}) Tj")
    # Tw belongs to the graphics state and outlives the text object: reset it.
    parts.append("0 Tw ET" if word_space else "ET")
    canv._code.append(" ".join(parts))
