"""Page layout of a transcript rendering, modelled on the học bạ form of its level.

Pages: cover; personal details and study history; the year's results; summary,
qualities and competences, homeroom comment; and "Thông tin xác thực" (verification).
What the results pages show and how is the profile's layout (``[layout]`` of its
profile.toml: the form of Circular 22/2021 for THCS and THPT, of Circular 27/2020 for
primary school): the subject table's columns, a mark with a decimal comma or a level as
its word, the summary's lines, the order of the sections, which roles sign the form.
Every page carries a footer saying this is a rendering of the signed XML, with page x/y,
and every page after the cover a running header (school; student, class, year).

Speed matters (a province renders millions): every text is drawn by :class:`Line`, a
flowable that breaks and justifies its own lines and writes them straight into the
content stream; reportlab's Paragraph (markup parsing, line breaking, text objects) cost
more than the rest of a page.

reportlab runs in invariant mode and every date printed comes from the document, so the
same input gives the same bytes (the PDF/A step keeps that property).
"""

from __future__ import annotations

import functools
import io
import re
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfmetrics import getFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Spacer,
)

from ..profiles import Profile
from ..qr import draw_qr
from ..transcript import SignerEntry, SubjectResult, Transcript
from . import words
from .fonts import BOLD, REGULAR, REPERTOIRE, SUBSET_FLATE, clean, ensure_fonts
from .grid import RULE, UNRULED, Grid, GridStyle
from .text import Line, Run, markup_runs, para, show_runs, stringWidth

PAGE_W, PAGE_H = A4
_build_lock = threading.Lock()


class _FastFlate(pdfdoc.PDFStreamFilterZCompress):
    def encode(self, text: str | bytes) -> bytes:
        data = text.encode("utf-8") if isinstance(text, str) else text
        if data in SUBSET_FLATE:  # a font subset every rendering embeds: compressed once
            found = SUBSET_FLATE[data]
            if found is None:
                found = SUBSET_FLATE[data] = zlib.compress(data, 1)
            return found
        return zlib.compress(data, 1)


_FAST_FLATE = _FastFlate()
MARGIN_X = 18 * mm
MARGIN_TOP = 16 * mm
MARGIN_BOTTOM = 22 * mm  # the footer lives in the bottom margin
BODY_W = PAGE_W - 2 * MARGIN_X

INK = colors.HexColor("#111111")
GREY = colors.HexColor("#555555")


@dataclass
class RenderInput:
    """Everything one rendering needs; built by :func:`archiver.render.render_transcript`."""

    transcript: Transcript
    profile: Profile
    verification: Mapping[str, Any] | None
    archive_timestamp: Mapping[str, Any] | None
    flavour: str
    sha256: str
    attachment_name: str
    notes: list[str] = field(default_factory=list)  # extra warnings for the last page


class _Styles:
    def __init__(self) -> None:
        base = ParagraphStyle(
            "base", fontName=REGULAR, fontSize=10.5, leading=13.5, textColor=INK,
        )

        def derive(name: str, **kw: Any) -> ParagraphStyle:
            return ParagraphStyle(name, parent=base, **kw)

        self.base = base
        self.body = derive("body", alignment=TA_JUSTIFY)
        self.small = derive("small", fontSize=8.5, leading=10.5)
        self.small_grey = derive("small_grey", fontSize=8, leading=10, textColor=GREY)
        self.cell = derive("cell", fontSize=9.5, leading=12)
        self.cell_c = derive("cell_c", fontSize=9.5, leading=12, alignment=TA_CENTER)
        self.cell_cb = derive("cell_cb", fontName=BOLD, fontSize=9.5, leading=12,
                              alignment=TA_CENTER)
        self.cell_b = derive("cell_b", fontName=BOLD, fontSize=9.5, leading=12)
        self.cell_small = derive("cell_small", fontSize=8.5, leading=10.5)
        # the signature table: fifteen signers must not take four pages
        self.sig = derive("sig", fontSize=7.8, leading=9.4)
        self.sig_b = derive("sig_b", fontName=BOLD, fontSize=8.3, leading=10)
        self.sig_bold = derive("sig_bold", fontName=BOLD, fontSize=7.8, leading=9.4)
        self.sig_grey = derive("sig_grey", fontSize=7, leading=8.6, textColor=GREY)
        self.head = derive("head", fontName=BOLD, fontSize=9, leading=11, alignment=TA_CENTER)
        self.label = derive("label", fontSize=10.5, leading=14)
        self.value = derive("value", fontName=BOLD, fontSize=10.5, leading=14)
        self.title = derive("title", fontName=BOLD, fontSize=15, leading=19, alignment=TA_CENTER,
                            spaceAfter=2 * mm)
        self.subtitle = derive("subtitle", fontSize=10.5, leading=14, alignment=TA_CENTER,
                               spaceAfter=4 * mm)
        self.section = derive("section", fontName=BOLD, fontSize=11.5, leading=15,
                              spaceBefore=5 * mm, spaceAfter=2 * mm)
        self.center = derive("center", alignment=TA_CENTER)
        self.center_b = derive("center_b", fontName=BOLD, alignment=TA_CENTER)
        self.right = derive("right", alignment=TA_RIGHT)
        # cover
        self.ministry = derive("ministry", fontName=BOLD, fontSize=12.5, leading=16,
                               alignment=TA_CENTER)
        self.cover_big = derive("cover_big", fontName=BOLD, fontSize=46, leading=54,
                                alignment=TA_CENTER, textColor=colors.HexColor("#1f3b63"))
        self.cover_level = derive("cover_level", fontName=BOLD, fontSize=19, leading=24,
                                  alignment=TA_CENTER, textColor=colors.HexColor("#1f3b63"))
        self.cover_name = derive("cover_name", fontName=BOLD, fontSize=18, leading=23,
                                 alignment=TA_CENTER)
        self.cover_name_label = derive("cover_name_label", fontSize=10.5, leading=13,
                                       alignment=TA_CENTER, textColor=GREY)
        self.cover_label = derive("cover_label", fontSize=11.5, leading=16)
        self.cover_value = derive("cover_value", fontName=BOLD, fontSize=11.5, leading=16)
        self.cell_small_b = derive("cell_small_b", fontName=BOLD, fontSize=8.5, leading=10.5)
        self._coloured: dict[tuple[str, str], ParagraphStyle] = {}

    def coloured(self, style: ParagraphStyle, colour: str, **kw: Any) -> ParagraphStyle:
        """``style`` in another colour (and font/size), made once per combination."""
        key = (style.name, colour + repr(sorted(kw.items())))
        if key not in self._coloured:
            self._coloured[key] = ParagraphStyle(
                f"{style.name}-{colour}", parent=style, textColor=colors.HexColor(colour), **kw)
        return self._coloured[key]


