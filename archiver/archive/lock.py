"""One writer at a time per archive, held by the writing run's main process alone.

The operating system's lock on ``ARCHIVE/.lock`` ends with the process that holds it, so
a crash leaves none. On Linux and macOS the lock (``flock``) belongs to the open file,
which a forked worker process would share: the workers close their copy as soon as they
are forked, so a main process killed on its own (the OOM killer, Task Manager's "End
task") releases the archive even if a worker were to outlive it.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

from ..errors import ArchiveLocked, ArchiveWriteError
from ..fsutil import describe_os_error
from .layout import LOCK_FILE

# What a lock held by another process answers (EDEADLK: msvcrt's "already locked").
_HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, getattr(errno, "EDEADLK", -1), getattr(errno, "EDEADLOCK", -1)}

_HELD_HERE: set[int] = set()  # descriptors of the locks this process holds


def _close_in_child() -> None:
    for fd in _HELD_HERE:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_HERE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


@contextlib.contextmanager
def archive_lock(archive: Path) -> Iterator[None]:
    """Hold the archive's lock for the block; a second writer (a build, timestamp, renew)
    stops at once instead of removing the first one's staging area."""
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
                raise ArchiveLocked(
                    f"Một lần chạy archiver khác đang ghi vào kho {archive}; hãy chờ lần đó xong rồi chạy lại / another "
                    "archiver run is writing this archive: wait for it to finish, then run again") from None
        _HELD_HERE.add(fh.fileno())
        try:
            yield
        finally:
            _HELD_HERE.discard(fh.fileno())
