"""Rendering the HTML pages with Jinja2 (autoescape on: names and reasons are data).

One environment per process, built once; every page is one ``template.render`` call.
Student pages are the bulk of the work (one per transcript: read its report and XML,
draw its QR code, render), so :func:`render_students` is what runs in worker processes.
"""

from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any, Collection, Iterable
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

import archiver

from .. import vn
from ..pipeline.kept import kept_path, load_kept
from ..qr import qr_svg_markup, remember_matrix
from ..timestamps.tsa import LOCAL_TSA_LABEL, LOCAL_TSA_LABEL_VI
from ..verify.report import SUB_INDICATION_TEXT
from .model import VERDICTS, package_href
from .text import mask_citizen_id, vn_date, vn_datetime

VERDICT_TEXT = {
    "VALID": ("Hợp lệ", "Valid", "✓"),
    "INVALID": ("Không hợp lệ", "Invalid", "✗"),
    "INDETERMINATE": ("Chưa xác định", "Indeterminate", "?"),
    "REJECTED": ("Bị từ chối", "Rejected", "⊘"),
}
STATUS_TEXT = {
    "TOTAL_PASSED": ("Đạt", "Passed", "ok"),
    "TOTAL_FAILED": ("Không đạt", "Failed", "bad"),
    "INDETERMINATE": ("Chưa xác định", "Indeterminate", "warn"),
}
CHECK_TEXT = {"format": "cấu trúc / format", "hash": "toàn vẹn nội dung / content hash",
              "crypto": "giá trị chữ ký / signature value", "policy": "thuật toán / algorithms",
              "chain": "chuỗi chứng thư / certificate chain", "revocation": "thu hồi / revocation",
              "role": "vai trò / role"}


def templates_dir() -> Path:
    """The site templates shipped with archiver (inside the wheel, or the repository)."""
    here = Path(archiver.__file__).resolve().parent
    installed = here / "_data" / "templates" / "site"
    if installed.is_dir():
        return installed
    return here.parent / "templates" / "site"


def split_bilingual(text: str) -> tuple[str, str]:
    """Messages are written ``"tiếng Việt / English"``, a detail added after " — " in the
    same way (``"nhãn / label — chi tiết / detail"``); the site shows one language at a time."""
    vi: list[str] = []
    en: list[str] = []
    for segment in (text or "").split(" — "):
        first, sep, second = segment.partition(" / ")
        vi.append(first.strip())
        en.append(second.strip() if sep else first.strip())
    return " — ".join(vi), " — ".join(en)


GENDER_EN = {"Nam": "Male", "Nữ": "Female"}


def gender(value: str) -> Markup:
    """The gender as the transcript says it, with its English for the language switch."""
    return Markup('<span data-en="{en}">{vi}</span>').format(vi=value, en=GENDER_EN.get(value, value))


def verdict_badge(verdict: str) -> Markup:
    vi, en, sign = VERDICT_TEXT.get(verdict, (verdict or "—", verdict or "—", "•"))
    return Markup('<span class="badge v-{cls}"><span aria-hidden="true">{sign}</span> '
                  '<span data-en="{en}">{vi}</span></span>').format(
        cls=(verdict or "none").lower(), sign=sign, en=en, vi=vi)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,  # every template is HTML; names and reasons are untrusted data
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update(vndate=vn_date, vntime=vn_datetime, decimal=vn.decimal, mask=mask_citizen_id,
                       badge=verdict_badge, gender=gender, bilingual=split_bilingual)
    env.globals.update(VERDICT_TEXT=VERDICT_TEXT, VERDICTS=VERDICTS, STATUS_TEXT=STATUS_TEXT,
                       LOCAL_TSA_LABEL=LOCAL_TSA_LABEL, LOCAL_TSA_LABEL_VI=LOCAL_TSA_LABEL_VI)
    return env


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return _environment()


def render(template: str, out: Path, **context: Any) -> int:
    data = environment().get_template(template).render(**context).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return len(data)


def copy_assets(out: Path) -> int:
    size = 0
    target = out / "assets"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted((templates_dir() / "assets").iterdir()):
        if path.is_file():
            shutil.copyfile(path, target / path.name)
            size += path.stat().st_size
    return size


