"""QR codes for the PDFs (renderings, labels) and the site, all made with segno.

Any of the eight QR mask patterns gives a conformant symbol that every reader decodes
(the mask is written in the format bits). Choosing the lowest-penalty mask means
encoding eight times and scoring each in pure Python: most of the cost of a code. A fixed
mask makes a code in well under a millisecond.
"""

from __future__ import annotations

import re

import segno

QR_MASK = 2


def make_qr(value: str) -> segno.QRCode:
    """A QR code (never a Micro QR) with error correction level M or better."""
    return segno.make(value, error="m", micro=False, mask=QR_MASK)


Matrix = tuple[bytes, ...]  # rows of modules, 1 for dark
_DARK_RUN = re.compile(b"\x01+")
_MATRICES: dict[str, Matrix] = {}


def qr_matrix(value: str) -> Matrix:
    """The modules of ``value``'s code, made once per process for the last few values
    (a build draws a transcript's code in its PDF, then on its site page)."""
    found = _MATRICES.get(value)
    if found is None:
        found = tuple(bytes(row) for row in make_qr(value).matrix)
        remember_matrix(value, found)
    return found


def remember_matrix(value: str, matrix: Matrix) -> None:
    """Take ``matrix`` as the code of ``value`` (made by :func:`qr_matrix` elsewhere)."""
    if len(_MATRICES) >= 256:
        _MATRICES.clear()
    _MATRICES[value] = matrix


def qr_path_ops(value: str, border: int = 2) -> tuple[int, str]:
    """The code as PDF path operators in module units, origin at the top-left corner of
    the quiet zone, y growing downwards as negative numbers: one ``re`` per run of dark
    modules and a single fill. Returns (modules per side with the border, operators)."""
    matrix = qr_matrix(value)
    ops = [f"{run.start() + border} {-(r + border + 1)} {run.end() - run.start()} 1 re"
           for r, row in enumerate(matrix) for run in _DARK_RUN.finditer(row)]
    return len(matrix) + 2 * border, "\n".join(ops) + "\nf"


def qr_svg_markup(value: str, scale: int = 4, border: int = 2) -> str:
    """The code as an inline SVG without a fixed size (the page's CSS sizes it): a white
    square and one path of horizontal strokes, one per run of dark modules. segno's own
    writer gives the same picture but cost twice as long as making the code."""
    matrix = qr_matrix(value)
    side = len(matrix) + 2 * border
    strokes: list[str] = []
    x = y = None  # where the pen is: moves are relative, as short as segno's
    for r, row in enumerate(matrix):
        for run in _DARK_RUN.finditer(row):
            c, n = run.start() + border, run.end() - run.start()
            if x is None:
                strokes.append(f"M{c} {r + border + 0.5}h{n}")
            else:
                strokes.append(f"m{c - x} {r + border - y}h{n}")
            x, y = c + n, r + border
    return (f'<svg viewBox="0 0 {side * scale} {side * scale}" class="qr"><g transform="scale({scale})">'
            f'<path fill="#fff" d="M0 0h{side}v{side}h-{side}z"/>'
            f'<path stroke="#000" d="{"".join(strokes)}"/></g></svg>')


def draw_qr(canv, value: str, x: float, y: float, size: float, border: int = 2) -> None:
    """Draw the code on a reportlab canvas as a ``size`` square whose bottom-left is (x, y)."""
    count, ops = qr_path_ops(value, border)
    box = size / count
    canv.saveState()
    canv.translate(x, y + size)
    canv.scale(box, box)
    canv.setFillColorRGB(0, 0, 0)
    canv.addLiteral(ops)
    canv.restoreState()
