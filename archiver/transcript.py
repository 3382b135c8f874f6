"""The business content of a transcript, read through its profile's field map.

Pure data: no verification here. Rendering, packaging and the site read a
:class:`Transcript`; the verifier reads the XML itself. Text is normalised to NFC for
display and search; the original bytes are never touched.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree

from .profiles import Profile


def nfc(value: str | None) -> str:
    return unicodedata.normalize("NFC", value or "").strip()


@dataclass(frozen=True)
class School:
    code: str
    name: str
    province: str


@dataclass(frozen=True)
class Student:
    citizen_id: str
    student_code: str
    name: str
    birth_date: str
    gender: str
    ethnicity: str
    birth_place: str
    father_name: str = ""
    mother_name: str = ""


@dataclass(frozen=True)
class HistoryItem:
    school_year: str
    class_name: str
    school_name: str


@dataclass(frozen=True)
class SubjectResult:
    """One subject's results as written (a mark ``8.5``, ``Đ``, a level code ``T``); how
    each is shown is the profile's layout (:meth:`archiver.profiles.Profile.show`)."""

    id: str
    code: str
    name: str
    assessment: str  # a key of the profile's assessment values: "score", "comment", "level"
    term1: str = ""
    term2: str = ""
    year: str = ""
    comment: str = ""
    teacher: str = ""
    # The profile's further fields of a subject (a primary subject's test scores…), by name.
    values: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        """A field of the profile's subject map, by name ('' when absent)."""
        found = getattr(self, name, None) if name in _SUBJECT_FIELDS else None
        return found if isinstance(found, str) else self.values.get(name, "")


@dataclass(frozen=True)
class TermRatings:
    term1: str
    term2: str
    year: str


@dataclass(frozen=True)
class Assessed:
    code: str
    name: str
    level: str


@dataclass(frozen=True)
class SignerEntry:
    """One TTKy: a signer the signed data requires."""

    role: str
    subject: str
    name: str
    signer_id: str
    signature_id: str


@dataclass(frozen=True)
class Replacement:
    lookup_code: str
    reason: str


@dataclass(frozen=True)
class Transcript:
    profile_id: str
    lookup_code: str
    register_number: str
    level: str
    school_year: str
    effective_date: str
    school: School
    student: Student
    class_name: str
    grade: str
    history: tuple[HistoryItem, ...] = ()
    subjects: tuple[SubjectResult, ...] = ()
    learning: TermRatings | None = None
    conduct: TermRatings | None = None
    days_absent: str = ""
    promotion: str = ""
    title: str = ""
    qualities: tuple[Assessed, ...] = ()
    competences: tuple[Assessed, ...] = ()
    homeroom_comment: str = ""
    signers: tuple[SignerEntry, ...] = ()
    replaces: Replacement | None = None
    # The fields of the profile's map that have no attribute above, by name.
    extra: dict[str, Any] = field(default_factory=dict)
    year_result: str = ""  # the year's overall result (primary: HTXS, HTT, HT, CHT)
    awards: str = ""  # khen thưởng
    # Every result given per term and for the year, by field name (learning_result…).
    ratings: dict[str, TermRatings] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def value(self, name: str) -> str:
        """A single-valued field of the profile's map, by name ('' when absent)."""
        found = getattr(self, name, None) if name in _SCALARS else None
        if isinstance(found, str):
            return found
        found = self.extra.get(name, "")
        return found if isinstance(found, str) else ""


# Fields of the profile's map that read_transcript() reads into attributes of their own.
_SUBJECT_FIELDS = frozenset({"id", "code", "name", "assessment", "term1", "term2", "year", "comment", "teacher"})
_SCALARS = frozenset({"lookup_code", "register_number", "level", "school_year", "effective_date", "class_name",
                      "grade", "days_absent", "promotion", "title", "homeroom_comment", "year_result", "awards"})
_READ = _SCALARS | {"school_code", "school_name", "province", "replaces_lookup_code", "replaces_reason",
                    "citizen_id", "student_code", "student_name", "birth_date", "gender", "ethnicity", "birth_place",
                    "father_name", "mother_name", "history", "subjects", "qualities", "competences",
                    "learning_result", "conduct_result"}


_compiled = threading.local()


