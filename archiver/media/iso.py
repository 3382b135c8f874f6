"""Writing a volume as an ISO 9660 image with Joliet and Rock Ridge, with pycdlib.

pycdlib (pure Python, from PyPI) runs on the clerks' Windows PCs as it does here. No
UDF: no file of an archive is over 4 GiB, and Joliet (what Windows shows) and Rock Ridge
(Linux, macOS) keep the archive's names. Interchange level 3, RRIP 1.09 (the version
every reader knows), Joliet level 3.

Reproducible: pycdlib stamps the time of day into every directory record and volume
descriptor, in the machine's time zone. While an image is made, pycdlib's clock is the
set's own date (taken from the archive) and its zone Vietnam's: two runs on any machine
give the same bytes. Every file is added with fixed permissions (0444, folders 0555),
in sorted order, under names fixed by :func:`archiver.media.isofs.iso_names`.

Crash-safe: the image is written under a hidden temporary name beside its final one,
flushed to disk, then renamed; a run killed or stopped by a full disk leaves no
complete-looking image (:func:`write_image` removes its temporary file on any error).
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import hashlib
import io
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from ..errors import ArchiveWriteError, InternalError
from ..fsutil import fsync_dir, public_mode, write_error
from .isofs import iso_names
from .medium import SECTOR

VN_OFFSET = 7 * 3600
FILE_MODE = 0o100444
FOLDER_MODE = 0o040555
BLOCK = 1 << 20  # bytes copied per read while the image is written
SYNC_EVERY = 64 << 20  # bytes written between two flushes to disk while an image is written
_CLOCK_LOCK = threading.Lock()


@dataclass(frozen=True)
class ImageLabels:
    """What the image says of itself: the ISO 9660 volume ID (at most 32 of A-Z 0-9 _),
    the Joliet volume label Windows shows (at most 16), the set it belongs to, who made
    it, and its date."""

    volume_id: str
    joliet_label: str
    volume_set: str
    publisher: str
    when: dt.datetime


@dataclass(frozen=True)
class ImageResult:
    path: Path
    size: int
    sha256: str


class MissingPycdlib(ArchiveWriteError):
    pass


class _SetClock:
    """Stands for the ``time`` module inside pycdlib while an image is made: "now" is the
    set's date, and local time is Vietnam time, whatever the machine's clock and zone."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch
        # every record of an image carries this one time (five dates a file): worked out once
        self._local = time.gmtime(epoch + VN_OFFSET)
        self._utc = time.gmtime(epoch)

    def time(self) -> float:
        return self.epoch

    def localtime(self, seconds: float | None = None) -> time.struct_time:
        if seconds is None or seconds == self.epoch:
            return self._local
        return time.gmtime(seconds + VN_OFFSET)

    def gmtime(self, seconds: float | None = None) -> time.struct_time:
        if seconds is None or seconds == self.epoch:
            return self._utc
        return time.gmtime(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


@contextlib.contextmanager
def _set_clock(when: dt.datetime) -> Iterator[None]:
    import pycdlib.dates
    import pycdlib.headervd
    import pycdlib.pycdlib
    import pycdlib.utils

    modules = [pycdlib.pycdlib, pycdlib.headervd, pycdlib.dates, pycdlib.utils]
    clock = _SetClock(float(calendar.timegm(when.astimezone(dt.timezone.utc).timetuple())))
    with _CLOCK_LOCK:
        saved = [m.time for m in modules]
        for module in modules:
            module.time = clock  # type: ignore[attr-defined]
        try:
            yield
        finally:
            for module, original in zip(modules, saved):
                module.time = original  # type: ignore[attr-defined]


def _pycdlib():
    try:
        import pycdlib
    except ImportError:  # pragma: no cover - a broken install
        raise MissingPycdlib("Thiếu thư viện pycdlib; cài lại archiver / pycdlib is missing: reinstall archiver "
                             "(pip install 'pycdlib>=1.14')") from None
    return pycdlib


def temporary_name(target: Path) -> Path:
    """Where an image or folder is written before it is complete (hidden, ``.part``)."""
    return target.parent / f".{target.name}.part"


def build_image(files: Mapping[str, Path], labels: ImageLabels):
    """A pycdlib image object holding ``files`` (path on the volume -> file to read),
    every date set to the set's; nothing is read or written yet."""
    pycdlib = _pycdlib()
    names = iso_names(files)
    iso = pycdlib.PyCdlib()
    with _set_clock(labels.when):
        # Joliet's volume label (what Windows shows for the disc) holds 16 characters;
        # the ISO 9660 volume ID, set afterwards, 32
        iso.new(interchange_level=3, sys_ident="", vol_ident=labels.joliet_label[:16], set_size=1, seqnum=1,
                vol_set_ident=labels.volume_set[:64], pub_ident_str=labels.publisher[:64],
                preparer_ident_str="ARCHIVER", app_ident_str=f"ARCHIVER (PYCDLIB {_version(pycdlib)})",
                joliet=3, rock_ridge="1.09")
        iso.pvd.volume_identifier = labels.volume_id[:32].encode("ascii").ljust(32, b" ")
        for folder in names.folders:
            iso.add_directory(names.iso[folder], rr_name=folder.rpartition("/")[2], joliet_path="/" + folder,
                              file_mode=FOLDER_MODE)
        for rel in sorted(files):
            iso.add_file(str(files[rel]), names.iso[rel], rr_name=rel.rpartition("/")[2], joliet_path="/" + rel,
                         file_mode=FILE_MODE)
        iso.force_consistency()
    return iso


def _version(pycdlib) -> str:
    try:
        from importlib.metadata import version

        return version("pycdlib")
    except Exception:  # noqa: BLE001 - only a label
        return getattr(pycdlib, "__version__", "")


def image_size(iso) -> int:
    return int(iso.pvd.space_size) * SECTOR


def _data_start(iso) -> int:
    """Where the first file's data begins (0 when it cannot be told). pycdlib writes the
    files' data in the order of its inode list: sorted by place, the data is written front
    to back (the bytes are the same whatever the order)."""
    def place(ino) -> int:
        return ino.extent_location() if ino.get_data_length() > 0 else -1  # an empty file has none

    try:
        iso.inodes.sort(key=place)
        starts = [place(ino) for ino in iso.inodes if ino.get_data_length() > 0]
    except Exception:  # noqa: BLE001 - another pycdlib's internals: hash the file afterwards
        return 0
    return min(starts) * SECTOR if starts else 0


class _Flusher:
    """Flushes the image to disk in the background while it grows (a thread: ``fsync``
    releases the GIL), so that the disk writes while pycdlib works rather than all at once
    at the end; on a disk slower than pycdlib, writing then takes as long as the disk does.
    An error it meets is raised by :meth:`stop` (a later ``fsync`` may not report it again)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.wanted = threading.Event()
        self.done = False
        self.error: OSError | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            if self.done:
                return
            try:
                os.fsync(self.fd)
            except OSError as exc:
                self.error = exc
                return

    def kick(self) -> None:
        self.wanted.set()

    def stop(self, raising: bool = True) -> None:
        self.done = True
        self.wanted.set()
        self.thread.join()
        if self.error is not None and raising:
            raise self.error


class _HashingWriter(io.RawIOBase):
    """The image file, hashed while pycdlib writes it, so that it is not read again.

    pycdlib writes the volume descriptors, path tables and directory records first (all
    below the first file's data), then each file's data in increasing order. At the first
    write of file data, what lies before it is read back (it is in the page cache) and
    hashed; from then on each write follows the last, with zeros for what was skipped
    (padding). A write behind that point (a pycdlib that writes otherwise) only makes the
    hash be taken from the finished file instead: the result never depends on the order.
    Hashing runs in a thread of its own (hashlib releases the GIL), beside pycdlib's work,
    fed a mebibyte at a time: a volume's files are small (20 kB on average), and handing
    each to the thread on its own would cost more than hashing it.
    """

    def __init__(self, fh: BinaryIO, data_start: int, flusher: _Flusher | None = None) -> None:
        self.fh, self.data_start, self.flusher = fh, data_start, flusher
        self.pos = self.end = 0
        self.next_flush = SYNC_EVERY
        self.frontier = -1  # bytes hashed (or waiting in ``pending``) so far; -1 until the data starts
        self.valid = data_start > 0
        self.pending = bytearray()
        self.digest = hashlib.sha256()
        self.queue: queue.Queue = queue.Queue(maxsize=16)
        self.thread = threading.Thread(target=self._hash, daemon=True)
        self.thread.start()

    def _hash(self) -> None:
        while (chunk := self.queue.get()) is not None:
            self.digest.update(chunk)

    def _send(self) -> None:
        if self.pending:
            self.queue.put(self.pending)
            self.pending = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.end + offset
        return self.fh.seek(self.pos)

    def tell(self) -> int:
        return self.pos

    def write(self, data) -> int:
        n = self.fh.write(data)
        if self.valid:
            if self.frontier < 0 and self.pos >= self.data_start:
                self.fh.flush()
                self._zeros_or_file(0, self.data_start)
                self.frontier = self.data_start
            if self.frontier >= 0:
                if self.pos < self.frontier:
                    self.valid = False
                else:
                    if self.pos > self.frontier:
                        self._gap(self.pos)
                    self.pending += data
                    self.frontier = self.pos + n
                    if len(self.pending) >= BLOCK:
                        self._send()
        self.pos += n
        self.end = max(self.end, self.pos)
        if self.flusher is not None and self.pos >= self.next_flush:
            self.flusher.kick()
            self.next_flush = self.pos + SYNC_EVERY
        return n

    def _zeros_or_file(self, start: int, stop: int) -> None:
        """What was written below the data (descriptors, path tables, directory records),
        read back through a handle of its own (``os.pread`` is not on Windows)."""
        with open(self.fh.name, "rb") as back:
            back.seek(start)
            while start < stop:
                chunk = back.read(min(BLOCK, stop - start))
                if not chunk:
                    self.valid = False
                    return
                self.queue.put(chunk)
                start += len(chunk)

    def _gap(self, upto: int) -> None:
        gap = upto - self.frontier
        if gap < SECTOR:  # a file's padding to its last sector
            self.pending += _ZEROS[:gap]
            self.frontier = upto
            return
        self._send()
        while self.frontier < upto:
            step = min(BLOCK, upto - self.frontier)
            self.queue.put(bytes(step))
            self.frontier += step

    def abandon(self) -> None:
        """Stop hashing (the image is not complete)."""
        self.valid = False
        self.pending = bytearray()
        self.queue.put(None)
        self.thread.join()

    def finish(self, size: int) -> str | None:
        """The image's SHA-256, or None when it must be read from the file."""
        if self.valid and 0 <= self.frontier <= size:
            self._gap(size)
        self._send()
        self.queue.put(None)
        self.thread.join()
        return self.digest.hexdigest() if self.valid and self.frontier == size == self.end else None


_ZEROS = bytes(SECTOR)


def write_image(files: Mapping[str, Path], target: Path, labels: ImageLabels, capacity: int = 0) -> ImageResult:
    """Write the image of ``files`` to ``target`` (renamed into place when complete) and
    return its size and SHA-256. ``capacity``: the image may not be larger."""
    iso = build_image(files, labels)
    try:
        size = image_size(iso)
        if capacity and size > capacity:
            raise InternalError(f"ảnh {target.name} lớn hơn sức chứa ({size:,} > {capacity:,} B) / the image is larger "
                                "than the medium: a bug in archiver's size count")
        temporary = temporary_name(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with _set_clock(labels.when), open(temporary, "w+b") as fh:
                os.chmod(temporary, public_mode())
                flusher = _Flusher(fh.fileno())
                writer = _HashingWriter(fh, _data_start(iso), flusher)
                try:
                    iso.write_fp(writer, blocksize=BLOCK)
                except BaseException:
                    writer.abandon()
                    flusher.stop(raising=False)
                    raise
                digest = writer.finish(size)
                flusher.stop()
                fh.flush()
                os.fsync(fh.fileno())
            digest = digest or file_sha256(temporary)
            os.replace(temporary, target)
            fsync_dir(target.parent)
        except BaseException as exc:
            temporary.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise write_error(exc, target.parent, size) from None
            raise
    finally:
        iso.close()
    return ImageResult(target, size, digest)


def file_sha256(path: Path, limit: int | None = None) -> str:
    """SHA-256 of a file, or of its first ``limit`` bytes (a disc read back from its device)."""
    digest = hashlib.sha256()
    left = limit
    with open(path, "rb", buffering=0) as fh:
        while left is None or left > 0:
            chunk = fh.read(BLOCK if left is None else min(BLOCK, left))
            if not chunk:
                break
            digest.update(chunk)
            if left is not None:
                left -= len(chunk)
    if left:
        raise EOFError(f"{path}: ngắn hơn {limit} byte / shorter than {limit} bytes")
    return digest.hexdigest()
