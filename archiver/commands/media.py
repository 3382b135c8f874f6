"""``archiver media``: write an archive's packages to discs or USB sticks, and check them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..vn import decimal, thousands

MEDIUM_HELP = ("cd, dvd, dvd-dl, bd, bd-dl (an ISO image per disc), usb (one folder), usb:SIZE (folders of at "
               "most SIZE), or a SIZE such as 650M (MiB), 4G (GiB), 16GB (10^9 bytes): images of at most SIZE.")


class MediaGroup(click.Group):
    """``archiver media ARCHIVE --out DIR …`` writes; ``archiver media verify PATH`` checks.
    A first argument that is not a sub-command is the archive."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["write", *args]
        return super().parse_args(ctx, args)


@click.group("media", cls=MediaGroup, short_help="Ghi đĩa / USB lưu trữ và kiểm tra / write and check archive media.")
def command() -> None:
    """Ghi kho ra đĩa CD/DVD/BD hoặc USB, và kiểm tra đĩa / archive media: write and check.

    \b
    archiver media ARCHIVE --out DIR --medium cd|dvd|dvd-dl|bd|bd-dl|usb|SIZE [--year Y]... [--all]
    archiver media verify PATH [--sha256 HEX] [--archive ARCHIVE]
    """


@command.command("write", short_help="Ghi bộ đĩa / write a media set (the default).")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the set is written (OUT/<set>/): outside the archive.")
@click.option("--medium", "medium_text", required=True, metavar="MEDIUM", help=MEDIUM_HELP)
@click.option("--year", "years", multiple=True, metavar="YYYY-YYYY", help="Only this school year (repeatable).")
@click.option("--all", "include_all", is_flag=True,
              help="Every published package, also those an earlier media set holds.")
@click.option("--force", is_flag=True, help="Write even if `archiver check` finds problems (they are recorded).")
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="Worker processes (default: one per CPU).")
def write_command(archive: Path, out: Path, medium_text: str, years: tuple[str, ...], include_all: bool,
                  force: bool, jobs: int | None) -> None:
    """Ghi các gói của kho ra bộ đĩa (ảnh ISO) hoặc USB / write the archive's packages as media.

    Plans volumes (a package and its label never split, a class's versions together,
    years in order, every volume but the last at least 95 % full), writes each as an
    ISO 9660 + Joliet + Rock Ridge image (or a FAT32-safe folder for usb) with its own
    index, lookup site, README, SHA256SUMS and check script, prints a disc label per
    volume, and records the set in ARCHIVE/media/<set>.json. By default only packages
    that no earlier set holds. Exit 0 when written, 1 when the archive does not check or
    writing failed, 2 on a usage error (nothing written).
    """
    from ..media.make import MediaRequest, NothingToWrite, make_media
    from ..media.medium import parse_medium

    medium = parse_medium(medium_text)
    request = MediaRequest(archive=archive, out=out, medium=medium, years=tuple(years), include_all=include_all,
                           force=force, jobs=jobs)
    say = lambda line: click.echo(line, err=True)  # noqa: E731 - progress on stderr, the result on stdout
    try:
        result = make_media(request, say)
    except NothingToWrite as exc:
        click.echo(str(exc))
        sys.exit(0)
    for problem in result.forced_problems[:20]:
        click.echo(f"BỎ QUA (--force) / FORCED OVER: {problem}")
    for name in result.pending:
        click.echo(f"CHƯA GHI / LEFT OUT: {name} đang chờ dấu thời gian (.pending) / waiting for its timestamp: "
                   "run `archiver timestamp --pending`")
    if result.already:
        click.echo(f"{len(result.already)} gói đã có trên bộ đĩa trước, không ghi lại (--all để ghi) / "
                   f"{len(result.already)} packages are on an earlier set (--all writes them again)")
    click.echo(f"Bộ đĩa / media set {result.set_id}: {len(result.volumes)} "
               f"{'thư mục USB' if not medium.is_image else 'đĩa'} ({medium.describe()})")
    for v in result.volumes:
        fill = f", {decimal(f'{v.fill * 100:.1f}')} %" if medium.capacity else ""
        click.echo(f"  {v.number}/{v.count} {v.path} — {thousands(v.bytes)} B{fill}, SHA-256 {v.sha256}")
        click.echo(f"      lớp / classes: {', '.join(v.classes)}")
        if v.label:
            click.echo(f"      nhãn / label: {v.label}")
    click.echo(f"Ghi nhận / recorded: {result.record}")
    click.echo(f"Hướng dẫn ghi và kiểm tra đĩa / how to burn and check: {result.folder / 'HUONG_DAN.txt'}")


@command.command("verify", short_help="Kiểm tra đĩa, ảnh đĩa hoặc USB / check a disc, image or USB copy.")
@click.argument("path")
@click.option("--sha256", default="", metavar="HEX", help="The image's SHA-256, as printed on the disc label.")
@click.option("--archive", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The archive whose record of the set gives the image's SHA-256.")
def verify_command(path: str, sha256: str, archive: Path | None) -> None:
    """Kiểm tra đĩa / check a disc: PATH is an image, a mounted disc or USB folder, or a
    raw device (/dev/sr0, \\\\.\\E:).

    Re-reads every file against SHA256SUMS and the bags' manifests and, for an image or a
    device, the image's bytes against its recorded SHA-256. Run it after burning and every
    year after. Exit 0 when everything matches, 1 when anything is damaged or missing (each
    is named), 2 when PATH is not a volume.
    """
    from ..errors import ExitCode
    from ..media.verify import verify_media

    result = verify_media(path, sha256=sha256, archive=archive)
    for problem in result.problems:
        click.echo(f"VẤN ĐỀ / PROBLEM: {problem}")
    for note in result.notes:
        click.echo(note)
    volume = result.volume
    where = f" — {volume.get('name')} ({volume.get('number')}/{volume.get('count')})" if volume.get("name") else ""
    status = "ổn / ok" if result.ok else f"{len(result.problems)} vấn đề / problems"
    click.echo(f"{result.path}{where}: {result.files} tệp / files, {result.packages} gói / packages — {status}")
    sys.exit(ExitCode.OK if result.ok else ExitCode.PROBLEMS)
