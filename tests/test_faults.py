"""Faults reported against `archiver`, each written as the behaviour it must have.

These tests talk to archiver only through its command line (a subprocess running
``python -m archiver``) and through the files it writes: the modules behind the commands
are being moved, the commands and the archive layout stay.

- a build killed at any moment (its main process alone, or its whole process group)
  leaves no process behind holding the archive's lock, and the next run completes;
- a `timestamp --pending` or `renew` killed at any moment is completed by the next run;
- `check` names a damaged or missing tag file instead of crashing or passing;
- `check` notices an `index.json` or a site page that no longer says what the packages say;
- a full disk is a clear message, not a traceback, and leaves no staging area behind;
- `render --at` gives the same bytes every time; the site writes marks as the PDF does.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tsa_server import TsaServer, tsa_pki, tsa_server  # noqa: F401  (fixtures)

from .conftest import SAMPLE

INPUTS = [SAMPLE / "input", SAMPLE / "defects"]
TAG_FILES = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt",
             "tagmanifest-sha256.txt", "tagmanifest-sha512.txt"]
ENV = {**os.environ, "COLUMNS": "200"}  # fewer folded lines in what the commands print
PACKAGE = "0109944_2025-2026_8A1"  # a class of the sample, every transcript VALID


# -- running archiver -------------------------------------------------------------------------
def archiver_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "archiver", *map(str, args)]


def build_cmd(out: Path, *extra) -> list[str]:
    return archiver_cmd("build", *INPUTS, "--out", out, "--trust", SAMPLE / "trust", "--jobs", "2", *extra)


def run(cmd: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run to the end in its own session; on a timeout the whole session is killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        pytest.fail(f"{shlex.join(cmd)} did not end within {timeout} s:\n{out}\n{err}")
    finally:
        kill_group(proc.pid)  # nothing it started outlives the test
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def said(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def check(archive: Path, *extra) -> subprocess.CompletedProcess:
    return run(archiver_cmd("check", *extra, archive))


# -- processes ---------------------------------------------------------------------------------
def group_members(pgid: int) -> list[tuple[int, str]]:
    """Living (not zombie) processes of process group ``pgid``, with their command lines."""
    proc_fs = Path("/proc")
    if not (proc_fs / "self" / "stat").exists():  # no /proc: ask the kernel about the group
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [(pgid, "?")]
    found = []
    for entry in proc_fs.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] in ("Z", "X"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(entry.name), cmdline))
    return found


def survivors_after(pgid: int, seconds: float) -> list[tuple[int, str]]:
    """The processes of the group still alive ``seconds`` after the kill (none, at best at once)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = group_members(pgid)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def kill_group(pgid: int) -> None:
    """Kill what is left of a process group this test started."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_main(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)


def kill_whole_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)


KILLS = {"main process alone": kill_main, "whole process group": kill_whole_group}


def start_and_kill(cmd: list[str], at: float, kill, *, once=None, before_cleanup=None):
    """Start ``cmd`` in a session of its own and kill it ``at`` seconds later (after the
    moment ``once()`` first holds, when given: something seen on disk), if it still runs.
    Returns (killed mid-work, its exit code, processes of its group alive 5 s after the
    kill, what ``before_cleanup(survivors)`` returned). Whatever is left of the group is
    killed before returning."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                            start_new_session=True)
    seen = None
    try:
        if once is not None:
            while proc.poll() is None and not once():
                time.sleep(0.002)
        time.sleep(at)
        mid_work = proc.poll() is None
        if mid_work:
            kill(proc)
        code = proc.wait(timeout=120)
        left = survivors_after(proc.pid, 5.0) if mid_work else []
        if left and before_cleanup is not None:
            seen = before_cleanup(left)
    finally:
        kill_group(proc.pid)
    return mid_work, code, left, seen


