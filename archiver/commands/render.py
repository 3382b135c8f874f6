"""`archiver render`: PDF/A renderings (bản thể hiện) of transcripts.

    archiver render FILE.xml... --out DIR [--pdfa 3b|1b] [--trust DIR]

One ``<stem>.pdf`` per input. A file that cannot be rendered gets a one-line error
(Vietnamese, then English) and the others still render; the exit code is 1 when any
failed. With ``--trust`` each file is verified first (when the verifier is installed) so
the last page shows the verdict; without it the page says the transcript is unverified.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

import click

from ..fsutil import atomic_write
from ..render import FLAVOURS, RenderError, render_transcript

Verifier = Callable[[Path], dict[str, Any]]


def _load_verifier(trust: Path) -> tuple[Verifier | None, str]:
    """``archiver.verify.verify_file`` bound to the trust folder, or why there is none.

    The verifier is a separate module that may not be installed yet; rendering must not
    depend on it, only say plainly when it could not be used.
    """
    try:
        module = importlib.import_module("archiver.verify")
    except ImportError:
        return None, "chưa có mô-đun xác thực (archiver.verify) / the verifier is not installed"
    verify_file = getattr(module, "verify_file", None)
    if not callable(verify_file):
        return None, ("mô-đun xác thực không có verify_file / "
                      "archiver.verify has no verify_file")

    def verify(path: Path) -> dict[str, Any]:
        result = verify_file(path, trust=trust)
        to_dict = getattr(result, "to_dict", None)
        data = to_dict() if callable(to_dict) else result
        if not isinstance(data, dict):
            raise TypeError(f"verify_file returned {type(data).__name__}, not a result")
        return data

    return verify, ""


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
def command(files: tuple[Path, ...], out_dir: Path, flavour: str,
            trust_dir: Path | None) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(
            f"không tạo được thư mục {out_dir} / cannot create {out_dir}: {exc.strerror}"
        ) from None

    verifier: Verifier | None = None
    if trust_dir is not None:
        verifier, why = _load_verifier(trust_dir)
        if verifier is None:
            click.echo(f"CẢNH BÁO: {why}; kết xuất không kèm kết quả xác thực / "
                       "WARNING: rendering without verification", err=True)

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
                verification = verifier(path)
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
