"""Writing a BagIt bag (RFC 8493) from a staged folder whose file digests are known.

bagit-python's ``make_bag`` reads and hashes every payload file again, then opens the bag
it has just written (resolving every path of its manifests) before it can be saved as
version 1.0: in a build that was a fifth of the main process's time, for files the
workers had just hashed while writing them. This writes the same bag from those digests,
to the letter of RFC 8493 (section 2: bagit.txt, payload manifests, bag-info.txt, tag
manifests); bagit-python still reads and validates every bag (``archiver check``, tests).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Mapping

ALGORITHMS = ("sha256", "sha512")
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
_CHUNK = 1 << 20

Digests = Mapping[str, tuple[str, str, int]]  # "data/…" -> (sha256, sha512, size)


def digests_of(data: bytes) -> tuple[str, str, int]:
    """The payload manifest entries of ``data``: (sha256, sha512, size)."""
    return hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest(), len(data)


def _file_digests(path: Path) -> tuple[str, str, int]:
    hashers = [hashlib.new(a) for a in ALGORITHMS]
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            size += len(block)
            for h in hashers:
                h.update(block)
    return hashers[0].hexdigest(), hashers[1].hexdigest(), size


def _manifest_path(rel: str) -> str:
    # RFC 8493 2.1.3: CR and LF in a path are percent-encoded (as bagit-python reads them).
    return rel.replace("\r", "%0D").replace("\n", "%0A")


def _tag_value(value: object) -> str:
    # One line per element: line breaks would start a new label (as bagit-python writes it).
    return str(value).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def write_bag(folder: Path, bag_info: Mapping[str, object], known: Digests | None = None) -> None:
    """Turn ``folder`` into a bag: what it holds becomes the payload under ``data/``.

    ``known`` gives the digests of payload files already hashed when they were written;
    any other file is read and hashed here.
    """
    known = known or {}
    entries = sorted(os.listdir(folder))
    payload = folder / "data"
    moving = folder / ".payload-being-bagged"
    moving.mkdir()
    for name in entries:
        os.rename(folder / name, moving / name)
    os.rename(moving, payload)

    lines: dict[str, list[str]] = {a: [] for a in ALGORITHMS}
    octets = streams = 0
    for root, dirs, files in os.walk(payload):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            sha256, sha512, size = known.get(rel) or _file_digests(path)
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
