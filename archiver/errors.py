"""What can go wrong, and the exit code each kind of failure gives.

Every command exits with one of :class:`ExitCode`. The library raises an
:class:`ArchiverError` subclass; the command line (``archiver.cli``) prints its message
and exits with its ``exit_code``, so commands only parse, call and print. Messages say
what happened and what to do, Vietnamese first (a clerk reads them), then English.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: Something could not be done or was found wrong (each is named): not archived,
    #: a check that failed, a verdict other than VALID where that matters.
    PROBLEMS = 1
    #: A usage or configuration mistake, found before anything was written.
    USAGE = 2
    #: Stopped by Ctrl+C or SIGTERM (the shell's code for an interrupted command).
    INTERRUPTED = 130


class ArchiverError(Exception):
    """Base of the errors a command reports as one message and an exit code."""

    exit_code: ExitCode = ExitCode.PROBLEMS
    #: How the command line introduces the message.
    heading = "Lỗi / error"


class UsageError(ArchiverError):
    """The request cannot be carried out as given; nothing was written."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A setting (trust folder, profile, TSA) cannot be used; nothing was written."""

    heading = "Lỗi cấu hình / configuration error"


class ArchiveWriteError(ArchiverError):
    """Writing the archive failed; nothing complete-looking was left behind."""

    heading = "Dừng lại / stopped"


class ArchiveLocked(ArchiveWriteError):
    """Another archiver run is writing the same archive."""


class DiskFull(ArchiveWriteError):
    """The disk holding the archive is full; what was being written was removed."""

    def __init__(self, message: str, path: str = "", needed_bytes: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.needed_bytes = needed_bytes

    def __reduce__(self):  # crosses process boundaries intact
        return (type(self), (str(self), self.path, self.needed_bytes))


class InternalError(ArchiverError):
    """A bug in archiver, met while working on one input. It stops the run rather than
    becoming anybody's verdict or record."""

    heading = "Lỗi nội bộ / internal error"
