"""The lookup site in a second engine: Debian's Firefox ESR, headless, from file://.

Chromium is the main browser of the site tests (tests/test_site.py). Here the same site
is opened in Firefox (Gecko), driven over its own Marionette protocol with Mozilla's
``marionette_driver`` (no geckodriver, no browser download): search with and without
diacritics, the check-a-file page, a student page, and every URL a page refers to is a
local file.
Screenshots go to test-artifacts/site/firefox-*.png.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest

from .site_archive import build_archive_with_site

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "site"
FIREFOX = "firefox-esr"
ENTER = "\ue007"  # the WebDriver key code of Enter
# Quiet start: no first-run pages, no update or telemetry traffic of the browser's own.
PREFS = {
    "browser.shell.checkDefaultBrowser": False, "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.reporting.enabled": False,
    "app.update.disabledForTesting": True, "browser.startup.page": 0, "network.captive-portal-service.enabled": False,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive_with_site(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def firefox(tmp_path_factory: pytest.TempPathFactory):
    marionette = pytest.importorskip("marionette_driver.marionette")
    if not shutil.which(FIREFOX):
        pytest.fail("firefox-esr is not installed; run scripts/install.sh --test (apt-get install firefox-esr)")
    profile = tmp_path_factory.mktemp("firefox-profile")
    port = _free_port()
    prefs = {**PREFS, "marionette.port": port}
    (profile / "user.js").write_text("".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                                             for k, v in prefs.items()), encoding="utf-8")
    proc = subprocess.Popen([FIREFOX, "--headless", "--marionette", "--no-remote", "--profile", str(profile)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = marionette.Marionette(host="127.0.0.1", port=port)
        client.start_session()
        client.set_window_rect(width=1200, height=900)
        yield client
        client.delete_session()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(client, script: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = client.execute_script(script)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def loaded_urls(client) -> list[str]:
    """Every URL the page refers to: the page, its scripts (the search shards included,
    which are added as script tags), stylesheets, images and links. Firefox keeps no
    resource timing for file:// loads, so the DOM is the record here; the request log
    proper is in the Chromium tests."""
    return client.execute_script(
        "return [location.href, ...[...document.querySelectorAll('[src], [href]')]"
        ".map(e => e.src || e.href)].filter(u => typeof u === 'string' && u)")


def assert_only_local_files(client) -> None:
    urls = loaded_urls(client)
    assert urls and all(u.startswith("file://") for u in urls), urls


def shot(client, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"firefox-{name}.png").write_bytes(client.screenshot(format="binary", full=True))


def search(client, query: str) -> list[str]:
    from marionette_driver.by import By

    client.execute_script("document.getElementById('results').removeAttribute('data-count')")
    box = client.find_element(By.ID, "q")
    box.clear()
    box.send_keys(query + ENTER)
    assert wait_for(client, "return document.getElementById('results').hasAttribute('data-count')")
    return client.execute_script(
        "return [...document.querySelectorAll('#results .hit-name')].map(e => e.textContent.trim())")


def test_search_in_firefox(archive: Path, firefox) -> None:
    firefox.navigate((archive / "site" / "index.html").as_uri())
    assert firefox.execute_script("return document.documentElement.lang") == "vi"
    assert search(firefox, "Lê Yến Hậu") == ["Lê Yến Hậu", "Lê Yến Hậu"]
    assert search(firefox, "le yen hau") == ["Lê Yến Hậu", "Lê Yến Hậu"]
    assert search(firefox, unicodedata.normalize("NFD", "Đặng Xuân Cường")) == ["Đặng Xuân Cường"]
    assert search(firefox, "dang xuan cuong") == ["Đặng Xuân Cường"]
    assert search(firefox, "nobody here") == []
    index = json.loads((archive / "index.json").read_text(encoding="utf-8"))
    vu = next(e for e in index["transcripts"] if e["name"] == "Huỳnh Hoàng Vũ")
    assert search(firefox, vu["lookup_code"]) == ["Huỳnh Hoàng Vũ"]
    assert search(firefox, vu["citizen_id"]) == ["Huỳnh Hoàng Vũ"]
    assert "001******539" in firefox.execute_script("return document.getElementById('results').textContent")
    search(firefox, "nguyen van long")
    shot(firefox, "home-search")
    assert any("/search/n-" in u for u in loaded_urls(firefox))  # the shards are in the record
    assert_only_local_files(firefox)

    firefox.navigate((archive / "site" / "index.html").as_uri() + "?q=hoang+nhu+giang")
    assert wait_for(firefox, "return document.getElementById('results').hasAttribute('data-count')")
    assert firefox.execute_script("return document.querySelector('#results .hit-name').textContent.trim()") \
        == "Hoàng Như Giang"


def test_check_a_file_in_firefox(archive: Path, firefox, tmp_path: Path) -> None:
    from marionette_driver.by import By

    index = json.loads((archive / "index.json").read_text(encoding="utf-8"))
    entry = next(e for e in index["transcripts"] if e["name"] == "Trần Hoàng Kiên")
    original = archive / entry["package"] / entry["files"]["xml"]
    modified = tmp_path / "copy.xml"
    modified.write_bytes(original.read_bytes().replace(b"</HocBa>", b"</HocBa>\n"))
    firefox.navigate((archive / "site" / "kiem-tra.html").as_uri())

    def check(path: Path) -> str:
        firefox.execute_script("document.getElementById('check-result').removeAttribute('data-result')")
        firefox.find_element(By.ID, "file").send_keys(str(path))
        return wait_for(firefox, "return document.getElementById('check-result').getAttribute('data-result')")

    assert check(original) == "original"
    text = firefox.execute_script("return document.getElementById('check-result').textContent")
    assert "Trần Hoàng Kiên" in text and entry["package"] in text
    shot(firefox, "check-original")
    assert check(modified) == "unknown"
    assert check(archive / entry["package"] / entry["files"]["pdf"]) == "rendering"
    assert_only_local_files(firefox)


def test_student_page_in_firefox(archive: Path, firefox) -> None:
    index = json.loads((archive / "index.json").read_text(encoding="utf-8"))
    entry = next(e for e in index["transcripts"] if e["name"] == "Nguyễn Văn Long")
    firefox.navigate((archive / "site" / "index.html").as_uri() + "?q=nguyen+van+long")
    assert wait_for(firefox, "return document.getElementById('results').hasAttribute('data-count')")
    firefox.execute_script("document.querySelector('#results .hit-name').click()")
    assert wait_for(firefox, "return document.title.startsWith('Nguyễn Văn Long') && document.readyState == 'complete'")
    body = firefox.execute_script("return document.body.textContent")
    assert entry["lookup_code"] in body and entry["citizen_id"] in body
    shot(firefox, "student")
    assert_only_local_files(firefox)
