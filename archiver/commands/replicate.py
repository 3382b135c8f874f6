"""``archiver replicate``: copy an archive to other places, append-only, confirmed by hash."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..vn import decimal, megabytes


@click.command("replicate", short_help="Sao kho sang nơi khác (ổ đĩa, rclone) / replicate an archive.")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("destinations", metavar="DEST...", nargs=-1, required=True)
@click.option("--rclone", "rclone_program", metavar="PATH",
              help="The rclone program (default: rclone, or rclone.exe, on PATH).")
@click.option("--json", "as_json", is_flag=True, help='One JSON object for scripts (schema "archiver.replicate/1").')
def command(archive: Path, destinations: tuple[str, ...], rclone_program: str | None, as_json: bool) -> None:
    """Sao kho lưu trữ sang nơi khác / replicate ARCHIVE to each DEST.

    DEST is a local folder (a USB disk, a network share) or an rclone remote
    "name:path" from your rclone configuration (SFTP, WebDAV, S3, a crypt remote…).
    Append-only: nothing at a destination is ever deleted or overwritten with other
    bytes; a damaged source file is never copied. A package counts as replicated once its
    files are confirmed at the destination by hash. Running it again copies only what is
    new. Exit 0 when everything is replicated, 1 when something could not be (each is
    named), 2 on usage or configuration errors.
    """
    from .. import vn
    from ..errors import ArchiveWriteError, ExitCode
    from ..replication.audit import KIND_WORDS, open_locations
    from ..replication.log import PremisEvent, RunLog
    from ..replication.replicate import ReplicationResult, replicate

    locations = open_locations(archive, destinations, rclone_program=rclone_program)
    results = []
    for dest in locations[1:]:
        if not as_json:
            click.echo(f"Đang sao sang / replicating to {dest.name} …")
        try:
            result = replicate(archive, dest)
        except ArchiveWriteError as exc:  # this destination stops (locked, unreachable, full); the next is tried
            result = ReplicationResult(dest.name, getattr(dest, "method", "read"), notes=[f"{exc.heading}: {exc}"])
        results.append(result)
        if not as_json:
            for f in result.findings:
                click.echo(f"  {KIND_WORDS.get(f.kind, f.kind)}: {f.location}: {f.package}/{f.path}: {f.detail}")
            for note in result.notes:
                click.echo(f"  VẤN ĐỀ / PROBLEM: {note}")
            click.echo(f"  {result.packages} gói / packages: {len(result.confirmed)} vừa xác nhận / confirmed now, "
                       f"{result.already} đã có từ trước / already replicated; {result.files_copied} tệp gói / package "
                       f"files ({megabytes(result.bytes_copied)}), {result.archive_files_copied} tệp khác (nhãn, "
                       f"index, trang) / other files copied; {decimal(f'{result.seconds:.1f}')} s — "
                       + ("ổn / ok" if result.ok else "có vấn đề / problems"))
    log = RunLog("replicate", vn.now())
    for r in results:
        if not (r.confirmed or r.files_copied or r.archive_files_copied or r.moved_aside or not r.ok):
            continue  # nothing new (but perhaps the audit log itself): nothing to log, so the next run copies nothing
        log.add({"event": "replication", "run": log.run, "time": log.started.isoformat(timespec="seconds"),
                 "location": r.destination, "method": r.method, "confirmed": r.confirmed, "already": r.already,
                 "files": r.files_copied, "bytes": r.bytes_copied, "problems": len(r.findings) + len(r.notes),
                 "outcome": "pass" if r.ok else "fail"})
        for package, tag in r.confirmed_tags.items():
            log.add(event=PremisEvent(package, "replication",
                                      f"Sao gói sang {r.destination}, đã xác nhận bằng mã băm ({r.method}) / "
                                      f"replicated to {r.destination}, confirmed by hash", "success", *tag))
    log.write(archive)
    ok = all(r.ok for r in results)
    if as_json:
        import json

        from . import writes_utf8

        click.echo(json.dumps({
            "schema": "archiver.replicate/1", "archive": str(archive), "ok": ok,
            "destinations": [{"destination": r.destination, "method": r.method, "ok": r.ok, "packages": r.packages,
                              "already": r.already, "confirmed": r.confirmed, "files_copied": r.files_copied,
                              "bytes_copied": r.bytes_copied, "archive_files_copied": r.archive_files_copied,
                              "audit_files_copied": r.audit_files_copied,
                              "moved_aside": r.moved_aside, "seconds": round(r.seconds, 3),
                              "findings": [f.to_json() for f in r.findings], "problems": r.notes} for r in results],
        }, ensure_ascii=not writes_utf8(sys.stdout), indent=1))
    sys.exit(ExitCode.OK if ok else ExitCode.PROBLEMS)
