"""`archiver replicate` and `archiver repair` killed at random moments (the main process
alone, and the whole process group), and `repair` into a full disk: the next run
completes, every copy checks, and nothing half-written is left at its final name.
(The harness is tests/test_faults.py's.)"""

from __future__ import annotations

import json
import random
import shlex
import shutil
from pathlib import Path

import pytest

from .test_faults import KILLS, archiver_cmd, build_cmd, gist, run, said, start_and_kill, timed, with_small_disk

PACKAGE = "0109944_2025-2026_8A1"
OTHER = "0109944_2025-2026_9A1"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("replication-faults") / "archive"
    built = run(build_cmd(out))
    assert built.returncode == 0, said(built)
    return out


@pytest.fixture(scope="module")
def damaged(archive: Path, tmp_path_factory) -> tuple[Path, Path]:
    """The archive with a third of its transcripts and renderings damaged, and a good replica."""
    base = tmp_path_factory.mktemp("damaged")
    replica = base / "replica"
    done = run(archiver_cmd("replicate", archive, replica))
    assert done.returncode == 0, said(done)
    copy = base / "archive"
    shutil.copytree(archive, copy)
    for package in (PACKAGE, OTHER):
        for folder in ("transcripts", "renderings"):
            for path in sorted((copy / package / "data" / folder).iterdir())[::3]:
                data = bytearray(path.read_bytes())
                data[len(data) // 2] ^= 1
                path.write_bytes(bytes(data))
    return copy, replica


def problems_after(archive: Path, replica: Path, when: str, command: list[str]) -> list[str]:
    again = run(command)
    if again.returncode != 0:
        return [f"{when}: run again exits {again.returncode}: {gist(again)}"]
    wrong = []
    for root in (archive, replica):
        checked = run(archiver_cmd("check", "--no-evidence", root))
        if checked.returncode != 0:
            wrong.append(f"{when}: check {root.name} exits {checked.returncode}: {gist(checked)}")
    audited = run(archiver_cmd("audit", archive, "--replica", replica, "--json"))
    if audited.returncode != 0:
        findings = json.loads(audited.stdout).get("findings", []) if audited.stdout.startswith("{") else said(audited)
        wrong.append(f"{when}: audit after the second run: {str(findings)[:500]}")
    return wrong


def _trials(tmp_path: Path, kill, seed: int, make, command_of, trials: int = 10) -> None:
    rng = random.Random(seed)
    pristine_archive, pristine_replica = make(tmp_path / "timing")
    seconds = timed(command_of(pristine_archive, pristine_replica))
    failures, landed = [], 0
    for trial in range(trials):
        folder = tmp_path / f"trial-{trial}"
        copy, replica = make(folder)
        at = rng.uniform(0.25, max(seconds, 0.3))
        when = f"trial {trial}: killed at {at:.2f} s of {seconds:.2f} s"
        mid_work, code, left, _ = start_and_kill(command_of(copy, replica), at, KILLS[kill])
        landed += mid_work
        if left:
            failures.append(f"{when}: processes still running 5 s later: {left}")
        elif not mid_work and code != 0:
            failures.append(f"{when}: not killed, ended with {code}")
        else:
            failures += problems_after(copy, replica, when, command_of(copy, replica))
        shutil.rmtree(folder)
    print(f"\n{trials} runs killed ({kill}), {landed} mid-work; an unkilled run takes {seconds:.2f} s")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("kill", KILLS, ids=["main", "group"])
def test_a_killed_replicate_is_completed_by_the_next_run(tmp_path: Path, archive: Path, kill: str):
    def make(folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True)
        copy = folder / "archive"
        shutil.copytree(archive, copy)
        return copy, folder / "replica"

    _trials(tmp_path, kill, 41 + len(kill), make, lambda a, r: archiver_cmd("replicate", a, r))


@pytest.mark.slow
@pytest.mark.parametrize("kill", KILLS, ids=["main", "group"])
def test_a_killed_repair_is_completed_by_the_next_run(tmp_path: Path, damaged: tuple[Path, Path], kill: str):
    def make(folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True)
        shutil.copytree(damaged[0], folder / "archive")
        shutil.copytree(damaged[1], folder / "replica")
        return folder / "archive", folder / "replica"

    _trials(tmp_path, kill, 51 + len(kill), make, lambda a, r: archiver_cmd("repair", a, "--from", r))


@pytest.mark.slow
def test_a_repair_into_a_full_disk_is_a_clear_message_and_completes_with_room(tmp_path: Path,
                                                                             damaged: tuple[Path, Path]):
    """The replica being repaired lives on a small tmpfs that its missing package does not
    fit in: exit 1, 'disk full' and the place named, no traceback, no staging left; with
    room again the repair completes and the replica checks."""
    source, good = damaged
    archive = tmp_path / "archive"
    shutil.copytree(good, archive)  # a good archive (built from the good replica's files)
    shutil.rmtree(archive / ".archiver-staging", ignore_errors=True)
    mount_point, results = tmp_path / "small", tmp_path / "results"
    mount_point.mkdir()
    results.mkdir()
    replica = mount_point / "replica"
    q = shlex.quote
    steps = [
        f"cp -a {q(str(good))} {q(str(replica))} || exit 97",
        f"rm -rf {q(str(replica / OTHER))}",
        # fill what is left, so the package cannot come back
        f"head -c $(( $(df --output=avail -k {q(str(mount_point))} | tail -1) * 1024 - 200000 )) /dev/zero "
        f"> {q(str(mount_point / 'filler'))} 2>/dev/null",
        f"{shlex.join(archiver_cmd('repair', archive, '--to', replica))} > {q(str(results / 'first.txt'))} 2>&1",
        f"echo $? > {q(str(results / 'first.rc'))}",
        f"find {q(str(replica / '.archiver-staging'))} -type f > {q(str(results / 'staging.txt'))} 2>/dev/null",
        f"rm -f {q(str(mount_point / 'filler'))}",
        f"mount -o remount,size=96m {q(str(mount_point))} || exit 98",
        f"{shlex.join(archiver_cmd('repair', archive, '--to', replica))} > {q(str(results / 'second.txt'))} 2>&1",
        f"echo $? > {q(str(results / 'second.rc'))}",
        f"{shlex.join(archiver_cmd('check', '--no-evidence', replica))} > {q(str(results / 'check.txt'))} 2>&1",
        f"echo $? > {q(str(results / 'check.rc'))}",
    ]
    with_small_disk(mount_point, 64 * 1024, steps)
    first = (results / "first.txt").read_text(errors="replace")
    flat = " ".join(first.split())
    assert (results / "first.rc").read_text().strip() == "1", first
    assert "Traceback" not in first, first
    assert "disk full" in flat.lower() and str(mount_point) in "".join(first.split()), first
    assert not (results / "staging.txt").read_text().strip(), "files left in the staging folder"
    assert (results / "second.rc").read_text().strip() == "0", (results / "second.txt").read_text()
    assert (results / "check.rc").read_text().strip() == "0", (results / "check.txt").read_text()