def holding_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (and so, for a lock file, holds its lock)."""
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


def gist(proc: subprocess.CompletedProcess, lines: int = 3) -> str:
    """The first lines of what a command said, on one line each, and how many more."""
    said_lines = [" ".join(line.split()) for line in said(proc).splitlines() if line.strip()]
    more = f" (+{len(said_lines) - lines} lines)" if len(said_lines) > lines else ""
    return " | ".join(said_lines[:lines]) + more


def timed(cmd: list[str]) -> float:
    started = time.monotonic()
    proc = run(cmd)
    seconds = time.monotonic() - started
    assert proc.returncode in (0, 1), said(proc)
    return seconds


# -- archives ----------------------------------------------------------------------------------
def bags(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if (p / "bagit.txt").is_file()) if archive.is_dir() else []


def members(bag: Path) -> list[dict]:
    return json.loads((bag / "data" / "package.json").read_text(encoding="utf-8"))["members"]


def all_input_files() -> set[str]:
    return {str(p) for folder in INPUTS for p in folder.rglob("*") if p.is_file()}


def stored_inputs(archive: Path) -> set[str]:
    return {p for bag in bags(archive) for m in members(bag) for p in m["input_paths"]}


def assert_published_bags_are_valid(archive: Path, when: str) -> None:
    import bagit

    for bag in bags(archive):
        assert bagit.Bag(str(bag)).is_valid(), f"{when}: published bag {bag.name} does not validate"


def assert_complete_and_checked(out: Path, when: str, *, evidence: bool = True) -> None:
    """A run without a kill completes the archive; check passes; every input is stored."""
    final = run(build_cmd(out, "--no-site"))
    assert final.returncode == 0, f"{when}: the next build exits {final.returncode}:\n{said(final)}"
    checked = check(out) if evidence else check(out, "--no-evidence")
    assert checked.returncode == 0, f"{when}: check after the next build:\n{said(checked)}"
    assert stored_inputs(out) == all_input_files(), when


def copy_of(archive: Path, tmp_path: Path, name: str = "copy") -> Path:
    copy = tmp_path / name
    shutil.copytree(archive, copy)
    return copy


def file_size_on_tmpfs(folder: Path) -> int:
    """What ``folder``'s files take on a tmpfs (whole 4 KiB pages)."""
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The sample school archived with its site (local TSA): to copy, then damage."""
    out = tmp_path_factory.mktemp("faults") / "archive"
    built = run(build_cmd(out))
    assert built.returncode == 0, said(built)
    return out


def assert_check_names(archive: Path, *names: str) -> str:
    result = check(archive)
    text = said(result)
    assert "Traceback" not in text, text
    assert result.returncode == 1, f"check exits {result.returncode}:\n{text}"
    for name in names:  # a word of its own: "manifest-sha256.txt" is not "tagmanifest-sha256.txt"
        assert re.search(rf"(?<![\w-]){re.escape(name)}", text), f"check does not name {name}:\n{text}"
    return text


# == 1. a killed build ===========================================================================
@pytest.fixture(scope="module")
def build_seconds(tmp_path_factory) -> float:
    """How long one build of the sample takes on this machine, not killed (the second one:
    the first also makes the local TSA's key)."""
    return min(timed(build_cmd(tmp_path_factory.mktemp("unkilled") / "out", "--no-site")) for _ in range(2))


def _kill_builds_at_random_moments(tmp_path: Path, build_seconds: float, kill, seed: int, trials: int) -> None:
    rng = random.Random(seed)
    landed = 0
    evidence_checked = False
    for trial in range(trials):
        out = tmp_path / f"trial-{trial}"  # a fresh archive: the kill lands in real work
        at = rng.uniform(0.3, max(build_seconds, 0.4))
        when = f"trial {trial}, killed at {at:.2f} s of {build_seconds:.2f} s"

        def while_they_live(left, out=out):  # what the next build meets while they still run
            holders = [pid for pid, _ in left if holding_open(pid, (out / ".lock").resolve())]
            return holders, gist(run(build_cmd(out, "--no-site")))

        mid_work, code, left, seen = start_and_kill(build_cmd(out, "--no-site"), at, kill,
                                                    before_cleanup=while_they_live)
        landed += mid_work
        assert not left, (f"{when}: processes of the killed build still run 5 s later: {left}; of them, "
                          f"{seen[0]} hold ARCHIVE/.lock open; the next build says: {seen[1]}")
        if not mid_work:
            assert code == 0, f"{when}: the build ended by itself with {code}"
            continue
        assert_published_bags_are_valid(out, when)
        # published packages are never rewritten and their bags validate: the evidence
        # records are checked in full once (the first time), to keep the test short
        assert_complete_and_checked(out, when, evidence=not evidence_checked)
        evidence_checked = True
        shutil.rmtree(out)
    print(f"\n{trials} builds killed at random moments, {landed} of them mid-work")


@pytest.mark.slow
def test_killing_the_main_process_alone_leaves_no_orphan_holding_the_lock(tmp_path: Path, build_seconds: float):
    """SIGKILL of the build's main process only (an OOM killer, `kill -9 PID`): its worker
    processes end with it within seconds, and the next build completes the archive."""
    _kill_builds_at_random_moments(tmp_path, build_seconds, kill_main, seed=11, trials=10)


@pytest.mark.slow
def test_a_build_whose_process_group_is_killed_at_random_moments_recovers(tmp_path: Path, build_seconds: float):
    _kill_builds_at_random_moments(tmp_path, build_seconds, kill_whole_group, seed=12, trials=10)


# == 2. a killed `timestamp --pending` or `renew` ===============================================
def tsa_args(tsa_server: TsaServer, mode: str = "tsa") -> list[str]:
    return ["--tsa-url", tsa_server.url(mode), "--tsa-cert", str(tsa_server.pki.ca_cert)]


@pytest.fixture(scope="module")
def pending_archive(tmp_path_factory, tsa_server: TsaServer) -> Path:
    """The sample built while its TSA fails: every package waits complete in .pending."""
    out = tmp_path_factory.mktemp("pending") / "archive"
    built = run(build_cmd(out, "--no-site", *tsa_args(tsa_server, "garbage")))
    assert built.returncode == 1, said(built)
    assert bags(out) == [] and len(list((out / ".pending").iterdir())) == 3
    return out


@pytest.fixture(scope="module")
def stamped_archive(tmp_path_factory, tsa_server: TsaServer) -> Path:
    """The sample built with a working TSA."""
    out = tmp_path_factory.mktemp("stamped") / "archive"
    built = run(build_cmd(out, "--no-site", *tsa_args(tsa_server)))
    assert built.returncode == 0, said(built)
    return out


def on(archive: Path, command: list[str]) -> list[str]:
    """``command`` with its ARCHIVE placeholder replaced by ``archive``."""
    return [str(archive) if a == "ARCHIVE" else a for a in command]


def _kill_at_random_moments(tmp_path: Path, pristine: Path, command: list[str], kill, seed: int,
                            moments: list[tuple[str, int]], events: dict, after) -> None:
    """Each trial: a fresh copy of ``pristine``, ``command`` run on it and killed, then
    ``after(copy, when)`` lists what is wrong. ``moments``: (kind, trials) where kind
    "anywhere" is a moment drawn uniformly over the length of one unkilled run, and any
    other kind names ``events[kind] = (predicate(copy), longest delay)``: the kill comes a
    random delay after the predicate first holds (a moment seen on disk), so that kills
    land in the short windows where finishing work is half done."""
    seconds = timed(on(copy_of(pristine, tmp_path, "timing"), command))
    rng = random.Random(seed)
    failures: list[str] = []
    summary = []
    trial = 0
    for kind, trials in moments:
        landed = failed = 0
        for _ in range(trials):
            copy = copy_of(pristine, tmp_path, f"trial-{trial}")
            if kind == "anywhere":
                once, at = None, rng.uniform(0.3, max(seconds, 0.4))
                when = f"trial {trial}: killed at {at:.2f} s of {seconds:.2f} s"
            else:
                event, longest = events[kind]
                once, at = (lambda c=copy, e=event: e(c)), rng.uniform(0, longest)
                when = f"trial {trial}: killed {at:.2f} s after {kind}"
            mid_work, code, left, _ = start_and_kill(on(copy, command), at, kill, once=once)
            landed += mid_work
            found: list[str] = []
            if not mid_work:
                if code != 0:
                    found.append(f"trial {trial}: not killed, ended by itself with {code}")
            elif left:
                found.append(f"{when}: processes still running 5 s later: {left}")
            else:
                found += after(copy, when)
            failed += bool(found)
            failures += found
            shutil.rmtree(copy)
            trial += 1
        summary.append(f"{kind}: {landed}/{trials} killed mid-work, {failed} not recovered")
    report = "; ".join(summary) + f" (an unkilled run takes {seconds:.2f} s)"
    print(f"\n{report}")
    assert not failures, f"{report}. After the kill:\n" + "\n".join(failures)


def _published(names: list[str]):
    return lambda copy: [name for name in names if (copy / name / "bagit.txt").is_file()]


@pytest.mark.slow
@pytest.mark.parametrize("kill", KILLS, ids=["main", "group"])
def test_a_killed_timestamp_pending_is_completed_by_the_next_run(tmp_path: Path, pending_archive: Path,
                                                                 tsa_server: TsaServer, kill: str):
    """Whatever moment `archiver timestamp --pending` dies at, running it again publishes
    every waiting package, leaves nothing waiting, and the archive checks."""
    waiting = sorted(p.name for p in (pending_archive / ".pending").iterdir())
    command = archiver_cmd("timestamp", "--pending", "ARCHIVE", *tsa_args(tsa_server))
    published = _published(waiting)
    events = {
        "a waiting package got its first evidence record": (
            lambda copy: any((copy / ".pending" / name / "data" / "evidence").is_dir() for name in waiting), 0.03),
        "the first waiting package was published": (lambda copy: published(copy), 0.3),
        "the last waiting package was published": (lambda copy: len(published(copy)) == len(waiting), 0.03),
    }

    def after(copy: Path, when: str) -> list[str]:
        again = run(on(copy, command))
        if again.returncode != 0:
            return [f"{when}: `timestamp --pending` again exits {again.returncode}: {gist(again)}"]
        pending = copy / ".pending"
        if pending.is_dir() and any(pending.iterdir()):
            return [f"{when}: still waiting after the second run: {sorted(p.name for p in pending.iterdir())}"]
        unpublished = [name for name in waiting if not (copy / name / "bagit.txt").is_file()]
        if unpublished:
            return [f"{when}: not published: {unpublished}"]
        checked = check(copy)
        if checked.returncode != 0:
            return [f"{when}: check exits {checked.returncode}: {gist(checked)}"]
        return []

    moments = [("anywhere", 4), *((kind, 2) for kind in events)]
    _kill_at_random_moments(tmp_path, pending_archive, command, KILLS[kill], seed=21 + len(kill),
                            moments=moments, events=events, after=after)


@pytest.mark.slow
@pytest.mark.parametrize("kill", KILLS, ids=["main", "group"])
def test_a_killed_renew_is_completed_by_the_next_run(tmp_path: Path, stamped_archive: Path, tsa_server: TsaServer,
                                                     kill: str):
    """Whatever moment `archiver renew` dies at, running it again succeeds and the archive checks."""
    command = archiver_cmd("renew", "ARCHIVE", *tsa_args(tsa_server))
    classes = sorted(b.name for b in bags(stamped_archive))
    renewed = _published([f"{name}_v2" for name in classes])
    events = {
        "a package was copied to be renewed": (lambda copy: (copy / ".staging").is_dir(), 0.05),
        "the first renewed version was published": (lambda copy: renewed(copy), 0.3),
        "the last renewed version was published": (lambda copy: len(renewed(copy)) == len(classes), 0.15),
    }

    def after(copy: Path, when: str) -> list[str]:
        again = run(on(copy, command))
        if again.returncode != 0:
            return [f"{when}: `renew` again exits {again.returncode}: {gist(again)}"]
        checked = check(copy)
        if checked.returncode != 0:
            return [f"{when}: check exits {checked.returncode}: {gist(checked)}"]
        names = {b.name for b in bags(copy)}
        lost = [c for c in classes if f"{c}_v2" not in names]
        return [f"{when}: no renewed version of {lost}"] if lost else []

    moments = [("anywhere", 4), *((kind, 2) for kind in events)]
    _kill_at_random_moments(tmp_path, stamped_archive, command, KILLS[kill], seed=31 + len(kill),
                            moments=moments, events=events, after=after)


# == 3. and 4. damaged or missing tag files =====================================================
@pytest.mark.parametrize("tag_file", TAG_FILES)
def test_check_names_a_tag_file_with_an_invalid_utf8_byte(archive: Path, tmp_path: Path, tag_file: str):
    copy = copy_of(archive, tmp_path)
    path = copy / PACKAGE / tag_file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] = 0xFF  # never valid in UTF-8
    path.write_bytes(bytes(data))
    assert_check_names(copy, tag_file, PACKAGE)


