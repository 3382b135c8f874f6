"""Where copies of an archive live: the archive itself, a local folder (a USB disk, a
network share), or an rclone remote (``name:path``: SFTP, WebDAV, S3, a ``crypt``
remote…). One interface for listing, hashing, reading and writing a package's files.

Writing follows the archive's rule (``archiver/archive/store.py``): nothing is written
at its final name. A file or a whole package goes to a staging folder first
(``ARCHIVE/.staging``, ``DEST/.archiver-staging``) and is renamed into place, and a
rename never replaces anything. On a local disk the rename is the operating system's;
at a remote it is rclone's ``moveto``, a server-side rename on backends that have one
(local, SFTP, WebDAV, crypt over those). Backends without one (object stores such as
S3) copy the staged object to its name: an upload there appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..archive.layout import PACKAGE_JSON, STAGING, TAG_FILES
from ..errors import UsageError
from ..fsutil import fsync_dir, fsync_tree, public_mode, scratch_folder, write_error
from .rclone import NotFound, Rclone, TransferFailed

#: archiver's own folders and files at a destination (never packages, never audited).
DEST_STAGING = ".archiver-staging"
DAMAGED = ".damaged"  # damaged copies a repair moved aside, kept
REPLACED = ".archiver-replaced"  # older versions of index.json, reports and site pages, kept
STATE = ".archiver-replica.json"  # what replicate confirmed at this destination
LOCK = ".archiver-lock.json"  # a remote being written (who, since when)

# A remote as rclone writes it: "name:path" (or ":backend,opts:path"); "C:\x" on Windows is a drive.
_REMOTE = re.compile(r"^(:?[\w.+@ -]+(?:,[^:]*)?):(.*)$")


@dataclass(frozen=True)
class FileFacts:
    """A file as a location lists it: its size, and the hashes it keeps (none, for a local
    disk, where the file is read instead)."""

    size: int
    hashes: dict[str, str]
    mtime_ns: int = 0  # on a local disk


def is_remote(text: str) -> bool:
    found = _REMOTE.match(text)
    if found is None or text.startswith(("/", ".", "\\")):
        return False
    return not (os.name == "nt" and len(found[1]) == 1)  # C:\backup is a drive


class Location:
    """One copy of the archive. ``name``: as the user gave it."""

    kind = ""
    name = ""
    #: The hash a remote keeps that can be compared with a manifest ("sha256"), or with a
    #: checked source copy's ("md5"); "" where files are read and hashed (local, downloads).
    remote_hash = ""

    def packages(self) -> list[str]:
        raise NotImplementedError

    def listing(self, package: str) -> dict[str, FileFacts] | None:
        """Every file of ``package`` (path inside it -> facts), or None without the package."""
        raise NotImplementedError

    def read_small(self, package: str, rels: Iterable[str]) -> dict[str, bytes | None]:
        raise NotImplementedError

    @contextlib.contextmanager
    def local_files(self, package: str, rels: list[str]) -> Iterator[Path]:
        """A local folder holding ``rels`` of ``package`` (the package itself on a local
        disk; a download, removed afterwards, from a remote)."""
        raise NotImplementedError
        yield Path()  # pragma: no cover

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    # -- writing --------------------------------------------------------------------------------
    def begin_writing(self) -> None:
        """Before writing: clear what a killed run left in the staging folder (files of
        archiver's own, never data)."""

    def upload(self, source: Path, rels: list[str], staged: str) -> None:
        """Copy ``source/rel`` for each of ``rels`` to ``staged/rel`` at this location."""
        raise NotImplementedError

    def rename(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst`` (files or folders, paths from the location's root);
        refuses to replace anything."""
        raise NotImplementedError

    def staging_name(self, what: str) -> str:
        raise NotImplementedError

    def move_files(self, src: str, dst: str, rels: list[str]) -> None:
        """Move ``src/rel`` to ``dst/rel`` for each of ``rels``; a file already at
        ``dst/rel`` is never replaced (its move is skipped)."""
        raise NotImplementedError

    def list_tree(self, rel: str) -> dict[str, FileFacts]:
        """Every file below the folder ``rel`` ({} when there is none)."""
        raise NotImplementedError

    def top_files(self) -> set[str]:
        """The names of the files at the top of the location."""
        raise NotImplementedError

    def end_writing(self) -> None:
        """After writing: the staging folder removed."""
        self.begin_writing()

    def read_state(self) -> dict:
        return {}

    def write_state(self, state: dict) -> None:
        raise NotImplementedError


class LocalFolder(Location):
    """A folder on a local disk: the archive, or a replica on a USB disk or a share."""

    def __init__(self, root: Path, *, archive: bool = False) -> None:
        self.root = Path(root)
        self.kind = "archive" if archive else "folder"
        self.name = str(root)
        self._staging = self.root / (STAGING if archive else DEST_STAGING)

    def packages(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and (any((p / name).is_file() for name in TAG_FILES) or (p / PACKAGE_JSON).is_file()))

    def listing(self, package: str) -> dict[str, FileFacts] | None:
        folder = self.root / package
        if not folder.is_dir():
            return None
        # Names only: a file's size is learnt when it is read (a stat per file costs as
        # much as reading a small one).
        found: dict[str, FileFacts] = {}
        unknown = FileFacts(-1, {})
        top = len(os.fspath(folder)) + 1
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            prefix = root[top:].replace(os.sep, "/") + "/" if len(root) >= top else ""
            for name in sorted(files):
                found[prefix + name] = unknown
        return found

    def read_small(self, package: str, rels: Iterable[str]) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for rel in rels:
            try:
                out[rel] = (self.root / package / rel).read_bytes()
            except OSError:
                out[rel] = None
        return out

    @contextlib.contextmanager
    def local_files(self, package: str, rels: list[str]) -> Iterator[Path]:
        yield self.root / package

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self.root / rel)

    def begin_writing(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)

    def staging_name(self, what: str) -> str:
        self._staging.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{what}.", dir=self._staging)).relative_to(self.root).as_posix()

    def upload(self, source: Path, rels: list[str], staged: str) -> None:
        base = self.root / staged
        written: set[Path] = set()
        try:
            for rel in rels:
                target = base / rel
                if target.parent not in written:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.chmod(target.parent, public_mode(folder=True))
                    written.add(target.parent)
                with open(source / rel, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            fsync_tree(base)  # on disk before anything is renamed into place (one syncfs where it can)
        except OSError as exc:
            raise write_error(exc, base) from None

    def rename(self, src: str, dst: str) -> None:
        target = self.root / dst
        if os.path.lexists(target):
            raise FileExistsError(str(target))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.root / src, target)
            fsync_dir(target.parent)
        except OSError as exc:
            raise write_error(exc, target) from None

    def move_files(self, src: str, dst: str, rels: list[str]) -> None:
        for rel in rels:
            target = self.root / dst / rel
            if os.path.lexists(target) or not os.path.lexists(self.root / src / rel):
                continue
            self.rename(join(src, rel), join(dst, rel))

    def top_files(self) -> set[str]:
        return {p.name for p in self.root.iterdir() if p.is_file()} if self.root.is_dir() else set()

    def list_tree(self, rel: str) -> dict[str, FileFacts]:
        folder = self.root / rel
        found: dict[str, FileFacts] = {}
        for root, _dirs, files in os.walk(folder):
            for name in files:
                path = Path(root) / name
                stat = path.stat()
                found[path.relative_to(folder).as_posix()] = FileFacts(stat.st_size, {}, stat.st_mtime_ns)
        return found

    def read_state(self) -> dict:
        try:
            state = json.loads((self.root / STATE).read_text(encoding="utf-8"))
            return state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            return {}

    def write_state(self, state: dict) -> None:
        from ..fsutil import atomic_write

        try:
            atomic_write(self.root / STATE, json.dumps(state, ensure_ascii=False, indent=0).encode("utf-8"))
        except OSError as exc:
            raise write_error(exc, self.root / STATE) from None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time (the archive's own lock, on the destination folder)."""
        from ..archive.lock import archive_lock

        with archive_lock(self.root):
            yield

    def __repr__(self) -> str:
        return f"LocalFolder({self.root})"


def join(base: str, rel: str) -> str:
    """``rel`` below ``base`` (a remote "name:path" or a relative path; "" is the root)."""
    if not rel:
        return base
    if not base:
        return rel
    return f"{base}{rel}" if base.endswith((":", "/")) else f"{base}/{rel}"


class RcloneRemote(Location):
    """A folder at an rclone remote (``name:path``)."""

    kind = "remote"

    def __init__(self, spec: str, rclone: Rclone, *, download: bool = False, hash_type: str | None = None) -> None:
        self.name = spec
        self.base = spec.rstrip("/") if not spec.endswith(":") else spec
        self.rclone = rclone
        hashes = [h.lower() for h in rclone.features(self.base).get("Hashes") or []]
        if hash_type is not None and hash_type not in hashes:
            hash_type = None
        self.remote_hash = "" if download else hash_type or ("sha256" if "sha256" in hashes else
                                                             "md5" if "md5" in hashes else "")

    @property
    def method(self) -> str:
        return {"sha256": "SHA-256 (rclone)", "md5": "MD5 (rclone)"}.get(self.remote_hash, "download")

    def packages(self) -> list[str]:
        names = ("bagit.txt", "bag-info.txt", "manifest-*.txt", "tagmanifest-*.txt")
        try:
            found = self.rclone.list_files(self.base, max_depth=3,
                                           includes=[*(f"/*/{n}" for n in names), f"/*/{PACKAGE_JSON}"])
        except NotFound:
            return []
        return sorted({f.path.split("/", 1)[0] for f in found if not f.path.startswith(".")})

    def listing(self, package: str) -> dict[str, FileFacts] | None:
        try:
            files = self.rclone.list_files(join(self.base, package), hash_type=self.remote_hash or None)
        except NotFound:
            return None
        return {f.path: FileFacts(f.size, f.hashes) for f in files}

    def read_small(self, package: str, rels: Iterable[str]) -> dict[str, bytes | None]:
        rels = list(rels)
        with self._download(package, rels) as folder:
            out: dict[str, bytes | None] = {}
            for rel in rels:
                try:
                    out[rel] = (folder / rel).read_bytes()
                except OSError:
                    out[rel] = None
            return out

    @contextlib.contextmanager
    def local_files(self, package: str, rels: list[str]) -> Iterator[Path]:
        with self._download(package, rels) as folder:
            yield folder

    @contextlib.contextmanager
    def _download(self, package: str, rels: list[str]) -> Iterator[Path]:
        folder = scratch_folder("download")
        try:
            try:
                self.rclone.copy_files(join(self.base, package), str(folder), rels)
            except NotFound:
                pass
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def exists(self, rel: str) -> bool:
        parent, _, leaf = rel.rstrip("/").rpartition("/")
        try:
            out = self.rclone.run("lsjson", "--no-mimetype", "--no-modtime", "--include", f"/{leaf}",
                                  "--include", f"/{leaf}/**", "--max-depth", "1", join(self.base, parent))
        except NotFound:
            return False
        return any(item.get("Name") == leaf for item in json.loads(out or "[]"))

    def begin_writing(self) -> None:
        self.rclone.purge(join(self.base, DEST_STAGING))

    def staging_name(self, what: str) -> str:
        return f"{DEST_STAGING}/{what}.{os.urandom(4).hex()}"

    def upload(self, source: Path, rels: list[str], staged: str) -> None:
        self.rclone.copy_files(str(source), join(self.base, staged), rels)

    def rename(self, src: str, dst: str) -> None:
        if self.exists(dst):
            raise FileExistsError(join(self.base, dst))
        self.rclone.move(join(self.base, src), join(self.base, dst))

    def top_files(self) -> set[str]:
        try:
            out = self.rclone.run("lsjson", "--files-only", "--no-mimetype", "--no-modtime", "--max-depth", "1",
                                  self.base)
        except NotFound:
            return set()
        return {item["Name"] for item in json.loads(out or "[]")}

    def move_files(self, src: str, dst: str, rels: list[str]) -> None:
        # rclone refuses to move between folders one of which holds the other (the
        # staging folder is inside the destination's root): move folder by folder.
        by_top: dict[str, list[str]] = {}
        for rel in rels:
            top, sep, rest = rel.partition("/")
            if sep:
                by_top.setdefault(top, []).append(rest)
            else:
                self.rclone.run("moveto", "--ignore-existing", join(self.base, join(src, rel)),
                                join(self.base, join(dst, rel)))
        for top, inside in sorted(by_top.items()):
            self.rclone.move_files(join(self.base, join(src, top)), join(self.base, join(dst, top)), inside)

    def list_tree(self, rel: str) -> dict[str, FileFacts]:
        try:
            files = self.rclone.list_files(join(self.base, rel))
        except NotFound:
            return {}
        return {f.path: FileFacts(f.size, f.hashes) for f in files}

    def read_state(self) -> dict:
        try:
            state = json.loads(self.rclone.cat(join(self.base, STATE)).decode("utf-8"))
            return state if isinstance(state, dict) else {}
        except (NotFound, ValueError):
            return {}

    def write_state(self, state: dict) -> None:
        # the state is archiver's own file: the new one replaces the old
        self._put(STATE, json.dumps(state, ensure_ascii=False, indent=0).encode("utf-8"))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time: an operating-system lock for the runs on this computer
        (in the user's data folder, one per destination), and a marker file at the remote,
        ``.archiver-lock.json``, for runs on other computers (a remote has no lock of its
        own). A marker this computer left behind (a killed run) is taken over; one from
        another computer stops the run, naming it."""
        from ..archive.lock import archive_lock
        from ..errors import ArchiveLocked
        from ..timestamps.tsa import default_data_dir

        folder = default_data_dir() / "remote-locks" / hashlib.sha256(self.base.encode("utf-8")).hexdigest()[:24]
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(archive_lock(folder))
            except ArchiveLocked:
                raise ArchiveLocked(f"một lần chạy archiver khác trên máy này đang ghi vào {self.name}; hãy chờ lần "
                                    f"đó xong / another archiver run on this computer is writing to {self.name}: wait "
                                    "for it to finish") from None
            token = self._claim()
            try:
                yield
            finally:
                self._release(token)

    def _claim(self) -> str:
        import socket

        from .. import vn
        from ..errors import ArchiveLocked

        host = socket.gethostname()
        marker = join(self.base, LOCK)
        try:
            held = json.loads(self.rclone.cat(marker).decode("utf-8"))
        except (NotFound, ValueError, UnicodeDecodeError):
            held = None
        if isinstance(held, dict) and held.get("host") != host:
            raise ArchiveLocked(
                f"{self.name}: một lần chạy archiver trên máy {held.get('host')} đang ghi vào đây (từ "
                f"{held.get('started')}); nếu lần đó đã dừng hẳn, xoá tệp khoá bằng `rclone deletefile {marker}` rồi "
                f"chạy lại / another archiver run on {held.get('host')} has been writing to this remote since "
                f"{held.get('started')}; if it is no longer running, remove the lock with `rclone deletefile "
                f"{marker}` and run again")
        token = os.urandom(8).hex()
        self._put(LOCK, json.dumps({"host": host, "pid": os.getpid(), "started": vn.now().isoformat(
            timespec="seconds"), "token": token}).encode("utf-8"))
        try:
            mine = json.loads(self.rclone.cat(marker).decode("utf-8")).get("token") == token
        except (NotFound, ValueError, UnicodeDecodeError, AttributeError):
            mine = False
        if not mine:
            raise ArchiveLocked(f"{self.name}: một lần chạy archiver khác vừa bắt đầu ghi vào đây / another archiver "
                                "run started writing to this remote at the same moment: wait for it to finish")
        return token

    def _release(self, token: str) -> None:
        marker = join(self.base, LOCK)
        try:
            held = json.loads(self.rclone.cat(marker).decode("utf-8"))
            if isinstance(held, dict) and held.get("token") == token:
                self.rclone.run("deletefile", marker)
        except (NotFound, ValueError, UnicodeDecodeError, TransferFailed):
            pass  # left behind: the next run on this computer takes it over

    def _put(self, name: str, data: bytes) -> None:
        """One file of archiver's own at the top of the remote, replacing the old one."""
        folder = scratch_folder("state")
        try:
            (folder / name).write_bytes(data)
            staged = self.staging_name("state")
            self.rclone.copy_files(str(folder), join(self.base, staged), [name])
            self.rclone.move(join(self.base, f"{staged}/{name}"), join(self.base, name))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"RcloneRemote({self.name})"


def open_location(spec: str, *, rclone_program: str | None = None, download: bool = False,
                  rclone: Rclone | None = None) -> Location:
    """A destination as the user wrote it: a local folder, or an rclone remote."""
    if is_remote(spec):
        return RcloneRemote(spec, rclone or Rclone(rclone_program), download=download)
    path = Path(spec)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{spec} là một tệp, cần một thư mục / is a file, not a folder")
    return LocalFolder(path)
