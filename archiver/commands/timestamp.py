"""``archiver timestamp --pending`` and ``archiver renew``: timestamps after the build."""

from __future__ import annotations

import sys
from pathlib import Path

import click

TSA_OPTIONS = [
    click.option("--tsa-url", help="RFC 3161 TSA URL (default: ARCHIVER_TSA_URL, archiver.toml, else the local TSA)."),
    click.option("--tsa-cert", type=click.Path(dir_okay=False, path_type=Path), help="The TSA's certificate, PEM."),
]


def tsa_options(fn):
    for option in reversed(TSA_OPTIONS):
        fn = option(fn)
    return fn


def _run(action, archive: Path, tsa_url: str | None, tsa_cert: Path | None, verb: str) -> None:
    """Stamp with the configured TSA, refresh the derived files, report, exit."""
    from ..archive.layout import INDEX, PENDING
    from ..archive.store import Archive
    from ..errors import ExitCode, UsageError
    from ..pipeline.build import refresh_archive
    from ..timestamps.config import configured_tsa, make_timestamper

    if not (archive / INDEX).is_file() and not (archive / PENDING).is_dir():
        raise UsageError(f"{archive}: không phải kho lưu trữ archiver (không có index.json) / not an archive")
    config = configured_tsa(tsa_url, tsa_cert)
    timestamper = make_timestamper(config)
    store = Archive(archive)
    with store.writing():
        result = action(store, timestamper, tsa_cert=config.cert)
        # Every time, not only when something was stamped: a run killed after publishing
        # and before this leaves an index that the next run must bring up to date.
        refresh_archive(archive, site=(archive / "site").is_dir())  # an archive built with --no-site gets none
    for name in result.packages:
        click.echo(f"{verb}: {name}")
    for problem in result.problems:
        click.echo(f"VẤN ĐỀ / PROBLEM: {problem}")
    click.echo(f"{len(result.packages)} gói, {result.tsa_requests} yêu cầu TSA / TSA requests")
    sys.exit(ExitCode.PROBLEMS if result.problems else ExitCode.OK)


@click.command("timestamp", short_help="Đóng dấu thời gian gói đang chờ / complete pending timestamps.")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pending", is_flag=True, required=True, help="Timestamp the packages waiting in ARCHIVE/.pending.")
@tsa_options
def command(archive: Path, pending: bool, tsa_url: str | None, tsa_cert: Path | None) -> None:
    """Hoàn tất dấu thời gian cho các gói đang chờ / complete the pending timestamps.

    Packages built while the TSA was unreachable wait, complete but unstamped, in
    ARCHIVE/.pending; this stamps them (one request per package) and publishes them.
    """
    from ..archive.revise import complete_pending

    _run(complete_pending, archive, tsa_url, tsa_cert, "Đã đóng dấu / stamped")


@click.command("renew", short_help="Gia hạn hồ sơ bằng chứng / renew evidence records.")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--hash-tree", "hash_tree", is_flag=True,
              help="Hash-tree renewal (RFC 4998 5.2): hash the data again under --algorithm, for when "
                   "the hash algorithm in use weakens. Default: timestamp renewal.")
@click.option("--algorithm", type=click.Choice(["sha256", "sha384", "sha512"]), default="sha512",
              show_default=True, help="Hash algorithm of a hash-tree renewal.")
@tsa_options
def renew_command(archive: Path, hash_tree: bool, algorithm: str, tsa_url: str | None,
                  tsa_cert: Path | None) -> None:
    """Gia hạn hồ sơ bằng chứng (RFC 4998 mục 5.2) cho mọi gói hiện hành / renew evidence records.

    \b
    Timestamp renewal (default): before the newest token's TSA certificate expires or
    its signature algorithm weakens; a new timestamp over each record's last one.
    Hash-tree renewal (--hash-tree): when the hash algorithm weakens; the originals,
    reports and validation data are hashed again under --algorithm and timestamped.

    Each package is checked first (a package with any problem is not renewed) and its
    records are renewed with one TSA request; the result is published as the package's
    next version (the old version stays as it was).
    """
    from functools import partial

    from ..archive.revise import renew_archive

    action = partial(renew_archive, hash_tree=algorithm if hash_tree else None)
    _run(action, archive, tsa_url, tsa_cert, "Đã gia hạn / renewed")
