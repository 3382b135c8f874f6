"""Transcript format profiles: data folders that describe a format.

A profile folder holds ``profile.toml`` (identity, detection, field map),
``schema.xsd``, ``subjects.toml``, ``signing.toml`` (who signs which region) and
``policy.toml`` (algorithms, revocation, size limit). Adding a format is adding a
folder: the built-in ones ship inside the package, more are found through
``ARCHIVER_PROFILES`` (folders separated by ``os.pathsep``) or ``--profiles-dir``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from lxml import etree

from .errors import ConfigError
from .vn import decimal

PROFILE_FILES = ("profile.toml", "subjects.toml", "signing.toml", "policy.toml")


class ProfileError(ConfigError):
    """A profile is missing, malformed, or no profile fits a document."""


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    assessment: str  # a key of the profile's [fields.assessment_values]: "score", "comment", "level"
    required: bool
    # The grades that study it; empty: every grade of the level.
    grades: tuple[int, ...] = ()
    # The grades with periodic test scores beside its level (primary school).
    test_grades: tuple[int, ...] = ()
    # Who teaches it: "subject" (its own teacher, who signs it: GVBM) or "homeroom" (the
    # homeroom teacher, whose signature covers the whole transcript).
    teacher: str = "subject"
    short: str = ""  # a short name for narrow tables (the site's class page)

    def in_grade(self, grade: int | str) -> bool:
        return not self.grades or _int(grade) in self.grades

    def tested_in(self, grade: int | str) -> bool:
        return _int(grade) in self.test_grades


def _int(value: int | str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


@dataclass(frozen=True)
class Assessed:
    """A quality or competence the profile assesses (PhamChat, NangLuc)."""

    code: str
    name: str
    group: str = ""  # e.g. "Năng lực chung", "Năng lực đặc thù"


@dataclass(frozen=True)
class Column:
    """One column of the subject table after the subject's name (the PDF and the site)."""

    field: str  # a key of [fields.subject]
    heading: str
    heading_en: str = ""
    group: str = ""  # a heading over consecutive columns of the same group
    group_en: str = ""
    short: str = ""  # the site's heading (default: the heading)
    short_en: str = ""
    format: str = "text"  # "mark": a decimal, shown with a decimal comma; "text": as written
    scale: str = ""  # the values are codes of this scale, shown as its words
    strong: bool = False  # the year's value, in bold
    width_mm: float = 17.5
    class_page: bool = False  # shown for every pupil on the site's class page


@dataclass(frozen=True)
class SummaryItem:
    """One line of the year's summary: a field of [fields] and how it is shown."""

    field: str
    label: str
    label_en: str = ""
    scale: str = ""
    strong: bool = False
    class_page: bool = False


@dataclass(frozen=True)
class Layout:
    """How the transcript's results are laid out: the form of its level, as data."""

    subject_heading: str = "Môn học và hoạt động giáo dục"
    subject_heading_en: str = "Subject"
    subject_width_mm: float = 54.0
    comment_heading: str = "Nhận xét và giáo viên môn học"
    comment_heading_en: str = "Comment and teacher"
    columns: tuple[Column, ...] = ()
    table_note: str = ""
    # Results given per term and for the year (KQHocTap, KQRenLuyen): a table in the summary.
    ratings: tuple[SummaryItem, ...] = ()
    summary: tuple[SummaryItem, ...] = ()
    summary_title: str = "TỔNG KẾT NĂM HỌC"
    summary_title_en: str = "Year summary"
    qualities_title: str = "PHẨM CHẤT VÀ NĂNG LỰC"
    qualities_title_en: str = "Qualities and competences"
    quality_heading: str = "Phẩm chất chủ yếu"
    quality_heading_en: str = "Qualities"
    competence_heading: str = "Năng lực"
    competence_heading_en: str = "Competences"
    assessed_scale: str = ""  # the scale of qualities' and competences' levels, if codes
    # The order of the summary page's sections.
    sections: tuple[str, ...] = ("summary", "qualities", "comment")