class _Text:
    """Makes Paragraphs from document data: NFC, glyph-checked, markup-escaped."""

    def __init__(self, missing: set[str]) -> None:
        self.missing = missing

    def esc(self, value: object) -> str:
        return escape(clean(value, self.missing))

    def p(self, value: object, style: ParagraphStyle, *, empty: str = "") -> Line:
        """Plain data text, broken into lines when it does not fit."""
        text = clean(value, self.missing).strip()
        return Line(text or empty, style)

    def markup(self, template: str, style: ParagraphStyle, **values: object) -> Line:
        """``template`` is trusted markup; ``values`` are data and get escaped."""
        return Line(markup_runs(template.format(**{k: self.esc(v) for k, v in values.items()}), style), style)


@functools.lru_cache(maxsize=1)
def _styles() -> _Styles:
    """The styles, built once: they are immutable and the fonts are registered first."""
    ensure_fonts()
    return _Styles()


# Paragraphs collapse runs of spaces; non-breaking ones keep the gap between fields.
_GAP = "&nbsp;" * 6


def _dn(value: str) -> str:
    """A distinguished name with a space after each RDN comma, so lines can break there.

    Certificates print as ``UID=CCCD:…,CN=…,L=…``: one long word a narrow column can only
    cut mid-token. Escaped commas (``\\,``) stay as they are.
    """
    return re.sub(r"(?<!\\),(?=\S)", ", ", value)


def _level_title(profile: Profile, level: str) -> str:
    """The cover's level line ("TRUNG HỌC CƠ SỞ"): the profile's, or that of the installed
    profile of the level the document names, when it was read with another profile."""
    code = level.strip().upper()
    if code == profile.level.upper() and profile.level_title:
        return profile.level_title
    from ..profiles import available_profiles

    try:
        found = next((p.level_title for p in available_profiles().values()
                      if p.level.upper() == code and p.level_title), "")
    except Exception:  # noqa: BLE001 - a broken extra profile folder must not stop a rendering
        found = ""
    return found or code


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _str(value: object) -> str:
    return "" if value is None else str(value)