@pytest.mark.parametrize("tag_file", TAG_FILES)
def test_check_names_a_deleted_tag_file(archive: Path, tmp_path: Path, tag_file: str):
    copy = copy_of(archive, tmp_path)
    (copy / PACKAGE / tag_file).unlink()
    assert_check_names(copy, tag_file)


# == 5. an index or a site that lies =============================================================
def _first_transcript(index: dict) -> dict:
    return next(t for t in index["transcripts"] if t["package"] == PACKAGE)


LIES = {
    "name": lambda index: _first_transcript(index).__setitem__("name", "Nguyễn Văn Giả"),
    "citizen_id": lambda index: _first_transcript(index).__setitem__("citizen_id", "001299999999"),
    "birth_date": lambda index: _first_transcript(index).__setitem__("birth_date", "2010-01-01"),
    "lookup_code": lambda index: _first_transcript(index).__setitem__("lookup_code", "0" * 32),
    "school name": lambda index: index["schools"][0].__setitem__("name", "Trường THCS Giả Mạo"),
    "input_paths": lambda index: _first_transcript(index)["input_paths"].__setitem__(0, "/elsewhere/forged.xml"),
}


@pytest.mark.parametrize("lie", LIES)
def test_check_notices_an_index_entry_that_differs_from_its_package(archive: Path, tmp_path: Path, lie: str):
    """What the site shows comes from index.json: a name, an ID, a date, a lookup code, a
    school or an input path there that the packages do not say is a problem, named."""
    copy = copy_of(archive, tmp_path)
    index = json.loads((copy / "index.json").read_text(encoding="utf-8"))
    before = json.dumps(index, ensure_ascii=False, sort_keys=True)
    LIES[lie](index)
    assert json.dumps(index, ensure_ascii=False, sort_keys=True) != before
    with (copy / "index.json").open("w", encoding="utf-8") as fh:
        json.dump(index, fh, ensure_ascii=False)
    text = assert_check_names(copy, "index.json")
    field = lie.split()[-1]
    lines = [line for line in text.splitlines() if "index.json" in line]
    assert any(field in line or lie in line for line in lines), f"the {lie} is not named:\n{text}"


