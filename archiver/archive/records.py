"""The archive's records: one per transcript, one per package, and ``data/package.json``.

``package.json`` is the package's own index, and the archive's state is read back from
these files (never from a database). This module is the only place that reads or
writes it: :meth:`PackageManifest.read` and :meth:`PackageManifest.to_bytes`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .layout import PACKAGE_JSON

if TYPE_CHECKING:
    from ..transcript import Transcript

PACKAGE_SCHEMA = "archiver.package/1"
VERDICT_ORDER = ("VALID", "INVALID", "INDETERMINATE", "REJECTED")
EVIDENCE_ITEM = ("RFC 4998 data-object group per member, SHA-256 of: the original file, "
                 "its report JSON, its validation data (DER)")


class PackageUnreadable(Exception):
    """``data/package.json`` is missing, not JSON, or not a package record."""


#: The kinds a member's original can have: a transcript's signed XML, a signed PDF
#: transcript (a scanned paper transcript, which is its own rendering), a rejected file.
ORIGINAL_KINDS = ("xml", "pdf_signed", "original")


def original_kind(files: Mapping[str, str]) -> str:
    return next((k for k in ORIGINAL_KINDS if k in files), "original")


def item_kinds(files: Mapping[str, str]) -> list[str]:
    """A member's data objects that its evidence record covers, in order: the original
    (``xml``, ``pdf_signed``, or ``original`` in a quarantine), its report JSON, its
    validation data. ``files`` is the member's ``files`` or ``hashes`` mapping."""
    return [k for k in (original_kind(files), "report_json", "validation") if k in files]


@dataclass(slots=True)
class TranscriptRecord:
    """One archived item: a transcript, or a rejected file in a quarantine package.

    The same record serves every stage: the build fills the transcript's facts after
    verifying it, the package stage adds its files and their hashes, ``package.json``
    stores it, and the index and the site show it.
    """

    stem: str
    sha256: str
    verdict: str
    lookup_code: str = ""
    student_code: str = ""
    citizen_id: str = ""
    name: str = ""
    birth_date: str = ""
    gender: str = ""
    class_name: str = ""
    school_year: str = ""
    school_code: str = ""
    warnings: int = 0
    replaces: str = ""
    superseded_by: str = ""
    reason_code: str = ""
    reason: str = ""
    files: dict[str, str] = field(default_factory=dict)  # kind -> path relative to the bag root
    hashes: dict[str, str] = field(default_factory=dict)  # kind -> SHA-256 of that file
    input_paths: list[str] = field(default_factory=list)
    # Why the transcript has no rendering (the rendering failed); written only when set.
    render_error: str = ""
    # The format profile its content was read with (its report's); written only when set.
    profile: str = ""

    @property
    def original(self) -> str:
        """The kind of its original file: ``xml``, ``pdf_signed`` (a signed PDF transcript),
        or ``original`` for a rejected file."""
        return original_kind(self.files)

    @property
    def evidence_kinds(self) -> list[str]:
        return item_kinds(self.files)

    def item_digests(self) -> list[bytes]:
        """The SHA-256 of each data object its evidence record covers (a hash-tree leaf)."""
        return [bytes.fromhex(self.hashes[k]) for k in item_kinds(self.hashes)]

    def to_json(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in _RECORD_FIELDS}
        if not self.render_error:
            del out["render_error"]
        if not self.profile:
            del out["profile"]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TranscriptRecord":
        """A record as stored; keys of a later version are ignored, missing ones default."""
        if not isinstance(data, Mapping) or not isinstance(data.get("stem"), str):
            raise PackageUnreadable("a member without a stem")
        try:
            record = cls(**{k: data[k] for k in _RECORD_FIELDS if k in data})
        except TypeError as exc:
            raise PackageUnreadable(f"a member cannot be read: {exc}") from None
        if not (_strings(record.files) and _strings(record.hashes) and isinstance(record.input_paths, list)
                and all(isinstance(p, str) for p in record.input_paths)):
            raise PackageUnreadable(f"member {record.stem}: files, hashes or input_paths of the wrong kind")
        if not all(inside_bag(rel) for rel in record.files.values()):
            raise PackageUnreadable(f"member {record.stem}: a file outside the package's data/ folder")
        return record


def inside_bag(rel: str) -> bool:
    """A path that package.json may name: inside data/, no way out of it."""
    parts = rel.split("/")
    return len(parts) > 1 and parts[0] == "data" and all(p not in ("", ".", "..") for p in parts) and "\\" not in rel


def _strings(mapping: object) -> bool:
    return isinstance(mapping, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())


_RECORD_FIELDS = tuple(f.name for f in fields(TranscriptRecord))


@dataclass(frozen=True)
class School:
    code: str = ""
    name: str = ""
    province: str = ""