class _Layout:
    def __init__(self, data: RenderInput) -> None:
        ensure_fonts()
        self.d = data
        self.t = data.transcript
        self.s = _styles()
        self.missing: set[str] = set()
        self.x = _Text(self.missing)
        self.verification = _dict(data.verification) if data.verification is not None else None
        self.verdict = self._verdict()
        # the transcript's own names first, the profile's for codes it does not name
        self.subject_names = {**data.profile.subject_names, **{s.code: s.name for s in self.t.subjects}}
        self.signatures = [_dict(s) for s in _list((self.verification or {}).get("signatures"))]
        self.sig_by_id = {_str(s.get("id")): s for s in self.signatures if s.get("id")}
        # Set by the archive when a later transcript replaces this one (ThayTheCho).
        self.superseded_by = _str(_dict((self.verification or {}).get("archive")).get("superseded_by"))

    def page_marker(self) -> tuple[str, str] | None:
        """What every page says in its header when the transcript must not be taken at face
        value: its verdict unless VALID, and that it was replaced. (text, colour)"""
        parts, colour = [], self.verdict.colour
        if self.verdict.code != "VALID":
            parts.append(self.verdict.label)
        if self.superseded_by:
            parts.append(f"ĐÃ BỊ THU HỒI, THAY THẾ BỞI HỌC BẠ {self.superseded_by}")
            colour = colour if self.verdict.code != "VALID" else words.SUPERSEDED_COLOUR
        return (" · ".join(parts), colour) if parts else None

    def superseded_banner(self) -> list[Flowable]:
        if not self.superseded_by:
            return []
        style = ParagraphStyle("sup", parent=self.s.base, fontName=BOLD, fontSize=10.5, leading=13.5,
                               textColor=colors.white, alignment=TA_CENTER)
        small = ParagraphStyle("sups", parent=style, fontName=REGULAR, fontSize=8.5, leading=11)
        table = Grid([[para("HỌC BẠ NÀY ĐÃ BỊ THU HỒI VÀ THAY THẾ", style)],
                      [self.x.markup("Học bạ thay thế có mã tra cứu {code}; bản này chỉ được giữ để lưu "
                                     "trữ. (Revoked and superseded.)", small, code=self.superseded_by)]],
                     [BODY_W * 0.8], GridStyle(pad=(6, 6, 3, 4), ruled=False, header_rows=0,
                                               background=colors.HexColor(words.SUPERSEDED_COLOUR)),
                     h_align="CENTER")
        return [Spacer(1, 3 * mm), table]

    # -- shared pieces ------------------------------------------------------------------

    def _verdict(self) -> words.Verdict:
        if self.verification is None:
            return words.NOT_VERIFIED
        code = _str(self.verification.get("verdict")).upper()
        if code in words.VERDICTS:
            return words.VERDICTS[code]
        return words.Verdict(code or "?", code or "KHÔNG RÕ", code or "Unknown",
                              "Kết quả xác thực không rõ.", words.UNKNOWN_VERDICT_COLOUR)

    def role_label(self, role: str, subject_code: str = "") -> str:
        rule = self.d.profile.signing.roles.get(role)
        label = rule.label if rule else (role or "Không rõ vai trò")
        if subject_code:
            label += f" – {self.subject_names.get(subject_code, subject_code)}"
        return label

    def signer_for(self, role: str, subject_code: str = "") -> SignerEntry | None:
        for entry in self.t.signers:
            if entry.role == role and (not subject_code or entry.subject == subject_code):
                return entry
        return None

    def signature_status(self, signature_id: str) -> tuple[str, str] | None:
        """(label, colour) of a verified signature, or None when it was not verified."""
        sig = self.sig_by_id.get(signature_id)
        if sig is None:
            return None
        status = _str(sig.get("status")).upper()
        return words.STATUSES.get(status, (status or "Không rõ", words.UNKNOWN_VERDICT_COLOUR))

    def kv_table(self, rows: Sequence[tuple[str, object]], label_w: float,
                 label_style: ParagraphStyle | None = None,
                 value_style: ParagraphStyle | None = None, width: float = BODY_W) -> Grid:
        ls = label_style or self.s.label
        vs = value_style or self.s.value
        data = [[self.x.p(k, ls), self.x.p(v, vs, empty="—")] for k, v in rows]
        return Grid(data, [label_w, width - label_w], UNRULED)

    def verdict_box(self, large: bool) -> Grid:
        v = self.verdict
        colour = colors.HexColor(v.colour)
        size = 17 if large else 12.5
        head = ParagraphStyle("vh", parent=self.s.base, fontName=BOLD, fontSize=size,
                              leading=size * 1.25, textColor=colors.white, alignment=TA_CENTER)
        body = ParagraphStyle("vb", parent=self.s.base, fontSize=9.5 if large else 8.5,
                              leading=12 if large else 10.5, textColor=colors.white,
                              alignment=TA_CENTER)
        title = "KẾT LUẬN XÁC THỰC" if large else "Tình trạng xác thực"
        rows: list[list[Flowable]] = [
            [para(f"{title}: {escape(v.label)}", head)],
            [para(f"{escape(v.explanation)} <font size='{8 if large else 7}'>"
                       f"(Verdict: {escape(v.label_en)})</font>", body)],
        ]
        return Grid(rows, [BODY_W if large else BODY_W * 0.8],
                    GridStyle(pad=(8, 8, 4, 5) if large else (8, 8, 3, 3), ruled=False, header_rows=0,
                              background=colour))

    # -- pages --------------------------------------------------------------------------

    def cover(self) -> list[Flowable]:
        t, s, x = self.t, self.s, self.x
        level = _level_title(self.d.profile, t.level)
        years = [h.school_year for h in t.history if h.school_year] or [t.school_year]
        span = years[0] if len(years) == 1 else f"{years[0]} đến {years[-1]}"
        rows: list[tuple[str, object]] = [
            ("Số đăng bộ:", t.register_number),
            ("Trường:", t.school.name),
            ("Mã trường:", t.school.code),
            ("Tỉnh/Thành phố:", t.school.province),
            ("Năm học của học bạ:", t.school_year),
            ("Lớp:", t.class_name),
            ("Các năm học:", span),
            ("Mã tra cứu:", t.lookup_code),
        ]
        inner_w = 128 * mm
        story: list[Flowable] = [
            Spacer(1, 6 * mm),
            Line("BỘ GIÁO DỤC VÀ ĐÀO TẠO", s.ministry),
            Spacer(1, 34 * mm),
            Line("HỌC BẠ", s.cover_big),
            Spacer(1, 2 * mm),
            x.p(level, s.cover_level),
            Spacer(1, 3 * mm),
            Line("(Học bạ số – bản thể hiện của tệp XML có chữ ký số)", s.center),
            Spacer(1, 22 * mm),
            # The name on its own centred line(s), as on the printed form: a long name
            # wraps symmetrically instead of pushing its label out of line.
            Line("Họ và tên học sinh", s.cover_name_label),
            Spacer(1, 1 * mm),
            x.p(t.student.name, s.cover_name, empty="—"),
            Spacer(1, 6 * mm),
        ]
        info = self.kv_table(rows, 45 * mm, s.cover_label, s.cover_value, width=inner_w)
        info.hAlign = "CENTER"
        story.append(info)
        if t.replaces:
            story += [Spacer(1, 4 * mm), x.markup(
                "<b>Học bạ thay thế</b> cho học bạ có mã tra cứu {code}. Lý do: {reason}",
                ParagraphStyle("rep", parent=s.small, alignment=TA_CENTER),
                code=t.replaces.lookup_code, reason=t.replaces.reason or "không ghi")]
        box = self.verdict_box(large=False)
        box.hAlign = "CENTER"
        story += [Spacer(1, 14 * mm if not self.superseded_by else 8 * mm), box, *self.superseded_banner()]
        return story

    def personal(self) -> list[Flowable]:
        t, s, x = self.t, self.s, self.x
        st = t.student
        story: list[Flowable] = [
            x.markup("Số đăng bộ: <b>{n}</b>", s.right, n=t.register_number or "—"),
            Spacer(1, 4 * mm),
            Line("THÔNG TIN HỌC SINH", s.title),
            Spacer(1, 3 * mm),
            self.kv_table([
                ("Họ và tên:", st.name),
                ("Giới tính:", st.gender),
                ("Ngày sinh:", words.date_vi(st.birth_date)),
                ("Dân tộc:", st.ethnicity),
                ("Nơi sinh:", st.birth_place),
                ("Mã định danh cá nhân:", st.citizen_id),
                ("Mã học sinh:", st.student_code),
                ("Họ và tên cha:", st.father_name),
                ("Họ và tên mẹ:", st.mother_name),
            ], 50 * mm),
            Line("QUÁ TRÌNH HỌC TẬP", s.section),
        ]
        rows: list[list[Flowable]] = [[
            Line("Năm học", s.head), Line("Lớp", s.head),
            Line("Tên trường", s.head),
        ]]
        current: list[int] = []
        for i, item in enumerate(t.history, start=1):
            is_current = item.school_year == t.school_year
            style = s.cell_b if is_current else s.cell
            if is_current:
                current.append(i)
            rows.append([x.p(item.school_year, s.cell_c), x.p(item.class_name, s.cell_c),
                         x.p(item.school_name, style)])
        if len(rows) == 1:
            rows.append([x.p("—", s.cell_c), x.p("—", s.cell_c),
                         x.p("Không có dữ liệu quá trình học tập", s.cell)])
        story.append(Grid(rows, [32 * mm, 24 * mm, BODY_W - 56 * mm], shaded=current))
        if t.replaces:
            story += [Spacer(1, 5 * mm), x.markup(
                "<b>Học bạ thay thế.</b> Học bạ này thay thế học bạ có mã tra cứu {code} "
                "đã bị thu hồi. Lý do: {reason}",
                s.body, code=t.replaces.lookup_code, reason=t.replaces.reason or "không ghi")]
        return story

    def results(self) -> list[Flowable]:
        """The subject table, as the profile's layout says: its columns, their headings and
        how each value is shown (a mark with a decimal comma, a level as its word)."""
        t, s, x = self.t, self.s, self.x
        layout, profile = self.d.profile.layout, self.d.profile
        story: list[Flowable] = [
            x.markup("KẾT QUẢ HỌC TẬP NĂM HỌC {y}", s.title, y=t.school_year or "—"),
            x.markup("Họ và tên: <b>{n}</b>" + _GAP + "Lớp: <b>{c}</b>" + _GAP
                     + "Khối: <b>{g}</b>",
                     s.subtitle, n=t.student.name or "—", c=t.class_name or "—",
                     g=t.grade or "—"),
        ]
        columns = layout.columns
        grouped = any(c.group for c in columns)
        last = 2 + len(columns)  # the comment column
        top: list[Any] = [Line("TT", s.head), x.p(layout.subject_heading, s.head)]
        below: list[Any] = ["", ""]
        spans: list[tuple[int, int, int, int]] = []
        for i, column in enumerate(columns):
            if column.group and (i == 0 or columns[i - 1].group != column.group):
                end = i
                while end + 1 < len(columns) and columns[end + 1].group == column.group:
                    end += 1
                top.append(x.p(column.group, s.head))
                spans.append((2 + i, 0, 2 + end, 0))
            elif column.group:
                top.append("")
            else:
                top.append(x.p(column.heading, s.head))
                if grouped:
                    spans.append((2 + i, 0, 2 + i, 1))
            below.append(x.p(column.heading, s.head) if column.group else "")
        top.append(x.p(layout.comment_heading, s.head))
        below.append("")
        head_rows: list[list[Any]] = [top, below] if grouped else [top]
        if grouped:
            spans += [(0, 0, 0, 1), (1, 0, 1, 1), (last, 0, last, 1)]
        rows = list(head_rows)
        for i, subj in enumerate(t.subjects, start=1):
            rows.append([
                Line(str(i), s.cell_c),
                x.p(subj.name or subj.code, s.cell),
                *(x.p(profile.show(subj.value(c.field), scale=c.scale, format=c.format),
                      s.cell_cb if c.strong else s.cell_c) for c in columns),
                self._teacher_cell(subj),
            ])
        if not t.subjects:
            rows.append(["", x.p("Không có dữ liệu kết quả môn học", s.cell), *([""] * len(columns)), ""])
        num_w, name_w = 9 * mm, layout.subject_width_mm * mm
        value_ws = [c.width_mm * mm for c in columns]
        widths = [num_w, name_w, *value_ws, BODY_W - num_w - name_w - sum(value_ws)]
        table = Grid(rows, widths, GridStyle(header_rows=len(head_rows), zebra=True), spans=spans)
        story.append(table)
        if layout.table_note:
            story += [Spacer(1, 1.5 * mm), para(escape(layout.table_note), s.small_grey)]
        return story

    def _teacher_cell(self, subj: SubjectResult) -> list[Flowable]:
        s, x = self.s, self.x
        parts: list[Flowable] = []
        if subj.comment:
            parts.append(x.p(subj.comment, s.cell_small))
        role = self.d.profile.subject_role
        entry = self.signer_for(role.role, subj.code) if role else None
        teacher = clean(subj.teacher or (entry.name if entry else ""), self.missing)
        runs: list[Run] = [("GV: ", s.cell_small), (teacher or "—", s.cell_small_b)]
        status = self.signature_status(entry.signature_id) if entry else None
        if status:
            runs.append((f" (chữ ký số: {status[0].lower()})",
                         s.coloured(s.cell_small, status[1], fontSize=7.5)))
        parts.append(Line(runs, s.cell_small))
        return parts

    def summary(self) -> list[Flowable]:
        """The year's summary, qualities and competences, and the homeroom teacher's
        comment with the signature blocks, in the order and the words of the layout."""
        layout = self.d.profile.layout
        parts = {"summary": self._year_summary, "qualities": self._qualities, "comment": self._comment}
        story: list[Flowable] = []
        for name in layout.sections:
            if name in parts:
                story += parts[name]()
        return story

    def _year_summary(self) -> list[Flowable]:
        t, s, x = self.t, self.s, self.x
        layout, profile = self.d.profile.layout, self.d.profile
        story: list[Flowable] = [x.p(layout.summary_title, s.section)]
        block: list[Flowable] = []
        if layout.ratings:
            rows: list[list[Any]] = [[
                Line("", s.head), Line("Học kì I", s.head),
                Line("Học kì II", s.head), Line("Cả năm", s.head),
            ]]
            for item in layout.ratings:
                r = t.ratings.get(item.field)
                rows.append([
                    para(escape(item.label), s.cell_b),
                    x.p(profile.word(item.scale, r.term1) if r else "", s.cell_c, empty="—"),
                    x.p(profile.word(item.scale, r.term2) if r else "", s.cell_c, empty="—"),
                    x.p(profile.word(item.scale, r.year) if r else "", s.cell_cb, empty="—"),
                ])
            col = (BODY_W - 56 * mm) / 3
            block += [Grid(rows, [56 * mm, col, col, col]), Spacer(1, 3 * mm)]
        # "—" when the XML says nothing
        block.append(self.kv_table([(f"{item.label}:", profile.show(t.value(item.field), scale=item.scale))
                                    for item in layout.summary], 66 * mm))
        story.append(KeepTogether(block))
        return story

    def _qualities(self) -> list[Flowable]:
        t, s, x = self.t, self.s, self.x
        layout, profile = self.d.profile.layout, self.d.profile
        if not (t.qualities or t.competences):
            return []
        heading = x.p(layout.qualities_title, s.section)
        # competences under the headings of their groups (general, specific), when the
        # profile groups them
        groups = {c.code: c.group for c in profile.competences}
        right: list[tuple[str, Any]] = []
        current = ""
        for c in t.competences:
            group = groups.get(c.code, "")
            if group and group != current:
                right.append(("group", group))
            current = group or current
            right.append(("item", c))
        scale = layout.assessed_scale
        if current:
            # grouped competences make a longer list: two tables side by side, each as long
            # as its own list
            gap = 4 * mm
            half = (BODY_W - gap) / 2
            lvl_w = 24 * mm
            left_rows: list[list[Any]] = [[x.p(layout.quality_heading, s.head), Line("Mức đạt", s.head)]]
            left_rows += [[x.p(q.name, s.cell), x.p(profile.word(scale, q.level), s.cell_c)] for q in t.qualities]
            right_rows: list[list[Any]] = [[x.p(layout.competence_heading, s.head), Line("Mức đạt", s.head)]]
            for kind, c in right:
                right_rows.append([x.p(c, s.cell_b), ""] if kind == "group" else
                                  [x.p(c.name, s.cell), x.p(profile.word(scale, c.level), s.cell_c)])  # type: ignore[union-attr]
            both = Grid([[Grid(left_rows, [half - lvl_w, lvl_w]), Grid(right_rows, [half - lvl_w, lvl_w])]],
                        [half + gap, half], GridStyle(pad=(0, gap, 0, 0), valign="TOP", ruled=False, header_rows=0))
            return [KeepTogether([heading, both])]
        rows: list[list[Any]] = [[x.p(layout.quality_heading, s.head), Line("Mức đạt", s.head),
                                  x.p(layout.competence_heading, s.head), Line("Mức đạt", s.head)]]
        for i in range(max(len(t.qualities), len(t.competences))):
            q = t.qualities[i] if i < len(t.qualities) else None
            c = t.competences[i] if i < len(t.competences) else None
            rows.append([
                x.p(q.name if q else "", s.cell), x.p(profile.word(scale, q.level) if q else "", s.cell_c),
                x.p(c.name if c else "", s.cell), x.p(profile.word(scale, c.level) if c else "", s.cell_c),
            ])
        lvl_w = 20 * mm if not scale else 24 * mm
        name_w = (BODY_W - 2 * lvl_w) / 2
        table = Grid(rows, [name_w, lvl_w, name_w, lvl_w], GridStyle(rule_after_column=1))
        return [KeepTogether([heading, table])]

    def _comment(self) -> list[Flowable]:
        t, s, x = self.t, self.s, self.x
        comment_box = Grid([[x.p(t.homeroom_comment, s.body, empty="(Không có nhận xét)")]], [BODY_W],
                           GridStyle(pad=(6, 6, 5, 7), frame=0.6, header_rows=0))
        return [KeepTogether([
            Line("NHẬN XÉT CỦA GIÁO VIÊN CHỦ NHIỆM", s.section), comment_box,
            Spacer(1, 6 * mm), self._signature_blocks(),
        ])]

    def _signature_blocks(self) -> Grid:
        """The form's signature area: who signed, as listed in the signed data."""
        s, x, t = self.s, self.x, self.t
        place = t.school.province or "……"
        date_line = x.markup("<i>{p}, {d}</i>", s.center, p=place,
                             d=words.date_long_vi(t.effective_date))

        def block(role: str, title: str) -> list[Flowable]:
            entry = self.signer_for(role)
            status = self.signature_status(entry.signature_id) if entry else None
            verified = self.sig_by_id.get(entry.signature_id) if entry else None
            if entry is None:
                note = "(không có trong danh sách người ký)"
                colour = words.UNKNOWN_VERDICT_COLOUR
            elif verified is not None and verified.get("present", True) is False:
                note, colour = "(thiếu chữ ký số)", words.VERDICTS["INVALID"].colour
            elif status:
                note, colour = f"(đã ký số – {status[0].lower()})", status[1]
            else:
                note, colour = "(ký số – chưa kiểm tra)", words.UNKNOWN_VERDICT_COLOUR
            return [
                Line(title, s.center_b),
                Line(note, s.coloured(s.center, colour, fontSize=8.5, leading=11)),
                Spacer(1, 7 * mm),
                x.p(entry.name if entry else "", s.center_b, empty="—"),
            ]

        # the roles the profile gives a block on the form (the homeroom teacher, the principal)
        blocks = [block(r.role, r.form_title) for r in self.d.profile.signer_roles() if r.form_title]
        if not blocks:
            return Grid([[date_line]], [BODY_W], GridStyle(pad=(0, 4, 1.2, 3), valign="TOP", ruled=False,
                                                           header_rows=0))
        share = BODY_W / max(len(blocks), 2)
        return Grid([
            [*([""] * (max(len(blocks), 2) - 1)), date_line],
            [*blocks, *([""] * (2 - len(blocks)))],
        ], [share] * max(len(blocks), 2), GridStyle(pad=(0, 4, 1.2, 3), body_pad=UNRULED.pad, valign="TOP",
                                                     ruled=False, shade_header=False))

    def verification_page(self) -> list[Flowable]:
        s, x, t, d = self.s, self.x, self.t, self.d
        v = self.verification
        story: list[Flowable] = [
            Line("THÔNG TIN XÁC THỰC", s.title),
            para("Kết quả kiểm tra chữ ký số của tệp XML gốc tại thời điểm lập bản thể hiện "
                      "này", s.subtitle),
            self.verdict_box(large=True), *self.superseded_banner(), Spacer(1, 2 * mm),
        ]
        reasons = [_dict(r) for r in _list((v or {}).get("reasons"))]
        for reason in reasons:
            story.append(x.markup("• <b>{code}</b>: {msg}", s.small,
                                  code=_str(reason.get("code")) or "—",
                                  msg=_str(reason.get("message"))))

        # Lookup code + QR, file identity, profile.
        info_rows: list[tuple[str, object]] = [
            ("Mã tra cứu:", t.lookup_code),
            ("Học sinh:", f"{t.student.name} – lớp {t.class_name} – năm học {t.school_year}"),
            ("Trường:", t.school.name),
            # The name only: a verifier's absolute path says nothing to a reader of the
            # archive and exposes the folders of the PC that built it.
            ("Tệp XML gốc:", d.attachment_name),
            ("SHA-256 của tệp gốc:", d.sha256),
            ("Định dạng (hồ sơ):", f"{d.profile.id} – {d.profile.title}"),
        ]
        if v is not None and v.get("validation_time"):
            info_rows.append(("Thời điểm kiểm tra:", words.datetime_vn(_str(v.get("validation_time")))))
        if v is not None and v.get("software"):
            info_rows.append(("Phần mềm kiểm tra:", _str(v.get("software"))))
        if v is not None and v.get("sha256") and _str(v.get("sha256")).lower() != d.sha256:
            info_rows.append(("Cảnh báo:", "SHA-256 trong kết quả xác thực khác với tệp được "
                                            "thể hiện; kết quả có thể thuộc về tệp khác."))
        qr_size = 34 * mm
        info_w = BODY_W - qr_size - 4 * mm
        info = self.kv_table(info_rows, 38 * mm, s.cell, s.cell_b, width=info_w)
        qr = QrFlowable(t.lookup_code, qr_size) if t.lookup_code else Spacer(qr_size, qr_size)
        caption = Line("QR: mã tra cứu", ParagraphStyle(
            "cap", parent=s.small_grey, alignment=TA_CENTER))
        top = Grid([[info, [qr, caption]]], [info_w + 4 * mm, qr_size],
                   GridStyle(pad=(0, 4, 4, 1.2), valign="TOP", ruled=False, header_rows=0))
        story += [Spacer(1, 2 * mm), top]

        story += self._timestamp_block()
        story.append(Line("CHỮ KÝ SỐ", s.section))
        story += self._signature_table()

        warnings = [_dict(w) for w in _list((v or {}).get("warnings"))]
        notes = list(d.notes)
        if self.missing:
            codes = ", ".join(f"U+{ord(c):04X}" for c in sorted(self.missing))
            notes.append(f"Tệp XML có ký tự không hiển thị được trong bản này ({codes}); "
                         "các ký tự đó được thay bằng dấu �. Xem tệp XML gốc.")
        if warnings or notes:
            story.append(Line("Cảnh báo", s.section))
            for w in warnings:
                story.append(x.markup("• <b>{code}</b>: {msg}", s.small,
                                      code=_str(w.get("code")) or "—",
                                      msg=_str(w.get("message"))))
            for note in notes:
                story.append(x.markup("• {msg}", s.small, msg=note))

        if d.flavour == "3b":
            original = (f"Tệp XML gốc ({d.attachment_name}) được đính kèm nguyên vẹn trong tệp "
                        "PDF/A-3b này (tệp đính kèm, quan hệ «Source»).")
        else:
            original = ("Bản PDF/A-1b này không đính kèm tệp XML gốc; tệp XML gốc được lưu "
                        "cùng trong hồ sơ lưu trữ.")
        story += [Spacer(1, 5 * mm), KeepTogether([x.markup(
            "<b>Lưu ý.</b> Đây là bản thể hiện (bản in) của học bạ số. Bản gốc có giá trị là tệp "
            "XML có chữ ký số; khi có khác biệt, tệp XML gốc được dùng. {orig} Có thể kiểm tra "
            "lại bằng mã tra cứu hoặc bằng cách xác thực tệp XML gốc.", s.small, orig=original)])]
        return story

    def _timestamp_block(self) -> list[Flowable]:
        ts = self.d.archive_timestamp
        if not ts:
            return []
        s = self.s
        ts = _dict(ts)
        rows: list[tuple[str, object]] = [
            ("Thời điểm:", words.datetime_vn(_str(ts.get("time"))) if ts.get("time") else "—"),
            ("Đơn vị cấp dấu thời gian:", _str(ts.get("tsa")) or "—"),
        ]
        out: list[Flowable] = [Line("DẤU THỜI GIAN LƯU TRỮ", s.section),
                               self.kv_table(rows, 50 * mm, s.cell, s.cell_b)]
        if ts.get("local"):
            out.append(para(
                "<font color='#a65f00'><b>Lưu ý:</b> dấu thời gian cục bộ, không phải của TSA "
                "tin cậy</font> (local timestamp, not from a trusted TSA).", s.small))
        return out

    def _signature_rows(self) -> list[dict[str, Any]]:
        """One dict per row: the verifier's signatures, then listed signers it missed."""
        by_signature_id = {e.signature_id: e for e in self.t.signers}
        if self.verification is None:
            return [{"role": e.role, "subject_code": e.subject, "signer": e.name,
                     "id": e.signature_id, "status": None} for e in self.t.signers]
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for sig in self.signatures:
            sig_id = _str(sig.get("id"))
            seen.add(sig_id)
            entry = by_signature_id.get(sig_id)
            # "subject" is the school subject (MonHoc) of a GVBM signature; a value with
            # "=" is a certificate DN from a verifier that put it there instead.
            raw_subject = _str(sig.get("subject"))
            subject_code = "" if "=" in raw_subject else raw_subject
            cert = _dict(sig.get("certificate"))
            rows.append({
                "role": _str(sig.get("role")) or (entry.role if entry else ""),
                "subject_code": subject_code or (entry.subject if entry else ""),
                "signer": _str(sig.get("signer")) or (entry.name if entry else ""),
                "id": sig_id,
                "cert_subject": _str(cert.get("subject")) or (raw_subject if "=" in raw_subject
                                                              else ""),
                "cert_issuer": _str(cert.get("issuer")),
                "signing_time": _str(sig.get("signing_time")),
                "status": _str(sig.get("status")).upper(),
                "sub_indication": _str(sig.get("sub_indication")).upper(),
                "message": _str(sig.get("message")),
                # Fields of archiver.verify's report; absent from other verifiers' dicts.
                "listed": sig.get("listed", True) is not False,
                "present": sig.get("present", True) is not False,
            })
        for entry in self.t.signers:
            if entry.signature_id not in seen:
                rows.append({"role": entry.role, "subject_code": entry.subject,
                             "signer": entry.name, "id": entry.signature_id,
                             "status": "MISSING_FROM_RESULT"})
        return rows

    def _signature_table(self) -> list[Flowable]:
        s, x = self.s, self.x
        data = self._signature_rows()
        # Schools' teachers usually hold certificates from one CA: say it once above the
        # table rather than fifteen times in it.
        issuers = {r.get("cert_issuer", "") for r in data
                   if r.get("status") in words.STATUSES and r.get("present", True)}
        common_issuer = issuers.pop() if len(issuers) == 1 and len(data) > 1 else ""
        out: list[Flowable] = []
        if common_issuer:
            out += [Line([("Nơi cấp chứng thư số (chung cho mọi chữ ký): ", s.sig_bold),
                          (_dn(clean(common_issuer, self.missing)), s.sig)], s.sig),
                    Spacer(1, 1.5 * mm)]

        rows: list[list[Any]] = [[
            Line("TT", s.head), Line("Vai trò và người ký", s.head),
            Line("Chứng thư số" if common_issuer else "Chứng thư số (chủ thể; nơi cấp)", s.head),
            Line("Thời điểm ký", s.head), Line("Kết quả", s.head),
        ]]
        for r in data:
            who: list[Flowable] = [x.p(self.role_label(r["role"], r["subject_code"]), s.sig),
                                   x.p(r["signer"], s.sig_b, empty="—")]
            if r["id"]:
                who.append(x.p(f"Chữ ký: {r['id']}", s.sig_grey))
            if not r.get("listed", True):
                who.append(x.p("Không có trong danh sách người ký (DSTTKy)", s.sig_grey))
            status = r["status"]
            if status is None:
                cert: list[Flowable] = [Line("—", s.sig)]
                when: list[Flowable] = [Line("—", s.sig)]
                result: list[Flowable] = [Line("Chưa kiểm tra", s.coloured(
                    s.sig, words.NOT_VERIFIED.colour, fontName=BOLD))]
            elif status == "MISSING_FROM_RESULT":
                cert, when = [Line("—", s.sig)], [Line("—", s.sig)]
                result = [Line("Không có trong kết quả xác thực", s.coloured(
                    s.sig, words.UNKNOWN_VERDICT_COLOUR, fontName=BOLD))]
            else:
                if not r.get("present", True):
                    cert = [Line("Không có chữ ký này trong tệp", s.sig_bold)]
                else:
                    cert = [Line([("Chủ thể: ", s.sig_bold),
                                  (_dn(clean(r["cert_subject"], self.missing)) or "—", s.sig)],
                                 s.sig)]
                if not common_issuer and r.get("present", True):
                    cert.append(Line([("Nơi cấp: ", s.sig_bold),
                                      (_dn(clean(r["cert_issuer"], self.missing)) or "—", s.sig)],
                                     s.sig))
                when = self._time_cell(r["signing_time"])
                label, colour = words.STATUSES.get(
                    status, (status or "Không rõ", words.UNKNOWN_VERDICT_COLOUR))
                result = [Line(label, s.coloured(s.sig, colour, fontName=BOLD))]
                sub_label = ""
                if r["sub_indication"]:
                    sub = r["sub_indication"]
                    sub_label = words.SUB_INDICATIONS.get(sub, sub)
                    result += [x.p(sub_label, s.sig), x.p(sub, s.sig_grey)]
                # The verifier's message is "label / en — detail / en": the label restates
                # the sub-indication, so only the detail is added, in Vietnamese (the
                # column is narrow; the codes above are the language-neutral part).
                segments = [seg.partition(" / ")[0].strip() for seg in r["message"].split(" — ")]
                if segments and segments[0].rstrip(".").lower() == sub_label.lower():
                    segments = segments[1:]
                for detail in segments:
                    if detail:
                        result.append(x.p(detail, s.sig_grey))
            rows.append([Line(str(len(rows)), s.cell_c), who, cert, when, result])
        if len(rows) == 1:
            rows.append(["", x.p("Không có danh sách người ký", s.sig), "", "", ""])
        widths = [7 * mm, 42 * mm, 72 * mm, 23 * mm, BODY_W - 144 * mm]
        out.append(Grid(rows, widths, GridStyle(pad=(3, 3, 2.5, 3.5), body_pad=(3, 3, 2, 2.5),
                                                body_valign="TOP", zebra=True)))
        return out

    def _time_cell(self, value: str) -> list[Flowable]:
        """SigningTime on three short lines: date, time, UTC offset (the column is narrow)."""
        if not value:
            return [Line("—", self.s.sig)]
        shown = words.datetime_vi(value, self.d.profile.policy.default_utc_offset)
        when, sep, offset = shown.rpartition(" (")
        if not sep:
            return [self.x.p(shown, self.s.sig)]
        date, _, time = when.partition(" ")
        return [self.x.p(date, self.s.sig), self.x.p(time, self.s.sig),
                self.x.p("(" + offset, self.s.sig_grey)]

    # -- whole document -----------------------------------------------------------------

    def story(self) -> list[Flowable]:
        return [
            NextPageTemplate("body"), *self.cover(), PageBreak(),
            *self.personal(), PageBreak(),
            *self.results(), PageBreak(), *self.summary(), PageBreak(),
            *self.verification_page(),
        ]


