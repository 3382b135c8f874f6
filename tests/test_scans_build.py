"""Signed scans in `archiver build`: archived bit-exact with their report and evidence
record, checked by `archiver check`, shown and found on the site (issue 17)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLE, flip_a_byte
from .scans_helpers import TRUST, run_archiver, signed_scans  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def scan_archive(signed_scans: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("scan-archive")
    inputs = base / "input"
    shutil.copytree(signed_scans, inputs / "quet")
    damaged = inputs / "quet" / "hong.pdf"
    shutil.copy(sorted(signed_scans.rglob("*.pdf"))[0], damaged)
    flip_a_byte(damaged)
    (inputs / "quet" / "ban-ket-xuat.pdf").write_bytes(b"%PDF-1.7\n%%EOF\n")  # an unsigned PDF
    archive = base / "archive"
    proc = run_archiver("build", SAMPLE / "input", inputs, "--trust", TRUST, "--out", archive, "--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"archive": archive, "inputs": inputs, "signed": signed_scans, "damaged": damaged}


def _package(archive: Path) -> Path:
    return archive / "0109944_2024-2025_9A1"


def _members(archive: Path) -> list[dict]:
    return json.loads((_package(archive) / "data" / "package.json").read_text(encoding="utf-8"))["members"]


def test_scans_go_bit_exact_into_the_package_of_their_class_and_last_school_year(scan_archive: dict):
    members = _members(scan_archive["archive"])
    inputs = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in scan_archive["inputs"].rglob("*.pdf")}
    assert len(members) == 4  # three scans and the damaged copy
    for member in members:
        assert set(member["files"]) == {"pdf_signed", "report_json", "report_html", "validation", "evidence"}
        stored = _package(scan_archive["archive"]) / member["files"]["pdf_signed"]
        assert stored.suffix == ".pdf" and hashlib.sha256(stored.read_bytes()).hexdigest() == member["sha256"]
        assert stored.read_bytes() == inputs[member["sha256"]].read_bytes()
        assert member["school_year"] == "2024-2025" and member["class_name"] == "9A1"
    verdicts = sorted(m["verdict"] for m in members)
    assert verdicts == ["INVALID", "VALID", "VALID", "VALID"]
    damaged = next(m for m in members if m["verdict"] == "INVALID")
    assert any(p.endswith("hong.pdf") for p in damaged["input_paths"])


def test_a_pdf_that_is_no_signed_transcript_goes_to_quarantine_as_before(scan_archive: dict):
    index = json.loads((scan_archive["archive"] / "index.json").read_text(encoding="utf-8"))
    rejected = [q for q in index["quarantine"] if any(p.endswith("ban-ket-xuat.pdf") for p in q["input_paths"])]
    assert len(rejected) == 1 and rejected[0]["reason"].startswith("Tệp PDF, không phải học bạ XML")


def test_check_evidence_and_the_tree_root_script_accept_the_package(scan_archive: dict):
    archive = scan_archive["archive"]
    proc = run_archiver("check", archive)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    package = _package(archive)
    proc = run_archiver("evidence", "verify", package)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = subprocess.run([sys.executable, "data/timestamp/tree_root.py"], cwd=package, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert root == (package / "data" / "timestamp" / "root.sha256.txt").read_text().strip()
    import bagit

    bagit.Bag(str(package)).validate()


def test_check_names_a_record_that_lies_about_the_scan(scan_archive: dict, tmp_path: Path):
    copy = tmp_path / "archive"
    shutil.copytree(scan_archive["archive"], copy)
    manifest = copy / _package(copy).name / "data" / "package.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"gender": "Nữ"', '"gender": "Nam"', 1),
                        encoding="utf-8")
    proc = run_archiver("check", copy)
    assert proc.returncode == 1
    assert "tệp PDF ghi 'Nữ'" in proc.stdout and "differs from the signed PDF" in proc.stdout


def test_the_index_lists_the_scan_as_its_own_rendering(scan_archive: dict):
    index = json.loads((scan_archive["archive"] / "index.json").read_text(encoding="utf-8"))
    scans = [t for t in index["transcripts"] if "pdf_signed" in t["files"]]
    assert len(scans) == 4
    for entry in scans:
        assert "xml" not in entry["files"] and "pdf" not in entry["files"]
        assert entry["sha256"] == {"pdf_signed": next(m["sha256"] for m in _members(scan_archive["archive"])
                                                      if m["stem"] == entry["stem"])}
        assert len(entry["lookup_code"]) == 32 and entry["student_code"]


def test_the_site_shows_each_scan_with_its_badge_pages_and_signatures(scan_archive: dict):
    archive = scan_archive["archive"]
    site = archive / "site"
    index = json.loads((archive / "index.json").read_text(encoding="utf-8"))
    entry = next(t for t in index["transcripts"] if "pdf_signed" in t["files"] and t["verdict"] == "VALID")
    page = next(site.glob(f"hs/*/{entry['stem']}.html"))
    html = page.read_text(encoding="utf-8")
    assert "bản quét" in html and "Các trang quét" in html and "CKS-HT" in html and "CKS-TC" in html
    previews = re.findall(r'<img src="([^"]+)"', html)
    assert previews and all((page.parent / p).read_bytes()[:3] == b"\xff\xd8\xff" for p in previews)
    assert entry["files"]["pdf_signed"] in html  # the signed PDF, linked
    klass = (site / "lop" / "0109944_2024-2025_9A1.html").read_text(encoding="utf-8")
    assert klass.count("tag-scan") == 4
    # found by search (flag q) and by "Kiểm tra tệp" (kind pdf_signed)
    shards = "".join(p.read_text(encoding="utf-8") for p in (site / "search").glob("c-*.js"))
    records = [r for r in re.findall(r"\[\[(.*?)\]\]", shards) if entry["student_code"] in r]
    assert records and all(r.endswith('"q"') for r in records)
    digest = entry["sha256"]["pdf_signed"]
    hashes = "".join(p.read_text(encoding="utf-8") for p in (site / "hash").glob("h-*.js"))
    assert f'"{digest}":[["pdf_signed"' in hashes


def test_a_build_run_again_on_the_same_scans_does_nothing(scan_archive: dict):
    archive = scan_archive["archive"]
    before = sorted(p.name for p in archive.iterdir())
    proc = run_archiver("build", SAMPLE / "input", scan_archive["inputs"], "--trust", TRUST, "--out", archive)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in archive.iterdir()) == before
    assert run_archiver("check", archive).returncode == 0


# -- in the browser (Chromium from file://, as test_site.py) --------------------------------------
from .test_site import browser, check_file, search, shot, tab  # noqa: E402,F401 - fixtures and helpers


def test_in_a_browser_the_scan_shows_its_pages_and_is_found_by_search_and_by_its_file(scan_archive: dict, tab):
    archive = scan_archive["archive"]
    index = json.loads((archive / "index.json").read_text(encoding="utf-8"))
    entry = next(t for t in index["transcripts"] if "pdf_signed" in t["files"] and t["verdict"] == "VALID")
    page = tab.page
    page.goto((archive / "site" / "index.html").as_uri())
    assert search(page, entry["student_code"]) == [entry["name"]]
    assert "bản quét" in page.locator("#results .tag").all_inner_texts()
    page.click("#results .hit-name")
    page.wait_for_load_state()
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    widths = page.evaluate("Array.from(document.querySelectorAll('.scan-pages img')).map(i => i.naturalWidth)")
    assert widths and all(w > 0 for w in widths)
    shot(page, "scan")
    page.goto((archive / "site" / "kiem-tra.html").as_uri())
    signed = archive / entry["package"] / entry["files"]["pdf_signed"]
    assert check_file(page, signed) == "original"
    assert "Bản quét học bạ giấy có chữ ký số" in page.inner_text("#check-result")
