"""Writing files so that a crash leaves the old state or the new one, never half of one.

Every file is written under a temporary name in its destination folder, flushed to disk
(fsync), then renamed over the final name; the folder is fsynced so the rename itself
survives a power cut. Folders (whole packages) are built under ``.staging`` and renamed
into place the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO, Iterator

STAGING = ".staging"


def safe_name(name: str) -> str:
    """FAT32 / ISO 9660-friendly: letters, digits, ``-`` and ``_`` only."""
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-") or "khong-ro"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def public_mode(folder: bool = False) -> int:
    """The mode a plain open()/mkdir() would give. tempfile makes files 0600 and folders
    0700; an archive is meant to be read by others (inspectors, a web server for the
    site, a disc image that keeps permissions)."""
    return (0o777 if folder else 0o666) & ~_UMASK


class ArchiveWriteError(Exception):
    """Writing the archive failed; nothing complete-looking was left behind."""


def fsync_dir(path: Path) -> None:
    # Windows cannot open folders for fsync; there NTFS journals the rename itself.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file in a folder being staged. No rename and no fsync here:
    :func:`publish_dir` puts the whole folder on disk once, before the folder is renamed
    into place (on a USB stick each fsync costs milliseconds, and there are seven files
    per transcript)."""
    with open(path, "wb") as fh:
        fh.write(data)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_writer(path) as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A file to stream into; it replaces ``path`` atomically when the block ends
    without error, and leaves no trace otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, public_mode())
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sync_file_system(path: Path) -> bool:
    """Flush the whole file system that holds ``path`` to disk (Linux ``syncfs``) and wait;
    False where it is not used: not Linux, not a kernel file system (below), or not allowed.
    One call for a package of thousands of files:
    an fsync per file made ext4 commit its journal each time, which cost more processor
    time than writing the files (76 µs per 20 kB file, against 1.5 ms for 600 files)."""
    if not sys.platform.startswith("linux") or _file_system_type(path) not in _SYNCFS_TYPES:
        return False
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            if err in (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.EOPNOTSUPP):
                return False  # not allowed here (a sandbox): fsync each file instead
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)
    return True


# Kernel file systems whose syncfs writes everything to the device. Not FUSE (ntfs-3g on a
# Windows-formatted USB drive, for one), where only the per-file fsync reaches the disk.
_SYNCFS_TYPES = {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "vfat", "exfat", "ntfs3", "tmpfs"}


def _file_system_type(path: Path) -> str:
    """The type of the file system holding ``path``, from /proc/self/mountinfo ("" if unknown)."""
    try:
        target = os.path.realpath(path)
        best, kind = "", ""
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                sep = fields.index("-")
                mount = fields[4].replace("\\040", " ")
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, fields[sep + 1]
        return kind
    except (OSError, ValueError, IndexError):
        return ""


def fsync_tree(root: Path) -> None:
    """Everything under ``root`` on disk, before the folder is renamed into place."""
    if _sync_file_system(root):
        return
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def new_staging_dir(archive: Path, name: str) -> Path:
    staging = archive / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=staging))
    os.chmod(folder, public_mode(folder=True))
    return folder


def publish_dir(staged: Path, final: Path) -> None:
    """Move a fully written folder to its final name. Refuses to replace anything."""
    fsync_tree(staged)
    if final.exists():
        raise ArchiveWriteError(
            f"{final} đã tồn tại nhưng không phải gói hoàn chỉnh do archiver lập; không ghi đè. Hãy chuyển thư mục "
            "đó ra ngoài kho (hoặc đổi tên) rồi chạy lại; các gói đã hoàn tất vẫn nguyên vẹn / already exists and "
            "is not a complete package; not overwritten: move it out of the archive and run again")
    os.rename(staged, final)
    fsync_dir(final.parent)


def clear_staging(archive: Path) -> None:
    """Remove what an interrupted build left in ``.staging`` (never a published package)."""
    shutil.rmtree(archive / STAGING, ignore_errors=True)


def describe_os_error(exc: OSError, where: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return (f"Hết chỗ trống trên đĩa khi ghi {where}. Giải phóng chỗ trống rồi chạy lại; "
                f"các gói đã hoàn tất vẫn nguyên vẹn / the disk is full")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"Không có quyền ghi vào {where}. Chọn thư mục khác hoặc kiểm tra quyền; "
                f"các gói đã hoàn tất vẫn nguyên vẹn / permission denied")
    return f"Lỗi ghi {where}: {exc.strerror or exc} / cannot write"


LOCK_FILE = ".lock"
# What a lock held by another process answers (EDEADLK: msvcrt's "already locked").
_HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, getattr(errno, "EDEADLK", -1), getattr(errno, "EDEADLOCK", -1)}


@contextlib.contextmanager
def archive_lock(archive: Path) -> Iterator[None]:
    """One writer at a time per archive: a second build (or timestamp, renew) on the same
    folder stops at once instead of removing the first one's staging area. The operating
    system's lock on ``ARCHIVE/.lock`` ends with the process, so a crash leaves none."""
    try:
        archive.mkdir(parents=True, exist_ok=True)
        fh = open(archive / LOCK_FILE, "a+b")
    except OSError as exc:
        raise ArchiveWriteError(describe_os_error(exc, archive)) from None
    with fh:  # closing it releases the lock
        try:
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            # Only a lock held elsewhere stops the run; a file system without locks (some
            # network shares) is worked on without one.
            if exc.errno in _HELD:
                raise ArchiveWriteError(
                    f"Một lần chạy archiver khác đang ghi vào kho {archive}; hãy chờ lần đó xong rồi chạy lại / another "
                    "archiver run is writing this archive: wait for it to finish, then run again") from None
        yield