class QrFlowable(Flowable):
    """A QR code drawn as one filled path (archiver.qr): a rectangle per run of dark
    modules, written straight into the content stream."""

    def __init__(self, value: str, size: float, border: int = 2) -> None:
        super().__init__()
        self.value = value
        self.size = size
        self.border = border

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        return self.size, self.size

    def draw(self) -> None:
        draw_qr(self.canv, self.value, 0, 0, self.size, self.border)


class _Furniture:
    """The styles of the running header and the footer."""

    def __init__(self) -> None:
        ensure_fonts()
        self.header = ParagraphStyle("header", fontName=REGULAR, fontSize=7.5, textColor=GREY)
        self.footer = ParagraphStyle("footer", fontName=REGULAR, fontSize=7.3, textColor=GREY)
        self.page = ParagraphStyle("page", fontName=BOLD, fontSize=8.5, textColor=GREY)
        self._markers: dict[str, ParagraphStyle] = {}

    def marker(self, colour: str) -> ParagraphStyle:
        if colour not in self._markers:
            self._markers[colour] = ParagraphStyle("marker", fontName=BOLD, fontSize=7.5,
                                                   textColor=colors.HexColor(colour))
        return self._markers[colour]


@functools.lru_cache(maxsize=1)
def _furniture() -> _Furniture:
    return _Furniture()


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with an ellipsis to ``width`` points (for one-line page headers)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _footer_canvas(footer_left: Sequence[str], header: tuple[str, str],
                   cover_frame: bool, marker: tuple[str, str] | None = None) -> Callable[..., Canvas]:
    """A canvas class that knows the page count when it draws each footer (page x/y)."""
    # The running header is the same on every page: fitted to its width once.
    foot = _furniture()
    right = _fit(header[1], REGULAR, 7.5, BODY_W * 0.55)
    header_right: list[Run] = [(right, foot.header)]
    header_right_width = stringWidth(right, REGULAR, 7.5)
    header_left: list[Run] = []
    used = 0.0
    if marker:  # a page read on its own still says the transcript is not valid
        text, colour = marker
        text = _fit(text, BOLD, 7.5, BODY_W * 0.6) + "  "
        header_left.append((text, foot.marker(colour)))
        used = stringWidth(text, BOLD, 7.5)
    header_left.append((_fit(header[0], REGULAR, 7.5, BODY_W - used - header_right_width - 12), foot.header))

    class FooterCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []
            # the same subset codes in every rendering (fonts.REPERTOIRE, _encoded)
            for name in (REGULAR, BOLD):
                getFont(name).splitString(REPERTOIRE, self._doc)
            self._doc._archiver_fixed_codes = True

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            # reportlab's own reset between pages (the usual page x/y recipe).
            self._startPage()  # type: ignore[attr-defined]

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            number = self.getPageNumber()
            self.saveState()
            if number == 1 and cover_frame:
                self.setStrokeColor(colors.HexColor("#1f3b63"))
                self.setLineWidth(2.2)
                self.rect(12 * mm, 14 * mm, PAGE_W - 24 * mm, PAGE_H - 26 * mm)
                self.setLineWidth(0.6)
                self.rect(14 * mm, 16 * mm, PAGE_W - 28 * mm, PAGE_H - 30 * mm)
            if number != 1:
                # Running header: a loose page still says whose transcript it belongs to.
                top = PAGE_H - 9 * mm
                show_runs(self, MARGIN_X, top, header_left)
                show_runs(self, PAGE_W - MARGIN_X - header_right_width, top, header_right)
                self.setStrokeColor(colors.HexColor("#bbbbbb"))
                self.setLineWidth(0.3)
                self.line(MARGIN_X, top - 1.8 * mm, PAGE_W - MARGIN_X, top - 1.8 * mm)
            y = 11 * mm if number == 1 else 15 * mm
            self.setStrokeColor(RULE)
            self.setLineWidth(0.4)
            if number != 1:
                self.line(MARGIN_X, y + 3.5 * mm, PAGE_W - MARGIN_X, y + 3.5 * mm)
            foot = _furniture()
            for i, line in enumerate(footer_left):
                show_runs(self, MARGIN_X, y - i * 3.3 * mm, [(line, foot.footer)])
            page = f"Trang {number}/{total}"
            show_runs(self, PAGE_W - MARGIN_X - stringWidth(page, BOLD, 8.5), y, [(page, foot.page)])
            self.restoreState()

    return FooterCanvas