def xpath(expression: str) -> etree.XPath:
    """``expression`` compiled once per thread: lxml's ``.xpath()`` compiles its argument
    on every call, which cost more than evaluating these short paths."""
    cache = getattr(_compiled, "cache", None)
    if cache is None:
        cache = _compiled.cache = {}
    found = cache.get(expression)
    if found is None:
        if len(cache) >= 4096:
            cache.clear()
        found = cache[expression] = etree.XPath(expression)
    return found


def _text(node: etree._Element | etree._ElementTree, path: str) -> str:
    return nfc(xpath(f"string({path})")(node))


def _read_map(node: etree._Element, mapping: dict[str, str]) -> dict[str, str]:
    return {key: _text(node, path) for key, path in mapping.items()}


def read_transcript(tree: etree._ElementTree | etree._Element, profile: Profile) -> Transcript:
    """Extract the business content. Missing optional fields come back as ''."""
    if isinstance(tree, etree._Element):
        tree = tree.getroottree()

    def f(name: str) -> str:
        path = profile.fields.get(name)
        return _text(tree, path) if isinstance(path, str) else ""

    def elements(name: str) -> list[etree._Element]:
        path = profile.fields.get(name)
        return list(xpath(path)(tree)) if isinstance(path, str) else []

    assessment_values = {v: k for k, v in profile.field_map("assessment_values").items()}
    subject_map = dict(profile.field_map("subject"))
    own = {k: v for k, v in subject_map.items() if k in _SUBJECT_FIELDS}
    further = {k: v for k, v in subject_map.items() if k not in _SUBJECT_FIELDS}
    subjects = []
    for node in elements("subjects"):
        values = _read_map(node, own)
        values["assessment"] = assessment_values.get(values.get("assessment", ""), values.get("assessment", ""))
        subjects.append(SubjectResult(**values, values=_read_map(node, further) if further else {}))

    rating_map = profile.fields.get("rating")
    rating_fields = dict.fromkeys(["learning_result", "conduct_result", *(r.field for r in profile.layout.ratings)])

    def ratings(name: str) -> TermRatings | None:
        nodes = elements(name) if isinstance(rating_map, dict) else []
        return TermRatings(**_read_map(nodes[0], dict(rating_map))) if nodes else None  # type: ignore[arg-type]

    rated = {name: r for name in rating_fields if (r := ratings(name)) is not None}
    extra = {name: f(name) for name, path in profile.fields.items()
             if isinstance(path, str) and name not in _READ and name not in rating_fields}

    assessed_map = dict(profile.field_map("assessed"))
    history_map = dict(profile.field_map("history_item"))
    signer_map = dict(profile.field_map("signer"))
    signers = tuple(
        SignerEntry(**_read_map(node, signer_map)) for node in xpath(profile.signing.signer_list)(tree)
    )
    replaces_code = f("replaces_lookup_code")
    return Transcript(
        profile_id=profile.id,
        lookup_code=f("lookup_code").lower(),
        register_number=f("register_number"),
        level=f("level"),
        school_year=f("school_year"),
        effective_date=f("effective_date"),
        school=School(code=f("school_code"), name=f("school_name"), province=f("province")),
        student=Student(
            citizen_id=f("citizen_id"),
            student_code=f("student_code"),
            name=f("student_name"),
            birth_date=f("birth_date"),
            gender=f("gender"),
            ethnicity=f("ethnicity"),
            birth_place=f("birth_place"),
            father_name=f("father_name"),
            mother_name=f("mother_name"),
        ),
        class_name=f("class_name"),
        grade=f("grade"),
        history=tuple(HistoryItem(**_read_map(n, history_map)) for n in elements("history")),
        subjects=tuple(subjects),
        learning=rated.get("learning_result"),
        conduct=rated.get("conduct_result"),
        days_absent=f("days_absent"),
        promotion=f("promotion"),
        title=f("title"),
        qualities=tuple(Assessed(**_read_map(n, assessed_map)) for n in elements("qualities")),
        competences=tuple(Assessed(**_read_map(n, assessed_map)) for n in elements("competences")),
        homeroom_comment=f("homeroom_comment"),
        signers=signers,
        replaces=Replacement(replaces_code.lower(), f("replaces_reason")) if replaces_code else None,
        extra=extra,
        year_result=f("year_result"),
        awards=f("awards"),
        ratings=rated,
    )