def verdict_chart(counts: dict[str, int]) -> Markup:
    """A small horizontal bar chart, inline SVG: no script, prints, scales on a phone."""
    total = max(sum(counts.get(v, 0) for v in VERDICTS), 1)
    rows = []
    bar_h, gap, label_w, width = 22, 8, 120, 260
    for i, verdict in enumerate(VERDICTS):
        n = counts.get(verdict, 0)
        w = round(width * n / total, 1) if n else 0
        y = i * (bar_h + gap)
        vi, en, _sign = VERDICT_TEXT[verdict]
        rows.append(Markup('<text class="lbl" x="0" y="{ty}" data-en="{en}">{vi}</text>'
                           '<rect class="c-{cls}" x="{x}" y="{y}" width="{w}" height="{h}" rx="3"/>'
                           '<text x="{tx}" y="{ty}">{n}</text>').format(
            cls=verdict.lower(), x=label_w, y=y, w=max(w, 1 if n else 0), h=bar_h, vi=vi, en=en,
            tx=label_w + w + 6, ty=y + bar_h - 6, n=n))
    height = len(VERDICTS) * (bar_h + gap) - gap
    summary = ", ".join(f"{VERDICT_TEXT[v][0]}: {counts.get(v, 0)}" for v in VERDICTS)
    summary_en = ", ".join(f"{VERDICT_TEXT[v][1]}: {counts.get(v, 0)}" for v in VERDICTS)
    return Markup('<svg class="chart" viewBox="0 0 {vw} {vh}" width="{vw}" height="{vh}" role="img" '
                  'aria-label="{summary}" data-en-label="{summary_en}"><title data-en="{summary_en}">{summary}'
                  '</title>{rows}</svg>').format(
        vw=label_w + width + 60, vh=height, summary=summary, summary_en=summary_en, rows=Markup("").join(rows))


def qr_svg(code: str) -> Markup:
    """The lookup code as an inline SVG QR code (segno: pure Python, no image libraries,
    deterministic output)."""
    if not code:
        return Markup("")
    svg = qr_svg_markup(code)
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="QR: {}" '.format(escape(code)), 1))


# -- student pages (worker side) ---------------------------------------------------------

@lru_cache(maxsize=1)
def _profiles(dirs: tuple[str, ...]) -> dict[str, Any]:
    from ..profiles import available_profiles

    return available_profiles(dirs)


def read_report(path: Path) -> dict[str, Any] | None:
    """The archived verification report (archiver.verification/1), or None if unreadable."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_content(path: Path, profile_id: str, profiles_dirs: tuple[str, ...],
                 kept: Any = None) -> tuple[Any, Any]:
    """(Transcript, Profile) from the archived XML; (None, profile-or-None) when unreadable.
    ``kept``: what the build that archived it read from it (archiver.pipeline.kept.Kept), if any."""
    from ..pipeline.kept import kept_transcript
    from ..profiles import ProfileError, detect_profile
    from ..safexml import UnsafeXml, parse_bytes
    from ..transcript import read_transcript

    profiles = _profiles(profiles_dirs)
    profile = profiles.get(profile_id)
    if profile is not None and (transcript := kept_transcript(kept, profile_id)) is not None:
        return transcript, profile
    try:
        data = path.read_bytes()
        limit = max((p.policy.max_bytes for p in profiles.values()), default=5 * 1024 * 1024)
        tree = parse_bytes(data, max_bytes=limit)
        if profile is None:
            profile = detect_profile(tree.getroot(), profiles)
        return read_transcript(tree, profile), profile
    except (OSError, UnsafeXml, ProfileError, ValueError):
        return None, profile


@lru_cache(maxsize=4)
def _role_labels(dirs: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Every installed profile's roles, (Vietnamese, English) by role: the words for a
    signature whose own profile could not be told (its transcript could not be read)."""
    labels: dict[str, tuple[str, str]] = {}
    for profile in _profiles(dirs).values():
        for role, rule in profile.signing.roles.items():
            labels.setdefault(role, (rule.label, rule.label_en))
    return labels


