"""Tables on the pages: :class:`Grid`, a table of flowables drawn in one pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from reportlab.lib import colors
from reportlab.lib.rl_accel import fp_str
from reportlab.platypus import Flowable

from .text import colour_operator

RULE = colors.HexColor("#333333")
HEAD_BG = colors.HexColor("#e9edf2")
ZEBRA_BG = colors.HexColor("#f6f7f9")


def _runs(flags: Sequence[bool]) -> Iterator[tuple[int, int]]:
    """(first, last + 1) of each run of true flags."""
    start = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            yield start, i
            start = None
    if start is not None:
        yield start, len(flags)


@dataclass(frozen=True)
class GridStyle:
    """How a :class:`Grid` looks: the two looks of the form's tables (ruled grids with a
    shaded header, and unruled label/value lists) and their few variations."""

    pad: tuple[float, float, float, float] = (4, 4, 2.5, 3.5)  # left, right, top, bottom
    valign: str = "MIDDLE"  # or "TOP"
    body_pad: tuple[float, float, float, float] | None = None  # rows after the header
    body_valign: str | None = None
    ruled: bool = True  # 0.5 pt grid, a frame around
    frame: float = 0.9
    header_rows: int = 1  # repeated on the next page when the grid splits
    shade_header: bool = True
    zebra: bool = False  # every other body row shaded
    rule_after_column: int | None = None  # a 0.9 pt rule after this column
    background: colors.Color | None = None  # of every cell


RULED = GridStyle()
UNRULED = GridStyle(pad=(0, 4, 1.2, 1.2), valign="TOP", ruled=False, header_rows=0)

Cell = Any  # a Flowable, a list of them, or "" / None for an empty cell


class Grid(Flowable):
    """A table of flowables with fixed column widths, drawn in one pass.

    reportlab's Table handles every style command for every cell it covers; for the
    forty-odd small tables of a transcript that generality cost a sixth of a rendering.
    A grid knows the few looks the form uses (:class:`GridStyle`), spans cells
    (``spans``: (first column, first row, last column, last row)), shades chosen rows
    (``shaded``) and splits between rows across pages, repeating its header rows.
    Cells stack their flowables as Table does (space before and after between them).
    """

    def __init__(self, rows: Sequence[Sequence[Cell]], widths: Sequence[float], style: GridStyle = RULED, *,
                 spans: Sequence[tuple[int, int, int, int]] = (), shaded: Iterable[int] = (),
                 h_align: str = "LEFT", _first_row: int = 0) -> None:
        super().__init__()
        for row in rows:
            for c in row:
                if isinstance(c, str) and c:
                    raise TypeError(f"a grid cell holds flowables, not text: {c!r}")
        self.rows = [[c if isinstance(c, (list, tuple)) else ([c] if isinstance(c, Flowable) else [])
                      for c in row] for row in rows]
        self.widths = list(widths)
        self.gs = style
        self.spans = list(spans)
        self.shaded = set(shaded)
        self.hAlign = h_align
        self._first_row = _first_row  # of the body rows, in the grid this one was split from
        self._heights: list[float] | None = None
        self._laid_out: dict[tuple[int, int], tuple[float, list[float]]] = {}
        self._covered = {(c, r) for c0, r0, c1, r1 in self.spans for r in range(r0, r1 + 1)
                         for c in range(c0, c1 + 1) if (c, r) != (c0, r0)}
        self._span_at = {(c0, r0): (c1, r1) for c0, r0, c1, r1 in self.spans}

    def _padding(self, row: int) -> tuple[float, float, float, float]:
        return self.gs.body_pad if self.gs.body_pad and row >= self.gs.header_rows else self.gs.pad

    def _valign(self, row: int) -> str:
        return self.gs.body_valign if self.gs.body_valign and row >= self.gs.header_rows else self.gs.valign

    def _cell_width(self, col: int, row: int) -> float:
        last = self._span_at.get((col, row), (col, row))[0]
        return sum(self.widths[col:last + 1])

    @staticmethod
    def _content(cell: list[Flowable], width: float) -> tuple[float, list[float]]:
        if len(cell) == 1:  # most cells
            height = cell[0].wrap(width, 1e6)[1]
            return height, [height]
        heights = [f.wrap(width, 1e6)[1] for f in cell]
        if not cell:
            return 0.0, heights
        total = sum(h + f.getSpaceBefore() + f.getSpaceAfter() for f, h in zip(cell, heights))
        return total - cell[0].getSpaceBefore() - cell[-1].getSpaceAfter(), heights

    def _row_heights(self) -> list[float]:
        if self._heights is None:
            heights = [0.0] * len(self.rows)
            tall: list[tuple[int, int, float]] = []  # cells spanning rows: checked after
            self._laid_out = {}
            for r, row in enumerate(self.rows):
                left, right, top, bottom = self._padding(r)
                for c, cell in enumerate(row):
                    if (c, r) in self._covered:
                        continue
                    # kept for draw(): wrapping every cell again cost a tenth of a page
                    laid_out = self._laid_out[(c, r)] = self._content(cell, self._cell_width(c, r) - left - right)
                    need = laid_out[0] + top + bottom
                    last_row = self._span_at.get((c, r), (c, r))[1]
                    if last_row > r:
                        tall.append((r, last_row, need))
                    else:
                        heights[r] = max(heights[r], need)
            for first, last, need in tall:
                short = need - sum(heights[first:last + 1])
                if short > 0:
                    heights[last] += short
            self._heights = heights
        return self._heights

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self.width, self.height = sum(self.widths), sum(self._row_heights())
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        heights = self._row_heights()
        head = self.gs.header_rows
        used, n = sum(heights[:head]), head
        while n < len(self.rows) and used + heights[n] <= availHeight:
            used += heights[n]
            n += 1
        # never inside a span, and never a header alone at the foot of a page
        while n > head and any(r0 < n <= r1 for _, r0, _, r1 in self.spans):
            n -= 1
        if n <= head or n >= len(self.rows):
            return []
        kept = [s for s in self.spans if s[3] < n]
        moved = [s for s in self.spans if s[3] < head] + [
            (c0, r0 - n + head, c1, r1 - n + head) for c0, r0, c1, r1 in self.spans if r0 >= n]
        first = Grid(self.rows[:n], self.widths, self.gs, spans=kept,
                     shaded={r for r in self.shaded if r < n}, h_align=self.hAlign, _first_row=self._first_row)
        rest = Grid([*self.rows[:head], *self.rows[n:]], self.widths, self.gs, spans=moved,
                    shaded={r for r in self.shaded if r < head} | {r - n + head for r in self.shaded if r >= n},
                    h_align=self.hAlign, _first_row=self._first_row + n - head)
        return [first, rest]

    def _background(self, row: int) -> colors.Color | None:
        if row in self.shaded:
            return ZEBRA_BG
        if row < self.gs.header_rows and self.gs.shade_header:
            return HEAD_BG
        if self.gs.background is not None:
            return self.gs.background
        if self.gs.zebra and (row - self.gs.header_rows + self._first_row) % 2:
            return ZEBRA_BG
        return None

    def draw(self) -> None:
        canv = self.canv
        heights = self._row_heights()
        tops = [self.height]
        for h in heights:
            tops.append(tops[-1] - h)
        lefts = [0.0]
        for w in self.widths:
            lefts.append(lefts[-1] + w)
        fills: dict[str, list[str]] = {}
        for r, h in enumerate(heights):
            colour = self._background(r)
            if colour is not None:
                fills.setdefault(colour_operator(colour), []).append(f"{fp_str(0, tops[r + 1], self.width, h)} re")
        if fills:
            canv._code.append("q " + " ".join(f"{op} {' '.join(rects)} f" for op, rects in fills.items()) + " Q")
        for r, row in enumerate(self.rows):
            left_pad, right_pad, top_pad, bottom_pad = self._padding(r)
            valign = self._valign(r)
            for c, cell in enumerate(row):
                if not cell or (c, r) in self._covered:
                    continue
                last_row = self._span_at.get((c, r), (c, r))[1]
                content, sizes = self._laid_out[(c, r)]
                top, bottom = tops[r], tops[last_row + 1]
                if valign == "TOP":
                    y = top - top_pad
                else:
                    y = (bottom + bottom_pad + top - top_pad + content) / 2
                x = lefts[c] + left_pad
                for f, h in zip(cell, sizes):
                    y -= f.getSpaceBefore() + h
                    f.drawOn(canv, x, y)
                    y -= f.getSpaceAfter()
        if self.gs.ruled:
            self._draw_rules(tops, lefts)

    def _draw_rules(self, tops: list[float], lefts: list[float]) -> None:
        """The inner rules (not across a span), then the frame and any heavier rule."""
        rows, cols = len(self.rows), len(self.widths)
        owner = {}
        for c0, r0, c1, r1 in self.spans:
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    owner[(c, r)] = (c0, r0)
        cell = lambda c, r: owner.get((c, r), (c, r))  # noqa: E731
        xs, ys = [fp_str(v) for v in lefts], [fp_str(v) for v in tops]
        thin: list[str] = []
        # one segment per run of cells a rule separates (a span interrupts it)
        for r in range(1, rows):
            for start, end in _runs([cell(c, r - 1) != cell(c, r) for c in range(cols)]):
                thin.append(f"{xs[start]} {ys[r]} m {xs[end]} {ys[r]} l")
        for c in range(1, cols):
            for start, end in _runs([cell(c - 1, r) != cell(c, r) for r in range(rows)]):
                thin.append(f"{xs[c]} {ys[start]} m {xs[c]} {ys[end]} l")
        ops = [f"q {colour_operator(RULE).replace(' rg', ' RG')} 1 J"]
        if thin:
            ops.append(f"0.5 w {' '.join(thin)} S")
        ops.append(f"{fp_str(self.gs.frame)} w {fp_str(0, tops[-1], self.width, self.height)} re S")
        after = self.gs.rule_after_column
        if after is not None:
            ops.append(f"0.9 w {fp_str(lefts[after + 1], tops[0])} m {fp_str(lefts[after + 1], tops[-1])} l S")
        ops.append("Q")
        self.canv._code.append(" ".join(ops))
