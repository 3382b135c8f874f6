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

PROFILE_FILES = ("profile.toml", "subjects.toml", "signing.toml", "policy.toml")


class ProfileError(ConfigError):
    """A profile is missing, malformed, or no profile fits a document."""


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    assessment: str  # "score" | "comment"
    required: bool


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
    required: bool = False
    subjects: str = ""

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
                    required=bool(s.get("required", True)))
            for s in subjects_doc["subject"]
        )
        known = {"id", "format", "title", "description", "schema", "level", "grades",
                 "register_suffix", "detect", "fields"}
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
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"hồ sơ định dạng {folder} thiếu hoặc sai / profile {folder} is incomplete or malformed: {exc!r}") from None


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
