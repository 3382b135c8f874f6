"""``archiver profiles``: list the installed transcript format profiles."""

from __future__ import annotations

import click

from ..profiles import ProfileError, available_profiles, search_path


@click.command("profiles", short_help="Liệt kê định dạng học bạ / list format profiles.")
@click.option("--profiles-dir", "profiles_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Extra folder of profiles (repeatable); also ARCHIVER_PROFILES.")
@click.option("-v", "--verbose", is_flag=True, help="Also show each profile's folder and subjects.")
def command(profiles_dirs: tuple[str, ...], verbose: bool) -> None:
    """Liệt kê các hồ sơ định dạng (profile) đã cài / list installed format profiles."""
    try:
        profiles = available_profiles(profiles_dirs)
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from None
    if not profiles:
        folders = ", ".join(str(p) for p in search_path(profiles_dirs))
        raise click.ClickException(f"Không tìm thấy profile nào / no profiles found in: {folders}")
    width = max(len(p) for p in profiles)
    for pid, profile in sorted(profiles.items()):
        click.echo(f"{pid:<{width}}  {profile.title}")
        click.echo(f"{'':<{width}}  {profile.description}")
        if verbose:
            click.echo(f"{'':<{width}}  folder: {profile.path}")
            grades = ", ".join(str(g) for g in profile.grades)
            click.echo(f"{'':<{width}}  level: {profile.level_name or profile.level} (grades {grades})")
            # a subject of some grades only says which
            subjects = ", ".join(f"{s.code}" + (f" [{', '.join(map(str, s.grades))}]"
                                                if s.grades and s.grades != profile.grades else "")
                                 for s in profile.subjects)
            click.echo(f"{'':<{width}}  subjects: {subjects}")
            required = ", ".join(r.role for r in profile.signing.ordered_roles() if r.required)
            click.echo(f"{'':<{width}}  required signers: {required}")
    _signed_pdf_profiles(profiles_dirs, verbose)


def _signed_pdf_profiles(profiles_dirs: tuple[str, ...], verbose: bool) -> None:
    """Signed-PDF profiles (scanned paper transcripts: archiver.scans.profile)."""
    from ..scans.profile import pdf_profiles

    try:
        found = pdf_profiles(profiles_dirs)
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from None
    for pid, profile in sorted(found.items()):
        click.echo(f"{pid}  {profile.title}")
        click.echo(f"{'':<{len(pid)}}  {profile.description}")
        if verbose:
            click.echo(f"{'':<{len(pid)}}  folder: {profile.path}")
            roles = ", ".join(f"{r.role} ({r.identity})" for r in profile.ordered_roles())
            click.echo(f"{'':<{len(pid)}}  signers: {roles}")
