"""The ``archiver`` command line: one sub-command per pipeline stage, plus tools."""

from __future__ import annotations

import importlib
import re
import sys

import click

from . import __version__
from .errors import ArchiverError, ExitCode

# Modules under archiver.commands, in the order `archiver --help` lists them.
COMMANDS = ("build", "verify", "render", "site", "check", "timestamp", "renew", "evidence", "media",
            "replicate", "audit", "repair", "sample", "profiles", "scans")


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


# click's own messages for the mistakes a clerk makes most, said in Vietnamese first.
_CLICK_MESSAGES = [
    (re.compile(r"^Invalid value for '([^']+)': (?:Path|File|Directory) '(.+)' does not exist\.$"),
     "không tìm thấy {1} (mục {0}): kiểm tra lại tên thư mục hoặc tệp"),
    (re.compile(r"^Invalid value for '([^']+)': (?:Path|Directory) '(.+)' is a file\.$"),
     "{1} là một tệp, cần một thư mục (mục {0})"),
    (re.compile(r"^Invalid value for '([^']+)': (?:Path|File) '(.+)' is a directory\.$"),
     "{1} là một thư mục, cần một tệp (mục {0})"),
    (re.compile(r"^No such option '([^']+)'"), "không có tùy chọn {0}"),
    (re.compile(r"^Missing argument '([^']+)'\.$"), "thiếu {0}"),
    (re.compile(r"^Missing option '([^']+)'"), "thiếu tùy chọn {0}"),
    (re.compile(r"^Got unexpected extra arguments? \((.+)\)$"), "thừa đối số: {0}"),
]


def _in_vietnamese(message: str) -> str:
    for pattern, vietnamese in _CLICK_MESSAGES:
        found = pattern.match(message)
        if found:
            return vietnamese.format(*found.groups())
    return ""


def _safe_streams() -> None:
    """Output redirected to a file on a Windows PC is written in its code page, which lacks
    many precomposed Vietnamese letters: a letter it cannot hold becomes "?" instead of
    stopping the command after its work is done (JSON output escapes them instead)."""
    from .commands import writes_utf8

    for stream in (sys.stdout, sys.stderr):
        if not writes_utf8(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def _stop_on_sigterm() -> None:
    """A cron or service timeout (SIGTERM) stops a command as Ctrl+C does: outputs are
    closed properly (``verify --json`` still ends in valid JSON) and the exit code is 130."""
    import os
    import signal

    main = os.getpid()

    def stop(signum, frame):  # noqa: ARG001
        if os.getpid() != main:  # a worker process forked from this one: end quietly
            os._exit(128 + signum)
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError):  # not the main thread, or a platform without it
        pass


class Archiver(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [self._load(name).name for name in COMMANDS]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        # The module named as the command first: a command does not import all the others.
        for module in sorted(COMMANDS, key=lambda module: module != name):
            command = self._load(module)
            if command.name == name:
                return command
        return None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        """click's main, with command-line mistakes explained in Vietnamese too (a clerk
        reads them): what was wrong, and where to look."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        _safe_streams()
        _stop_on_sigterm()
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (click.exceptions.Abort, KeyboardInterrupt):
            # 130, the shell's code for an interrupted command: a script can tell it from
            # 1 ("something was not archived" / "not every transcript is VALID").
            click.echo("Đã dừng / aborted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except ArchiverError as exc:  # what the library raises: one message, its exit code
            click.echo(f"{exc.heading}: {exc}", err=True)
            sys.exit(exc.exit_code)
        except _NO_ARGS_IS_HELP as exc:  # `archiver` alone: the help is the message
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            if exc.ctx is not None:
                click.echo(exc.ctx.get_usage(), err=True)
            command = exc.ctx.command_path if exc.ctx is not None else "archiver"
            message = exc.format_message()
            said = _in_vietnamese(message)
            click.echo(f"Lỗi câu lệnh / usage error: {said + ' / ' if said else ''}{message}\n"
                       f"Xem hướng dẫn / see: {command} --help", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Lỗi / error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)

    @staticmethod
    def _load(module: str) -> click.Command:
        # Imported on demand so that `archiver --help` stays fast.
        return importlib.import_module(f"archiver.commands.{module}").command


@click.group(cls=Archiver, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="archiver")
def main() -> None:
    """Lưu trữ học bạ số: kiểm tra, đóng dấu thời gian, kết xuất, đóng gói, tra cứu ngoại tuyến.

    Preserves Vietnam's digital school transcripts (học bạ số): re-verifies their
    signatures, timestamps them, renders PDF/A, packages each class and builds an
    offline lookup site.
    """
