"""Shared fixtures: the committed sample school and a freshly generated one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLE = FIXTURES / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The committed sample: 2 classes x 5 students + defects (read-only: never write here)."""
    return SAMPLE


@pytest.fixture(scope="session")
def defects_manifest(sample_dir: Path) -> dict:
    return json.loads((sample_dir / "defects.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def generated_school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A school generated during the test run, reusing the fixture's keys for speed."""
    from archiver.sample import SampleOptions, generate_sample

    out = tmp_path_factory.mktemp("school")
    shutil.copytree(SAMPLE / "keys", out / "keys")
    generate_sample(SampleOptions(out=out, classes=3, students=4, seed="generated", defects=True))
    return out


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; run scripts/install.sh --test (CI installs it)")
    return path


def pytest_configure(config):
    # The embedded local TSA keeps its key in the user's data folder: never the real one in tests.
    import os
    import tempfile

    if "ARCHIVER_DATA_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="archiver-test-data-")
        os.environ["ARCHIVER_DATA_DIR"] = folder  # xdist workers inherit it from here
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def flip_a_byte(path: Path) -> None:
    """Damage a file the way a failing disc or stick does: one bit, in its middle."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