@dataclass(frozen=True)
class RoleRule:
    """What one signer role signs and how its certificate is matched."""

    role: str
    label: str
    label_en: str
    region: str  # XPath; "$subject" is the TTKy's subject code
    identity: str  # "person" | "organisation"
    rank: int
    per_subject: bool = False
    # Must the signer list name this role? A per-subject role: once for every subject
    # code that ``subjects`` (an XPath to attribute values) finds in the document.
    # A role that is not required must still sign when the list names it.
    required: bool = False
    subjects: str = ""
    # The title of its signature block on the form ("HIỆU TRƯỞNG"); empty: no block.
    form_title: str = ""

    def region_xpath(self, subject: str | None) -> str:
        if "$subject" in self.region:
            return self.region.replace("$subject", _xpath_literal(subject or ""))
        return self.region


@dataclass(frozen=True)
class SigningRules:
    signer_list: str
    signature_container: str
    signature_wrapper: str
    signed_data: str
    id_elements: tuple[str, ...]
    roles: Mapping[str, RoleRule]

    def ordered_roles(self) -> list[RoleRule]:
        return sorted(self.roles.values(), key=lambda r: r.rank)


@dataclass(frozen=True)
class Policy:
    max_bytes: int
    c14n_methods: tuple[str, ...]
    signature_methods: tuple[str, ...]
    digest_methods: tuple[str, ...]
    min_rsa_bits: int
    min_ec_bits: int
    revocation_required: bool
    default_utc_offset: str


@dataclass(frozen=True)
class Profile:
    id: str
    format: str
    title: str
    description: str
    path: Path
    level: str
    grades: tuple[int, ...]
    register_suffix: str
    detect: Mapping[str, str]
    fields: Mapping[str, object]
    subjects: tuple[Subject, ...]
    electives: int
    signing: SigningRules
    policy: Policy
    schema_file: str = "schema.xsd"
    extra: Mapping[str, object] = field(default_factory=dict)
    level_name: str = ""  # "Tiểu học", "THCS": how people name the level
    level_title: str = ""  # the cover's line: "TIỂU HỌC"
    # code -> word, per scale ("subject", "quality", "result", …)
    scales: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    qualities: tuple[Assessed, ...] = ()
    competences: tuple[Assessed, ...] = ()
    layout: Layout = Layout()
    sample: Mapping[str, object] = field(default_factory=dict)  # hints for `archiver sample`

    @cached_property
    def schema(self) -> etree.XMLSchema:
        # Parsed lazily: most commands never need the XSD.
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return etree.XMLSchema(etree.parse(str(self.path / self.schema_file), parser))

    @cached_property
    def subject_names(self) -> Mapping[str, str]:
        """Subject code -> name, for messages and renderings."""
        return {subject.code: subject.name for subject in self.subjects}

    def field_path(self, name: str) -> str:
        value = self.fields.get(name)
        if not isinstance(value, str):
            raise ProfileError(f"profile {self.id} has no field {name!r}")
        return value

    def field_map(self, name: str) -> Mapping[str, str]:
        value = self.fields.get(name)
        if not isinstance(value, Mapping):
            raise ProfileError(f"profile {self.id} has no field map {name!r}")
        return value

    def subject(self, code: str) -> Subject | None:
        return next((s for s in self.subjects if s.code == code), None)

    def word(self, scale: str, value: str) -> str:
        """A value as people read it: the word of its code in ``scale`` (``T`` -> "Hoàn
        thành tốt"), else the value as written."""
        return self.scales.get(scale, {}).get(value, value) if scale else value

    def show(self, value: str, *, scale: str = "", format: str = "text") -> str:
        """A value of a column or summary item as it is shown (a word, a decimal comma)."""
        if scale:
            return self.word(scale, value)
        return decimal(value) if format == "mark" else value

    def signer_roles(self) -> list[RoleRule]:
        """The roles that sign the whole transcript, in signing order (not per subject)."""
        return [r for r in self.signing.ordered_roles() if not r.per_subject]

    @cached_property
    def subject_role(self) -> RoleRule | None:
        """The role that signs one subject's results (GVBM), if the profile has one."""
        return next((r for r in self.signing.ordered_roles() if r.per_subject), None)

    def matches(self, root: etree._Element) -> bool:
        """True when every detection XPath yields its expected string."""
        tree = root.getroottree()
        for xpath, expected in self.detect.items():
            try:
                found = tree.xpath(f"string({xpath})")
            except etree.XPathError:
                return False
            if found != expected:
                return False
        return True


