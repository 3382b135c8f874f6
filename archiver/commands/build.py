"""``archiver build``: the main job — one labelled package per class, nothing lost."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..profiles import ProfileError


@click.command("build", short_help="Lập kho lưu trữ theo lớp / build the archive.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The archive folder (created; existing packages are kept and never rewritten).")
@click.option("--trust", "trust_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of CA certificates and CRLs (see `archiver verify --help`). Required.")
@click.option("--no-trust", is_flag=True,
              help="Archive without a trust folder: every signature is then INDETERMINATE, and is "
                   "archived so.")
@click.option("--profile", "profile_id", help="Format profile; detected per document when omitted.")
@click.option("--tsa-url", help="RFC 3161 TSA URL (default: the embedded local TSA).")
@click.option("--tsa-cert", type=click.Path(dir_okay=False, path_type=Path),
              help="The TSA's certificate (or its CA), PEM.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: all cores).")
@click.option("--strict", is_flag=True, help="Also exit non-zero when any transcript is not VALID.")
@click.option("--no-site", is_flag=True, help="Do not (re)build ARCHIVE/site.")
def command(inputs: tuple[Path, ...], out: Path, trust_dir: Path | None, profile_id: str | None,
            tsa_url: str | None, tsa_cert: Path | None, jobs: int | None, strict: bool, no_site: bool,
            no_trust: bool) -> None:
    """Lập kho lưu trữ học bạ số / build the transcript archive.

    INPUTS are folders or .zip exports. Every input file ends in exactly one package: a
    BagIt package per school year and class, or the year's quarantine package with its
    reason. Re-running with the same inputs does no work; new content makes a new
    version of its class's package. Exit 0 when everything was archived (whatever the
    verdicts), 1 when something could not be, 2 on usage or configuration errors.
    """
    import os

    from rich.console import Console
    from rich.markup import escape

    from ..build import BuildOptions, build
    from ..fsutil import ArchiveWriteError
    from ..inputs import folder_files
    from ..tsa import TimestampError
    from ..verify import TrustConfigError
    from .progress import RichProgress, print_summary

    console = Console(highlight=False)
    errors = Console(highlight=False, stderr=True)

    def usage(message: str) -> None:
        errors.print(f"[bold red]Lỗi / error:[/] {escape(message)}")
        sys.exit(2)

    if trust_dir is not None and no_trust:
        usage("--trust và --no-trust không dùng cùng nhau / --trust and --no-trust exclude each other")
    if trust_dir is None and not no_trust:
        usage("thiếu --trust: thư mục chứng thư CA và CRL dùng để kiểm tra chữ ký. Không có nó, mọi chữ ký "
              "đều \"Chưa xác định\" và được lưu trữ như vậy; nếu thật sự muốn thế, thêm --no-trust / "
              "--trust DIR is required (or --no-trust to archive every signature as INDETERMINATE)")
    if not any(given.is_file() or next(folder_files(given), None) is not None for given in inputs):
        usage("không có tệp nào trong đầu vào: kiểm tra lại thư mục đã chọn / no files in the input: check the "
              "folder given")
    archive = out.resolve()
    for given in inputs:
        source = given.resolve()
        if archive == source or archive.is_relative_to(source) or source.is_relative_to(archive):
            usage(f"thư mục kho {out} không được nằm trong (hoặc chứa) đầu vào {given}: lần chạy sau sẽ đọc lại "
                  "chính kho lưu trữ / the archive folder must not be inside an input (or contain it)")
    options = BuildOptions(inputs=list(inputs), out=out, trust_dir=trust_dir, profile_id=profile_id,
                           tsa_url=tsa_url, tsa_cert=tsa_cert, jobs=jobs or os.cpu_count() or 1,
                           site=not no_site)
    try:
        with RichProgress(console) as progress:
            result = build(options, progress)
    except (TrustConfigError, ProfileError, TimestampError) as exc:
        usage(f"cấu hình / configuration: {exc}")
    except ArchiveWriteError as exc:
        errors.print(f"[bold red]Dừng lại / stopped:[/] {escape(str(exc))}")
        sys.exit(1)
    print_summary(console, result)
    if trust_dir is not None and result.trust_looks_wrong:
        errors.print(f"[bold yellow]Cảnh báo / warning:[/] {result.untrusted_now}/{result.verified_now} học bạ có chữ ký "
                     f"không dẫn tới CA tin cậy nào trong {escape(str(trust_dir))}. Nếu nhầm thư mục chứng thư, hãy xoá "
                     "kho vừa lập và chạy lại với thư mục đúng: các lần chạy sau không kiểm tra lại học bạ đã lưu. / "
                     "their signatures do not chain to the trust folder; if it is the wrong folder, delete this "
                     "archive and run again with the right one (archived transcripts are not verified again)")
    if not result.complete:
        sys.exit(1)
    not_valid = sum(n for verdict, n in result.counts.items() if verdict != "VALID")
    if strict and not_valid:
        errors.print(f"[bold yellow]--strict:[/] {not_valid} học bạ có kết luận khác \"Hợp lệ\" / transcripts are not VALID "
                     "(tất cả đã được lưu trữ / all were archived)")
        sys.exit(1)
