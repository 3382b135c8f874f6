"""``archiver sample``: generate a signed sample school with its own test PKI."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..profiles import ProfileError


def _year(ctx: click.Context, param: click.Parameter, value: str) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{4})", value)
    if not match or int(match[2]) != int(match[1]) + 1:
        raise click.BadParameter("năm học dạng 2025-2026 / a school year like 2025-2026")
    return value


@click.command("sample", short_help="Tạo trường mẫu đã ký / generate a sample school.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created; keys already in DIR/keys are reused).")
@click.option("--students", default=20, show_default=True, type=click.IntRange(1, 100_000),
              help="Students per class.")
@click.option("--classes", default=2, show_default=True, type=click.IntRange(1, 1_000),
              help="Number of classes.")
@click.option("--year", default="2025-2026", show_default=True, callback=_year, help="School year.")
@click.option("--seed", default="1", show_default=True, help="Seed: the same seed gives the same school.")
@click.option("--defects", is_flag=True, help="Also write labelled broken variants and defects.json.")
@click.option("--profile", "profile_ids", multiple=True, default=("hocba-1-thcs",), show_default=True,
              help="Format profile (see `archiver profiles`: hocba-1-tieuhoc, hocba-1-thcs, hocba-1-thpt). "
                   "Repeat it for a school of several levels (trường liên cấp), e.g. --profile "
                   "hocba-1-tieuhoc --profile hocba-1-thcs: --classes classes of each.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Worker processes for signing (default: all cores).")
@click.option("--scans", is_flag=True,
              help="Also scanned paper transcripts to import (scans/roster.csv, scans/images) and the test keys "
                   "keys/principal.p12, keys/school.p12.")
def command(out: Path, students: int, classes: int, year: str, seed: str, defects: bool,
            profile_ids: tuple[str, ...], jobs: int | None, scans: bool) -> None:
    """Tạo một trường mẫu đã ký số để thử nghiệm / generate a signed sample school.

    Writes DIR/trust (CA certificates and CRLs), DIR/tsa, DIR/keys (TEST-ONLY private
    keys), DIR/input/<class>/*.xml and, with --defects, DIR/defects/ and DIR/defects.json.
    """
    from ..sample import SampleOptions, generate_sample

    try:
        summary = generate_sample(SampleOptions(
            out=out, students=students, classes=classes, year=year, seed=seed,
            defects=defects, profile_id=",".join(dict.fromkeys(profile_ids)), jobs=jobs, scans=scans))
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"Không ghi được vào {out}: {exc.strerror} / cannot write to {out}") from None
    click.echo(f"{summary.school_name} ({summary.school_code}), năm học {summary.school_year}")
    for name, count in summary.classes.items():
        click.echo(f"  lớp {name}: {count} học bạ")
    extra = f", {summary.defects} mẫu lỗi (defects)" if defects else ""
    click.echo(f"{summary.transcripts} học bạ đã ký{extra} -> {out} ({summary.seconds:.1f} s)")
    if scans:
        click.echo(f"Học bạ giấy để số hóa / paper transcripts to digitise: {out / 'scans' / 'roster.csv'}; "
                   f"khoá thử nghiệm / test keys: {out / 'keys'} (mật khẩu trong keys/README.txt)")