def build_pdf(data: RenderInput, meta: Mapping[str, str]) -> tuple[bytes, set[str]]:
    """Lay out the pages; returns reportlab's PDF (not yet PDF/A) and the missing characters."""
    layout = _Layout(data)
    t = data.transcript
    lookup = clean(t.lookup_code) or "—"
    footer = [
        "Bản thể hiện của học bạ số; bản gốc là tệp XML có chữ ký số. "
        f"Mã tra cứu: {lookup}",
        "Rendering of the digitally signed XML transcript, which remains the original.",
    ]
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=A4,
        leftMargin=MARGIN_X, rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP, bottomMargin=MARGIN_BOTTOM,
        invariant=1, pageCompression=1,
        # Without this reportlab's page preamble selects Helvetica, an unembedded font.
        initialFontName=REGULAR, initialFontSize=10.5,
        title=meta.get("title", ""), author=meta.get("author", ""),
        subject=meta.get("subject", ""), creator=meta.get("creator", ""),
        producer=meta.get("producer", ""),  # the PDF/A step rewrites Info anyway
        lang="vi",
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, BODY_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="body")
    cover_frame = Frame(24 * mm, 22 * mm, PAGE_W - 48 * mm, PAGE_H - 46 * mm,
                        leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="cover")
    doc.addPageTemplates([
        PageTemplate("cover", [cover_frame]),
        PageTemplate("body", [frame]),
    ])
    story = layout.story()
    header = (
        f"Học bạ số – {clean(t.school.name) or '—'}",
        f"{clean(t.student.name) or '—'} – lớp {clean(t.class_name) or '—'} – "
        f"năm học {clean(t.school_year) or '—'}",
    )
    with _build_lock:
        # reportlab wraps its Flate streams in ASCII85 by default: a quarter larger, and
        # the pure-Python encoder cost a tenth of the rendering time. And zlib's fastest
        # level compresses in about half its default's time, for a PDF 4 % larger. Both switches
        # are global in reportlab, hence the lock while they are changed.
        saved = rl_config.useA85, pdfdoc.PDFZCompress
        rl_config.useA85, pdfdoc.PDFZCompress = 0, _FAST_FLATE
        try:
            doc.build(story, canvasmaker=_footer_canvas(footer, header, cover_frame=True,
                                                        marker=layout.page_marker()))
        finally:
            rl_config.useA85, pdfdoc.PDFZCompress = saved
    return buffer.getvalue(), layout.missing
