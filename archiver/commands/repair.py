"""``archiver repair``: repair damaged copies from good ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("repair", short_help="Sửa bản hỏng từ bản sao tốt / repair from a good copy.")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--from", "sources", multiple=True, metavar="DEST",
              help="Repair the archive from this replica (repeatable: any good copy is used).")
@click.option("--to", "targets", multiple=True, metavar="DEST",
              help="Repair this replica from the archive (or another good copy given).")
@click.option("--download", is_flag=True, help="Download and hash replica files even where the remote keeps hashes.")
@click.option("--rclone", "rclone_program", metavar="PATH", help="The rclone program (default: on PATH).")
@click.option("--jobs", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Packages audited at the same time (default: one per processor core).")
@click.option("--json", "as_json", is_flag=True, help='One JSON object for scripts (schema "archiver.repair/1").')
def command(archive: Path, sources: tuple[str, ...], targets: tuple[str, ...], download: bool,
            rclone_program: str | None, jobs: int | None, as_json: bool) -> None:
    """Sửa các tệp hỏng, thiếu hoặc bị sửa / repair ARCHIVE --from DEST, or DEST --to.

    Every finding is repaired from a copy whose bytes match the package's trusted
    manifest, checked before use; written under a temporary name, checked again, then
    renamed into place. The damaged copy is moved to .damaged/ (never deleted) with a
    PREMIS event. When no good copy exists anywhere, it says so and changes nothing.
    Exit 0 when everything was repaired (or nothing needed it), 1 otherwise, 2 on usage.
    """
    from ..archive.store import Archive
    from ..errors import ExitCode, UsageError
    from ..replication.audit import KIND_WORDS, open_locations
    from ..replication.repair import repair

    if not sources and not targets:
        raise UsageError("cần --from DEST (sửa kho) hoặc --to DEST (sửa bản sao) / give --from DEST to repair the "
                         "archive, or --to DEST to repair a replica")
    locations = open_locations(archive, [*sources, *targets], rclone_program=rclone_program, download=download)
    chosen = ([locations[0]] if sources else []) + locations[1 + len(sources):]
    with Archive(archive).writing():
        result = repair(locations, chosen, jobs=jobs or os.cpu_count() or 1)
    code = ExitCode.OK if result.ok else ExitCode.PROBLEMS
    if as_json:
        import json

        from . import writes_utf8

        click.echo(json.dumps({
            "schema": "archiver.repair/1", "archive": str(archive), "ok": result.ok, "packages": result.packages,
            "repaired": [f.to_json() for f in result.repaired], "moved_aside": result.moved_aside,
            "not_repaired": [{**f.to_json(), "why": why} for f, why in result.unrepaired],
        }, ensure_ascii=not writes_utf8(sys.stdout), indent=1))
        sys.exit(code)
    for f in result.repaired:
        click.echo(f"ĐÃ SỬA / REPAIRED: {f.location}: {f.package}/{f.path} ({KIND_WORDS.get(f.kind, f.kind)})")
    for line in result.moved_aside:
        click.echo(f"  bản hỏng giữ lại tại / damaged copy kept at {line}")
    for f, why in result.unrepaired:
        click.echo(f"CHƯA SỬA ĐƯỢC / NOT REPAIRED: {f.location}: {f.package}/{f.path} "
                   f"({KIND_WORDS.get(f.kind, f.kind)}): {why}")
    click.echo(f"{result.packages} gói / packages — {len(result.repaired)} đã sửa / repaired, "
               f"{len(result.unrepaired)} chưa sửa được / not repaired")
    sys.exit(code)
