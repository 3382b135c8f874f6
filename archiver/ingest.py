"""Stage 1, ingest: every input file, read once, hashed, recognised when seen before.

Every file under the inputs counts (not only ``*.xml``): whatever is not a transcript
ends in quarantine with its reason, so nothing a clerk hands over is lost. Byte-identical
inputs become one :class:`IngestedFile` that remembers every path it came from.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .inputs import LINK_NOT_FOLLOWED, InputItem, folder_files, shown, zip_members

READ_LIMIT = 64 * 1024 * 1024  # larger inputs are kept, hashed in chunks, and refused by size later


@dataclass
class IngestedFile:
    sha256: str
    size: int
    sources: list[InputItem] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def first(self) -> InputItem:
        return self.sources[0]


def _every_file(paths: Iterable[str | os.PathLike]) -> Iterator[InputItem]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for sub, link in folder_files(path):
                if link:
                    yield InputItem(name=shown(sub), source=str(sub), error=LINK_NOT_FOLLOWED)
                else:
                    yield from _file_or_zip(sub)
        elif path.is_file():
            yield from _file_or_zip(path)
        else:
            yield InputItem(name=shown(path), source=str(path), error=f"Không tìm thấy {shown(path)} / no such file or folder")


def _file_or_zip(path: Path) -> Iterator[InputItem]:
    if path.suffix.lower() != ".zip":
        yield InputItem(name=shown(path), source=str(path))
        return
    try:
        members = zip_members(path)
    except (zipfile.BadZipFile, OSError):
        # Not a readable zip: the file itself is the input, and goes to quarantine whole.
        yield InputItem(name=shown(path), source=str(path))
        return
    yield from members


@dataclass
class IngestResult:
    files: dict[str, IngestedFile]  # by sha256, in first-seen order
    missing: list[InputItem]  # paths that do not exist (reported, nothing to keep)
    unreadable: list[tuple[InputItem, str]]

    @property
    def input_count(self) -> int:
        return sum(len(f.sources) for f in self.files.values())


def ingest(paths: Iterable[str | os.PathLike], progress=None) -> IngestResult:
    files: dict[str, IngestedFile] = {}
    missing: list[InputItem] = []
    unreadable: list[tuple[InputItem, str]] = []
    # A zip with a member that cannot be read, or that would expand beyond any transcript
    # (a zip bomb), is kept whole: the zip is the original the clerk handed over.
    keep_whole: dict[str, list[str]] = {}

    def add(item: InputItem) -> None:
        try:
            digest, size = item.digest()
        except OSError as exc:  # InputReadError included: damaged or encrypted zip members
            if item.member is not None:
                keep_whole.setdefault(item.source, []).append(f"{item.member}: {exc}")
            else:
                unreadable.append((item, str(exc)))
            return
        entry = files.get(digest)
        if entry is None:
            files[digest] = IngestedFile(digest, size, [item])
        else:
            entry.sources.append(item)

    for item in _every_file(paths):
        if progress:
            progress()
        if item.error:
            missing.append(item)
            continue
        if item.member is not None and (item.expanded_size or 0) > READ_LIMIT:
            keep_whole.setdefault(item.source, []).append(
                f"{item.member}: giải nén ra {item.expanded_size:,} byte, quá lớn để là học bạ / expands to "
                f"{item.expanded_size:,} bytes, too large to be a transcript")
            continue
        add(item)
    for source, why in keep_whole.items():
        add(InputItem(name=shown(source), source=source, kept_whole="; ".join(why)))
    return IngestResult(files, missing, unreadable)
