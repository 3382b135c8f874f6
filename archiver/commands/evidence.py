"""`archiver evidence`: check and renew RFC 4998 evidence records (.ers files)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import click

from ..archive.records import PackageManifest, PackageUnreadable, TranscriptRecord
from ..archive.store import data_objects
from ..timestamps.config import make_timestamper, read_config_file, resolve_tsa_config
from ..timestamps.evidence import EvidenceCheck, EvidenceError, renew, verify_evidence
from ..timestamps.tsa import LOCAL_TSA_LABEL, TimestampError, local_tsa_fingerprint
from ..vn import VN


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    vn = moment.astimezone(VN).strftime("%d/%m/%Y %H:%M:%S")
    return f"{vn} (giờ Việt Nam) = {utc}"


def _yes(flag: bool, good: str, bad: str) -> str:
    return good if flag else click.style(bad, fg="red", bold=True)


@click.group(name="evidence", short_help="Hồ sơ bằng chứng RFC 4998 / evidence records.")
def command() -> None:
    """Kiểm tra và gia hạn hồ sơ bằng chứng (.ers) / check and renew evidence records."""


@command.command(name="verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--ers",
    "ers_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evidence record (.ers) of these files (default: the .ers among FILES).",
)
@click.option(
    "--trust",
    "trust_path",
    type=click.Path(exists=True, path_type=Path),
    help="Folder (or file) of trusted TSA/CA certificates, PEM or DER. Every timestamp must "
    "chain to them, a local one too (to accept a package's local TSA, give its "
    "data/timestamp/tsa-chain.pem).",
)
@click.option(
    "--require-trusted",
    is_flag=True,
    help="Fail unless every timestamp comes from a trusted TSA (local ones fail).",
)
def verify_cmd(
    paths: tuple[Path, ...], ers_path: Path | None, trust_path: Path | None, require_trusted: bool
) -> None:
    """Kiểm tra hồ sơ bằng chứng / verify evidence records.

    \b
    archiver evidence verify FILE.xml FILE.ers     one transcript
    archiver evidence verify FILE... --ers X.ers   the data objects of one item
    archiver evidence verify PACKAGE               every record of an archive package

    For a transcript inside a package, its report and validation data (the other
    data objects of its item) are found beside it. Exit status 0 = verified,
    1 = not verified.
    """
    if len(paths) == 1 and paths[0].is_dir() and ers_path is None:
        good = _verify_package(paths[0], trust_path, require_trusted)
        click.get_current_context().exit(0 if good else 1)
    if any(p.is_dir() for p in paths):
        raise click.UsageError("a folder must be a package, given alone")
    files = list(paths)
    if ers_path is None:
        records = [p for p in files if p.suffix.lower() == ".ers"]
        if len(records) != 1:
            raise click.UsageError("name one evidence record: FILE... X.ers, or --ers X.ers")
        ers_path = records[0]
        files.remove(ers_path)
    if not files:
        raise click.UsageError("name the file(s) the evidence record is for")
    files += _item_companions(files, ers_path)
    try:
        result = verify_evidence([p.read_bytes() for p in files], ers_path.read_bytes(), trust_path)
    except (EvidenceError, TimestampError) as exc:
        raise click.ClickException(f"{ers_path}: {exc}") from exc
    _print_check(ers_path, result)
    good = _good(result, trust_path, require_trusted)
    if trust_path is None and good and not result.trusted and not result.local:
        click.echo("Lưu ý / note: TSA chưa được đối chiếu với danh sách tin cậy; thêm --trust <chứng thư CA của TSA> "
                   "/ the TSA was not checked against a trust list: add --trust")
    if result.ok and not good:
        click.echo("Dấu thời gian không thuộc danh sách tin cậy đã cho (--trust/--require-trusted) / a "
                   "timestamp does not come from the trusted TSAs: KHÔNG ĐẠT")
    click.echo(
        "KẾT QUẢ / RESULT: "
        + (
            click.style("HỢP LỆ / VERIFIED", fg="green", bold=True)
            if good
            else click.style("KHÔNG HỢP LỆ / NOT VERIFIED", fg="red", bold=True)
        )
    )
    click.get_current_context().exit(0 if good else 1)


def _good(result: EvidenceCheck, trust_path: Path | None, require_trusted: bool) -> bool:
    """Verified: the data, the hash tree and every token are sound. Whether the TSA is
    trusted is decided only when a trust list is given (--trust), or demanded; a trust
    list says whom to trust, so then a local timestamp must chain to it too (anyone can
    make a "local" TSA: a record remade on another machine would otherwise pass)."""
    if require_trusted or trust_path is not None:
        return result.ok and result.trusted
    return (bool(result.timestamps) and not result.problems and result.hash_chain_intact
            and result.signatures_valid and result.eku_ok)


def _package_member(ers_path: Path) -> tuple[Path, TranscriptRecord] | None:
    """The package folder and member record an ``data/evidence/<stem>.ers`` belongs to."""
    folder = ers_path.resolve().parent.parent.parent
    try:
        manifest = PackageManifest.read(folder)
    except PackageUnreadable:
        return None
    rel = ers_path.resolve().relative_to(folder).as_posix()
    return next(((folder, m) for m in manifest.members if m.files.get("evidence") == rel), None)


def _item_companions(files: list[Path], ers_path: Path) -> list[Path]:
    """An item is three data objects (original, report JSON, validation data): when the
    record lies in a package and only some were named, add the others from the package."""
    found = _package_member(ers_path)
    if found is None:
        click.echo("Lưu ý / note: hồ sơ không nằm trong một gói lưu trữ; chỉ các tệp đã cho được đối chiếu, tệp "
                   "khác cùng mục (báo cáo, dữ liệu kiểm tra) nếu có thì chưa được kiểm tra / the record is not "
                   "inside a package: only the files given were checked")
        return []
    folder, member = found
    given = {p.resolve() for p in files}
    extra = []
    for kind in member.evidence_kinds:
        rel = member.files[kind]
        if (folder / rel).resolve() not in given:
            extra.append(folder / rel)
    if extra:
        click.echo("Lấy thêm từ gói các tệp cùng mục / the item's other data objects, from the package: "
                   + ", ".join(str(p) for p in extra))
    return extra


def _verify_package(folder: Path, trust_path: Path | None, require_trusted: bool) -> bool:
    folder = folder.resolve()  # "." names the package folder too
    try:
        manifest = PackageManifest.read(folder)
    except PackageUnreadable as exc:
        raise click.ClickException(f"{folder}: không phải gói lưu trữ / not an archive package ({exc})") from exc
    checked = failed = 0
    first: EvidenceCheck | None = None
    for member in manifest.members:
        if "evidence" not in member.files:
            continue
        label = f"{folder.name}/{member.stem}"
        try:
            result = verify_evidence(data_objects(folder, member), (folder / member.files["evidence"]).read_bytes(),
                                     trust_path)
        except (OSError, EvidenceError, TimestampError) as exc:
            click.echo(click.style(f"  {label}: {exc}", fg="red"))
            checked += 1
            failed += 1
            continue
        checked += 1
        first = first or result
        if not _good(result, trust_path, require_trusted):
            failed += 1
            click.echo(click.style(f"  {label}: KHÔNG HỢP LỆ / NOT VERIFIED — {'; '.join(result.reasons)}", fg="red"))
    if checked == 0:
        raise click.ClickException(f"{folder}: gói không có hồ sơ bằng chứng / the package has no evidence records "
                                   "(pending timestamp or quarantine?)")
    if first is not None:
        click.echo(f"Thời điểm được chứng minh / time proven: {_when(first.time)}")
        click.echo(f"TSA: {first.tsa_name}")
        if first.local_label:
            click.echo(click.style(f"Lưu ý / note: {first.local_label}", fg="yellow"))
    click.echo(f"Gói / package {folder.name}: {checked - failed}/{checked} hồ sơ bằng chứng hợp lệ / "
               "evidence records verified")
    good = failed == 0
    click.echo("KẾT QUẢ / RESULT: " + (click.style("HỢP LỆ / VERIFIED", fg="green", bold=True) if good
                                      else click.style("KHÔNG HỢP LỆ / NOT VERIFIED", fg="red", bold=True)))
    return good


def _print_check(ers_path: Path, result: EvidenceCheck) -> None:
    click.echo(f"Hồ sơ bằng chứng / evidence record: {ers_path}")
    click.echo(f"Thời điểm được chứng minh / time proven: {_when(result.time)}")
    click.echo(f"TSA: {result.tsa_name}")
    click.echo(
        "Chuỗi băm / hash chain: "
        + _yes(result.hash_chain_intact, "nguyên vẹn / intact", "BỊ HỎNG / BROKEN")
    )
    click.echo(
        "Chữ ký dấu thời gian / timestamp signatures: "
        + _yes(
            result.signatures_valid and result.eku_ok, "hợp lệ / valid", "KHÔNG hợp lệ / INVALID"
        )
    )
    click.echo("TSA tin cậy / trusted TSA: " + ("có / yes" if result.trusted else "không / no"))
    if result.local_label:
        mine = local_tsa_fingerprint()
        own = (
            any(t.local and t.tsa_fingerprint == mine for t in result.timestamps) if mine else False
        )
        suffix = " — của máy tính này / from this computer" if own else ""
        click.echo(click.style(f"Lưu ý / note: {result.local_label}{suffix}", fg="yellow"))
    renewals = len(result.timestamps) - 1
    if renewals:
        click.echo(f"Số lần gia hạn / renewals: {renewals}")
    seen: set[str] = {LOCAL_TSA_LABEL}  # already said in the note above
    for check in result.timestamps:
        for problem in check.problems:
            label = f"timestamp {check.chain + 1}.{check.position + 1}: {problem}"
            if problem not in seen:
                seen.add(problem)
                click.echo(f"  - {label}")
    for problem in result.problems:
        click.echo(f"  - {problem}")
    for note in result.notes:
        click.echo(f"  · {note}")


_RENEWED = re.compile(r"^(?P<stem>.*?)(?:\.r(?P<n>\d+))?$")


def renewed_path(path: Path) -> Path:
    """``x.ers`` → ``x.r1.ers``, ``x.r1.ers`` → ``x.r2.ers``; skips names already taken,
    so renewal never overwrites a record (the old one stays valid evidence too)."""
    match = _RENEWED.match(path.stem)
    assert match is not None  # the pattern matches every string
    stem, n = match["stem"], int(match["n"] or 0)
    suffix = path.suffix or ".ers"
    for candidate in range(n + 1, n + 10_000):
        target = path.with_name(f"{stem}.r{candidate}{suffix}")
        if not target.exists():
            return target
    raise click.ClickException(f"too many renewed copies of {path} already exist")


@command.command(name="renew")
@click.argument(
    "ers_files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--tsa-url", help="RFC 3161 TSA URL (default: ARCHIVER_TSA_URL, archiver.toml, local TSA)."
)
@click.option(
    "--tsa-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The TSA's certificate or its CA (PEM/DER).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("archiver.toml"),
    show_default=True,
    help="Settings file with a [tsa] table.",
)
def renew_cmd(
    ers_files: tuple[Path, ...], tsa_url: str | None, tsa_cert: Path | None, config_path: Path
) -> None:
    """Gia hạn dấu thời gian cho các tệp .ers / renew the timestamps of .ers files.

    One TSA request for all files. Each renewed record is written beside its
    original as NAME.rN.ers; originals are never changed or overwritten.
    """
    try:
        config = resolve_tsa_config(
            tsa_url,
            tsa_cert,
            env=os.environ,
            file_config=read_config_file(config_path),
            file_dir=config_path.parent,
        )
        timestamper = make_timestamper(config)
        renewed = renew([p.read_bytes() for p in ers_files], timestamper)
    except (EvidenceError, TimestampError) as exc:
        raise click.ClickException(f"{exc}\nChưa gia hạn tệp nào / nothing was renewed.") from exc
    for source, der in zip(ers_files, renewed, strict=True):
        target = renewed_path(source)
        with target.open("xb") as fh:  # "x": never overwrite, even in a race
            fh.write(der)
        click.echo(f"{source} → {target}")
    if config.is_local:
        click.echo(
            click.style(
                "Lưu ý / note: dùng TSA cục bộ / renewed with the local TSA "
                "(dấu thời gian cục bộ, không phải của TSA tin cậy)",
                fg="yellow",
            )
        )
    else:
        click.echo(f"TSA: {config.url} ({config.source})")
