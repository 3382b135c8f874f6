"""``archiver build``: the main job — one labelled package per class, nothing lost."""

from __future__ import annotations

import sys
from pathlib import Path

import click


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

    from ..errors import ExitCode, UsageError
    from ..inputs import folder_files
    from ..pipeline.build import BuildOptions, build
    from .progress import RichProgress, print_summary

    console = Console(highlight=False)
    errors = Console(highlight=False, stderr=True)
    if not any(given.is_file() or next(folder_files(given), None) is not None for given in inputs):
        raise UsageError("không có tệp nào trong đầu vào: kiểm tra lại thư mục đã chọn / no files in the input: "
                         "check the folder given")
    options = BuildOptions(inputs=list(inputs), out=out, trust_dir=trust_dir, no_trust=no_trust,
                           profile_id=profile_id, tsa_url=tsa_url, tsa_cert=tsa_cert,
                           jobs=jobs or os.cpu_count() or 1, site=not no_site)
    with RichProgress(console) as progress:
        result = build(options, progress)
    print_summary(console, result)
    if trust_dir is not None and result.trust_looks_wrong:
        errors.print(f"[bold yellow]Cảnh báo / warning:[/] {result.untrusted_now}/{result.verified_now} học bạ có chữ ký "
                     f"không dẫn tới CA tin cậy nào trong {escape(str(trust_dir))}. Nếu nhầm thư mục chứng thư, hãy xoá "
                     "kho vừa lập và chạy lại với thư mục đúng: các lần chạy sau không kiểm tra lại học bạ đã lưu. / "
                     "their signatures do not chain to the trust folder; if it is the wrong folder, delete this "
                     "archive and run again with the right one (archived transcripts are not verified again)")
    if not result.complete:
        sys.exit(ExitCode.PROBLEMS)
    not_valid = sum(n for verdict, n in result.counts.items() if verdict != "VALID")
    if strict and not_valid:
        errors.print(f"[bold yellow]--strict:[/] {not_valid} học bạ có kết luận khác \"Hợp lệ\" / transcripts are not VALID "
                     "(tất cả đã được lưu trữ / all were archived)")
        sys.exit(ExitCode.PROBLEMS)
