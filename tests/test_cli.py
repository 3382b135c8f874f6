"""The command line: installed entry point, --version, --help listing every command."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from archiver import __version__
from archiver.cli import COMMANDS, main


def test_version_is_printed():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_every_command_with_a_one_line_description():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands:", 1)[1].strip().splitlines()
    listed = {line.split()[0]: line.split(None, 1)[1] for line in commands if line.strip()}
    assert len(listed) == len(COMMANDS)
    for name, description in listed.items():
        assert description.strip(), f"{name} has no description"


def test_console_script_runs_as_a_module_too():
    proc = subprocess.run([sys.executable, "-m", "archiver", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert __version__ in proc.stdout


def test_unknown_profile_is_a_clear_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path), "--profile", "nope"])
    assert result.exit_code != 0
    assert "nope" in result.output and "hocba-1-thcs" in result.output
    assert "Traceback" not in result.output


def test_bad_school_year_is_refused():
    result = CliRunner().invoke(main, ["sample", "--out", "x", "--year", "2025-2027"])
    assert result.exit_code == 2
    assert "2025-2026" in result.output


def test_command_line_mistakes_are_explained_in_vietnamese_too():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "archiver", "build", "--jobs", "0", "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Lỗi câu lệnh / usage error" in proc.stderr and "archiver build --help" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_commonest_mistakes_are_said_in_vietnamese_first():
    import subprocess
    import sys

    def stderr(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "archiver", *args], capture_output=True, text=True).stderr

    assert "không tìm thấy nosuch" in stderr("renew", "nosuch")
    assert "không có tùy chọn --bogus" in stderr("build", "--bogus")
    assert "thiếu PATHS" in stderr("verify")
