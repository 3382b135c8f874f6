"""The ``rclone`` program, wrapped: every transfer to or from a remote goes through it.

rclone (https://rclone.org) speaks SFTP, WebDAV, S3, Google Drive, OneDrive and some
fifty other services, and encrypts with its ``crypt`` remotes; archiver never speaks a
network protocol itself. The program is found on PATH (``rclone``, ``rclone.exe`` on
Windows) or given with ``--rclone PATH``; remotes come from the user's rclone
configuration (``rclone config``; ``RCLONE_CONFIG`` names another file).

Each failure maps to a behaviour: :class:`RcloneMissing` and :class:`RemoteNotConfigured`
are configuration mistakes (exit 2, nothing written); :class:`TransferFailed` stops the
work on that destination (exit 1) with rclone's own last words.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

from ..errors import ArchiveWriteError, ConfigError

# rclone's exit codes (rclone docs, "Exit code"): 3 directory not found, 4 file not found.
_DIRECTORY_NOT_FOUND, _FILE_NOT_FOUND = 3, 4


class RcloneMissing(ConfigError):
    """The rclone program cannot be found or run."""


class RemoteNotConfigured(ConfigError):
    """The remote named in a destination is not in the rclone configuration."""


class TransferFailed(ArchiveWriteError):
    """rclone ran and failed: the remote is unreachable, refused, or full."""


class NotFound(Exception):
    """The path does not exist at the remote (rclone's exit codes 3 and 4)."""


@dataclass(frozen=True)
class RemoteFile:
    """A file as a remote lists it: its path below the listed folder, size, and the
    hashes the remote keeps (``{}`` where it keeps none)."""

    path: str
    size: int
    hashes: dict[str, str]


def find_rclone(given: str | os.PathLike | None = None) -> str:
    """The rclone program: ``given`` (``--rclone``), else ``rclone`` on PATH."""
    if given:
        path = Path(given)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise RcloneMissing(f"không chạy được rclone tại {given} (--rclone) / the rclone program given with --rclone "
                            "cannot be run: check the path")
    found = shutil.which("rclone")
    if found is None:
        raise RcloneMissing("không tìm thấy chương trình rclone: cài rclone (Debian/Ubuntu: apt install rclone; "
                            "Windows: tải rclone.exe từ rclone.org) hoặc chỉ đường dẫn bằng --rclone / rclone is not "
                            "installed: install it, or give its path with --rclone PATH")
    return found


class Rclone:
    """One rclone program, run once per operation; ``config`` overrides the rclone
    configuration file (tests; otherwise rclone's own lookup, or ``RCLONE_CONFIG``)."""

    def __init__(self, program: str | os.PathLike | None = None) -> None:
        self.program = find_rclone(program)

    def run(self, *args: str, input_text: str | None = None, timeout: float | None = None) -> str:
        """Run rclone with ``args``; its standard output. Raises :class:`NotFound`,
        :class:`RemoteNotConfigured` or :class:`TransferFailed`."""
        cmd = [self.program, "--retries", "2", "--low-level-retries", "5", *args]
        try:
            proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True, encoding="utf-8",
                                  errors="replace", timeout=timeout)
        except FileNotFoundError:
            raise RcloneMissing(f"không chạy được {self.program} / rclone cannot be run") from None
        except OSError as exc:
            raise RcloneMissing(f"không chạy được {self.program}: {exc} / rclone cannot be run") from None
        if proc.returncode == 0:
            return proc.stdout
        said = _last_words(proc.stderr)
        if "didn't find section in config file" in proc.stderr or "not found in config file" in proc.stderr:
            remote = next((a for a in args if ":" in a and not a.startswith("-")), "")
            raise RemoteNotConfigured(
                f"rclone chưa có cấu hình cho nơi lưu {remote.split(':')[0]}: — tạo bằng `rclone config` (hoặc đặt "
                f"RCLONE_CONFIG) / the rclone remote {remote.split(':')[0]}: is not configured: run `rclone config`")
        if proc.returncode in (_DIRECTORY_NOT_FOUND, _FILE_NOT_FOUND) or "directory not found" in said \
                or "object not found" in said or "404 Not Found" in said:
            raise NotFound(said)
        raise TransferFailed(f"rclone {args[0]} thất bại / failed: {said}")

    # -- what a remote can do ------------------------------------------------------------------
    def features(self, remote: str) -> dict[str, Any]:
        """``rclone backend features``: the remote's hashes and abilities."""
        try:
            return json.loads(self.run("backend", "features", remote))
        except ValueError:
            raise TransferFailed(f"rclone không cho biết khả năng của {remote} / rclone did not describe "
                                 f"{remote}") from None

    # -- reading ---------------------------------------------------------------------------------
    def list_files(self, path: str, *, hash_type: str | None = None, max_depth: int | None = None,
                   includes: Iterable[str] = ()) -> list[RemoteFile]:
        """Every file below ``path`` (recursively), with the remote's ``hash_type`` hash when
        asked for (``sha256``, ``md5``). :class:`NotFound` when ``path`` does not exist."""
        args = ["lsjson", "-R", "--files-only", "--no-mimetype", "--no-modtime"]
        if hash_type:
            args += ["--hash", "--hash-type", hash_type]
        if max_depth:
            args += ["--max-depth", str(max_depth)]
        for pattern in includes:
            args += ["--include", pattern]
        try:
            items = json.loads(self.run(*args, path) or "[]")
        except ValueError:
            raise TransferFailed(f"rclone trả về danh sách hỏng cho {path} / rclone listed {path} unreadably") from None
        return [RemoteFile(i["Path"], int(i.get("Size", -1)), {k.lower(): v.lower() for k, v in
                                                              (i.get("Hashes") or {}).items() if v})
                for i in items if not i.get("IsDir")]

    def cat(self, path: str) -> bytes:
        """The bytes of one file at the remote (:class:`NotFound` when absent)."""
        cmd = [self.program, "cat", path]
        proc = subprocess.run(cmd, capture_output=True)
        if proc.returncode == 0:
            return proc.stdout
        said = _last_words(proc.stderr.decode("utf-8", errors="replace"))
        if proc.returncode in (_DIRECTORY_NOT_FOUND, _FILE_NOT_FOUND) or "not found" in said:
            raise NotFound(said)
        raise TransferFailed(f"rclone cat thất bại / failed: {said}")

    # -- copying -----------------------------------------------------------------------------------
    def copy_files(self, source: str, destination: str, rels: Iterable[str]) -> None:
        """Copy the files ``rels`` (paths below ``source``) to the same paths below
        ``destination``, in one rclone run (``--files-from``); never replacing a file
        already there (``--ignore-existing``): the caller decides what may be replaced."""
        listed = "".join(f"{rel}\n" for rel in rels)
        if not listed:
            return
        self.run("copy", "--ignore-existing", "--no-traverse", "--files-from", "-", source, destination,
                 input_text=listed)

    def move_files(self, source: str, destination: str, rels: Iterable[str]) -> None:
        """Move the files ``rels`` from below ``source`` to below ``destination`` in one run;
        a file already at the destination is left as it is (``--ignore-existing``)."""
        listed = "".join(f"{rel}\n" for rel in rels)
        if not listed:
            return
        self.run("move", "--ignore-existing", "--no-traverse", "--files-from", "-", source, destination,
                 input_text=listed)

    def copy_file(self, source: str, destination: str) -> None:
        """One file to one name (``rclone copyto``)."""
        self.run("copyto", source, destination)

    def move(self, source: str, destination: str) -> None:
        """A file or folder renamed (``rclone moveto``): a server-side rename where the
        backend has one (local, SFTP, WebDAV, crypt over those), else a copy and delete."""
        self.run("moveto", source, destination)

    def purge(self, path: str) -> None:
        """Remove a folder of archiver's own (its staging area at a destination)."""
        try:
            self.run("purge", path)
        except NotFound:
            pass

    @cached_property
    def version(self) -> str:
        return self.run("version").splitlines()[0].strip()


def _last_words(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " | ".join(lines[-2:])[-600:] or "(no message)"
