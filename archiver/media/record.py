"""``ARCHIVE/media/<set>.json``: which media set holds which package (schema
``archiver.media-set/1``).

Written once per set, through the archive's lock and an atomic write, after every volume
of the set was written: it is what makes ``archiver media`` leave out, next time, what
is already on media, and what a burnt disc is checked against (each image's size and
SHA-256). A record is never rewritten. ``archiver check`` reads every record: well
formed, and every package it names still in the archive with the tag manifest it had.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..archive.layout import MEDIA

SCHEMA = "archiver.media-set/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SET_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


class RecordUnreadable(Exception):
    """A media record that is not what archiver writes (the reason is the message)."""


@dataclass(frozen=True)
class RecordedPackage:
    name: str
    tag_manifest_sha256: str
    volume: int


@dataclass(frozen=True)
class MediaRecord:
    set_id: str
    data: dict[str, Any]

    @property
    def packages(self) -> list[RecordedPackage]:
        return [RecordedPackage(p["name"], p["tag_manifest_sha256"], v["number"])
                for v in self.data["volumes"] for p in v["packages"]]

    @property
    def volumes(self) -> list[dict[str, Any]]:
        return self.data["volumes"]


def media_folder(archive: Path) -> Path:
    return archive / MEDIA


def record_path(archive: Path, set_id: str) -> Path:
    return media_folder(archive) / f"{set_id}.json"


def record_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def parse_record(raw: bytes, set_id: str) -> MediaRecord:
    """A record read strictly: every field archiver writes, of the right kind."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecordUnreadable(f"không phải JSON UTF-8 / not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise RecordUnreadable(f"không phải {SCHEMA} / not an {SCHEMA} document")
    if data.get("set") != set_id:
        raise RecordUnreadable(f"mã bộ {data.get('set')!r} khác tên tệp / the set id differs from the file name")
    volumes = data.get("volumes")
    if not isinstance(volumes, list) or not volumes:
        raise RecordUnreadable("không có danh sách đĩa / no volume list")
    for number, volume in enumerate(volumes, 1):
        if not isinstance(volume, dict) or volume.get("number") != number or volume.get("count") != len(volumes):
            raise RecordUnreadable(f"đĩa thứ {number} hỏng / volume {number} is damaged")
        if not (isinstance(volume.get("bytes"), int) and volume["bytes"] > 0
                and isinstance(volume.get("sha256"), str) and _HEX64.fullmatch(volume["sha256"])
                and isinstance(volume.get("name"), str)):
            raise RecordUnreadable(f"đĩa {number}: kích thước hoặc SHA-256 hỏng / volume {number}: size or SHA-256 "
                                   "damaged")
        packages = volume.get("packages")
        if not isinstance(packages, list) or not all(
                isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"]
                and isinstance(p.get("tag_manifest_sha256"), str) and _HEX64.fullmatch(p["tag_manifest_sha256"])
                for p in packages):
            raise RecordUnreadable(f"đĩa {number}: danh sách gói hỏng / volume {number}: package list damaged")
    return MediaRecord(set_id, data)


def read_records(archive: Path) -> tuple[list[MediaRecord], list[str]]:
    """Every media record of the archive, oldest set first (by the time it was made), and
    what is wrong with those that cannot be read."""
    folder = media_folder(archive)
    records, problems = [], []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        set_id = path.name[:-len(".json")]
        if not _SET_ID.fullmatch(set_id):
            problems.append(f"{MEDIA}/{path.name}: tên tệp lạ / not a media record name")
            continue
        try:
            records.append(parse_record(path.read_bytes(), set_id))
        except (OSError, RecordUnreadable) as exc:
            problems.append(f"{MEDIA}/{path.name}: bản ghi bộ đĩa hỏng / damaged media record: {exc}")
    records.sort(key=lambda r: (str(r.data.get("made", "")), r.set_id))
    return records, problems


def on_media(archive: Path) -> dict[str, str]:
    """Package folder -> the set that holds it, for every package of a readable record."""
    held: dict[str, str] = {}
    for record in read_records(archive)[0]:
        for package in record.packages:
            held.setdefault(package.name, record.set_id)
    return held


def record_problems(archive: Path) -> list[str]:
    """What ``archiver check`` says of the media records: each readable and well formed,
    and each package it names in the archive with the tag manifest it recorded."""
    records, problems = read_records(archive)
    for record in records:
        where = f"{MEDIA}/{record.set_id}.json"
        for package in record.packages:
            tag = archive / package.name / "tagmanifest-sha256.txt"
            try:
                digest = hashlib.sha256(tag.read_bytes()).hexdigest()
            except OSError:
                problems.append(f"{where}: gói {package.name} (đĩa {package.volume}) không còn trong kho / the "
                                "package written to this set is missing from the archive")
                continue
            if digest != package.tag_manifest_sha256:
                problems.append(f"{where}: gói {package.name} (đĩa {package.volume}) có tagmanifest-sha256.txt khác "
                                "khi ghi đĩa / the package's tag manifest differs from the one written to media")
    return problems


def set_fingerprint(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:8]
