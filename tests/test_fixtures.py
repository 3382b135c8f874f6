"""The committed fixture is exactly what its documented command produces."""

from __future__ import annotations

import shutil
from pathlib import Path

from archiver.sample import SampleOptions, generate_sample

from .test_sample import tree_digest


def test_fixture_regenerates_byte_for_byte(tmp_path: Path, sample_dir: Path):
    shutil.copytree(sample_dir / "keys", tmp_path / "keys")
    generate_sample(SampleOptions(out=tmp_path, classes=2, students=5, seed="1", defects=True, scans=True))
    assert tree_digest(tmp_path) == tree_digest(sample_dir)


def test_fixture_readme_names_the_command():
    readme = (Path(__file__).parent.parent / "fixtures" / "README.md").read_text(encoding="utf-8")
    assert "archiver sample --out fixtures/sample --classes 2 --students 5 --defects --seed 1 --scans" in readme


def test_primary_fixture_regenerates_byte_for_byte(tmp_path: Path):
    primary = Path(__file__).parent.parent / "fixtures" / "primary"
    shutil.copytree(primary / "keys", tmp_path / "keys")
    generate_sample(SampleOptions(out=tmp_path, classes=5, students=2, seed="th", defects=True,
                                  profile_id="hocba-1-tieuhoc"))
    assert tree_digest(tmp_path) == tree_digest(primary)
    readme = (Path(__file__).parent.parent / "fixtures" / "README.md").read_text(encoding="utf-8")
    assert ("archiver sample --out fixtures/primary --profile hocba-1-tieuhoc --classes 5 --students 2 "
            "--defects --seed th") in readme
