"""Input files: single files, folders (recursive) and ``.zip`` exports, read lazily.

Originals are opened read-only and never modified. A zip member is named
``export.zip!/9A1/x.xml``; members are read only up to a limit, so a zip bomb is
refused by size, not by memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import unicodedata
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

ZIP_SEPARATOR = "!/"


class InputReadError(OSError):
    """An input cannot be read: a damaged, encrypted or unsupported zip member."""


# What zipfile raises for a member it cannot give back (bad CRC, encryption, an unknown
# compression method, a truncated stream): all of them mean "unreadable input".
_ZIP_READ_ERRORS = (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, zlib.error, ValueError)


@dataclass(frozen=True)
class InputItem:
    name: str  # what people see
    source: str  # the file on disk (the zip, for members)
    member: str | None = None
    error: str | None = None  # set when the container itself cannot be read
    member_index: int | None = None  # position in the zip's directory: names may repeat
    expanded_size: int | None = None  # a zip member's declared size, before it is read
    kept_whole: str | None = None  # a zip kept whole in quarantine: why (a member was unusable)

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """The bytes as a stream; zip problems surface as :class:`InputReadError`."""
        if self.member is None:
            with open(self.source, "rb") as fh:
                yield fh
            return
        try:
            with zipfile.ZipFile(self.source) as zf:
                info = zf.infolist()[self.member_index] if self.member_index is not None else zf.getinfo(self.member)
                with zf.open(info) as fh:
                    yield _CheckedStream(fh)
        except _ZIP_READ_ERRORS as exc:
            raise InputReadError(_zip_problem(exc)) from None

    def read(self, limit: int | None = None) -> bytes:
        """The bytes, or the first ``limit + 1`` of them (enough to tell it is too large)."""
        with self.open() as fh:
            return fh.read(-1 if limit is None else limit + 1)

    def digest(self) -> tuple[str, int]:
        """SHA-256 (hex) and size of all the bytes, read in chunks."""
        h = hashlib.sha256()
        size = 0
        with self.open() as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size


class _CheckedStream:
    """A zip member stream whose read errors become :class:`InputReadError`."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def read(self, size: int = -1) -> bytes:
        try:
            return self._fh.read(size)
        except _ZIP_READ_ERRORS as exc:
            raise InputReadError(_zip_problem(exc)) from None


def _zip_problem(exc: Exception) -> str:
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        return "tệp trong zip được mã hoá, cần mật khẩu / the zip member is encrypted (password protected)"
    if isinstance(exc, NotImplementedError):
        return f"tệp trong zip nén theo cách không hỗ trợ / unsupported zip compression: {exc}"
    return f"tệp trong zip bị hỏng / damaged zip member: {exc}"


def shown(path: str | os.PathLike) -> str:
    """A path as people see it, and as reports and JSON record it. A name that is not
    UTF-8 on disk (copied from an old Windows share) is read in the Vietnamese Windows
    code page, else with U+FFFD for the bytes it cannot show; the file itself is opened
    by its real name."""
    text = str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _legacy_name(os.fsencode(text))


