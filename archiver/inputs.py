"""Input files: single files, folders (recursive) and ``.zip`` exports, read lazily.

Originals are opened read-only and never modified. A zip member is named
``export.zip!/9A1/x.xml``; members are read only up to a limit, so a zip bomb is
refused by size, not by memory.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

ZIP_SEPARATOR = "!/"


@dataclass(frozen=True)
class InputItem:
    name: str  # what people see
    source: str  # the file on disk (the zip, for members)
    member: str | None = None
    error: str | None = None  # set when the container itself cannot be read

    def read(self, limit: int | None = None) -> bytes:
        """The bytes, or the first ``limit + 1`` of them (enough to tell it is too large)."""
        size = -1 if limit is None else limit + 1
        if self.member is None:
            with open(self.source, "rb") as fh:
                return fh.read(size)
        with zipfile.ZipFile(self.source) as zf, zf.open(self.member) as fh:
            return fh.read(size)


def _is_xml(name: str) -> bool:
    return name.lower().endswith(".xml")


def _zip_items(path: Path) -> Iterator[InputItem]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i.filename for i in zf.infolist() if not i.is_dir() and _is_xml(i.filename)]
    except (zipfile.BadZipFile, OSError) as exc:
        yield InputItem(name=str(path), source=str(path), error=f"Tệp zip hỏng / unreadable zip: {exc}")
        return
    for member in sorted(members):
        yield InputItem(name=f"{path}{ZIP_SEPARATOR}{member}", source=str(path), member=member)


def iter_inputs(paths: Iterable[str | os.PathLike]) -> Iterator[InputItem]:
    """Every transcript candidate under ``paths``: given files as they are, ``*.xml`` in
    folders (recursively, in name order), ``*.xml`` members of ``.zip`` files."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for sub in sorted(p for p in path.rglob("*") if p.is_file()):
                if sub.suffix.lower() == ".zip":
                    yield from _zip_items(sub)
                elif _is_xml(sub.name):
                    yield InputItem(name=str(sub), source=str(sub))
        elif path.suffix.lower() == ".zip" and path.is_file():
            yield from _zip_items(path)
        elif path.is_file():
            yield InputItem(name=str(path), source=str(path))
        else:
            yield InputItem(name=str(path), source=str(path),
                            error=f"Không tìm thấy {path} / no such file or folder")
