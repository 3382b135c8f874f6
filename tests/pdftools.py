"""Run independent PDF checkers from Debian on a file; skip cleanly when one is absent.

The renderer is judged by tools that share no code with it: Apache PDFBox Preflight
(PDF/A), poppler (pdffonts, pdftotext, pdfdetach, pdftoppm), qpdf, and zbarimg for the
QR code. CI installs them (Debian: libpdfbox2-java libactivation-java libjaxb-api-java
default-jre-headless poppler-utils qpdf zbar-tools); a developer without one gets a
skip that names the package, never a false failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

JAVA_DIR = Path(os.environ.get("ARCHIVER_JAVA_DIR", "/usr/share/java"))
PREFLIGHT_JARS = ("preflight.jar", "pdfbox2.jar", "fontbox2.jar", "xmpbox.jar",
                  "commons-logging.jar", "javax.activation.jar", "jaxb-api.jar")
PACKAGES = {
    "pdffonts": "poppler-utils", "pdftotext": "poppler-utils", "pdfdetach": "poppler-utils",
    "pdfinfo": "poppler-utils", "pdftoppm": "poppler-utils", "qpdf": "qpdf",
    "java": "default-jre-headless", "zbarimg": "zbar-tools",
}


def require(tool: str) -> str:
    """The tool's path, or skip the test saying which Debian package provides it."""
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian package {PACKAGES.get(tool, tool)})")
    return path


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@dataclass(frozen=True)
class FontRow:
    name: str
    type: str
    embedded: bool
    subset: bool
    unicode: bool


def pdffonts(pdf: Path) -> list[FontRow]:
    require("pdffonts")
    proc = run("pdffonts", pdf)
    assert proc.returncode == 0, proc.stderr
    rows = []
    lines = proc.stdout.splitlines()
    for line in lines[2:]:  # a header line and a rule
        # name, type (may contain spaces), encoding, then emb sub uni "yes"/"no", object id
        m = re.match(r"^(\S+)\s+(.+?)\s{2,}(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$",
                     line)
        assert m, f"unexpected pdffonts line: {line!r}"
        rows.append(FontRow(m.group(1), m.group(2), m.group(4) == "yes",
                            m.group(5) == "yes", m.group(6) == "yes"))
    return rows


def pdftotext(pdf: Path, *extra: str) -> str:
    require("pdftotext")
    proc = run("pdftotext", "-enc", "UTF-8", *extra, pdf, "-")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def pdfinfo(pdf: Path) -> dict[str, str]:
    require("pdfinfo")
    proc = run("pdfinfo", "-enc", "UTF-8", pdf)
    assert proc.returncode == 0, proc.stderr
    info = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def pdfdetach_all(pdf: Path, out_dir: Path) -> dict[str, bytes]:
    """Every embedded file, by name, as poppler extracts it."""
    require("pdfdetach")
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = run("pdfdetach", "-saveall", "-o", out_dir, pdf)
    assert proc.returncode == 0, proc.stderr
    return {p.name: p.read_bytes() for p in out_dir.iterdir()}


def qpdf_check(pdf: Path) -> subprocess.CompletedProcess[str]:
    require("qpdf")
    return run("qpdf", "--check", pdf)


def preflight_classpath() -> str:
    require("java")
    missing = [j for j in PREFLIGHT_JARS if not (JAVA_DIR / j).is_file()]
    if missing:
        pytest.skip(f"PDFBox Preflight jars missing in {JAVA_DIR}: {', '.join(missing)} "
                    "(Debian: libpdfbox2-java libactivation-java libjaxb-api-java)")
    return os.pathsep.join(str(JAVA_DIR / j) for j in PREFLIGHT_JARS)


@dataclass(frozen=True)
class PreflightResult:
    valid: bool
    errors: list[tuple[str, str]]  # (code, message)
    output: str


def preflight(pdf: Path) -> PreflightResult:
    """Apache PDFBox 2 Preflight; it knows PDF/A-1b only."""
    classpath = preflight_classpath()
    proc = run("java", "-cp", classpath, "org.apache.pdfbox.preflight.Validator_A1b", pdf)
    output = proc.stdout + proc.stderr
    errors = [(m.group(1), m.group(2).strip())
              for m in re.finditer(r"^\s*([0-9][0-9.]*)\s*:\s*(.+)$", output, re.MULTILINE)]
    valid = proc.returncode == 0 and "is a valid PDF/A-1b file" in output
    return PreflightResult(valid, errors, output)


def render_png(pdf: Path, out_prefix: Path, *, dpi: int = 60,
               page: int | None = None) -> list[Path]:
    require("pdftoppm")
    args: list[str | Path] = ["pdftoppm", "-png", "-r", str(dpi)]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    proc = run(*args, pdf, out_prefix)
    assert proc.returncode == 0, proc.stderr
    return sorted(out_prefix.parent.glob(out_prefix.name + "*.png"))


def zbar_qr(png: Path) -> list[str]:
    """The QR codes zbarimg reads in a picture."""
    require("zbarimg")
    proc = run("zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", png)
    return [line for line in proc.stdout.splitlines() if line]
