"""An archive on disk: its packages, and the one way anything is written into it.

Every write goes through staging and a rename: a package (or a new version of one) is
assembled under ``ARCHIVE/.staging`` and renamed into place when complete, so a run
killed at any moment leaves the previous complete state. The state is read back from
the packages themselves, never kept anywhere else. A finished package is never
rewritten: new content, a completed timestamp or a renewal makes a new folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator

from ..fsutil import new_folder, publish_dir, write_error
from .layout import PACKAGE_JSON, PATH_LOG, PENDING, STAGING, TAG_FILES, label_name, version_of
from .lock import archive_lock
from .records import PackageInfo, PackageManifest, PackageUnreadable, TranscriptRecord


@dataclass
class Package:
    """One package folder: published in the archive, or waiting in ``.pending``."""

    path: Path
    info: PackageInfo

    @property
    def name(self) -> str:
        """The folder's name, with its version suffix (``…_v2``)."""
        return self.path.name

    @cached_property
    def _version(self) -> tuple[str, int]:
        return version_of(self.path.name)

    @property
    def base_name(self) -> str:
        return self._version[0]

    @property
    def version(self) -> int:
        return self._version[1]

    def manifest(self) -> PackageManifest:
        """``package.json`` read now, members and all (an archive is walked one package
        at a time: members are never kept for the whole archive)."""
        return PackageManifest.read(self.path)

    def records(self) -> list[TranscriptRecord]:
        return self.manifest().members

    def data_objects(self, record: TranscriptRecord) -> list[bytes]:
        return data_objects(self.path, record)


def data_objects(folder: Path, record: TranscriptRecord) -> list[bytes]:
    """The bytes of the data objects a member's evidence record covers, from its package."""
    return [(folder / record.files[k]).read_bytes() for k in record.evidence_kinds]


def read_packages(folder: Path) -> dict[str, Package]:
    """The highest version of every package in ``folder``, by base name. A folder whose
    package.json cannot be read is skipped here (``archiver check`` names it)."""
    found: dict[str, Package] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            info = PackageManifest.read_info(path)
        except PackageUnreadable:
            continue
        package = Package(path, info)
        held = found.get(package.base_name)
        if held is None or held.version < package.version:
            found[package.base_name] = package
    return found


class Archive:
    """The archive folder ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- what it holds --------------------------------------------------------------------------
    def packages(self) -> dict[str, Package]:
        """The current (highest) published version of every package, by base name."""
        return read_packages(self.root)

    def waiting(self) -> dict[str, Package]:
        """Complete packages waiting in ``.pending`` for their timestamp, by base name."""
        return read_packages(self.root / PENDING)

    def waiting_folders(self) -> list[Path]:
        """Every folder in ``.pending``, every version, oldest first within a class."""
        pending = self.root / PENDING
        folders = [p for p in pending.iterdir() if p.is_dir()] if pending.is_dir() else []
        return sorted(folders, key=lambda p: version_of(p.name))

    def latest(self) -> dict[str, Package]:
        """The newest version of every package, published or waiting: what the next
        version of a class builds on (a class whose package waits for its TSA gets its
        next version on top of that one, never beside it)."""
        latest = self.packages()
        for base, package in self.waiting().items():
            if base not in latest or latest[base].version < package.version:
                latest[base] = package
        return latest

    def bag_folders(self) -> list[Path]:
        """Every published package folder, all versions (one that lost its ``bagit.txt`` too)."""
        return [p for p in sorted(self.root.iterdir()) if p.is_dir() and not p.name.startswith(".")
                and (any((p / name).is_file() for name in TAG_FILES) or (p / PACKAGE_JSON).is_file())] \
            if self.root.is_dir() else []

    def label_path(self, folder: str) -> Path:
        return self.root / label_name(folder)

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator["Archive"]:
        """Hold the lock, and put right what a killed run left, before anything is written."""
        with archive_lock(self.root):
            try:
                self.recover()
            except OSError as exc:
                raise write_error(exc, self.root) from None
            yield self

    def recover(self) -> None:
        """What a run killed at any moment leaves, made whole: the staging area (never a
        published package) is cleared, and a waiting package that was already published
        (the kill came between publishing it and removing its waiting copy) is removed
        from ``.pending``."""
        self.clear_staging()
        pending = self.root / PENDING
        for folder in sorted(pending.iterdir()) if pending.is_dir() else []:
            if folder.is_dir() and (self.root / folder.name / "bagit.txt").is_file():
                shutil.rmtree(folder)

    def clear_staging(self) -> None:
        shutil.rmtree(self.root / STAGING, ignore_errors=True)

    def new_staging(self, name: str) -> Path:
        """An empty folder under ``.staging`` to assemble ``name`` in."""
        return new_folder(self.root / STAGING, name)

    def copy_to_staging(self, package: Package) -> Path:
        """A copy of ``package`` under ``.staging``, to make its next version from (the
        package itself is never touched)."""
        staging = self.new_staging(package.name)
        staging.rmdir()
        shutil.copytree(package.path, staging)
        return staging

    def publish(self, staged: Path, name: str, *, pending: bool = False) -> Path:
        """Rename a complete staged package into place (``.pending/name`` while it waits
        for its timestamp). Refuses to replace anything."""
        target = (self.root / PENDING / name) if pending else (self.root / name)
        target.parent.mkdir(exist_ok=True)
        publish_dir(staged, target)
        return target

    def drop_waiting(self, name: str) -> None:
        """Remove the waiting copy of a package that has been published."""
        if (self.root / name / "bagit.txt").is_file():
            shutil.rmtree(self.root / PENDING / name, ignore_errors=True)

    # -- paths met again -------------------------------------------------------------------
    def path_log(self) -> dict[str, list[str]]:
        """``input-paths.jsonl``: paths under which already archived content was met again
        in later runs. Packages are never rewritten, so this append-only log is where
        those paths are kept (a torn last line, from a crash, is skipped)."""
        found: dict[str, list[str]] = {}
        try:
            with (self.root / PATH_LOG).open(encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                        found.setdefault(entry["sha256"], []).append(entry["path"])
                    except (ValueError, KeyError, TypeError):
                        continue
        except OSError:
            pass
        return found

    def log_paths(self, entries: Iterable[dict[str, str]]) -> None:
        lines = [json.dumps(e, ensure_ascii=False) + "\n" for e in entries]
        if not lines:
            return
        try:
            with (self.root / PATH_LOG).open("a+b") as fh:
                if fh.tell():  # a line torn by a crash must not swallow the next one
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        lines.insert(0, "\n")
                fh.write("".join(lines).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise write_error(exc, self.root / PATH_LOG) from None
