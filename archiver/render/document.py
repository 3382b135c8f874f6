"""Rendering one transcript: the PDF/A bytes for its XML, with its verification."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import posixpath
import re
import unicodedata
from typing import Any, Mapping

import pikepdf
import reportlab
from lxml import etree
from reportlab.platypus.doctemplate import LayoutError

from .. import __version__
from ..profiles import (
    Profile,
    ProfileError,
    available_profiles,
    detect_profile,
    search_path,
)
from ..safexml import UnsafeXml, parse_bytes
from ..transcript import Transcript, read_transcript
from . import words
from .pages import RenderInput, build_pdf
from .pdfa import Attachment, PdfMeta, make_pdfa

__all__ = ["FLAVOURS", "RenderError", "render_transcript"]

FLAVOURS = ("3b", "1b")
# Dates printed in the PDF come from the document; this one is used only when the
# document has no usable date at all, so the output still does not depend on the clock.
FALLBACK_DATE = "2000-01-01T00:00:00+07:00"


class RenderError(Exception):
    """The input cannot be rendered. ``code`` is stable; the messages are for people."""

    def __init__(self, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(f"{message_vi} / {message_en}")
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en

    @property
    def message(self) -> str:
        return f"{self.message_vi} / {self.message_en}"


def _nfc(value: object) -> str:
    return unicodedata.normalize("NFC", "" if value is None else str(value)).strip()


@functools.lru_cache(maxsize=8)
def _profiles(path: tuple[str, ...]) -> Mapping[str, Profile]:
    """The installed profiles, read once per search path.

    Reading every profile's TOML took longer than laying out a page; a class renders
    hundreds of transcripts with the same profiles. ``path`` is the cache key, so a
    changed ``ARCHIVER_PROFILES`` is honoured.
    """
    del path  # only the cache key: available_profiles() reads the same search path
    return available_profiles()


def _root_name(profile: Profile) -> str:
    """The root element a profile expects, from its signed-data path (``/HocBa/DLHocBa``)."""
    parts = [p for p in profile.signing.signed_data.split("/") if p]
    return parts[0] if parts else ""


def _choose_profile(root: etree._Element) -> tuple[Profile, list[str]]:
    """Detect the profile; failing that, fall back to the closest one (with a note).

    A transcript the verifier REJECTED for its profile should still be viewable "as far
    as its data allows": an inspector wants to see what the file claims. The fallback
    only applies when the root element is the one the profile reads, and the page says so.
    """
    profiles = _profiles(tuple(str(p) for p in search_path()))
    try:
        return detect_profile(root, profiles), []
    except ProfileError:
        pass
    tree = root.getroottree()
    localname = etree.QName(root).localname
    scored: list[tuple[int, str, Profile]] = []
    for profile in profiles.values():
        if _root_name(profile) != localname:
            continue
        score = 0
        for xpath, expected in profile.detect.items():
            with contextlib.suppress(etree.XPathError):
                score += tree.xpath(f"string({xpath})") == expected
        scored.append((score, profile.id, profile))
    if not scored:
        raise RenderError(
            "NO_PROFILE",
            f"Không có hồ sơ định dạng nào đọc được tệp này (phần tử gốc <{localname}>)",
            f"no installed profile reads this file (root element <{localname}>; installed: "
            f"{', '.join(sorted(profiles)) or 'none'})",
        )
    scored.sort(key=lambda item: (-item[0], item[1]))
    profile = scored[0][2]
    note = (f"Không hồ sơ định dạng nào khớp hoàn toàn với tệp; nội dung được đọc theo hồ sơ "
            f"{profile.id} và có thể không đầy đủ hoặc sai lệch.")
    return profile, [note]


def _document_date(transcript: Transcript, verification: Mapping[str, Any] | None) -> str:
    m = re.match(r"^\d{4}-\d{2}-\d{2}$", transcript.effective_date)
    if m:
        return f"{transcript.effective_date}T00:00:00+07:00"
    # No effective date: the latest SigningTime, which is also a fact of the document.
    times = []
    for sig in (verification or {}).get("signatures") or []:
        value = str(sig.get("signing_time") or "") if isinstance(sig, Mapping) else ""
        if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", value):
            times.append(value + "+07:00")
        elif re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$", value):
            times.append(value)
    return max(times) if times else FALLBACK_DATE


def _attachment_name(name: str | None, transcript: Transcript,
                     verification: Mapping[str, Any] | None) -> str:
    candidate = name or str((verification or {}).get("path") or "")
    # Only the last path component, whichever separator the path was written with.
    candidate = posixpath.basename(candidate.replace("\\", "/")).strip()
    if not candidate:
        code = re.sub(r"[^0-9a-z]", "", transcript.lookup_code.lower())
        candidate = f"hocba-{code}.xml" if code else "hocba.xml"
    return _nfc(candidate)


def render_transcript(
    xml_bytes: bytes,
    *,
    profile: Profile | str | None = None,
    verification: Mapping[str, Any] | None = None,
    archive_timestamp: Mapping[str, Any] | None = None,
    flavour: str = "3b",
    attachment_name: str | None = None,
    transcript: Transcript | None = None,
) -> bytes:
    """Render one transcript as PDF/A and return the PDF bytes.

    ``verification`` is the verifier's per-file result (spec section 5; missing keys are
    tolerated); without it the last page says the transcript has not been verified.
    ``archive_timestamp`` is e.g. ``{"time": ..., "tsa": ..., "local": bool}``.
    ``profile`` is a :class:`Profile` or a profile id; by default it is detected.
    ``flavour`` is ``"3b"`` (the XML attached as the source) or ``"1b"`` (no attachment).
    ``attachment_name`` names the embedded XML (default: the verification's path, else
    ``hocba-<lookup code>.xml``).
    ``transcript``: the content already read from these bytes with this ``profile`` (the
    build reads each transcript once, in its verify stage); the XML is not parsed again.

    Raises :class:`RenderError` when the bytes are not a readable transcript.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
    notes: list[str] = []
    if transcript is None or profile is None:
        try:
            tree = parse_bytes(bytes(xml_bytes))
        except UnsafeXml as exc:
            vi, _, en = exc.message.partition(" / ")
            raise RenderError(exc.code, f"Không đọc được tệp XML: {vi}",
                              f"cannot read the XML: {en or vi}") from None
        transcript = None
    if isinstance(profile, str):
        installed = _profiles(tuple(str(p) for p in search_path()))
        if profile not in installed:
            raise RenderError(
                "UNKNOWN_PROFILE", f"Không có hồ sơ định dạng {profile}",
                f"unknown profile {profile!r}; installed: {', '.join(sorted(installed))}")
        profile = installed[profile]
    elif profile is None:
        profile, notes = _choose_profile(tree.getroot())
    if transcript is None:
        try:
            transcript = read_transcript(tree, profile)
        except (ProfileError, etree.XPathError, TypeError, ValueError) as exc:
            raise RenderError(
                "PROFILE_MISMATCH",
                f"Không đọc được nội dung học bạ theo hồ sơ {profile.id}",
                f"cannot read the transcript with profile {profile.id}: {exc}",
            ) from None

    sha256 = hashlib.sha256(xml_bytes).hexdigest()
    name = _attachment_name(attachment_name, transcript, verification)
    student = transcript.student.name or "(không rõ tên)"
    school = transcript.school.name or "(không rõ trường)"
    verdict = str((verification or {}).get("verdict") or "") if verification is not None \
        else words.NOT_VERIFIED.code
    meta = PdfMeta(
        title=_nfc(f"Học bạ số – {student} – lớp {transcript.class_name} – "
                   f"năm học {transcript.school_year}"),
        author=_nfc(school),
        subject=_nfc(f"Bản thể hiện PDF/A của học bạ số (tệp XML có chữ ký số là bản gốc); "
                     f"mã tra cứu {transcript.lookup_code}; {school}"),
        keywords=_nfc("; ".join(k for k in (
            "học bạ số", transcript.lookup_code, transcript.register_number, school,
            transcript.school_year) if k)),
        creator_tool=f"archiver {__version__}",
        producer=f"archiver {__version__} (reportlab {reportlab.Version}, "
                 f"pikepdf {pikepdf.__version__})",
        date=_document_date(transcript, verification),
        language="vi",
        custom={
            "LookupCode": transcript.lookup_code,
            "StudentName": _nfc(transcript.student.name),
            "RegisterNumber": transcript.register_number,
            "SchoolName": _nfc(transcript.school.name),
            "SchoolCode": transcript.school.code,
            "SchoolYear": transcript.school_year,
            "ClassName": transcript.class_name,
            "Verdict": _nfc(verdict),
            "OriginalSHA256": sha256,
        },
    )
    data = RenderInput(
        transcript=transcript, profile=profile, verification=verification,
        archive_timestamp=archive_timestamp, flavour=flavour, sha256=sha256,
        attachment_name=name, notes=notes,
    )
    try:
        pages, _missing = build_pdf(data, {
            "title": meta.title, "author": meta.author, "subject": meta.subject,
            "creator": meta.creator_tool, "producer": meta.producer, "keywords": meta.keywords,
        })
    except LayoutError as exc:  # one transcript that cannot be laid out never stops a build
        raise RenderError("LAYOUT", "Không dàn trang được bản thể hiện của học bạ này",
                          f"the rendering cannot be laid out: {str(exc)[:200]}") from None
    attachment = Attachment(
        data=bytes(xml_bytes), name=name,
        description="Học bạ số gốc (XML có chữ ký số) / original signed XML transcript",
    )
    return make_pdfa(pages, meta, flavour, attachment if flavour == "3b" else None)
