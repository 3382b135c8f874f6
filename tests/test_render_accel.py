"""reportlab's C accelerator (rl_accel) speeds rendering up; it must not change a byte."""

from __future__ import annotations

import subprocess
import sys

from .conftest import SAMPLE

SCRIPT = """
import hashlib, sys
if sys.argv[1] == "pure":
    sys.modules["_rl_accel"] = None  # force reportlab's pure-Python fallbacks
from pathlib import Path
from archiver.render import render_transcript
for path in sys.argv[2:]:
    print(hashlib.sha256(render_transcript(Path(path).read_bytes())).hexdigest())
"""


def test_renderings_are_identical_with_and_without_the_accelerator():
    files = [str(p) for p in sorted((SAMPLE / "input").rglob("*.xml"))[:4]]
    fast, pure = (subprocess.run([sys.executable, "-c", SCRIPT, mode, *files], capture_output=True,
                                 text=True, check=True).stdout.split() for mode in ("fast", "pure"))
    assert fast == pure and len(fast) == 4
