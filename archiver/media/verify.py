"""``archiver media verify PATH``: a disc, an image, a USB copy, checked on its own.

PATH is one of:

- a folder: a mounted disc (``E:\\``, ``/media/cdrom``) or a USB copy (the volume's
  folder, or a stick holding one);
- an image file (``….iso``);
- a raw device (``/dev/sr0``, ``\\\\.\\E:``): read as an image, as far as the image it
  holds says it reaches (the ISO 9660 volume space size; a burnt disc may read longer).

Every file is read again and compared with the volume's ``SHA256SUMS`` and with the
bags' own manifests (SHA-256 and SHA-512); a file missing, changed or not listed is
named. For an image or a device, the first image-size bytes are compared with the
image's recorded SHA-256: given with ``--sha256`` (the label prints it), or found in the
set's files beside an image, or in the archive's record of the set (``--archive``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from ..archive.bag import ALGORITHMS
from ..errors import UsageError
from ..vn import thousands
from .iso import BLOCK
from .medium import SECTOR
from .volume import SUMS, VOLUME_JSON

_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


@dataclass
class VerifyResult:
    path: Path
    kind: str  # "folder", "image", "device"
    files: int = 0
    packages: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    image_bytes: int = 0
    image_sha256: str = ""
    recorded_sha256: str = ""
    volume: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- reading a volume, from a folder or from an image ---------------------------------------------
class _Reader:
    """A volume's files: ``files()`` their paths, ``open(rel)`` a binary stream."""

    def files(self) -> list[str]:
        raise NotImplementedError

    def open(self, rel: str) -> BinaryIO:
        raise NotImplementedError

    def read(self, rel: str) -> bytes:
        with self.open(rel) as fh:
            return fh.read()


class _FolderReader(_Reader):
    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self) -> list[str]:
        found = []
        for folder, dirs, names in os.walk(self.root):
            dirs.sort()
            for name in names:
                found.append((Path(folder) / name).relative_to(self.root).as_posix())
        return sorted(found)

    def open(self, rel: str) -> BinaryIO:
        return open(self.root / rel, "rb")


class _ImageReader(_Reader):
    """The files of an ISO 9660 image, by their Rock Ridge names (Joliet's when the image
    has no Rock Ridge), read with pycdlib."""

    def __init__(self, fp: BinaryIO) -> None:
        import pycdlib

        self.iso = pycdlib.PyCdlib()
        self.iso.open_fp(fp)
        self.key = "rr_path" if self.iso.has_rock_ridge() else "joliet_path" if self.iso.has_joliet() else "iso_path"

    def files(self) -> list[str]:
        found = []
        for folder, _dirs, names in self.iso.walk(**{self.key: "/"}):
            for name in names:
                rel = str(PurePosixPath(folder) / name).lstrip("/")
                if self.key == "iso_path":
                    rel = rel.rsplit(";", 1)[0].rstrip(".")
                found.append(rel)
        return sorted(found)

    def open(self, rel: str) -> BinaryIO:
        return self.iso.open_file_from_iso(**{self.key: "/" + rel})

    def close(self) -> None:
        self.iso.close()