@dataclass(slots=True)
class NewTranscript:
    """A new input, verified: its record (no stem nor files yet), what the verify stage
    kept for the package stage, and the school it names."""

    record: TranscriptRecord
    kept_path: str
    school: School = School()
    first_reason: str = ""  # the code of its first reason (a rejected file's is in the record)

#: The record's fields that come from the transcript's own content (its XML).
CONTENT_FIELDS = ("lookup_code", "student_code", "citizen_id", "name", "birth_date", "gender", "class_name",
                  "school_year", "school_code", "replaces")


def content_facts(transcript: "Transcript") -> dict[str, str]:
    """What a record says of a transcript's content, read from the transcript itself: the
    build fills a record with it, and ``archiver check`` compares a record with it."""
    s = transcript.student
    return {"lookup_code": transcript.lookup_code, "student_code": s.student_code, "citizen_id": s.citizen_id,
            "name": s.name, "birth_date": s.birth_date, "gender": s.gender, "class_name": transcript.class_name,
            "school_year": transcript.school_year, "school_code": transcript.school.code,
            "replaces": transcript.replaces.lookup_code if transcript.replaces else ""}


@dataclass
class PackageInfo:
    """What ``package.json`` says of the package as a whole (its members aside)."""

    package_id: str
    base_name: str
    version: int
    previous_version: str | None
    quarantine: bool
    title: str
    school_code: str
    school_name: str
    province: str
    school_year: str
    class_name: str
    created: str
    software: str
    counts: dict[str, int]
    timestamp: dict[str, Any]  # archiver.timestamps.package: status, time, tsa, local, token…
    evidence_item: str = EVIDENCE_ITEM
    renewals: list[dict[str, Any]] = field(default_factory=list)  # written only when any
    # The format profile of its transcripts and the level it names ("Tiểu học", "THCS"):
    # one archive may hold several levels (a trường liên cấp). Written only when known.
    profile: str = ""
    level: str = ""
    schema: str = PACKAGE_SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept

    @property
    def stamped(self) -> bool:
        return self.timestamp.get("status") == "done"

    @property
    def pending(self) -> bool:
        return self.timestamp.get("status") == "pending"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.schema}
        for f in _INFO_ORDER:
            out[f] = getattr(self, f)
        for f in ("profile", "level"):
            if getattr(self, f):
                out[f] = getattr(self, f)
        if self.renewals:
            out["renewals"] = self.renewals
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PackageInfo":
        known = {f.name for f in fields(cls)} - {"extra"}
        try:
            info = cls(**{k: v for k, v in data.items() if k in known},
                       extra={k: v for k, v in data.items() if k not in known and k != "members"})
        except TypeError as exc:
            raise PackageUnreadable(f"not a package record: {exc}") from None
        if not isinstance(info.timestamp, dict) or not isinstance(info.counts, dict):
            raise PackageUnreadable("timestamp or counts of the wrong kind")
        return info


_INFO_ORDER = ("package_id", "base_name", "version", "previous_version", "quarantine", "title", "school_code",
               "school_name", "province", "school_year", "class_name", "created", "software", "counts",
               "timestamp", "evidence_item")


def verdict_counts(records: Iterable[TranscriptRecord]) -> dict[str, int]:
    counts = Counter(r.verdict for r in records)
    return {k: counts[k] for k in VERDICT_ORDER if counts[k]}


@dataclass
class PackageManifest:
    """``data/package.json``: the package and its members."""

    info: PackageInfo
    members: list[TranscriptRecord]

    @classmethod
    def read(cls, bag: Path) -> "PackageManifest":
        """The record of the package whose bag root is ``bag``."""
        return cls.from_bytes(_read(bag / PACKAGE_JSON))

    @classmethod
    def read_info(cls, bag: Path) -> PackageInfo:
        """Only the package's own facts (the members are parsed and dropped)."""
        return PackageInfo.from_json(_document(_read(bag / PACKAGE_JSON)))

    @classmethod
    def from_bytes(cls, data: bytes) -> "PackageManifest":
        document = _document(data)
        members = document.get("members")
        if not isinstance(members, list):
            raise PackageUnreadable("no member list")
        return cls(PackageInfo.from_json(document), [TranscriptRecord.from_json(m) for m in members])

    def to_bytes(self) -> bytes:
        return json.dumps({**self.info.to_json(), "members": [m.to_json() for m in self.members]},
                          ensure_ascii=False, indent=1).encode("utf-8")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackageUnreadable(f"{PACKAGE_JSON}: {exc.strerror or exc}") from None


def _document(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageUnreadable(f"{PACKAGE_JSON} is not UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PackageUnreadable(f"{PACKAGE_JSON} is not a JSON object")
    return document
