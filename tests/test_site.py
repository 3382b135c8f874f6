"""The static lookup site (archiver.site): generation, and the pages driven in Chromium.

The browser tests open the site from file:// in Debian's headless Chromium through
Playwright (no browser download), record every request the page makes, and keep
screenshots under test-artifacts/site/ for people to look at.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.site import SiteError, build_site
from archiver.site.text import code_key, fnv1a, fold, mask_citizen_id, safe_name, vn_date, vn_datetime

from .site_archive import build_archive_with_site

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "site"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
FAT32_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive_with_site(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def index(archive: Path) -> dict:
    return json.loads((archive / "index.json").read_text(encoding="utf-8"))


def entry_named(index: dict, name: str, superseded: bool | None = None) -> dict:
    for e in index["transcripts"]:
        if e["name"] == name and (superseded is None or bool(e["superseded_by"]) == superseded):
            return e
    raise AssertionError(name)


def student_page(archive: Path, entry: dict) -> Path:
    return archive / "site" / "hs" / f"{entry['school_code']}_{entry['school_year']}_{entry['class_name']}" / \
        f"{entry['stem']}.html"


# -- text helpers -------------------------------------------------------------------------

def test_fold_ignores_diacritics_and_normal_form() -> None:
    nfc = "Đặng Xuân Cường"
    assert fold(nfc) == fold(unicodedata.normalize("NFD", nfc)) == "dang xuan cuong"
    assert fold("  NGUYỄN   văn-an ") == "nguyen van an"
    assert code_key("5C5D5E78-DDFD c5da") == "5c5d5e78ddfdc5da"


def test_masks_dates_and_names() -> None:
    assert mask_citizen_id("001211068539") == "001******539"
    assert vn_date("2011-12-09") == "09/12/2011"
    assert vn_datetime("2026-11-23T11:40:00+00:00") == "23/11/2026 18:40:00"
    assert safe_name("Lớp 9A/1: Đặc biệt") == "Lop_9A_1_Dac_biet"
    assert safe_name("CON") == "_CON" and safe_name("...") == "x"
    assert fnv1a("") == 0x811C9DC5 and fnv1a("a") == 0xE40C292C  # published FNV-1a vectors


# -- generation ---------------------------------------------------------------------------

def test_site_pages_and_names(archive: Path, index: dict) -> None:
    site = archive / "site"
    for page in ("index.html", "kiem-tra.html", "kiem-duyet.html", "assets/site.css", "assets/site.js",
                 "assets/check.js", "assets/sha256.js", "search/index.js", "nam/0109944_2025-2026.html",
                 "lop/0109944_2025-2026_9A1.html", "lop/0109944_2025-2026_8A1.html"):
        assert (site / page).is_file(), page
    for entry in index["transcripts"]:
        assert student_page(archive, entry).is_file()
    for path in site.rglob("*"):
        assert FAT32_NAME.match(path.name) or path.name == ".archiver-site", path
        assert len(path.relative_to(archive).as_posix()) < 120


def test_links_are_relative_and_resolve(archive: Path) -> None:
    """No network and no absolute path: every href/src is relative and exists in the archive."""
    site = archive / "site"
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//" not in re.sub(r"file://", "", text.split("<body")[0]), page
        for url in re.findall(r'(?:href|src)="([^"]*)"', text):
            assert not re.match(r"^[a-z]+:|^/", url), (page, url)
            target = url.split("#")[0].split("?")[0]
            if not target:
                continue
            resolved = (page.parent / target).resolve()
            if resolved.suffix in {".pdf", ".ers"} and "label" in resolved.name:
                continue  # package labels are made by the build stage, not by site_archive
            assert resolved.exists(), (page, url)


def test_deterministic(archive: Path, tmp_path: Path) -> None:
    other = build_site(archive, tmp_path / "again", jobs=2)
    first = {p.relative_to(archive / "site"): p.read_bytes() for p in (archive / "site").rglob("*") if p.is_file()}
    second = {p.relative_to(other.out): p.read_bytes() for p in other.out.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_privacy_masking_and_notice(archive: Path, index: dict) -> None:
    entry = entry_named(index, "Huỳnh Hoàng Vũ")
    klass = (archive / "site" / "lop" / "0109944_2025-2026_9A1.html").read_text(encoding="utf-8")
    assert "001******539" in klass and "001211068539" not in klass
    student = student_page(archive, entry).read_text(encoding="utf-8")
    assert "001211068539" in student
    for page in (archive / "site").rglob("*.html"):
        assert "Dữ liệu cá nhân" in page.read_text(encoding="utf-8"), page
    search = "".join(p.read_text(encoding="utf-8") for p in (archive / "site" / "search").glob("*.js"))
    assert "001211068539" not in search.replace('"001211068539":', "")  # the key, never a shown value


def test_student_page_content(archive: Path, index: dict) -> None:
    old = entry_named(index, "Lê Yến Hậu", superseded=True)
    new = entry_named(index, "Lê Yến Hậu", superseded=False)
    old_html = student_page(archive, old).read_text(encoding="utf-8")
    new_html = student_page(archive, new).read_text(encoding="utf-8")
    assert "Đã bị thay thế" in old_html and f"{new['stem']}.html" in old_html
    assert "Bản thay thế" in new_html and f"{old['stem']}.html" in new_html
    for text in ("Ngữ văn", "HK1", "Cả năm", "Nhận xét của giáo viên chủ nhiệm", "Hiệu trưởng", "Giáo viên bộ môn",
                 "UID=CCCD:", "09/05/2011", "<svg", "dấu thời gian cục bộ, không phải của TSA tin cậy",
                 f"../../../{old['package']}/data/transcripts/{old['stem']}.xml",
                 f"../../../{old['package']}/data/evidence/{old['stem']}.ers"):
        assert text in old_html, text
    other = entry_named(index, "Nguyễn Văn Long")  # class 8A1: a package with a trusted TSA
    assert "không phải của TSA tin cậy" not in student_page(archive, other).read_text(encoding="utf-8")
    bad = student_page(archive, entry_named(index, "Nguyễn Như Nga")).read_text(encoding="utf-8")
    assert "Không hợp lệ" in bad and "HASH_FAILURE" in bad
    # the marks of a transcript that did not verify carry a warning where they are shown
    assert "không được dùng làm căn cứ" in bad and "không được dùng làm căn cứ" not in new_html
    assert "Học bạ này đã bị thu hồi và thay thế" in old_html
    # the package link opens its README (what it holds, how to check it)
    assert f"../../../{old['package']}/data/README.txt" in old_html
    year = (archive / "site" / "nam" / "0109944_2025-2026.html").read_text(encoding="utf-8")
    assert 'href="../kiem-duyet.html">3<' in year  # the year's rejected files


def test_quarantine_page(archive: Path) -> None:
    html = (archive / "site" / "kiem-duyet.html").read_text(encoding="utf-8")
    for code in ("NOT_WELL_FORMED", "DTD_FORBIDDEN", "EMPTY"):
        assert code in html
    assert "defects/entity-bomb.xml" in html


def test_untrusted_text_is_escaped(archive: Path, tmp_path: Path) -> None:
    copy = tmp_path / "a"
    shutil.copytree(archive, copy, ignore=shutil.ignore_patterns("site"))
    index = json.loads((copy / "index.json").read_text(encoding="utf-8"))
    index["transcripts"][0]["name"] = 'Nguyễn <script>alert("x")</script> & "An"'
    index["quarantine"][0]["reason"] = "<img src=x onerror=alert(1)> / <b>bad</b>"
    (copy / "index.json").write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
    build_site(copy)
    for page in (copy / "site").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>bad" not in text, page
    assert "&lt;script&gt;" in (copy / "site" / "lop" / "0109944_2025-2026_8A1.html").read_text(encoding="utf-8")


def test_refuses_foreign_output_and_missing_index(archive: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(SiteError):
        build_site(archive, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(SiteError):
        build_site(tmp_path)


def test_cli(archive: Path, tmp_path: Path) -> None:
    from archiver.commands.site import command

    result = CliRunner().invoke(command, [str(archive), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "index.html").is_file()
    assert CliRunner().invoke(command, [str(tmp_path)]).exit_code == 2


# -- in the browser -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; run scripts/install.sh --test (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


class Recorder:
    """A page with every request and every script error recorded."""

    def __init__(self, browser, **options) -> None:
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def close(self) -> None:
        non_file = [u for u in self.requests if not u.startswith("file://")]
        self.context.close()
        assert non_file == [], non_file
        assert self.errors == []


@pytest.fixture
def tab(browser):
    rec = Recorder(browser, viewport={"width": 1200, "height": 900})
    yield rec
    rec.close()


def shot(page, name: str, **kw) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, **kw)


def search(page, query: str) -> list[str]:
    page.evaluate("document.getElementById('results').removeAttribute('data-count')")
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_selector("#results[data-count]")
    return page.locator("#results .hit-name").all_inner_texts()


def test_search_names_and_codes(archive: Path, index: dict, tab: Recorder) -> None:
    page = tab.page
    page.goto((archive / "site" / "index.html").as_uri())
    assert search(page, "Lê Yến Hậu") == ["Lê Yến Hậu", "Lê Yến Hậu"]
    tags = page.locator("#results .tag").all_inner_texts()  # the pair, each marked for what it is
    assert sorted(tags) == ["bản thay thế", "đã bị thay thế"]
    assert search(page, "le yen hau") == ["Lê Yến Hậu", "Lê Yến Hậu"]
    assert search(page, unicodedata.normalize("NFD", "Đặng Xuân Cường")) == ["Đặng Xuân Cường"]
    assert search(page, "dang xuan cuong") == ["Đặng Xuân Cường"]
    assert search(page, "DANG XUAN CUO") == ["Đặng Xuân Cường"]  # unfinished last word
    assert set(search(page, "nguyen")) >= {"Nguyễn Văn Long", "Nguyễn Như Nga"}
    assert search(page, "kien") == ["Nguyễn Đăng Kiên", "Trần Hoàng Kiên"]
    assert search(page, "nobody here") == []
    vu = entry_named(index, "Huỳnh Hoàng Vũ")
    for code in (vu["lookup_code"], vu["lookup_code"].upper(), vu["student_code"], vu["citizen_id"]):
        assert search(page, code) == ["Huỳnh Hoàng Vũ"], code
    text = page.inner_text("#results")
    assert "001******539" in text and "001211068539" not in text
    search(page, "nguyen van long")
    shot(page, "home-search")
    page.click("#results .hit-name")
    page.wait_for_load_state()
    assert page.title().startswith("Nguyễn Văn Long")
    shot(page, "student")
    assert tab.requests and all(u.startswith("file://") for u in tab.requests)


def test_search_from_query_string_and_english(archive: Path, tab: Recorder) -> None:
    page = tab.page
    page.goto((archive / "site" / "index.html").as_uri() + "?q=hoang+nhu+giang")
    page.wait_for_selector("#results[data-count]")
    assert page.locator("#results .hit-name").all_inner_texts() == ["Hoàng Như Giang"]
    assert page.locator("html").get_attribute("lang") == "vi"
    page.click("#lang-toggle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.inner_text("#search-title") == "Look up a student"
    assert page.locator("svg.chart").first.get_attribute("aria-label").startswith("Valid: ")
    assert "Indeterminate" in page.inner_text("#results")
    page.goto((archive / "site" / "kiem-duyet.html").as_uri())  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.inner_text("h1") == "Quarantine: rejected inputs"
    assert page.title() == "Quarantine — Digital transcript lookup"
    shot(page, "quarantine-en")


def test_javascript_agrees_with_python(archive: Path, tab: Recorder) -> None:
    page = tab.page
    page.goto((archive / "site" / "index.html").as_uri())
    samples = ["Nguyễn Văn An", unicodedata.normalize("NFD", "Đặng Xuân Cường"), "  Ánh-Dương  ", "Lý Thị Ngọc Ý"]
    assert page.evaluate("s => s.map(HB.fold)", samples) == [fold(s) for s in samples]
    codes = ["5c5d5e78ddfdc5daa073a0d1168f0b22", "0105755863", "001211068539", ""]
    assert page.evaluate("s => s.map(HB.fnv1a)", codes) == [fnv1a(c) for c in codes]
    data = b"abc" * 1000
    assert page.evaluate("n => HB.sha256Hex === undefined", None)  # only the check page loads it
    page.goto((archive / "site" / "kiem-tra.html").as_uri())
    for sample in (b"", b"abc", data, bytes(range(256)) * 3):
        got = page.evaluate("a => HB.sha256Hex(new Uint8Array(a))", list(sample))
        assert got == hashlib.sha256(sample).hexdigest()


def check_file(page, path: Path) -> str:
    page.evaluate("document.getElementById('check-result').removeAttribute('data-result')")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#check-result[data-result]")
    return page.get_attribute("#check-result", "data-result")


@pytest.mark.parametrize("subtle", [True, False], ids=["webcrypto", "pure-js"])
def test_check_a_file(archive: Path, index: dict, tab: Recorder, tmp_path: Path, subtle: bool) -> None:
    page = tab.page
    if not subtle:  # what a browser without Web Crypto on file:// gets: the pure-JS fallback
        page.add_init_script("Object.defineProperty(window.crypto, 'subtle', {value: undefined})")
    page.goto((archive / "site" / "kiem-tra.html").as_uri())
    entry = entry_named(index, "Trần Hoàng Kiên")
    original = archive / entry["package"] / entry["files"]["xml"]
    assert check_file(page, original) == "original"
    assert page.get_attribute("#check-result", "data-hash-method") == ("webcrypto" if subtle else "js")
    text = page.inner_text("#check-result")
    assert "Trần Hoàng Kiên" in text and entry["package"] in text and "Hợp lệ" in text
    if subtle:
        shot(page, "check-original")
    modified = tmp_path / "copy.xml"
    modified.write_bytes(original.read_bytes().replace(b"</HocBa>", b"</HocBa>\n"))
    assert check_file(page, modified) == "unknown"
    assert "Không có trong kho lưu trữ" in page.inner_text("#check-result")
    if subtle:
        shot(page, "check-unknown")
    assert check_file(page, archive / entry["package"] / entry["files"]["pdf"]) == "rendering"
    assert "Trần Hoàng Kiên" in page.inner_text("#check-result")
    rejected = archive / index["quarantine"][0]["package"] / index["quarantine"][0]["file"]
    assert check_file(page, rejected) == "rejected"


def test_pages_read_without_javascript(archive: Path, index: dict, browser) -> None:
    rec = Recorder(browser, java_script_enabled=False, viewport={"width": 1000, "height": 800})
    page = rec.page
    page.goto((archive / "site" / "index.html").as_uri())
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("#lang-toggle").is_hidden()
    assert "Tìm kiếm cần bật JavaScript" in page.inner_text("main")
    page.click("text=9A1")
    assert "Huỳnh Hoàng Vũ" in page.inner_text("main")
    page.click("text=Huỳnh Hoàng Vũ")
    body = page.inner_text("main")
    for text in ("Kết quả học tập", "Ngữ văn", "Kiểm tra chữ ký số", "Hiệu trưởng", "001211068539"):
        assert text in body
    rec.close()


def test_phone_and_print(archive: Path, index: dict, browser) -> None:
    rec = Recorder(browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                   has_touch=True)
    page = rec.page
    url = student_page(archive, entry_named(index, "Phạm Phương Thảo")).as_uri()
    page.goto(url)
    # Nothing wider than the screen except inside the scrollable table boxes.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "student-phone")
    page.goto((archive / "site" / "index.html").as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "home-phone")
    page.emulate_media(media="print")
    page.goto(url)
    assert page.locator("nav[aria-label]").first.is_hidden()
    pdf_ok = page.pdf() if hasattr(page, "pdf") else b""
    assert pdf_ok[:4] == b"%PDF"
    rec.close()


def test_search_across_chunks(archive: Path, index: dict, browser, tmp_path: Path, monkeypatch) -> None:
    """Common words are split into several shard files; a query reads all of them."""
    from archiver.site import shards

    monkeypatch.setattr(shards, "NAME_CHUNK", 2)
    summary = build_site(archive, tmp_path / "chunked")
    assert (summary.out / "search" / "n-nguyen-3.js").is_file()
    rec = Recorder(browser)
    rec.page.goto((summary.out / "index.html").as_uri())
    nguyen = sorted(e["name"] for e in index["transcripts"] if e["name"].startswith("Nguyễn"))
    assert sorted(search(rec.page, "nguyen")) == nguyen
    assert search(rec.page, "nguyen van long") == ["Nguyễn Văn Long"]
    rec.close()


def test_the_student_page_qr_code_reads_as_the_lookup_code(archive: Path, index: dict, browser,
                                                            tmp_path: Path) -> None:
    from . import pdftools

    entry = entry_named(index, "Huỳnh Hoàng Vũ")
    rec = Recorder(browser, viewport={"width": 1000, "height": 800})
    rec.page.goto(student_page(archive, entry).as_uri())
    png = tmp_path / "qr.png"
    rec.page.locator(".qr svg").first.screenshot(path=str(png))
    rec.close()
    assert pdftools.zbar_qr(png) == [entry["lookup_code"]]