def test_check_notices_a_student_page_of_the_site_that_was_changed(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    index = json.loads((copy / "index.json").read_text(encoding="utf-8"))
    student = _first_transcript(index)
    page = copy / "site" / "hs" / PACKAGE / f"{student['stem']}.html"
    html = page.read_text(encoding="utf-8")
    assert student["name"] in html
    page.write_text(html.replace(student["name"], "Nguyễn Văn Giả"), encoding="utf-8")
    assert_check_names(copy, page.name)


# == 6. a full disk ===============================================================================
def with_small_disk(mount_point: Path, size_kib: int, steps: list[str]) -> subprocess.CompletedProcess:
    """Run the shell ``steps`` with a tmpfs of ``size_kib`` mounted at ``mount_point`` (a
    step may grow it: ``mount -o remount,size=64m``). The tmpfs lives in a private mount
    namespace (unshare), so it is gone whatever happens; it is also unmounted at the end.
    Exit 99 means it could not be mounted here; any other failure of the script fails."""
    q = shlex.quote
    script = "\n".join([f"mount -t tmpfs -o size={size_kib}k tmpfs {q(str(mount_point))} || exit 99",
                         f"trap 'umount {q(str(mount_point))}' EXIT", *steps])
    launchers = [["unshare", "-m"], []] if os.geteuid() == 0 else [["unshare", "-Urm"]]
    proc = None
    try:
        for launcher in launchers:
            if launcher and shutil.which(launcher[0]) is None:
                continue
            proc = run([*launcher, "sh", "-c", script], timeout=600)
            if proc.returncode != 99 and not proc.stderr.startswith("unshare:"):
                break
        else:
            pytest.fail("cannot mount a tmpfs here (root, or unshare with user namespaces, needed)"
                        + (f": {said(proc)}" if proc is not None else ""))
    finally:
        if os.path.ismount(mount_point):
            subprocess.run(["umount", str(mount_point)], check=False)
    assert proc.returncode == 0, said(proc)
    return proc


def _in_a_small_file_system(tmp_path: Path, size_kib: int) -> tuple[subprocess.CompletedProcess, str, Path]:
    """Build the sample into a tmpfs of ``size_kib``, then grow it to 64 MiB and build
    again. Returns (the first build, what it left in .staging, a copy of the archive after
    the second build)."""
    mount_point, results = tmp_path / "small", tmp_path / "results"
    mount_point.mkdir()
    results.mkdir()
    out = mount_point / "out"
    q = shlex.quote
    steps = [
        f"{shlex.join(build_cmd(out, '--no-site'))} > {q(str(results / 'first.txt'))} 2>&1",
        f"echo $? > {q(str(results / 'first.rc'))}",
        f"[ -d {q(str(out / '.staging'))} ] && find {q(str(out / '.staging'))} -mindepth 1 "
        f"> {q(str(results / 'staging.txt'))}",
        f"mount -o remount,size=64m {q(str(mount_point))} || exit 98",
        f"{shlex.join(build_cmd(out, '--no-site'))} > {q(str(results / 'second.txt'))} 2>&1",
        f"echo $? > {q(str(results / 'second.rc'))}",
        f"cp -a {q(str(out))} {q(str(results / 'archive'))}",
    ]
    with_small_disk(mount_point, size_kib, steps)
    first = subprocess.CompletedProcess([], int((results / "first.rc").read_text()),
                                        (results / "first.txt").read_text(encoding="utf-8", errors="replace"), "")
    staging = (results / "staging.txt").read_text() if (results / "staging.txt").exists() else ""
    second = (results / "second.txt").read_text(encoding="utf-8", errors="replace")
    assert (results / "second.rc").read_text().strip() == "0", f"the build with room again failed:\n{second}"
    return first, staging, results / "archive"


@pytest.mark.slow
@pytest.mark.parametrize("share", [0.12, 0.36], ids=["verify-stage", "package-stage"])
def test_a_full_disk_is_a_clear_message_and_the_next_build_completes(archive: Path, tmp_path: Path, share: float):
    """The disk fills up mid-build (a USB stick too small): exit 1 with a message that says
    the disk is full, where, and how much room the archive needs; no traceback; no staging
    area left taking the room; with room again, the next build completes."""
    needed = file_size_on_tmpfs(archive) - file_size_on_tmpfs(archive / "site")
    size_kib = int(needed * share) // 1024
    first, staging, final = _in_a_small_file_system(tmp_path, size_kib)
    text = first.stdout
    flat = " ".join(text.split())
    wrong = []
    if first.returncode != 1:
        wrong.append(f"exit code {first.returncode}")
    if "Traceback" in text:
        wrong.append("a traceback")
    if not re.search(r"disk (is )?full", flat, re.IGNORECASE):
        wrong.append("no 'disk full'")
    if str(tmp_path / "small") not in "".join(text.split()):
        wrong.append("the place is not named")
    if not re.search(r"\d+(?:[.,]\d+)?\s*(?:MB|MiB)\b", flat):
        wrong.append("no amount of room needed (MB)")
    if staging:
        wrong.append(f"{len(staging.splitlines())} files and folders left in ARCHIVE/.staging")
    assert not wrong, f"a build into {size_kib} KiB ({share:.0%} of the archive): {'; '.join(wrong)}:\n{tail(text)}"
    checked = check(final)
    assert checked.returncode == 0, said(checked)
    assert stored_inputs(final) == all_input_files()


# == 8. renderings and marks =====================================================================
@pytest.mark.slow
def test_render_at_a_given_time_gives_the_same_bytes_every_time(tmp_path: Path):
    source = sorted((SAMPLE / "input" / "8A1").glob("*.xml"))[0]
    pdfs = []
    for run_no in range(2):
        if run_no:
            time.sleep(2.1)  # PDF dates have whole seconds
        folder = tmp_path / f"run-{run_no}"
        rendered = run(archiver_cmd("render", source, "--out", folder, "--trust", SAMPLE / "trust",
                                    "--at", "2026-12-01T09:00:00+07:00"))
        assert rendered.returncode == 0, said(rendered)
        pdfs.append((folder / f"{source.stem}.pdf").read_bytes())
    assert pdfs[0] == pdfs[1]


def test_the_site_writes_marks_with_a_decimal_comma_as_the_pdf_does(archive: Path):
    pages = sorted((archive / "site" / "hs").rglob("*.html"))
    assert pages
    marks = []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        table = re.search(r'<table class="results-table">.*?</table>', html, re.S)
        if table:
            marks += re.findall(r'<td class="num[^"]*">([^<]*)</td>', table[0])
    assert marks
    with_point = sorted({m for m in marks if re.search(r"\b\d{1,2}\.\d\b", m)})
    assert not with_point, f"marks written with a decimal point: {with_point[:10]}"
    assert any(re.fullmatch(r"\d{1,2},\d", m.strip()) for m in marks)