class _AlignedDevice(io.RawIOBase):
    """A raw device read in whole sectors (Windows' ``\\\\.\\E:`` refuses other reads)."""

    def __init__(self, path: str) -> None:
        self.fh = open(path, "rb", buffering=0)
        self.pos = 0
        self.end: int | None = None  # the image's end, once its volume descriptor has said it
        self.cache: tuple[int, bytes] = (-1, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self.pos = offset
        elif whence == 1:
            self.pos += offset
        elif self.end is not None:
            self.pos = self.end + offset  # a disc may read longer than its image: the image's end
        else:
            raise io.UnsupportedOperation("a device has no known end")
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = BLOCK
        out = bytearray()
        while size > 0:
            block = self.pos // BLOCK * BLOCK
            if self.cache[0] != block:
                self.fh.seek(block)
                self.cache = (block, self.fh.read(BLOCK))
            data = self.cache[1][self.pos - block:self.pos - block + size]
            if not data:
                break
            out += data
            self.pos += len(data)
            size -= len(data)
        return bytes(out)

    def close(self) -> None:
        self.fh.close()
        super().close()


# -- what PATH is --------------------------------------------------------------------------------
def _is_device(path: str) -> bool:
    if re.fullmatch(r"\\\\\.\\[A-Za-z]:", path) or path.startswith("\\\\.\\"):
        return True
    try:
        return stat.S_ISBLK(os.stat(path).st_mode) or stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _volume_root(folder: Path) -> Path:
    """The volume in ``folder``: itself, or the one volume folder on a stick's root."""
    if (folder / SUMS).is_file():
        return folder
    inside = [p for p in sorted(folder.iterdir()) if p.is_dir() and (p / SUMS).is_file()] if folder.is_dir() else []
    if len(inside) == 1:
        return inside[0]
    if len(inside) > 1:
        raise UsageError(f"{folder} có {len(inside)} thư mục đĩa; chỉ rõ một / holds several volumes: name one of "
                         + ", ".join(p.name for p in inside))
    raise UsageError(f"{folder}: không thấy {SUMS}; đây không phải đĩa hay USB do archiver media ghi / not a volume "
                     f"written by archiver media (no {SUMS})")


def image_size_of(fp: BinaryIO) -> int:
    """The image's size as its primary volume descriptor says (ECMA-119 8.4.8: the volume
    space size, in logical blocks of 8.4.12's size)."""
    fp.seek(16 * SECTOR)
    pvd = fp.read(SECTOR)
    if len(pvd) < 132 or pvd[0] != 1 or pvd[1:6] != b"CD001":
        raise ValueError("không phải ảnh ISO 9660 / not an ISO 9660 image (no primary volume descriptor)")
    blocks = int.from_bytes(pvd[80:84], "little")
    block = int.from_bytes(pvd[128:130], "little")
    return blocks * block


def _hash_prefix(fp: BinaryIO, size: int) -> tuple[str, int, OSError | None]:
    """SHA-256 of the first ``size`` bytes, how many could be read, and the read error
    that stopped it (a scratched disc), if any."""
    digest = hashlib.sha256()
    read = 0
    try:
        fp.seek(0)
        while read < size:
            chunk = fp.read(min(BLOCK, size - read))
            if not chunk:
                break
            digest.update(chunk)
            read += len(chunk)
    except OSError as exc:
        return digest.hexdigest(), read, exc
    return digest.hexdigest(), read, None


# -- the checks --------------------------------------------------------------------------------------
def _digests(fh: BinaryIO) -> dict[str, str]:
    hashers = {a: hashlib.new(a) for a in ALGORITHMS}
    while True:
        chunk = fh.read(BLOCK)
        if not chunk:
            break
        for h in hashers.values():
            h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def _parse_list(data: bytes, name: str, problems: list[str], width: int = 64) -> dict[str, str]:
    entries = {}
    pattern = re.compile(rf"([0-9a-fA-F]{{{width}}}) [ *]?(.+)")
    for number, raw in enumerate(data.split(b"\n"), 1):
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line:
            continue
        found = pattern.fullmatch(line)
        if not found:
            problems.append(f"{name}: dòng {number} hỏng / line {number} is damaged")
            continue
        entries[found[2].lstrip(" *")] = found[1].lower()
    return entries


def check_volume(reader: _Reader, result: VerifyResult, tick: Callable[[], None] | None = None) -> None:
    problems = result.problems
    present = reader.files()
    if SUMS not in present:
        problems.append(f"{SUMS}: thiếu, không kiểm tra được đĩa / missing: the volume cannot be checked")
        return
    listed = _parse_list(reader.read(SUMS), SUMS, problems)
    if VOLUME_JSON in present:
        try:
            result.volume = json.loads(reader.read(VOLUME_JSON).decode("utf-8"))
        except ValueError:
            result.volume = {}
    digests: dict[str, dict[str, str]] = {}
    present_set = set(present)
    for rel in present:
        if rel == SUMS:
            continue
        try:
            with reader.open(rel) as fh:
                digests[rel] = _digests(fh)
        except Exception as exc:  # noqa: BLE001 - an unreadable sector is a finding, never a traceback
            problems.append(f"{rel}: không đọc được / unreadable ({type(exc).__name__}: {exc})")
            continue
        result.files += 1
        if tick:
            tick()
        if rel not in listed:
            problems.append(f"{rel}: tệp lạ, không có trong {SUMS} / not listed in {SUMS}")
        elif digests[rel]["sha256"] != listed[rel]:
            problems.append(f"{rel}: HỎNG, khác mã SHA-256 trong {SUMS} / DAMAGED: differs from {SUMS}")
    for rel in sorted(set(listed) - present_set):
        problems.append(f"{rel}: THIẾU, có trong {SUMS} / MISSING: listed in {SUMS}")
    bags = sorted(rel.split("/")[0] for rel in present if rel.count("/") == 1 and rel.endswith("/bagit.txt"))
    result.packages = len(bags)
    for bag in bags:
        for manifest in ("manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt",
                         "tagmanifest-sha512.txt"):
            rel_manifest = f"{bag}/{manifest}"
            algorithm = manifest.rsplit("-", 1)[1].removesuffix(".txt")
            if rel_manifest not in present_set:
                problems.append(f"{rel_manifest}: thiếu / missing")
                continue
            entries = _parse_list(reader.read(rel_manifest), rel_manifest, problems,
                                  128 if algorithm == "sha512" else 64)
            for name, digest in sorted(entries.items()):
                rel = f"{bag}/{name}"
                if rel not in present_set:
                    problems.append(f"{rel}: THIẾU, có trong {manifest} / MISSING: listed in {manifest}")
                elif rel in digests and digests[rel][algorithm] != digest:
                    problems.append(f"{rel}: HỎNG, khác {manifest} / DAMAGED: differs from {manifest}")
            if manifest.startswith("manifest-"):
                for rel in present:
                    if rel.startswith(f"{bag}/data/") and rel[len(bag) + 1:] not in entries:
                        problems.append(f"{rel}: tệp lạ, không có trong {manifest} / not in {manifest}")
    # the same damage named once per file, in path order
    result.problems[:] = _dedupe(problems)


def _dedupe(problems: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for p in problems:
        seen.setdefault(p, None)
    return list(seen)


def _recorded_sha256(path: Path, volume: dict, archive: Path | None) -> tuple[str, str]:
    """The SHA-256 recorded for this volume, and where it was found ("" if nowhere)."""
    name = volume.get("name", "")
    set_id = volume.get("set", "")
    candidates = []
    if archive is not None and set_id:
        candidates.append(archive / "media" / f"{set_id}.json")
    if path.is_file():
        candidates.append(path.parent / f"{set_id}.json")
        sums = path.parent / SUMS
        if sums.is_file():
            for line in sums.read_text(encoding="utf-8", errors="replace").splitlines():
                found = _LINE.fullmatch(line.strip())
                if found and found[2].lstrip("*") == path.name:
                    return found[1].lower(), str(sums)
    for record in candidates:
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            for v in data.get("volumes", []):
                if v.get("name") == name and isinstance(v.get("sha256"), str):
                    return v["sha256"].lower(), str(record)
        except (OSError, ValueError, AttributeError):
            continue
    return "", ""


def verify_media(target: str, *, sha256: str = "", archive: Path | None = None,
                 tick: Callable[[], None] | None = None) -> VerifyResult:
    sha256 = sha256.strip().lower()
    if sha256 and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise UsageError(f"--sha256 {sha256!r}: cần 64 chữ số hex (in trên nhãn) / must be 64 hex digits")
    path = Path(target)
    if _is_device(target):
        try:
            fp: BinaryIO = _AlignedDevice(target)
        except OSError as exc:
            raise UsageError(f"không đọc được ổ {target} (chưa có đĩa trong ổ?): {exc.strerror or exc} / cannot read "
                             f"the drive {target} (no disc in it?)") from None
        result = VerifyResult(path, "device")
    elif path.is_dir():
        root = _volume_root(path)
        result = VerifyResult(root, "folder")
        check_volume(_FolderReader(root), result, tick)
        _compare_folder_record(root, result, sha256, archive)
        return result
    elif path.is_file():
        try:
            fp = open(path, "rb")
        except OSError as exc:
            raise UsageError(f"không mở được {target}: {exc.strerror or exc} / cannot open {target}") from None
        result = VerifyResult(path, "image")
    else:
        raise UsageError(f"không thấy {target} / {target} does not exist")
    with fp:
        try:
            size = image_size_of(fp)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{target}: {exc}") from None
        result.image_bytes = size
        if isinstance(fp, _AlignedDevice):
            fp.end = size
        digest, read, error = _hash_prefix(fp, size)
        if error is not None:
            result.problems.append(f"{path.name}: LỖI ĐỌC từ byte {thousands(read)} ({error.strerror or error}); đĩa có thể bị "
                                   f"xước hoặc hỏng / READ ERROR at byte {thousands(read)} of {thousands(size)}: the disc may be "
                                   "scratched or failing")
        elif read < size:
            result.problems.append(f"{path.name}: ẢNH BỊ CẮT NGẮN, chỉ có {thousands(read)} trên {thousands(size)} byte / TRUNCATED: "
                                   f"{thousands(read)} of {thousands(size)} bytes")
        else:
            result.image_sha256 = digest
        try:
            reader = _ImageReader(fp)
        except Exception as exc:  # noqa: BLE001 - pycdlib's error on a damaged image
            result.problems.append(f"{path.name}: không đọc được cây thư mục ISO 9660 / the ISO 9660 tree cannot "
                                   f"be read: {exc}")
            return result
        try:
            check_volume(reader, result, tick)
        finally:
            reader.close()
    recorded, where = (sha256, "--sha256") if sha256 else _recorded_sha256(path, result.volume, archive)
    result.recorded_sha256 = recorded
    if result.image_sha256 and recorded:
        if recorded != result.image_sha256:
            result.problems.append(f"{path.name}: SHA-256 của ảnh ({result.image_sha256}) khác mã đã ghi ({where}: "
                                   f"{recorded}) / the image differs from its recorded SHA-256")
        else:
            result.notes.append(f"SHA-256 của {thousands(size)} byte đầu khớp mã đã ghi ({where}) / the image matches its "
                                "recorded SHA-256")
    elif result.image_sha256:
        result.notes.append(f"SHA-256 của ảnh / image: {result.image_sha256}; không có mã đã ghi để so (dùng --sha256 "
                            "<mã trên nhãn> hoặc --archive) / no recorded value found to compare it with")
    return result


def _compare_folder_record(root: Path, result: VerifyResult, sha256: str, archive: Path | None) -> None:
    """A USB copy's label and record carry the SHA-256 of its SHA256SUMS."""
    if not (root / SUMS).is_file():
        return
    digest = hashlib.sha256((root / SUMS).read_bytes()).hexdigest()
    recorded, where = (sha256, "--sha256") if sha256 else _recorded_sha256(root, result.volume, archive)
    if not recorded:
        return
    if result.volume.get("medium", {}).get("kind") == "iso":
        # a mounted disc: its label carries the image's SHA-256, which a folder cannot give
        result.notes.append("Đĩa đọc qua thư mục: so SHA-256 cả ảnh cần đọc ổ đĩa thô (\\\\.\\E: hoặc /dev/sr0) / "
                            "to compare the whole disc with its label, verify the raw drive")
        return
    if recorded != digest:
        result.problems.append(f"{SUMS}: khác mã đã ghi ({where}) / differs from the recorded SHA-256")
    else:
        result.notes.append(f"{SUMS} khớp mã đã ghi ({where}) / matches the recorded SHA-256")
