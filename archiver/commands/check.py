"""``archiver check``: re-validate an archive offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("check", short_help="Kiểm tra lại kho lưu trữ / check an archive.")
@click.argument("archive", type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-evidence", is_flag=True, help="Skip the evidence records (faster).")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object for scripts: {"schema", "archive", "ok", "packages", "items", '
                   '"evidence_checked", "problems": [...]}.')
def command(archive: Path, no_evidence: bool, as_json: bool) -> None:
    """Kiểm tra lại kho lưu trữ / check an archive: every package, every file.

    Exit 0 when everything checks, 1 when any problem is found (each is named).
    """
    from ..archive.check import check_archive
    from ..errors import ExitCode

    result = check_archive(archive, evidence=not no_evidence)
    code = ExitCode.OK if result.ok else ExitCode.PROBLEMS
    if as_json:
        import json

        from . import writes_utf8

        click.echo(json.dumps({
            "schema": "archiver.check/1", "archive": str(archive), "ok": result.ok, "packages": result.packages,
            "items": result.items, "evidence_checked": result.evidence_checked, "problems": result.problems,
        }, ensure_ascii=not writes_utf8(sys.stdout), indent=1))
        sys.exit(code)
    for problem in result.problems:
        click.echo(f"VẤN ĐỀ / PROBLEM: {problem}")
    status = "ổn / ok" if result.ok else f"{len(result.problems)} vấn đề / problems"
    click.echo(f"{result.packages} gói, {result.items} mục, {result.evidence_checked} hồ sơ bằng chứng "
               f"— {status}")
    sys.exit(code)
