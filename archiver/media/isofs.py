"""What a volume's files take on a disc (ISO 9660 with Joliet and Rock Ridge) or a
FAT32 stick, counted file by file, and the names each file gets there.

On a disc every file takes whole 2,048-byte sectors (ECMA-119 6.1.2), and each file and
folder has a directory record three times over: in the ISO 9660 tree (with its Rock
Ridge entries: RR, PX, TF and NM, RRIP 1.09), in the Joliet tree (its name in UCS-2), and
in the path tables of both. A record never crosses a sector boundary (ECMA-119 6.8.1.1).
:func:`iso_sectors` counts all of that as :mod:`archiver.media.iso` lays it out, as an
upper bound: the tests hold it against the size of real images.

Three names per file: Rock Ridge keeps the archive's own name (Linux, macOS), Joliet
too (what Windows shows, at most 64 characters), and the plain ISO 9660 tree gets an
upper-case name of d-characters (A-Z, 0-9, _) at interchange level 3: at most 30
characters with its extension, 31 for a folder (ECMA-119 7.5.2, 7.6.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from .medium import SECTOR, USB_CLUSTER

JOLIET_MAX = 64  # characters of a Joliet name
FAT_MAX_PATH = 240  # characters of a path on the stick (Windows' limit is 260 with the drive)
_NOT_D = re.compile(r"[^A-Z0-9_]")
_D_NAME = re.compile(r"[A-Z0-9_]+")
_FAT_BAD = re.compile(r'[<>:"|?*\\\x00-\x1f]')

# Sizes of directory records as they are written (ECMA-119 9.1, RRIP 1.09 entries):
_RECORD = 33  # fixed part of a directory record
_RR_FIXED = 5 + 36 + 26 + 5  # RR, PX, TF (three times), NM header
_DOT_RECORD = 102  # "." or ".." of a folder, with RR, PX and TF
_ROOT_DOT_RECORD = 136  # the root's ".", with SP and the CE of its ER entry
_JOLIET_DOT = 34
_SYSTEM_AREA = 16  # sectors before the first volume descriptor
_DESCRIPTORS = 4  # primary, Joliet supplementary, terminator, and the version descriptor
_CONTINUATION = 1  # the sector holding the root's ER entry (SUSP continuation area)


class NameError_(ValueError):
    """A name that no medium of the kind can hold (said with the path)."""


@dataclass(frozen=True)
class Names:
    """The names of a volume's files and folders on a disc: relative path -> ISO 9660
    path (``/DIR/FILE.EXT;1``)."""

    iso: Mapping[str, str]
    folders: tuple[str, ...]  # every folder, parents first


def _even(n: int) -> int:
    return n + (n & 1)


def _d_name(text: str) -> str:
    return _NOT_D.sub("_", text.upper())


def _unique(candidate: str, limit: int, taken: set[str], ext: str = "") -> str:
    """``candidate`` cut to ``limit``, or with ``_2``, ``_3``… when taken already."""
    name, n = candidate[:limit], 2
    while name + ext in taken:
        suffix = f"_{n}"
        name, n = candidate[:limit - len(suffix)] + suffix, n + 1
    taken.add(name + ext)
    return name


def iso_names(paths: Iterable[str]) -> Names:
    """The ISO 9660 name of every file of ``paths`` (relative, ``/``-separated) and of
    every folder above them, unique within each folder, chosen in sorted order so the
    same files always get the same names."""
    # plain string work: this runs once per file of a volume (80,000 on a DVD), and twice
    # (the size count, then the image)
    files = sorted(set(paths))
    folders: set[str] = set()
    for rel in files:
        parent = rel.rpartition("/")[0]
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    taken: dict[str, set[str]] = {}
    iso: dict[str, str] = {"": ""}
    ordered_folders = sorted(folders, key=lambda p: (p.count("/"), p))
    for folder in ordered_folders:
        parent, _, name = folder.rpartition("/")
        ident = _unique(_d_name(name) or "_", 31, taken.setdefault(parent, set()))
        iso[folder] = f"{iso[parent]}/{ident}"
    upper = str.upper
    for rel in files:
        parent, _, name = rel.rpartition("/")
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, ext = name, ""
        ext = _d_name(ext)[:8] if ext else ""
        ident = upper(stem)
        if not _D_NAME.fullmatch(ident):
            ident = _d_name(stem) or "_"
        ident = _unique(ident, 30 - len(ext) - 1, taken.setdefault(parent, set()), "." + ext)
        iso[rel] = f"{iso[parent]}/{ident}.{ext};1"
    del iso[""]
    return Names(iso=iso, folders=tuple(ordered_folders))


def check_names(paths: Iterable[str]) -> list[str]:
    """What stops these paths from being written to a disc or a FAT32 stick as they are
    (archiver's names never do: this guards against what a later version might write)."""
    problems = []
    lowered: dict[str, str] = {}
    for rel in paths:
        for part in rel.split("/"):
            if len(part) > JOLIET_MAX:
                problems.append(f"{rel}: tên dài quá {JOLIET_MAX} ký tự / a name longer than {JOLIET_MAX} characters")
            if _FAT_BAD.search(part) or part.endswith((".", " ")):
                problems.append(f"{rel}: tên có ký tự USB FAT32 không nhận / a name FAT32 cannot hold")
        if len(rel) > FAT_MAX_PATH:
            problems.append(f"{rel}: đường dẫn dài quá {FAT_MAX_PATH} ký tự / path too long")
        other = lowered.setdefault(rel.lower(), rel)
        if other != rel:
            problems.append(f"{rel}: chỉ khác {other} ở chữ hoa, chữ thường / differs from {other} only by case")
    return problems


def _iso_record(iso_ident: str, rr_name: str) -> int:
    n = len(iso_ident)
    return _even(_RECORD + n + (0 if n & 1 else 1) + _RR_FIXED + len(rr_name.encode("utf-8")))


def _joliet_record(name: str) -> int:
    return _RECORD + 2 * len(name) + 1  # UCS-2: an even identifier, one padding byte


def _extent_sectors(records: Iterable[int]) -> int:
    """Sectors of a directory's extent: records packed in order, none across a sector."""
    sectors, used = 1, 0
    for size in records:
        if used + size > SECTOR:
            sectors, used = sectors + 1, 0
        used += size
    return sectors


def _path_table_sectors(size: int) -> int:
    return 2 * -(-size // SECTOR)  # as laid out: each table in a whole, doubled, allocation


def data_sectors(size: int) -> int:
    return -(-size // SECTOR)


def iso_sectors(files: Mapping[str, int]) -> int:
    """Sectors of an image holding ``files`` (relative path -> size in bytes): an upper
    bound of what :mod:`archiver.media.iso` writes, exact in all the tests' images."""
    names = iso_names(files)
    children: dict[str, list[str]] = {"": []}
    for folder in names.folders:
        children.setdefault(folder, [])
        children.setdefault(folder.rpartition("/")[0], []).append(folder)
    for rel in files:
        children.setdefault(rel.rpartition("/")[0], []).append(rel)
    total = _SYSTEM_AREA + _DESCRIPTORS + _CONTINUATION
    iso_table = joliet_table = 10  # the root's entries
    for folder, inside in children.items():
        last = lambda rel: rel.rpartition("/")[2]  # noqa: E731
        iso_records = [_iso_record(names.iso[rel].rpartition("/")[2], last(rel)) for rel in sorted(inside)]
        first = [_ROOT_DOT_RECORD if folder == "" else _DOT_RECORD, _DOT_RECORD]
        total += _extent_sectors(first + sorted(iso_records))
        total += _extent_sectors([_JOLIET_DOT, _JOLIET_DOT] + [_joliet_record(last(rel)) for rel in sorted(inside)])
        if folder:
            ident = names.iso[folder].rpartition("/")[2]
            iso_table += 8 + len(ident) + (len(ident) & 1)
            joliet_table += 8 + 2 * len(last(folder))
    total += 2 * _path_table_sectors(iso_table) + 2 * _path_table_sectors(joliet_table)
    return total + sum(data_sectors(size) for size in files.values())


def iso_bytes(files: Mapping[str, int]) -> int:
    return iso_sectors(files) * SECTOR


# -- FAT32 ------------------------------------------------------------------------------------
def fat_bytes(files: Mapping[str, int], cluster: int = USB_CLUSTER) -> int:
    """Bytes ``files`` take on a FAT32 stick with clusters of ``cluster`` bytes: whole
    clusters per file, and per folder its entries (32 bytes each, one more per 13
    characters of a long name) in whole clusters."""
    entries: dict[str, int] = {}
    for rel in files:
        parts = rel.split("/")
        for i, part in enumerate(parts):
            folder = "/".join(parts[:i])
            key = "/".join(parts[:i + 1])
            if i < len(parts) - 1 and key in entries:
                continue
            entries[folder] = entries.get(folder, 2 * 32) + 32 * (1 + -(-len(part) // 13))
            if i < len(parts) - 1:
                entries.setdefault(key, 2 * 32)
    folders = sum(-(-size // cluster) * cluster for size in entries.values())
    return folders + sum(-(-size // cluster) * cluster for size in files.values())


def fat_overhead(capacity: int, cluster: int = USB_CLUSTER) -> int:
    """What FAT32 itself takes of a stick: reserved sectors and two FATs of 4 bytes a cluster."""
    return 32 * 512 + 2 * 4 * (capacity // cluster + 2)