def _signatures(report: dict[str, Any] | None, profile: Any, transcript: Any,
                profiles_dirs: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    if not report:
        return []
    roles = getattr(getattr(profile, "signing", None), "roles", {}) or {}
    fallback = _role_labels(profiles_dirs) if not roles else {}
    subjects = {s.code: s.name for s in getattr(transcript, "subjects", ())}
    rows = []
    for sig in report.get("signatures", []):
        role = sig.get("role", "")
        rule = roles.get(role)
        role_vi, role_en = (rule.label, rule.label_en) if rule else fallback.get(role, (role, role))
        status_vi, status_en, status_cls = STATUS_TEXT.get(sig.get("status", ""), (sig.get("status", ""),) * 2 + ("warn",))
        sub = sig.get("sub_indication", "")
        reason_vi, reason_en = split_bilingual(SUB_INDICATION_TEXT.get(sub, "")) if sub else ("", "")
        failed = [CHECK_TEXT.get(k, k) for k, v in sorted((sig.get("checks") or {}).items())
                  if v in ("FAILED", "INDETERMINATE")]
        rows.append({
            "id": sig.get("id", ""), "role": role, "role_vi": role_vi, "role_en": role_en,
            "subject": sig.get("subject", ""), "subject_name": subjects.get(sig.get("subject", ""), ""),
            "signer": sig.get("signer", ""),
            "subject_dn": sig.get("subject_dn") or (sig.get("certificate") or {}).get("subject", ""),
            "issuer": (sig.get("certificate") or {}).get("issuer", ""),
            "signing_time": vn_datetime(sig.get("signing_time", "")),
            "status": sig.get("status", ""), "status_vi": status_vi, "status_en": status_en,
            "status_cls": status_cls, "sub_indication": sub, "reason_vi": reason_vi, "reason_en": reason_en,
            "message": sig.get("message", ""), "failed_checks": failed,
            "listed": sig.get("listed", True), "present": sig.get("present", True),
            "findings": [split_bilingual(f.get("message", "")) + (f.get("code", ""),)
                         for f in sig.get("findings", [])],
        })
    return rows


_LAYOUT_VIEWS: dict[str, dict[str, Any]] = {}


def _layout_view(profile: Any) -> dict[str, Any]:
    """What every student page of a profile shows alike: headings, titles, each column's
    cell class. Worked out once per profile and process."""
    view = _LAYOUT_VIEWS.get(profile.id)
    if view is None or view["profile"] is not profile:
        layout = profile.layout
        view = _LAYOUT_VIEWS[profile.id] = {
            "profile": profile,
            "columns": [(c.short or c.heading, c.short_en or c.heading_en or c.short or c.heading,
                         Markup(' class="num"') if c.format == "mark" else Markup(""))
                        for c in layout.columns],
            # (field, scale, format, the cell's class)
            "cells": [(c.field, c.scale, c.format, ("num" if c.format == "mark" else "level") + (" strong" if c.strong
                                                                                               else ""))
                      for c in layout.columns],
            "note": layout.table_note,
            "summary_title": layout.summary_title.capitalize(), "summary_title_en": layout.summary_title_en,
            "qualities_title": layout.qualities_title.capitalize(), "qualities_title_en": layout.qualities_title_en,
            "quality_heading": layout.quality_heading, "quality_heading_en": layout.quality_heading_en,
            "competence_heading": layout.competence_heading, "competence_heading_en": layout.competence_heading_en,
            "groups": {c.code: c.group for c in profile.competences},
        }
    return view


def results_view(t: Any, profile: Any) -> dict[str, Any]:
    """What the student page shows of the results, as the profile's layout says: the
    subject table's columns and each value as it is shown (a mark with a decimal comma,
    a level as its word), the year's ratings and summary, qualities and competences."""
    layout = profile.layout
    view = _layout_view(profile)
    show = profile.show
    cells = view["cells"]
    # a row's value cells as one piece of markup (escaped here): a hundred small template
    # outputs per page cost more than the rest of the table
    rows = [(s.name or s.code,
             Markup("".join(f'<td class="{cls}">{escape(show(s.value(name), scale=scale, format=fmt))}</td>'
                            for name, scale, fmt, cls in cells)),
             s.comment, s.teacher) for s in t.subjects]
    ratings = []
    for item in layout.ratings:
        r = t.ratings.get(item.field)
        if r is not None:
            ratings.append((item.label, item.label_en or item.label,
                            [profile.word(item.scale, v) for v in (r.term1, r.term2, r.year)]))
    summary = []
    for item in layout.summary:
        value = t.value(item.field)
        if value:
            summary.append((item.label, item.label_en or item.label,
                            show(value, scale=item.scale), Markup(' class="strong"') if item.strong else Markup("")))
    scale, groups = layout.assessed_scale, view["groups"]
    competences, current = [], ""
    for c in t.competences:
        group = groups.get(c.code, "")
        competences.append((group if group and group != current else "", c.name, profile.word(scale, c.level)))
        current = group or current
    return {**view, "rows": rows, "ratings": ratings, "summary": summary, "competences": competences,
            "qualities": [(q.name, profile.word(scale, q.level)) for q in t.qualities]}


ClassRow = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def class_row(t: Any, profile: Any) -> ClassRow:
    """One pupil's line on the class page, kept small (the main process holds a class's
    lines at a time): (profile id, subject codes, each subject's year value as written,
    the year results the layout marks for the class page). :func:`class_results` shows
    them as the profile says."""
    layout = profile.layout
    column = next((c for c in layout.columns if c.class_page), None)
    codes = tuple(s.code for s in t.subjects) if column else ()
    values = tuple(s.value(column.field) for s in t.subjects) if column else ()
    results = tuple((t.ratings[item.field].year if item.field in t.ratings else t.value(item.field))
                    for item in (*layout.ratings, *layout.summary) if item.class_page)
    return profile.id, codes, values, results


def class_results(klass: dict[str, Any], rows: dict[str, ClassRow], profiles: dict[str, Any]) -> dict[str, Any] | None:
    """The class page's results table: a column per subject of its pupils (in their order),
    then the year results as words; a line per pupil. A level is shown as its code with its
    word in the title and the legend (a row of eleven subjects' words would not fit), a mark
    with a decimal comma. None when no pupil's content was read."""
    found = [rows[s["url"]] for s in klass["students"] if s["url"] in rows]
    profile = next((profiles[r[0]] for r in found if r[0] in profiles), None)
    if profile is None:
        return None
    layout = profile.layout
    column = next((c for c in layout.columns if c.class_page), None)
    items = [item for item in (*layout.ratings, *layout.summary) if item.class_page]
    subjects: dict[str, None] = {}
    for _pid, codes, _values, _results in found:
        subjects.update(dict.fromkeys(codes))

    cell = '<td class="num strong">' if column is not None and column.strong else '<td class="num">'
    shown_cache: dict[str, str] = {}

    def shown(value: str) -> str:
        """A cell's markup (escaped here), made once per value in the class."""
        found = shown_cache.get(value)
        if found is None:
            if column is None or not value:
                found = f"{cell}{escape(value)}</td>"
            elif column.scale:
                found = f'{cell}<abbr title="{escape(profile.word(column.scale, value))}">{escape(value)}</abbr></td>'
            else:
                found = f"{cell}{escape(profile.show(value, format=column.format))}</td>"
            shown_cache[value] = found
        return found

    lines = []
    for student in klass["students"]:
        row = rows.get(student["url"])
        by_code = dict(zip(row[1], row[2])) if row else {}
        # a pupil's cells as one piece of markup, like the student page's
        lines.append({"s": student, "cells": Markup("".join(shown(by_code.get(code, "")) for code in subjects)),
                      "results": [profile.word(item.scale, v) for item, v in zip(items, row[3])] if row else
                      [""] * len(items)})
    names = []
    for code in subjects:
        subject = profile.subject(code)
        names.append((code, (subject.short if subject else "") or code, subject.name if subject else code))
    legend = list(profile.scales.get(column.scale, {}).items()) if column is not None and column.scale else []
    return {"subjects": names, "results": [(i.label, i.label_en or i.label) for i in items], "lines": lines,
            "legend": legend, "heading": column.heading if column else "", "strong": bool(column and column.strong)}


def _content(entry: dict[str, Any], package: dict[str, Any] | None, archive: Path,
             profiles_dirs: tuple[str, ...], kept: Path | None) -> tuple[Any, Any, Any, Any]:
    """What a student's page is made of besides the index: (its report, what the build
    kept of it, its transcript, its profile)."""
    files = entry.get("files") or {}
    base = archive / (package.get("path") or package["id"]) if package else archive / entry.get("package", "")
    report = read_report(base / files["report_json"]) if files.get("report_json") else None
    sha = (entry.get("sha256") or {}).get("xml", "")
    found = load_kept(kept_path(kept, sha)) if kept and sha else None
    transcript, profile = (read_content(base / files["xml"], (report or {}).get("profile", ""), profiles_dirs, found)
                           if files.get("xml") else (None, None))
    return report, found, transcript, profile


def student_context(entry: dict[str, Any], package: dict[str, Any] | None, archive: Path,
                    profiles_dirs: tuple[str, ...], kept: Path | None = None) -> dict[str, Any]:
    files = entry.get("files") or {}
    report, found, transcript, profile = _content(entry, package, archive, profiles_dirs, kept)
    if found is not None and found.qr and transcript is not None and transcript.lookup_code:
        remember_matrix(transcript.lookup_code, found.qr)  # the code drawn in its PDF
    links = [(key, vi, en, package_href(package or {"id": entry.get("package", "")}, files.get(key)))
             for key, vi, en in (("xml", "Bản gốc XML (có chữ ký số)", "Original XML (signed)"),
                                 ("pdf", "Bản kết xuất PDF/A", "PDF/A rendering"),
                                 ("report_html", "Báo cáo kiểm tra (HTML)", "Verification report (HTML)"),
                                 ("report_json", "Báo cáo kiểm tra (JSON)", "Verification report (JSON)"),
                                 ("evidence", "Hồ sơ bằng chứng (ERS, RFC 4998)", "Evidence record (ERS, RFC 4998)"))]
    timestamp = (package or {}).get("timestamp") or {}
    return {
        "e": entry, "package": package or {}, "report": report, "t": transcript,
        "results": results_view(transcript, profile) if transcript is not None and profile is not None else None,
        "class_row": class_row(transcript, profile) if transcript is not None and profile is not None else None,
        "signatures": _signatures(report, profile, transcript, profiles_dirs),
        "reasons": [split_bilingual(f.get("message", "")) + (f.get("code", ""),) for f in (report or {}).get("reasons", [])],
        "warnings": [split_bilingual(f.get("message", "")) + (f.get("code", ""),) for f in (report or {}).get("warnings", [])],
        "links": [link for link in links if link[3]],
        "timestamp": {"time": vn_datetime(timestamp.get("time", "")), "tsa": timestamp.get("tsa", ""),
                      "local": bool(timestamp.get("local"))} if timestamp else None,
        "qr": qr_svg(entry.get("lookup_code", "")),
        # the package's README: what it holds and how to check it by hand
        "package_href": package_href(package or {"id": entry.get("package", "")}, "data/README.txt"),
        "label_href": quote((package or {}).get("label") or ""),
    }


def render_students(batch: Iterable[tuple[dict[str, Any], dict[str, Any] | None]], archive: str, out: str,
                    shared: dict[str, Any], profiles_dirs: tuple[str, ...] = (),
                    kept: str | None = None, in_place: Collection[str] = ()) -> tuple[int, int, dict[str, ClassRow]]:
    """Render one batch of student pages; returns (pages, bytes, each pupil's line on its
    class page by page URL). Runs in workers. A page whose URL is ``in_place`` is already
    written (taken from another site): only its pupil's line is read."""
    pages = size = 0
    archive_path, out_path = Path(archive), Path(out)
    kept_path = Path(kept) if kept else None
    rows: dict[str, ClassRow] = {}
    for entry, package in batch:
        if entry["url"] in in_place:
            _report, _found, transcript, profile = _content(entry, package, archive_path, profiles_dirs, kept_path)
            if transcript is not None and profile is not None:
                rows[entry["url"]] = class_row(transcript, profile)
            continue
        context = student_context(entry, package, archive_path, profiles_dirs, kept_path)
        template = "student.html"
        if "pdf_signed" in (entry.get("files") or {}):  # a scanned paper transcript (archiver.site.scans)
            from .scans import scan_context

            context.update(scan_context(entry, package, archive_path, out_path, context["report"]))
            template = "scan.html"
        size += render(template, out_path / entry["url"], root="../../", page="student",
                       title=entry.get("name", ""), **shared, **context)
        pages += 1
        if context["class_row"] is not None:
            rows[entry["url"]] = context["class_row"]
    return pages, size, rows
