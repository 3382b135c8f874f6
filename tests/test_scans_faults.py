"""`archiver scans import` killed at any moment, or out of room: only whole, signed PDFs are
ever left, and the next run completes the rest (the faults harness of test_faults.py)."""

from __future__ import annotations

import random
import shlex
import shutil
from pathlib import Path

import pytest

from . import test_faults as faults
from .scans_helpers import KEYS, PASSPHRASE, SCANS, TRUST, verify

faults.ENV["SCAN_PASS"] = PASSPHRASE


def import_cmd(out: Path) -> list[str]:
    return faults.archiver_cmd("scans", "import", SCANS / "roster.csv", "--images", SCANS / "images", "--out", out,
                               "--principal-key", KEYS / "principal.p12", "--school-key", KEYS / "school.p12",
                               "--passphrase-env", "SCAN_PASS", "--jobs", "2")


def _only_whole_signed_pdfs(out: Path, when: str) -> int:
    leftovers = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".pdf"
                 and ".archiver-scans-staging" not in p.parts]
    assert not leftovers, f"{when}: files that are not finished PDFs: {leftovers}"
    pdfs = [p for p in out.rglob("*.pdf") if ".archiver-scans-staging" not in p.parts]
    for pdf in pdfs:
        assert verify(pdf, TRUST)["verdict"] == "VALID", f"{when}: {pdf} is not a whole, signed PDF"
    return len(pdfs)


@pytest.mark.slow
@pytest.mark.parametrize("kill", sorted(faults.KILLS))
def test_an_import_killed_at_random_moments_leaves_whole_signed_pdfs_and_the_next_run_completes(
        tmp_path: Path, kill: str):
    rng = random.Random(f"scans/{kill}")
    seconds = faults.timed(import_cmd(tmp_path / "timed"))
    landed = 0
    for trial in range(10):
        out = tmp_path / f"trial-{trial}"
        at = rng.uniform(0.2, max(seconds, 0.3))
        when = f"{kill}, trial {trial}, killed at {at:.2f} s of {seconds:.2f} s"
        mid_work, code, left, _ = faults.start_and_kill(import_cmd(out), at, faults.KILLS[kill])
        landed += mid_work
        assert not left, f"{when}: processes of the killed import still run 5 s later: {left}"
        if out.exists():
            _only_whole_signed_pdfs(out, when)
        again = faults.run(import_cmd(out))
        assert again.returncode == 1, f"{when}: {faults.said(again)}"  # the 150-dpi row, named
        assert _only_whole_signed_pdfs(out, when) == 3
        assert not (out / ".archiver-scans-staging").exists()
        shutil.rmtree(out)
    print(f"\n10 imports killed at random moments ({kill}), {landed} of them mid-work")


@pytest.mark.slow
def test_an_import_out_of_room_says_so_and_leaves_nothing_half_written(tmp_path: Path):
    mount_point, results = tmp_path / "small", tmp_path / "results"
    mount_point.mkdir()
    results.mkdir()
    out = mount_point / "out"
    q = shlex.quote
    steps = [
        f"{shlex.join(import_cmd(out))} > {q(str(results / 'first.txt'))} 2>&1",
        f"echo $? > {q(str(results / 'first.rc'))}",
        f"find {q(str(out))} -type f > {q(str(results / 'files.txt'))}",
        f"mount -o remount,size=64m {q(str(mount_point))} || exit 98",
        f"{shlex.join(import_cmd(out))} > {q(str(results / 'second.txt'))} 2>&1",
        f"echo $? > {q(str(results / 'second.rc'))}",
        f"cp -a {q(str(out))} {q(str(results / 'out'))}",
    ]
    faults.with_small_disk(mount_point, 600, steps)
    first = (results / "first.txt").read_text(encoding="utf-8", errors="replace")
    assert (results / "first.rc").read_text().strip() == "1", first
    assert "disk full" in first or "đầy" in first, first
    files = [line for line in (results / "files.txt").read_text().splitlines() if line]
    assert all(line.endswith(".pdf") for line in files), files  # no temporary or half-written file
    assert (results / "second.rc").read_text().strip() == "1"  # the 150-dpi row
    assert _only_whole_signed_pdfs(results / "out", "after room was made") == 3
