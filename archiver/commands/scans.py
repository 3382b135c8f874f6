"""``archiver scans``: legacy paper transcripts, scanned, signed, ready to archive."""

from __future__ import annotations

from pathlib import Path

import click


@click.group(name="scans", short_help="Học bạ giấy: quét, ký số / scanned paper transcripts.")
def command() -> None:
    """Học bạ giấy số hóa: nhập bản quét, ký số / scanned paper transcripts, signed.

    \b
    archiver scans template --out danh-sach.xlsx
    archiver scans import danh-sach.xlsx --images anh/ --out ban-quet/ \\
        --principal-key ht.p12 --school-key 'pkcs11:token=Truong;object=ky-so' --pkcs11-lib LIB
    """


@command.command(name="template", short_help="Viết mẫu danh sách / write a roster template.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("danh-sach-quet.xlsx"),
              show_default=True, help="The template: .xlsx (a workbook with instructions) or .csv (UTF-8 with BOM).")
def template_cmd(out: Path) -> None:
    """Viết mẫu danh sách học bạ giấy / write a roster template with the expected columns."""
    from ..scans.roster import template_help, write_template

    if out.exists():
        raise click.UsageError(f"{out} đã có, không ghi đè / already exists, not overwritten")
    write_template(out)
    click.echo(f"Đã viết mẫu danh sách / roster template written: {out}")
    for line in template_help():
        click.echo(f"  {line}")


def _secret(prompt: str) -> str:
    return click.prompt(prompt, hide_input=True, default="", show_default=False, err=True)


@command.command(name="import", short_help="Nhập và ký bản quét / import and sign scans.")
@click.argument("roster", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--images", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the scans; the roster's scan column is relative to it.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the signed PDFs: OUT/<class>/<student code>.pdf (give it to archiver build).")
@click.option("--principal-key", required=True, metavar="KEY",
              help="The principal's key: a .p12/.pfx file or a pkcs11: URI (role HT).")
@click.option("--school-key", required=True, metavar="KEY",
              help="The school's organisation key: a .p12/.pfx file or a pkcs11: URI (role TC).")
@click.option("--passphrase-env", "passphrase_env", metavar="NAME",
              help="Environment variable holding the principal's PKCS#12 passphrase (default: asked).")
@click.option("--school-passphrase-env", metavar="NAME",
              help="Environment variable holding the school's PKCS#12 passphrase (default: --passphrase-env).")
@click.option("--pin-env", "pin_env", metavar="NAME",
              help="Environment variable holding the principal's token PIN (default: asked).")
@click.option("--school-pin-env", metavar="NAME",
              help="Environment variable holding the school's token PIN (default: --pin-env).")
@click.option("--pkcs11-lib", "pkcs11_lib", type=click.Path(dir_okay=False),
              help="The token vendor's PKCS#11 library (.dll/.so/.dylib) for pkcs11: keys.")
@click.option("--tsa-url", help="RFC 3161 TSA URL (default: ARCHIVER_TSA_URL, archiver.toml, else the local TSA).")
@click.option("--tsa-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The TSA's certificate or CA (with --tsa-url).")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Worker processes that read and assemble the scans (default: all cores).")
def import_cmd(roster: Path, images: Path, out: Path, principal_key: str, school_key: str,
               passphrase_env: str | None, school_passphrase_env: str | None, pin_env: str | None,
               school_pin_env: str | None, pkcs11_lib: str | None, tsa_url: str | None, tsa_cert: Path | None,
               jobs: int | None) -> None:
    """Nhập học bạ giấy đã quét, ký số, ghi PDF/A-2b / import scanned paper transcripts.

    One PDF/A-2b per roster row: an information page "Thông tin số hóa", then the pages
    at their native resolution, signed PAdES by the principal (HT) and the school (TC),
    each with a timestamp. A row that cannot be imported is named with its row number;
    the others go on. Exit 0 when every row was imported, 1 when one was not, 2 on a
    usage, roster or key problem (before anything is written).
    """
    import os

    from ..scans import ImportOptions, import_scans
    from ..scans.keys import KeySpec

    options = ImportOptions(
        roster=roster, images=images, out=out,
        principal=KeySpec(principal_key, passphrase_env, pin_env, pkcs11_lib),
        school=KeySpec(school_key, school_passphrase_env or passphrase_env, school_pin_env or pin_env, pkcs11_lib),
        tsa_url=tsa_url, tsa_cert=tsa_cert, jobs=jobs or os.cpu_count() or 1)
    result = import_scans(options, _secret)
    for item in result.imported:
        what = "thay / replaced" if item.replaced else "mới / new"
        click.echo(f"  dòng {item.row}: {item.path} ({item.pages} trang, {what})")
    for note in result.notes:
        click.echo(f"Lưu ý / note: {note}")
    for problem in result.problems:
        click.echo(click.style(f"Chưa nhập / not imported: {problem}", fg="red"), err=True)
    local = ("; dấu thời gian cục bộ, không phải của TSA tin cậy / local timestamps, not from a trusted TSA"
             if result.tsa_local else "")
    click.echo(f"{len(result.imported)} học bạ đã ký ({result.pages} trang), {len(result.unchanged)} đã có từ trước, "
               f"{len(result.problems)} vấn đề -> {out} ({result.seconds:.1f} s){local} / {len(result.imported)} signed, "
               f"{len(result.unchanged)} unchanged, {len(result.problems)} problems")
    click.get_current_context().exit(0 if result.complete else 1)
