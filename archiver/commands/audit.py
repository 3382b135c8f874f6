"""``archiver audit``: the fixity of every file, in the archive and its replicas."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from ..vn import megabytes


def _slice(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise click.BadParameter("dạng K/N với 1 ≤ K ≤ N, ví dụ 3/30 / expected K/N with 1 <= K <= N, e.g. 3/30",
                                 param_hint="--slice")
    return int(found[1]), int(found[2])


@click.command("audit", short_help="Kiểm tra tính toàn vẹn của kho và các bản sao / fixity audit.")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--replica", "replicas", multiple=True, metavar="DEST",
              help="A replica to audit too: a local folder or an rclone remote name:path (repeatable).")
@click.option("--slice", "slice_text", metavar="K/N", help="Only slice K of N of the packages (the same every time).")
@click.option("--days", type=click.IntRange(1, 3660), metavar="N",
              help="Today's slice of N: a daily job covers every package every N days.")
@click.option("--sample", type=click.IntRange(0, None), default=0, metavar="N",
              help="Also N packages outside the slice, drawn at random.")
@click.option("--download", is_flag=True,
              help="Download and hash replica files even where the remote keeps hashes.")
@click.option("--rclone", "rclone_program", metavar="PATH", help="The rclone program (default: on PATH).")
@click.option("--jobs", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Packages audited at the same time (default: one per processor core).")
@click.option("--json", "as_json", is_flag=True, help='One JSON object for monitoring (schema "archiver.audit/1").')
def command(archive: Path, replicas: tuple[str, ...], slice_text: str | None, days: int | None, sample: int,
            download: bool, rclone_program: str | None, jobs: int | None, as_json: bool) -> None:
    """Kiểm tra tính toàn vẹn / audit the fixity of ARCHIVE and each --replica.

    Every file of every package (or of a slice) is checked against its package's
    manifests, trusted only when the tag manifests match them and the package's RFC 3161
    timestamp covers the hash tree they give. Findings: damaged, missing, extra, manifest
    tampered. Results are appended to ARCHIVE/audit/ (audit.jsonl and PREMIS events per
    package). Exit 0 clean, 1 findings, 2 usage errors.
    """
    from .. import vn
    from ..errors import ExitCode, UsageError
    from ..replication.audit import KIND_WORDS, open_locations, run_audit, slice_of_day

    if slice_text and days:
        raise UsageError("chỉ dùng một trong --slice và --days / use --slice or --days, not both")
    slice_ = _slice(slice_text) if slice_text else slice_of_day(days, vn.now().date()) if days else None
    locations = open_locations(archive, replicas, rclone_program=rclone_program, download=download)
    result = run_audit(archive, locations, slice_=slice_, sample=sample, jobs=jobs or os.cpu_count() or 1)
    code = ExitCode.OK if result.ok else ExitCode.PROBLEMS
    if as_json:
        import json

        from . import writes_utf8

        click.echo(json.dumps(result.to_json(), ensure_ascii=not writes_utf8(sys.stdout), indent=1))
        sys.exit(code)
    if slice_:
        click.echo(f"Phần / slice {slice_[0]}/{slice_[1]}" + (f" + {sample} gói ngẫu nhiên / random packages"
                                                             if sample else ""))
    for f in result.findings:
        click.echo(f"{KIND_WORDS.get(f.kind, f.kind)}: {f.location}: {f.package}/{f.path}: {f.detail}")
    for s in result.locations:
        if s.error:
            click.echo(f"KHÔNG ĐỌC ĐƯỢC / UNREACHABLE: {s.name}: {s.error}")
        else:
            click.echo(f"{s.name} ({'kho / archive' if s.kind == 'archive' else 'bản sao / replica'}, "
                       f"{s.method or '-'}): {s.packages} gói / packages, {s.files} tệp / files, "
                       f"{megabytes(s.bytes)} — " + ("ổn / ok" if not s.findings else f"{s.findings} phát hiện / "
                                                                                          "findings"))
    click.echo(f"{len(result.packages)} gói đã kiểm / packages audited — "
               + ("toàn vẹn / intact" if result.ok else f"{len(result.findings)} phát hiện / findings")
               + f" · nhật ký / log: {archive / 'audit' / 'audit.jsonl'}")
    for line in _repair_commands(result, archive):
        click.echo(line)
    sys.exit(code)


def _repair_commands(result, archive: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """What to run for the findings: the archive repaired from its replicas, each damaged
    replica from the archive (repair checks every copy before it takes a byte of it)."""
    def arg(text: object) -> str:
        return f'"{text}"' if " " in str(text) else str(text)

    damaged = {f.location for f in result.findings}
    replicas = [s for s in result.locations if s.kind != "archive" and not s.error]
    lines = []
    if any(s.kind == "archive" and s.name in damaged for s in result.locations):
        if replicas:
            sources = " ".join(f"--from {arg(s.name)}" for s in replicas)
            lines.append(f"Sửa kho từ bản sao / repair the archive: archiver repair {arg(archive)} {sources}")
        else:
            lines.append("Chưa có bản sao nào để sửa kho; hãy chỉ ra bản sao bằng --replica / no replica to repair "
                         "the archive from: name one with --replica")
    for s in replicas:
        if s.name in damaged:
            lines.append(f"Sửa bản sao từ kho / repair the replica: archiver repair {arg(archive)} --to {arg(s.name)}")
    return lines
