"""Profiles of signed PDF transcripts (``kind = "signed-pdf"``), data like the XML ones.

A folder under a profiles directory whose ``profile.toml`` says ``kind = "signed-pdf"``
describes signed PDFs: where the digitisation record is (``[record]``), how a document is
recognised (``[detect]``, JSON pointers into the record), where the student's fields are
(``[fields]``), who must sign (``signing.toml``) and the verdict policy (``policy.toml``).
The XML profiles' loader (:mod:`archiver.profiles`) leaves these folders to this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..profiles import ProfileError, _read_toml, profile_kind, search_path

KIND = "signed-pdf"


@dataclass(frozen=True)
class PdfRole:
    role: str
    label: str
    label_en: str
    identity: str  # "person" | "organisation"
    rank: int
    required: bool


@dataclass(frozen=True)
class PdfPolicy:
    max_bytes: int
    digest_algorithms: tuple[str, ...]
    min_rsa_bits: int
    min_ec_bits: int
    revocation_required: bool
    timestamp_required: bool
    pdfa_expected: bool


@dataclass(frozen=True)
class PdfProfile:
    id: str
    format: str
    title: str
    description: str
    path: Path
    xmp_namespace: str
    xmp_property: str
    attachment: str
    detect: Mapping[str, str]
    fields: Mapping[str, Any]
    roles: Mapping[str, PdfRole]
    policy: PdfPolicy
    extra: Mapping[str, Any] = field(default_factory=dict)
    kind: str = KIND

    def field_path(self, name: str) -> str:
        value = self.fields.get(name)
        return value if isinstance(value, str) else ""

    @property
    def signer_members(self) -> Mapping[str, str]:
        value = self.fields.get("signer")
        return value if isinstance(value, Mapping) else {}

    def ordered_roles(self) -> list[PdfRole]:
        return sorted(self.roles.values(), key=lambda r: r.rank)

    def matches(self, record: Mapping[str, Any]) -> bool:
        from .record import pointer

        return all(str(pointer(record, path) or "") == expected for path, expected in self.detect.items())


def load_pdf_profile(folder: os.PathLike | str) -> PdfProfile:
    folder = Path(folder)
    meta = _read_toml(folder / "profile.toml")
    signing = _read_toml(folder / "signing.toml")
    policy = _read_toml(folder / "policy.toml")
    try:
        record = meta.get("record", {})
        roles = {name: PdfRole(role=name, label=r["label"], label_en=r.get("label_en", r["label"]),
                               identity=r["identity"], rank=int(r["rank"]), required=bool(r.get("required", False)))
                 for name, r in signing["role"].items()}
        for role in roles.values():
            if role.identity not in ("person", "organisation"):
                raise ValueError(f"role {role.role}: identity must be person or organisation")
        known = {"id", "kind", "format", "title", "description", "record", "detect", "fields"}
        return PdfProfile(
            id=meta["id"], format=meta.get("format", meta["id"]), title=meta["title"],
            description=meta.get("description", ""), path=folder,
            xmp_namespace=str(record.get("xmp_namespace", "")), xmp_property=str(record.get("xmp_property", "")),
            attachment=str(record.get("attachment", "")), detect=dict(meta.get("detect", {})),
            fields=dict(meta.get("fields", {})), roles=roles,
            policy=PdfPolicy(
                max_bytes=int(policy["max_bytes"]),
                digest_algorithms=tuple(str(a).lower() for a in policy["digest_algorithms"]),
                min_rsa_bits=int(policy.get("min_rsa_bits", 2048)), min_ec_bits=int(policy.get("min_ec_bits", 256)),
                revocation_required=bool(policy.get("revocation_required", True)),
                timestamp_required=bool(policy.get("timestamp_required", False)),
                pdfa_expected=bool(policy.get("pdfa_expected", True))),
            extra={k: v for k, v in meta.items() if k not in known},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"hồ sơ định dạng {folder} thiếu hoặc sai / profile {folder} is incomplete or malformed: "
                           f"{exc!r}") from None


def pdf_profiles(extra_dirs: Iterable[os.PathLike | str] = ()) -> dict[str, PdfProfile]:
    """Every signed-PDF profile on the profile search path, by id (the first wins)."""
    return dict(_pdf_profiles_on(tuple(str(p) for p in search_path(extra_dirs))))


@lru_cache(maxsize=16)
def _pdf_profiles_on(path: tuple[str, ...]) -> tuple[tuple[str, PdfProfile], ...]:
    found: dict[str, PdfProfile] = {}
    for base in map(Path, path):
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if (p / "profile.toml").is_file()):
            if profile_kind(folder) == KIND:
                profile = load_pdf_profile(folder)
                found.setdefault(profile.id, profile)
    return tuple(found.items())


def get_pdf_profile(profile_id: str, extra_dirs: Iterable[os.PathLike | str] = ()) -> PdfProfile | None:
    return pdf_profiles(extra_dirs).get(profile_id)


def record_facts(record: Mapping[str, Any], profile: PdfProfile) -> dict[str, str]:
    """What an archive record says of a signed PDF transcript, read from its digitisation
    record (the counterpart of :func:`archiver.archive.records.content_facts`): the build
    fills a record with it, and ``archiver check`` compares the record with it."""
    from .record import nfc, pointer

    def get(name: str) -> str:
        path = profile.field_path(name)
        value = pointer(record, path) if path else None
        return nfc(value) if isinstance(value, (str, int)) else ""

    return {"lookup_code": get("lookup_code").lower(), "student_code": get("student_code"),
            "citizen_id": get("citizen_id"), "name": get("student_name"), "birth_date": get("birth_date"),
            "gender": get("gender"), "class_name": get("class_name"), "school_year": get("school_year"),
            "school_code": get("school_code"), "replaces": ""}


def record_school(record: Mapping[str, Any], profile: PdfProfile) -> tuple[str, str, str]:
    """(code, name, province) of the school a record names."""
    from .record import nfc, pointer

    return tuple(nfc(pointer(record, profile.field_path(k)) or "") if profile.field_path(k) else ""  # type: ignore[return-value]
                 for k in ("school_code", "school_name", "province"))
