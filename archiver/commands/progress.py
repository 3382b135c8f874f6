"""Progress bars and the end-of-build summary (rich), shared by commands."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ..verify.report import VERDICT_LABELS

VERDICTS = ("VALID", "INVALID", "INDETERMINATE", "REJECTED")
STYLE = {"VALID": "green", "INVALID": "red", "INDETERMINATE": "yellow", "REJECTED": "magenta"}


class RichProgress:
    """One progress bar per stage, labelled in Vietnamese and English."""

    def __init__(self, console: Console):
        self.console = console
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, transient=False,
                             disable=not console.is_terminal)
        self.task = None

    def __enter__(self) -> "RichProgress":
        self.bars.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.__exit__(*exc)

    def stage(self, key: str, label: str, total: int | None = None) -> "RichProgress":
        self.task = self.bars.add_task(label, total=total)
        return self

    def advance(self) -> None:
        if self.task is not None:
            self.bars.advance(self.task)

    def done(self) -> None:
        if self.task is not None:
            task = self.bars.tasks[self.task]
            self.bars.update(self.task, total=task.completed, completed=task.completed)


def _pending_reason(folder) -> str:
    """Why a package waits: the TSA error kept in its package.json."""
    from ..archive.records import PackageManifest, PackageUnreadable

    try:
        return str(PackageManifest.read_info(folder).timestamp.get("error", ""))
    except PackageUnreadable:
        return ""


def print_summary(console: Console, result) -> None:
    table = Table(title="Kết quả theo lớp / per class", header_style="bold")
    table.add_column("Gói / package", no_wrap=True)
    table.add_column("Cấp học / level")
    for v in VERDICTS:
        table.add_column(VERDICT_LABELS[v], justify="right", style=STYLE[v])
    table.add_column("Cảnh báo", justify="right")
    table.add_column("Ghi lần này", justify="center")
    for name in sorted(result.classes):
        s = result.classes[name]
        table.add_row(s.package, s.level, *[str(s.counts.get(v, "")) for v in VERDICTS], str(s.warnings or ""),
                      "✓" if s.written else "")
    console.print(table)
    console.print(
        f"Đầu vào / inputs: {result.inputs} (khác nhau / unique {result.unique}, trùng / duplicates "
        f"{result.duplicates}"
        + (f", không đọc được / unreadable {result.inputs - result.unique - result.duplicates}"
           if result.inputs > result.unique + result.duplicates else "")
        + f", đã lưu trước / already archived {result.already_archived}) · "
        f"gói ghi / packages written: {len(result.packages_written)} · "
        f"yêu cầu TSA / TSA requests: {result.tsa_requests}")
    for name in result.pending:
        why = _pending_reason(result.archive / ".pending" / name)
        console.print(f"[yellow]Chờ dấu thời gian / pending timestamp:[/] {escape(name)}"
                      + (f" — {escape(why)}" if why else ""))
    if result.pending:
        console.print("Gói đầy đủ, đang chờ trong .pending; chạy lại `archiver build` hoặc `archiver timestamp "
                      "--pending` khi TSA hoạt động / the packages are complete in .pending: rerun the build, or "
                      "`archiver timestamp --pending`, when the TSA answers", markup=False)
    for problem in result.problems:
        console.print(f"[red]Vấn đề / problem:[/] {problem}")
    site = result.archive / "site" / "index.html"
    console.print(f"Xem / see: {result.archive / 'report.html'}" + (f" · {site}" if site.is_file() else "")
                  + (" (trang tra cứu không đổi / site unchanged)" if result.site_unchanged else ""))