def _xpath_literal(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    parts = value.split("'")
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in parts) + ")"


@lru_cache(maxsize=1)
def builtin_profiles_dir() -> Path:
    """The profiles shipped with archiver (inside the wheel, or the repository checkout).
    Found once per process: resolving the path asked the file system on every document."""
    here = Path(__file__).resolve().parent
    installed = here / "_data" / "profiles"
    if installed.is_dir():
        return installed
    return here.parent / "profiles"


def search_path(extra_dirs: Iterable[os.PathLike | str] = ()) -> list[Path]:
    """Folders searched for profiles, earliest first (an earlier id wins)."""
    dirs = [Path(d) for d in extra_dirs]
    env = os.environ.get("ARCHIVER_PROFILES", "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    for folder in dirs:
        if not folder.is_dir():  # a mistyped folder would otherwise be skipped unnoticed
            raise ProfileError(f"không có thư mục hồ sơ định dạng {folder} (--profiles-dir / ARCHIVER_PROFILES) / "
                               f"no such profiles folder: {folder}")
    dirs.append(builtin_profiles_dir())
    return dirs


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"thiếu tệp hồ sơ định dạng {path} / profile file missing: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"tệp hồ sơ định dạng {path} viết sai (TOML) / profile file {path} is not valid TOML: {exc}") from None


def load_profile(folder: os.PathLike | str) -> Profile:
    """Read one profile folder."""
    folder = Path(folder)
    meta, subjects_doc, signing_doc, policy_doc = (_read_toml(folder / f) for f in PROFILE_FILES)
    try:
        roles = {
            name: RoleRule(
                role=name,
                label=r["label"],
                label_en=r.get("label_en", r["label"]),
                region=r["region"],
                identity=r["identity"],
                rank=int(r["rank"]),
                per_subject=bool(r.get("per_subject", False)),
                required=bool(r.get("required", False)),
                subjects=str(r.get("subjects", "")),
                form_title=str(r.get("form_title", "")),
            )
            for name, r in signing_doc["role"].items()
        }
        signing = SigningRules(
            signer_list=signing_doc["signer_list"],
            signature_container=signing_doc["signature_container"],
            signature_wrapper=signing_doc["signature_wrapper"],
            signed_data=signing_doc["signed_data"],
            id_elements=tuple(signing_doc.get("id_elements", ())),
            roles=roles,
        )
        policy = Policy(
            max_bytes=int(policy_doc["max_bytes"]),
            c14n_methods=tuple(policy_doc["c14n_methods"]),
            signature_methods=tuple(policy_doc["signature_methods"]),
            digest_methods=tuple(policy_doc["digest_methods"]),
            min_rsa_bits=int(policy_doc.get("min_rsa_bits", 2048)),
            min_ec_bits=int(policy_doc.get("min_ec_bits", 256)),
            revocation_required=bool(policy_doc.get("revocation_required", True)),
            default_utc_offset=policy_doc.get("default_utc_offset", "+07:00"),
        )
        subjects = tuple(
            Subject(code=s["code"], name=s["name"], assessment=s["assessment"],
                    required=bool(s.get("required", True)),
                    grades=tuple(int(g) for g in s.get("grades", ())),
                    test_grades=tuple(int(g) for g in s.get("test_grades", ())),
                    teacher=str(s.get("teacher", "subject")), short=str(s.get("short", "")))
            for s in subjects_doc["subject"]
        )
        known = {"id", "format", "title", "description", "schema", "level", "grades",
                 "register_suffix", "detect", "fields", "level_name", "level_title", "layout", "sample"}
        return Profile(
            id=meta["id"],
            format=meta.get("format", meta["id"]),
            title=meta["title"],
            description=meta.get("description", ""),
            path=folder,
            level=meta.get("level", ""),
            grades=tuple(meta.get("grades", ())),
            register_suffix=meta.get("register_suffix", ""),
            detect=dict(meta.get("detect", {})),
            fields=dict(meta.get("fields", {})),
            subjects=subjects,
            electives=int(subjects_doc.get("electives", 0)),
            signing=signing,
            policy=policy,
            schema_file=meta.get("schema", "schema.xsd"),
            extra={k: v for k, v in meta.items() if k not in known},
            level_name=str(meta.get("level_name", meta.get("level", ""))),
            level_title=str(meta.get("level_title", "")),
            scales={name: {str(k): str(v) for k, v in words.items()}
                    for name, words in subjects_doc.get("scales", {}).items()},
            qualities=_assessed(subjects_doc.get("quality", ())),
            competences=_assessed(subjects_doc.get("competence", ())),
            layout=_layout(meta.get("layout", {})),
            sample=dict(meta.get("sample", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"hồ sơ định dạng {folder} thiếu hoặc sai / profile {folder} is incomplete or malformed: {exc!r}") from None


def _assessed(items: Iterable[Mapping[str, object]]) -> tuple[Assessed, ...]:
    return tuple(Assessed(code=str(i["code"]), name=str(i["name"]), group=str(i.get("group", ""))) for i in items)


def _layout(doc: Mapping[str, object]) -> Layout:
    """``[layout]`` of profile.toml: its scalars, ``[[layout.column]]``, ``[[layout.rating]]``
    and ``[[layout.summary]]`` (see the built-in profiles)."""
    items = {"column": Column, "rating": SummaryItem, "summary": SummaryItem}
    scalars = {k: v for k, v in doc.items() if k not in items}
    if "sections" in scalars:
        scalars["sections"] = tuple(scalars["sections"])  # type: ignore[arg-type]
    lists = {("columns" if k == "column" else "ratings" if k == "rating" else k):
             tuple(kind(**entry) for entry in doc.get(k, ()))  # type: ignore[arg-type]
             for k, kind in items.items()}
    return Layout(**scalars, **lists)  # type: ignore[arg-type]


def available_profiles(extra_dirs: Iterable[os.PathLike | str] = ()) -> dict[str, Profile]:
    """Every profile on the search path, by id (the first folder that defines an id wins)."""
    return dict(_profiles_on(tuple(str(p) for p in search_path(extra_dirs))))


@lru_cache(maxsize=16)
def _profiles_on(path: tuple[str, ...]) -> tuple[tuple[str, Profile], ...]:
    # Cached per search path: a build asks for the profiles once per document, and
    # profiles do not change while a process runs.
    found: dict[str, Profile] = {}
    for base in map(Path, path):
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if (p / "profile.toml").is_file()):
            if profile_kind(folder) != "xml":
                continue  # signed-PDF profiles: archiver.scans.profile reads them
            profile = load_profile(folder)
            found.setdefault(profile.id, profile)
    return tuple(found.items())


@lru_cache(maxsize=256)
def profile_kind(folder: Path) -> str:
    """What a profile folder describes: ``xml`` (the profiles of this module) unless its
    ``profile.toml`` says otherwise (``kind = "signed-pdf"``: :mod:`archiver.scans.profile`)."""
    return str(_read_toml(Path(folder) / "profile.toml").get("kind", "xml"))


def get_profile(profile_id: str, extra_dirs: Iterable[os.PathLike | str] = ()) -> Profile:
    profiles = available_profiles(extra_dirs)
    try:
        return profiles[profile_id]
    except KeyError:
        names = ", ".join(sorted(profiles)) or "none"
        raise ProfileError(
            f"không có hồ sơ định dạng {profile_id!r}; đã cài: {names} / unknown profile {profile_id!r}; "
            f"installed profiles: {names}"
        ) from None


def detect_profile(root: etree._Element, profiles: Mapping[str, Profile]) -> Profile:
    """The single profile whose detection rules fit the document."""
    matches = [p for p in profiles.values() if p.matches(root)]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(sorted(profiles)) or "none"
    if not matches:
        raise ProfileError(
            f"no profile fits this document (root <{etree.QName(root).localname}>); "
            f"installed profiles: {names}. Choose one with --profile."
        )
    raise ProfileError(
        "several profiles fit this document: "
        + ", ".join(p.id for p in matches)
        + ". Choose one with --profile."
    )
