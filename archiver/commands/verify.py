"""``archiver verify``: re-verify transcripts and print the verdicts."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections import Counter
from pathlib import Path

import click

from .. import vn
from . import writes_utf8

VERDICT_STYLE = {"VALID": "bold green", "INVALID": "bold red", "INDETERMINATE": "bold yellow",
                 "REJECTED": "bold magenta"}
STATUS_STYLE = {"TOTAL_PASSED": "green", "TOTAL_FAILED": "red", "INDETERMINATE": "yellow"}


def parse_time(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    """A time option: ISO 8601, no offset meaning Vietnam time."""
    if value is None:
        return None
    try:
        return vn.parse_time(value)
    except ValueError:
        raise click.BadParameter(
            "thời điểm dạng 2026-12-01 hoặc 2026-12-01T08:00:00+07:00 / "
            "a time like 2026-12-01 or 2026-12-01T08:00:00+07:00") from None


@click.command("verify", short_help="Kiểm tra lại chữ ký số / re-verify signatures.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--trust", "trust_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of CA certificates (PEM/DER; self-signed = trust anchors) and CRLs (.crl).")
@click.option("--profile", "profile_id", help="Format profile; detected from each document when omitted.")
@click.option("--profiles-dir", "profiles_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Extra folder of profiles (repeatable).")
@click.option("--at", "at", callback=parse_time,
              help="Validation time (ISO 8601; no offset = Vietnam time). Default: now.")
@click.option("--poe", "poe", callback=parse_time,
              help="Proof of existence: a time at which an archive timestamp or evidence record "
                   "you have checked proves the files existed. Taken on your word; it settles "
                   "'revoked/expired after signing'.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (spec section 5).")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes.")
@click.option("-q", "--quiet", is_flag=True, help="One line per file instead of a table.")
def command(paths: tuple[Path, ...], trust_dir: Path | None, profile_id: str | None,
            profiles_dirs: tuple[str, ...], at: dt.datetime | None, poe: dt.datetime | None,
            as_json: bool, jobs: int, quiet: bool) -> None:
    """Kiểm tra lại chữ ký số của học bạ / re-verify transcripts.

    PATHS are files, folders (every *.xml and signed *.pdf inside, recursively) or .zip exports. Exit
    code: 0 when every input is VALID, 1 when any is not, 2 on usage or configuration
    errors. Inputs are only read, never modified.
    """
    from ..verify import VerifySettings, verify_inputs

    settings = VerifySettings(
        trust_dir=str(trust_dir) if trust_dir else None, profile_id=profile_id,
        profiles_dirs=profiles_dirs, validation_time=at or dt.datetime.now(dt.timezone.utc),
        proof_of_existence=poe, validation_data=False)
    settings.build()  # a bad trust folder or profile: a configuration error (exit 2), before any work
    if poe is not None and not as_json:
        click.echo(f"Chú ý: thời điểm --poe {poe.isoformat()} được coi là đã có bằng chứng tồn tại (theo người chạy lệnh) "
                   "và được ghi vào báo cáo / "
                   "the --poe time is taken as proven and recorded in the reports", err=True)
    if trust_dir is None and not as_json:
        click.echo("Chú ý: chưa chỉ định --trust, không chữ ký nào xác định được chuỗi tin cậy / "
                   "no --trust given: no certificate can chain to a trusted CA", err=True)
    counts: Counter[str] = Counter()
    reports = verify_inputs(paths, settings, jobs=jobs)
    if as_json:
        # Streamed, so memory stays flat on large runs.
        out = sys.stdout
        # JSON is UTF-8; on a stream in another encoding (a Windows code page) the
        # letters it lacks are escaped, so the document stays whole and exact.
        ascii_only = not writes_utf8(out)
        out.write("[")
        try:
            for i, report in enumerate(reports):
                counts[report.verdict] += 1
                out.write(("," if i else "") + "\n" + json.dumps(report.to_dict(), ensure_ascii=ascii_only))
        finally:  # a readable document of what was verified, even if the run breaks off
            out.write("\n]\n")
    else:
        from rich.console import Console

        # With -q, piped or saved output keeps one line per file (for grep and awk);
        # otherwise it is laid out for 80 columns.
        console = Console(highlight=False, soft_wrap=quiet and not sys.stdout.isatty())
        for report in reports:
            counts[report.verdict] += 1
            _print_report(console, report, quiet)
        _print_summary(console, counts)
    if not counts:
        click.echo("Không tìm thấy tệp học bạ nào (*.xml, *.pdf có chữ ký, *.zip) / no transcripts found in "
                   + ", ".join(str(p) for p in paths), err=True)
        sys.exit(2)
    sys.exit(0 if set(counts) == {"VALID"} else 1)


def _short_time(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).astimezone(vn.VN).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return iso or "—"


def _print_report(console, report, quiet: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..verify.report import STATUS_LABELS

    style = VERDICT_STYLE.get(report.verdict, "bold")
    who = f" — {escape(report.student_name)}" if report.student_name else ""
    if quiet:  # exactly one line per file, the reason codes at its end, for scripts
        codes = ",".join(dict.fromkeys(f.code for f in [*report.reasons, *report.warnings]))
        console.print(f"[{style}]{report.verdict_label} ({report.verdict})[/] {escape(report.path)}{who}"
                      + (f" [dim][{escape(codes)}][/]" if codes else ""))
        return
    console.print(f"[{style}]{report.verdict_label} ({report.verdict})[/] {escape(report.path)}{who}")
    for finding in report.reasons:
        console.print(f"  lý do / reason: {escape(finding.message)} [dim]({finding.code})[/]")
    for finding in report.warnings:
        console.print(f"  [yellow]cảnh báo / warning:[/] {escape(finding.message)} [dim]({finding.code})[/]")
    if quiet or not report.signatures:
        return
    # Fits 80 columns (what a clerk gets when the output is piped or saved): the reason
    # of each failing signature is in full above it, with the signature's Id and code.
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("Vai trò", no_wrap=True)
    table.add_column("Người ký", ratio=1, min_width=10)
    table.add_column("Chứng thư số", ratio=1, min_width=17)
    table.add_column("Thời điểm ký", no_wrap=True)
    table.add_column("Kết quả", no_wrap=True)
    for sig in report.signatures:
        role = f"{sig.role} {sig.subject}".strip() + ("" if sig.listed else "*")
        label = STATUS_LABELS.get(sig.status, sig.status)
        result = f"[{STATUS_STYLE.get(sig.status, '')}]{label}[/]"
        table.add_row(role, escape(sig.signer), escape(_cn_uid(sig.subject_dn, sig.signer)),
                      _short_time(sig.signing_time), result)
    console.print(table)
    if any(not s.listed for s in report.signatures):
        console.print("  [dim]* chữ ký không có trong danh sách người ký / not listed in DSTTKy[/]")


def _cn_uid(dn: str, signer: str) -> str:
    """The parts of a certificate subject a clerk recognises: the UID, and the CN when it
    is not the listed signer's name."""
    parts = dict(p.split("=", 1) for p in re.split(r"(?<!\\),", dn) if "=" in p)
    uid, cn = parts.get("UID", ""), parts.get("CN", "")
    if cn and cn != signer:
        return f"{uid} ({cn})" if uid else cn
    return uid or dn


def _print_summary(console, counts: Counter[str]) -> None:
    from ..verify.report import VERDICT_LABELS

    total = sum(counts.values())
    items = ", ".join(f"[{VERDICT_STYLE[v]}]{VERDICT_LABELS[v]} ({v}): {counts[v]}[/]"
                      for v in ("VALID", "INVALID", "INDETERMINATE", "REJECTED") if counts[v])
    console.print(f"\nTổng cộng / total: {total} tệp — {items or 'không có tệp nào / no files'}")
