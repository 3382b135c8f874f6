"""The ``archiver`` command line: one sub-command per pipeline stage, plus tools."""

from __future__ import annotations

import importlib

import click

from . import __version__

# Modules under archiver.commands, in the order `archiver --help` lists them.
COMMANDS = ("build", "verify", "render", "site", "check", "timestamp", "renew", "evidence", "sample", "profiles")


class Archiver(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [self._load(name).name for name in COMMANDS]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module in COMMANDS:
            command = self._load(module)
            if command.name == name:
                return command
        return None

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
