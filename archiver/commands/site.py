"""``archiver site``: (re)build the offline lookup site of an archive."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..vn import megabytes


@click.command("site", short_help="Dựng trang tra cứu ngoại tuyến / build the lookup site.")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the site (default: ARCHIVE/site). An existing folder is replaced "
                   "only if it is an archiver site.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Worker processes for the student pages (default: one per CPU).")
def command(archive: Path, out: Path | None, jobs: int | None) -> None:
    """Dựng lại trang tra cứu ngoại tuyến / rebuild the offline lookup site.

    Reads ARCHIVE/index.json and the files it points to; writes plain HTML, CSS and
    small scripts that work by double-clicking index.html, with no server or network.
    Exit code: 0 on success, 2 when the archive has no readable index.json.
    """
    from ..site import SiteError, build_site

    try:
        summary = build_site(archive, out, jobs=jobs)
    except SiteError as exc:
        click.echo(f"Lỗi / error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"Đã tạo trang tra cứu / site written: {summary.out}")
    click.echo(f"  {summary.transcripts} học bạ / transcripts, {summary.pages} trang / pages, "
               f"{summary.files} tệp / files, {megabytes(summary.bytes)} "
               f"({summary.bytes_per_transcript / 1e3:.1f} kB / học bạ), {summary.seconds:.1f} s")
    click.echo(f"  Mở / open: {summary.out / 'index.html'}")
