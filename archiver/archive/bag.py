"""BagIt bags (RFC 8493): written from digests already known, read without trusting a byte.

Writing: bagit-python's ``make_bag`` reads and hashes every payload file again, then
opens the bag it has just written (resolving every path of its manifests) before it can
be saved as version 1.0: in a build that was a fifth of the main process's time, for
files the workers had just hashed while writing them. :func:`write_bag` writes the same
bag from those digests, to the letter of RFC 8493 (section 2: bagit.txt, payload
manifests, bag-info.txt, tag manifests). bagit-python still reads and validates every
bag the tests make.

Reading (:func:`read_manifest`): ``archiver check`` must name a damaged file whatever
bytes it holds, where bagit-python stops with a UnicodeDecodeError on a tag file that is
not UTF-8. Manifests are therefore read here, line by line, each bad line named.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .layout import PAYLOAD_MANIFESTS, TAG_MANIFESTS

ALGORITHMS = ("sha256", "sha512")
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
_CHUNK = 1 << 20

Digests = Mapping[str, tuple[str, str, int]]  # "data/…" -> (sha256, sha512, size)


def digests_of(data: bytes) -> tuple[str, str, int]:
    """The payload manifest entries of ``data``: (sha256, sha512, size)."""
    return hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest(), len(data)


def file_digests(path: Path | str, algorithms: tuple[str, ...] = ALGORITHMS) -> tuple[dict[str, str], int]:
    """Every algorithm's hex digest of a file, in one read; and its size.

    The file is read into one buffer that each thread keeps for every file it reads (most
    files of a package are a few kilobytes: a buffer allocated per file, or a ``stat`` to
    size one, cost as much as hashing them)."""
    hashers = [_CONSTRUCTORS[a]() if a in _CONSTRUCTORS else hashlib.new(a) for a in algorithms]
    buffer = getattr(_BUFFERS, "buffer", None)
    if buffer is None:
        buffer = _BUFFERS.buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while count := fh.readinto(buffer):
            size += count
            block = view[:count]
            for h in hashers:
                h.update(block)
    return {a: h.hexdigest() for a, h in zip(algorithms, hashers)}, size


_CONSTRUCTORS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512, "md5": hashlib.md5, "sha1": hashlib.sha1}
_BUFFERS = threading.local()


def _manifest_path(rel: str) -> str:
    # RFC 8493 2.1.3: CR and LF in a path are percent-encoded (as bagit-python reads them;
    # archiver's own names never hold "%").
    return rel.replace("\r", "%0D").replace("\n", "%0A")


def _tag_value(value: object) -> str:
    # One line per element: line breaks would start a new label (as bagit-python writes it).
    return str(value).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def write_bag(folder: Path, bag_info: Mapping[str, object], known: Digests | None = None) -> None:
    """Turn ``folder`` into a bag: what it holds becomes the payload under ``data/``.

    ``known`` gives the digests of payload files already hashed when they were written;
    any other file is read and hashed here.
    """
    entries = sorted(os.listdir(folder))
    payload = folder / "data"
    moving = folder / ".payload-being-bagged"
    moving.mkdir()
    for name in entries:
        os.rename(folder / name, moving / name)
    os.rename(moving, payload)
    _write_tag_files(folder, bag_info, known or {})


def reseal_bag(folder: Path, bag_info: Mapping[str, object]) -> None:
    """Write a bag's tag files anew after its payload changed (a staged copy of a package
    becoming its next version): every payload file is hashed again."""
    for name in os.listdir(folder):
        if (folder / name).is_file():
            (folder / name).unlink()
    _write_tag_files(folder, bag_info, {})


def _write_tag_files(folder: Path, bag_info: Mapping[str, object], known: Digests) -> None:
    lines: dict[str, list[str]] = {a: [] for a in ALGORITHMS}
    octets = streams = 0
    for root, dirs, files in os.walk(folder / "data"):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if rel in known:
                sha256, sha512, size = known[rel]
            else:
                digests, size = file_digests(path)
                sha256, sha512 = digests["sha256"], digests["sha512"]
            lines["sha256"].append(f"{sha256}  {_manifest_path(rel)}\n")
            lines["sha512"].append(f"{sha512}  {_manifest_path(rel)}\n")
            octets += size
            streams += 1

    tags: dict[str, bytes] = {"bagit.txt": BAGIT_TXT.encode("utf-8")}
    for algorithm in ALGORITHMS:
        tags[f"manifest-{algorithm}.txt"] = "".join(lines[algorithm]).encode("utf-8")
    info = {**bag_info, "Payload-Oxum": f"{octets}.{streams}"}
    tags["bag-info.txt"] = "".join(f"{label}: {_tag_value(info[label])}\n" for label in sorted(info)).encode("utf-8")
    for name, data in tags.items():
        (folder / name).write_bytes(data)
    for algorithm in ALGORITHMS:
        body = "".join(f"{hashlib.new(algorithm, data).hexdigest()} {name}\n" for name, data in sorted(tags.items()))
        (folder / f"tagmanifest-{algorithm}.txt").write_bytes(body.encode("utf-8"))


# -- reading ------------------------------------------------------------------------------
# A line as archiver writes it (one space in tag manifests, two in payload manifests; bagit-
# python, which made some older packages, writes two): a lower-case digest, the path.
_LINE = re.compile(r"^([0-9a-f]+) {1,2}([^ ].*)$")
_DIGEST_LENGTH = {"sha256": 64, "sha512": 128}


@dataclass
class Manifest:
    """One manifest file, as far as it could be read."""

    name: str  # manifest-sha256.txt, tagmanifest-sha512.txt, …
    algorithm: str
    entries: dict[str, str] = field(default_factory=dict)  # path -> hex digest
    problems: list[str] = field(default_factory=list)  # what is wrong with the file itself
    present: bool = True


def read_manifest(bag: Path, name: str) -> Manifest:
    """A manifest of the bag, every line checked; a line that is not ``<digest> <path>``
    exactly as archiver writes it (bad bytes included) is a problem of this file, and the
    rest is still read."""
    try:
        raw = (bag / name).read_bytes()
    except FileNotFoundError:
        return parse_manifest(name, None)
    except OSError as exc:
        manifest = parse_manifest(name, None)
        manifest.problems.append(f"không đọc được / unreadable: {exc.strerror or exc}")
        return manifest
    return parse_manifest(name, raw)


def parse_manifest(name: str, raw: bytes | None) -> Manifest:
    """A manifest named ``name`` from its bytes (``None``: the file is not there), read as
    :func:`read_manifest` reads it: wherever the bytes come from (a replica, a download)."""
    algorithm = name.rsplit("-", 1)[-1].removesuffix(".txt")
    manifest = Manifest(name, algorithm)
    if raw is None:
        manifest.present = False
        return manifest
    lines = raw.split(b"\n")
    if lines[-1]:
        manifest.problems.append("dòng cuối không kết thúc bằng xuống dòng / the last line is not ended")
    width = _DIGEST_LENGTH.get(algorithm)
    for number, line in enumerate(lines[:-1] if not lines[-1] else lines, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            manifest.problems.append(f"dòng {number} không phải UTF-8 / line {number} is not UTF-8")
            continue
        found = _LINE.match(text)
        if found is None or "\r" in text or (width and len(found[1]) != width):
            manifest.problems.append(f"dòng {number} hỏng / line {number} is malformed")
            continue
        path = found[2].replace("%0A", "\n").replace("%0D", "\r")
        if path in manifest.entries:
            manifest.problems.append(f"dòng {number} lặp lại {path} / line {number} lists {path} twice")
        manifest.entries[path] = found[1]
    return manifest


def read_manifests(bag: Path) -> tuple[list[Manifest], list[Manifest]]:
    """The bag's payload manifests and tag manifests (those archiver writes)."""
    return ([read_manifest(bag, n) for n in PAYLOAD_MANIFESTS], [read_manifest(bag, n) for n in TAG_MANIFESTS])
