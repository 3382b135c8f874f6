"""`archiver check`: every byte of an archive is what its packages say, and any damage is
named, whatever the bytes: never a traceback. (The faults that were reported are tested
through the command line in test_faults.py.)"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.archive.check import check_archive
from archiver.cli import main
from archiver.pipeline.build import BuildOptions, build

from .conftest import SAMPLE

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The sample school archived with its site (the site is checked too)."""
    out = tmp_path_factory.mktemp("checked") / "archive"
    result = build(BuildOptions(inputs=[SAMPLE / "input", SAMPLE / "defects"], out=out, trust_dir=SAMPLE / "trust",
                                jobs=2, now=NOW, site=True))
    assert result.complete, result.problems
    return out


def bags(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if (p / "bagit.txt").is_file())


def checked_files(archive: Path) -> list[Path]:
    """What check vouches for byte by byte: every file of every package, index.json, the site."""
    files = [p for bag in bags(archive) for p in sorted(bag.rglob("*")) if p.is_file()]
    return files + [archive / "index.json"] + sorted(p for p in (archive / "site").rglob("*") if p.is_file())


def named(path: Path, archive: Path) -> str:
    """How a problem names a file: its path inside its package, or inside the archive."""
    rel = path.relative_to(archive)
    return rel.relative_to(rel.parts[0]).as_posix() if rel.parts[0] not in ("site", "index.json") else rel.as_posix()


def test_a_fresh_archive_with_its_site_checks(archive: Path):
    result = check_archive(archive)
    assert result.ok, result.problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_anywhere_is_named(archive: Path, data):
    files = checked_files(archive)
    path = data.draw(st.sampled_from(files), label="file")
    original = path.read_bytes()
    if not original:
        return
    at = data.draw(st.integers(0, len(original) - 1), label="at")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[at]), label="byte")
    path.write_bytes(original[:at] + bytes([value]) + original[at + 1:])
    try:
        result = check_archive(archive)
    finally:
        path.write_bytes(original)
    assert not result.ok, (path, at, value)
    assert any(named(path, archive) in p for p in result.problems), (named(path, archive), result.problems[:5])


def test_a_record_that_differs_from_its_transcript_is_named(archive: Path, tmp_path: Path):
    """package.json is what the index is made from; its facts must be the XML's own."""
    import bagit

    copy = tmp_path / "copy"
    shutil.copytree(archive, copy)
    bag = bags(copy)[0]
    meta = json.loads((bag / "data" / "package.json").read_text(encoding="utf-8"))
    meta["members"][0]["name"] = "Người Khác"
    (bag / "data" / "package.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    bagit.Bag(str(bag)).save(manifests=True)  # as a forger would
    problems = check_archive(copy, evidence=False).problems
    assert any("package.json ghi họ tên 'Người Khác'" in p for p in problems), problems


def test_a_site_made_again_with_the_site_command_checks(archive: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(archive, copy)
    assert CliRunner().invoke(main, ["site", str(copy), "--jobs", "1"]).exit_code == 0
    assert check_archive(copy).ok, check_archive(copy).problems
