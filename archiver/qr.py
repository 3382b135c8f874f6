"""QR codes for the PDFs (renderings, labels) and the site, all made with segno.

Any of the eight QR mask patterns gives a conformant symbol that every reader decodes
(the mask is written in the format bits). Choosing the lowest-penalty mask means
encoding eight times and scoring each in pure Python: most of the cost of a code. A fixed
mask makes a code in well under a millisecond.
"""

from __future__ import annotations

import itertools

import segno

QR_MASK = 2


def make_qr(value: str) -> segno.QRCode:
    """A QR code (never a Micro QR) with error correction level M or better."""
    return segno.make(value, error="m", micro=False, mask=QR_MASK)


def qr_path_ops(value: str, border: int = 2) -> tuple[int, str]:
    """The code as PDF path operators in module units, origin at the top-left corner of
    the quiet zone, y growing downwards as negative numbers: one ``re`` per run of dark
    modules and a single fill. Returns (modules per side with the border, operators)."""
    matrix = make_qr(value).matrix
    ops: list[str] = []
    for r, row in enumerate(matrix):
        c = 0
        for dark, run in itertools.groupby(row):
            n = len(list(run))
            if dark:
                ops.append(f"{c + border} {-(r + border + 1)} {n} 1 re")
            c += n
    return len(matrix) + 2 * border, "\n".join(ops) + "\nf"


def qr_svg_markup(value: str, scale: int = 4, border: int = 2) -> str:
    """The code as an inline SVG without a fixed size (the page's CSS sizes it): a white
    square and one path of horizontal strokes, one per run of dark modules. segno's own
    writer gives the same picture but cost twice as long as making the code."""
    matrix = make_qr(value).matrix
    side = len(matrix) + 2 * border
    strokes: list[str] = []
    x = y = None  # where the pen is: moves are relative, as short as segno's
    for r, row in enumerate(matrix):
        c = 0
        for dark, run in itertools.groupby(row):
            n = len(list(run))
            if dark:
                if x is None:
                    strokes.append(f"M{c + border} {r + border + 0.5}h{n}")
                else:
                    strokes.append(f"m{c + border - x} {r + border - y}h{n}")
                x, y = c + border + n, r + border
            c += n
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
