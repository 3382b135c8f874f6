"""`archiver render`: PDF/A renderings (bản thể hiện) of transcripts.

    archiver render FILE.xml... --out DIR [--pdfa 3b|1b] [--trust DIR]

One ``<stem>.pdf`` per input. A file that cannot be rendered gets a one-line error
(Vietnamese, then English) and the others still render; the exit code is 1 when any
failed. With ``--trust`` each file is verified first so
the last page shows the verdict; without it the page says the transcript is unverified.
With ``--at`` the verification is made at that time, so the same input, time and version
give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..fsutil import atomic_write
from ..render import FLAVOURS, RenderError, render_transcript
from .verify import parse_time


def _error(path: Path, vi: str, en: str) -> None:
    click.echo(f"LỖI {path}: {vi} / ERROR {path}: {en}", err=True)


@click.command(
    "render",
    help="Tạo bản PDF/A (bản thể hiện) của học bạ số / Render transcripts as PDF/A.",
    short_help="Tạo bản PDF/A của học bạ / render as PDF/A.",
)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Thư mục ghi tệp PDF / output folder (created if missing).")
@click.option("--pdfa", "flavour", type=click.Choice(FLAVOURS), default="3b", show_default=True,
              help="3b: đính kèm XML gốc / attaches the original XML; "
                   "1b: không đính kèm / no attachment.")
@click.option("--trust", "trust_dir", type=click.Path(exists=True, path_type=Path, file_okay=False),
              default=None,
              help="Thư mục cấu hình tin cậy để xác thực trước khi kết xuất / "
                   "trust folder: verify each file first and show the verdict.")
@click.option("--at", "at", callback=parse_time,
              help="Thời điểm xác thực (mặc định: bây giờ; không ghi múi giờ là giờ Việt Nam) / the "
                   "validation time (default: now), so that a rendering can be made again byte for byte.")
def command(files: tuple[Path, ...], out_dir: Path, flavour: str,
            trust_dir: Path | None, at: dt.datetime | None) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(
            f"không tạo được thư mục {out_dir} / cannot create {out_dir}: {exc.strerror}"
        ) from None

    verifier = None
    if trust_dir is not None:
        from ..inputs import InputItem
        from ..verify import VerifySettings, verify_item

        settings = VerifySettings(trust_dir=str(trust_dir), validation_time=at)
        verifier = settings.build()

    failed = 0
    written: dict[Path, Path] = {}
    for path in files:
        target = out_dir / f"{path.stem}.pdf"
        if target in written:
            _error(path, f"trùng tên tệp đầu ra với {written[target]}",
                   f"same output name as {written[target]}")
            failed += 1
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            _error(path, f"không đọc được tệp ({exc.strerror})",
                   f"cannot read the file ({exc.strerror})")
            failed += 1
            continue

        verification = None
        if verifier is not None:
            try:
                verification = verify_item(verifier, InputItem(name=str(path), source=str(path)), settings).to_dict()
            except Exception as exc:  # noqa: BLE001 - a verifier bug must not stop the batch
                click.echo(f"CẢNH BÁO {path}: xác thực lỗi, kết xuất không kèm kết quả xác thực"
                           f" / WARNING {path}: verification failed ({exc}); "
                           "rendering without it", err=True)
        try:
            pdf = render_transcript(data, verification=verification, flavour=flavour,
                                    attachment_name=path.name)
        except RenderError as exc:
            _error(path, exc.message_vi, exc.message_en)
            failed += 1
            continue
        except Exception as exc:  # noqa: BLE001 - one line per file, never a traceback
            _error(path, "lỗi nội bộ khi kết xuất", f"internal error while rendering: {exc!r}")
            failed += 1
            continue
        try:
            atomic_write(target, pdf)  # a crash never leaves half a PDF
        except OSError as exc:
            _error(path, f"không ghi được {target} ({exc.strerror})",
                   f"cannot write {target} ({exc.strerror})")
            failed += 1
            continue
        written[target] = path
        click.echo(f"{path} → {target}")

    total = len(files)
    click.echo(f"Đã kết xuất {total - failed}/{total} tệp / rendered {total - failed} of {total}")
    if failed:
        raise click.exceptions.Exit(1)
