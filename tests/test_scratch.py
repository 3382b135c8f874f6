"""Scratch folders in the system's temporary folder: what a killed run left is removed by
the next run of any kind, and no running process loses its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from archiver import fsutil
from archiver.fsutil import scratch_folder


def test_a_killed_runs_scratch_folder_is_removed_and_a_running_ones_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(fsutil, "_SWEPT", set())  # as in a fresh process
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)  # a process that has ended
    left = tmp_path / f"archiver-check-site-{dead_pid}-abc"
    (left / "site").mkdir(parents=True)
    (left / "site" / "index.html").write_text("x")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        busy = tmp_path / f"archiver-check-site-{alive.pid}-def"
        busy.mkdir()
        other = tmp_path / "archiver-check-site-notapid"
        other.mkdir()
        mine = scratch_folder("check-site")
        assert mine.is_dir() and mine.name.startswith(f"archiver-check-site-{os.getpid()}-")
        assert not left.exists()
        assert busy.is_dir() and other.is_dir()
        assert scratch_folder("repair").parent == Path(tmp_path)
    finally:
        alive.kill()
        alive.wait()
