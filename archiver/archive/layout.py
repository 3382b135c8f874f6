"""Where everything lives in an archive, and how things are named (docs/archive-layout.md).

Names must survive every medium a clerk uses: FAT32 and exFAT sticks, NTFS, ISO 9660
with Joliet. So: ASCII letters, digits, ``-`` and ``_``; no two names that differ only by
case; no file over 4 GiB; paths short enough for Windows.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import PurePosixPath

# -- the archive's own files and folders ----------------------------------------------------
STAGING = ".staging"  # packages being written; cleared at the start of every writing run
PENDING = ".pending"  # complete packages waiting for their timestamp
LOCK_FILE = ".lock"  # held while a run writes
INDEX = "index.json"
PATH_LOG = "input-paths.jsonl"  # paths under which archived content turned up again later
REPORT_JSON, REPORT_HTML = "report.json", "report.html"
SITE = "site"
MEDIA = "media"  # one record per media set written from the archive (archiver.media.record)

# -- a package ----------------------------------------------------------------------------------
QUARANTINE_PREFIX = "_KiemDuyet_"
PACKAGE_JSON = "data/package.json"
TAG_MANIFESTS = ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt")
PAYLOAD_MANIFESTS = ("manifest-sha256.txt", "manifest-sha512.txt")
#: Every file of a bag outside data/: archiver writes all six, so each must be there.
TAG_FILES = ("bagit.txt", "bag-info.txt", *PAYLOAD_MANIFESTS, *TAG_MANIFESTS)
TIMESTAMP_DIR = "data/timestamp"

FAT32_MAX_FILE = 4 * 1024 ** 3 - 1  # the largest file FAT32 media hold

# Joliet (CD/DVD) allows 64 characters; a label adds ".label.pdf" to the package name.
_MAX_PACKAGE_NAME = 48


def safe_name(name: str) -> str:
    """FAT32 / ISO 9660-friendly: letters, digits, ``-`` and ``_`` only."""
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-") or "khong-ro"


def package_name(school_code: str, school_year: str, class_name: str) -> str:
    """``<MaTruong>_<NamHoc>_<Lop>``. Two classes must never share a package, nor get names
    that differ only by case (FAT32, NTFS and ISO 9660 ignore case): a name that lost
    characters in the making ("8A1/2" and "8A1-2"), holds lower-case letters ("9a1" beside
    "9A1") or is too long carries a short hash of the class as written."""
    raw = class_key(school_code, school_year, class_name)
    plain = safe_name(raw)
    keeps_all = plain == raw and plain == plain.upper() and len(plain) <= _MAX_PACKAGE_NAME
    return plain if keeps_all else hashed_name(raw)


def class_key(school_code: str, school_year: str, class_name: str) -> str:
    return unicodedata.normalize("NFC", f"{school_code}_{school_year}_{class_name}")


def hashed_name(raw: str) -> str:
    """The package name of class ``raw`` (school_year_class) with 8 hex digits of its hash."""
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
    return f"{safe_name(raw)[:_MAX_PACKAGE_NAME - 9].rstrip('-_')}-{digest}"


def quarantine_name(school_year: str) -> str:
    return safe_name(f"{QUARANTINE_PREFIX}{school_year}")


def version_of(folder: str) -> tuple[str, int]:
    """``9A1_v3`` -> (``9A1``, 3); a folder without a suffix is version 1."""
    base, sep, tail = folder.rpartition("_v")
    if sep and tail.isdigit() and base:
        return base, int(tail)
    return folder, 1


def folder_name(base: str, version: int) -> str:
    return base if version == 1 else f"{base}_v{version}"


def label_name(folder: str) -> str:
    """Every version keeps its own printable label, named after its folder (the
    Package-Id printed on it)."""
    return f"{folder}.label.pdf"


# -- a member's files, relative to the bag root -----------------------------------------------
def member_files(stem: str) -> dict[str, str]:
    return {
        "xml": f"data/transcripts/{stem}.xml",
        "pdf_signed": f"data/transcripts/{stem}.pdf",  # a signed PDF transcript: its own rendering
        "pdf": f"data/renderings/{stem}.pdf",
        "report_json": f"data/reports/{stem}.json",
        "report_html": f"data/reports/{stem}.html",
        "validation": f"data/validation/{stem}.der",
        "evidence": f"data/evidence/{stem}.ers",
    }


def rejected_file(stem: str, input_path: str) -> str:
    """Where a quarantined original goes: its own extension when that is a plain one."""
    ext = PurePosixPath(input_path.replace("\\", "/")).suffix.lower()
    ext = ext if ext.isascii() and ext[1:].isalnum() and len(ext) <= 6 else ".bin"
    return f"data/rejected/{stem}{ext}"


def transcript_stem(student_code: str, lookup_code: str, sha256: str) -> str:
    """``<MaHocSinh>_<first 8 hex of MaTraCuu>``. Both come from the XML, which a damaged
    or forged transcript controls: only file-safe characters (no "/", "..", "%", ":")."""
    return safe_name(f"{student_code or 'hocba'}_{lookup_code[:8] or sha256[:8]}")


def unique_stem(candidate: str, taken: set[str]) -> str:
    """``candidate``, or ``candidate-2``, ``-3``…: FAT32 has no names differing only by case."""
    stem, n = candidate, 2
    while stem.lower() in taken:
        stem, n = f"{candidate}-{n}", n + 1
    taken.add(stem.lower())
    return stem