def _legacy_name(raw: bytes) -> str:
    """A file name's bytes written without saying their encoding: UTF-8 if they are, else
    the Vietnamese Windows code page (old shares, USB sticks, Windows' own zip), else
    U+FFFD for what cannot be shown."""
    for encoding in ("utf-8", "cp1258"):
        try:
            return unicodedata.normalize("NFC", raw.decode(encoding))
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def _member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name as written. Without the UTF-8 flag zipfile reads names as
    cp437; Windows' own zip writes them in the PC's code page (cp1258 for Vietnamese) and
    many tools write UTF-8 without the flag. Only for display: members are opened by index."""
    name = info.filename
    if info.flag_bits & 0x800 or name.isascii():
        return name
    try:
        return _legacy_name(name.encode("cp437"))
    except UnicodeEncodeError:
        return name


def _is_xml(name: str) -> bool:
    return name.lower().endswith(".xml")


def zip_members(path: Path, keep: Callable[[str], bool] = lambda name: True) -> list[InputItem]:
    """The members of a zip as inputs, in name order. A name that occurs twice (zip files
    allow it) gives two inputs, the later one labelled ``(2)``. Raises zipfile.BadZipFile
    or OSError when the zip itself cannot be read."""
    with zipfile.ZipFile(path) as zf:
        infos = [(i.filename, index, i) for index, i in enumerate(zf.infolist())
                 if not i.is_dir() and keep(i.filename)]
    items, seen = [], Counter()
    shown_path = shown(path)
    for member, index, info in sorted(infos, key=lambda entry: entry[:2]):
        seen[member] += 1
        label = f"{shown_path}{ZIP_SEPARATOR}{_member_name(info)}" + (f" ({seen[member]})" if seen[member] > 1 else "")
        items.append(InputItem(name=label, source=str(path), member=member, member_index=index,
                               expanded_size=info.file_size))
    return items


def _is_pdf(name: str) -> bool:
    return name.lower().endswith(".pdf")


def holds_signature(item: InputItem) -> bool:
    """Whether a PDF carries a signature (a ``/ByteRange``): the signed PDF transcripts
    (scans, PAdES exports) among the PDFs a class export holds beside its XML. The other
    PDFs (renderings, unsigned forms) are not transcripts to verify."""
    tail = b""
    try:
        with item.open() as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                if b"/ByteRange" in tail + chunk:
                    return True
                tail = chunk[-16:]
    except OSError:
        return True  # unreadable: verified, so that it is reported
    return False


def _zip_items(path: Path) -> Iterator[InputItem]:
    try:
        members = zip_members(path, lambda name: _is_xml(name) or _is_pdf(name))
    except (zipfile.BadZipFile, OSError) as exc:
        yield InputItem(name=shown(path), source=str(path), error=f"Tệp zip hỏng / unreadable zip: {exc}")
        return
    yield from (m for m in members if not _is_pdf(m.member or "") or holds_signature(m))


LINK_NOT_FOLLOWED = ("là liên kết tượng trưng (symlink), không đọc theo vì có thể trỏ ra ngoài thư mục đầu vào / "
                     "symbolic link, not followed: it may point outside the input folder")


def folder_files(folder: Path) -> Iterator[tuple[Path, bool]]:
    """Every file under ``folder`` in name order, as (path, is_symlink). Symbolic links
    (to files or folders) are listed, never followed: an input folder must not pull in
    files from elsewhere on the machine."""
    found: list[tuple[Path, bool]] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in dirs:
            if (base / name).is_symlink():
                found.append((base / name, True))
        for name in files:
            found.append((base / name, (base / name).is_symlink()))
    yield from sorted(found)


def iter_inputs(paths: Iterable[str | os.PathLike]) -> Iterator[InputItem]:
    """Every transcript candidate under ``paths``: given files as they are, ``*.xml`` and
    signed ``*.pdf`` in folders (recursively, in name order), such members of ``.zip`` files."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for sub, link in folder_files(path):
                if link:
                    if _is_xml(sub.name) or sub.suffix.lower() == ".zip":
                        yield InputItem(name=shown(sub), source=str(sub), error=LINK_NOT_FOLLOWED)
                elif sub.suffix.lower() == ".zip":
                    yield from _zip_items(sub)
                elif _is_xml(sub.name):
                    yield InputItem(name=shown(sub), source=str(sub))
                elif _is_pdf(sub.name) and holds_signature(InputItem(name=shown(sub), source=str(sub))):
                    yield InputItem(name=shown(sub), source=str(sub))  # a signed PDF transcript
        elif path.suffix.lower() == ".zip" and path.is_file():
            yield from _zip_items(path)
        elif path.is_file():
            yield InputItem(name=shown(path), source=str(path))
        else:
            yield InputItem(name=shown(path), source=str(path),
                            error=f"Không tìm thấy {path} / no such file or folder")
