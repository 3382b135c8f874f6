"""`archiver media`: an archive written as disc images (or USB folders), each volume
checked on its own with independent tools: xorriso/osirrox and isoinfo read the images,
bagit-python validates the bags, `sha256sum -c` the volume's SHA256SUMS, the volume's own
standard-library script, Chromium opens the site from file://.

The archive: two schools, two school years, four classes each (`archiver sample` twice,
built together), small enough that `--medium 3M` gives several volumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLE, require_tool

ENV = {**os.environ, "COLUMNS": "200"}


def archiver(*args, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archiver", *map(str, args)], capture_output=True, text=True,
                          env=env or ENV, timeout=timeout)


def said(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def images(out: Path) -> list[Path]:
    return sorted(out.glob("*/*.iso"))


def bags(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p / "bagit.txt").is_file())


def extract(image: Path, into: Path) -> Path:
    """The image's files, extracted alone into an empty folder with osirrox."""
    into.mkdir(parents=True)
    proc = subprocess.run([require_tool("osirrox"), "-indev", str(image), "-extract", "/", str(into)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for path in into.rglob("*"):  # osirrox keeps the image's read-only modes
        path.chmod(0o755 if path.is_dir() else 0o644)
    return into


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """Two schools' sample archives of two school years, built into one archive."""
    root = tmp_path_factory.mktemp("media-archive")
    trust = root / "trust"
    trust.mkdir()
    inputs = []
    for seed, year in (("a", "2024-2025"), ("b", "2025-2026")):
        school = root / f"school-{seed}"
        school.mkdir()
        shutil.copytree(SAMPLE / "keys", school / "keys")
        made = archiver("sample", "--out", school, "--students", 3, "--classes", 4, "--year", year, "--seed", seed)
        assert made.returncode == 0, said(made)
        for path in (school / "trust").iterdir():
            shutil.copyfile(path, trust / f"{seed}-{path.name}")
        inputs.append(school / "input")
    out = root / "archive"
    built = archiver("build", *inputs, "--out", out, "--trust", trust, "--jobs", "2")
    assert built.returncode == 0, said(built)
    return out


@pytest.fixture(scope="module")
def media_set(archive: Path, tmp_path_factory) -> dict:
    """The archive (a copy) written to 3 MiB images, every image extracted alone."""
    root = tmp_path_factory.mktemp("media-set")
    copy = root / "archive"
    shutil.copytree(archive, copy)
    out = root / "out"
    made = archiver("media", copy, "--out", out, "--medium", "3M")
    assert made.returncode == 0, said(made)
    found = images(out)
    assert found, said(made)
    extracted = [extract(image, root / "x" / image.stem) for image in found]
    record = json.loads(next((copy / "media").glob("*.json")).read_text(encoding="utf-8"))
    return {"archive": copy, "out": out, "images": found, "extracted": extracted, "record": record,
            "said": said(made)}


# -- spanning -------------------------------------------------------------------------------------
def test_a_small_archive_on_3m_images_gives_several_volumes_each_package_on_exactly_one(media_set, archive):
    volumes = media_set["extracted"]
    assert len(volumes) >= 3, media_set["said"]
    published = sorted(p.name for p in bags(archive))
    on_volumes = [p.name for v in volumes for p in bags(v)]
    assert sorted(on_volumes) == published  # every package once, no other
    for volume in volumes:
        for bag in bags(volume):
            assert tree(bag) == tree(archive / bag.name), f"{bag.name} is not bit-exact on {volume.name}"
            label = f"{bag.name}.label.pdf"
            assert sha256(volume / label) == sha256(archive / label)  # a package and its label together
    for image in media_set["images"]:
        assert image.stat().st_size <= 3 * 1024 * 1024
        assert image.stat().st_size % 2048 == 0
    # years in order: no volume starts with an earlier year than the one before
    firsts = [min(json.loads((v / "media.json").read_text(encoding="utf-8"))["years"]) for v in volumes]
    assert firsts == sorted(firsts)


def test_the_set_is_recorded_in_the_archive_with_each_image_size_and_sha256(media_set):
    record = media_set["record"]
    assert record["schema"] == "archiver.media-set/1"
    assert [v["sha256"] for v in record["volumes"]] == [sha256(p) for p in media_set["images"]]
    assert [v["bytes"] for v in record["volumes"]] == [p.stat().st_size for p in media_set["images"]]
    named = sorted(p["name"] for v in record["volumes"] for p in v["packages"])
    assert named == sorted(p.name for p in bags(media_set["archive"]))
    checked = archiver("check", media_set["archive"])
    assert checked.returncode == 0, said(checked)
    # beside the images: their SHA256SUMS, for sha256sum -c
    folder = media_set["images"][0].parent
    proc = subprocess.run([require_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- each volume alone ------------------------------------------------------------------------------
def test_each_volume_extracted_alone_checks_with_bagit_sha256sum_and_its_own_script(media_set):
    import bagit

    for volume in media_set["extracted"]:
        for bag in bags(volume):
            assert bagit.Bag(str(bag)).is_valid(), f"{volume.name}/{bag.name}"
        proc = subprocess.run([require_tool("sha256sum"), "-c", "--strict", "SHA256SUMS"], cwd=volume,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
        listed = {line.split("  ", 1)[1] for line in (volume / "SHA256SUMS").read_text().splitlines()}
        on_disc = {p.relative_to(volume).as_posix() for p in volume.rglob("*") if p.is_file()}
        assert on_disc - listed == {"SHA256SUMS"} and listed <= on_disc  # every file, but itself
        script = subprocess.run([sys.executable, "-I", "kiem_tra.py"], cwd=volume, capture_output=True, text=True)
        assert script.returncode == 0 and "TẤT CẢ KHỚP" in script.stdout, script.stdout[-2000:]
        readme = (volume / "README.txt").read_text(encoding="utf-8")
        assert "sha256sum -c SHA256SUMS" in readme and "python kiem_tra.py" in readme and "ENGLISH" in readme
        index = json.loads((volume / "index.json").read_text(encoding="utf-8"))
        assert index["schema"] == "archiver.index/1"
        assert {p["path"] for p in index["packages"]} == {b.name for b in bags(volume)}
        assert (volume / "site" / "index.html").is_file() and (volume / "site" / "catalogue" / "index.js").is_file()
        # its student pages are the archive's own, byte for byte: one for each transcript on it
        pages = {p.relative_to(volume).as_posix(): sha256(p) for p in (volume / "site" / "hs").rglob("*.html")}
        assert len(pages) == len(index["transcripts"])
        assert pages == {rel: sha256(media_set["archive"] / rel) for rel in pages}


def test_without_the_archives_own_site_a_volume_makes_the_same_pages_itself(media_set, tmp_path):
    """Taking the archive's student pages changes no byte of any page: not theirs, and not
    the class pages, which show each pupil's year results."""
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    made = archiver("media", copy, "--out", tmp_path / "reused", "--medium", "cd", "--all")
    assert made.returncode == 0, said(made)
    shutil.rmtree(copy / "site")  # as `archiver build --no-site` leaves it
    made = archiver("media", copy, "--out", tmp_path / "out", "--medium", "cd", "--all")
    assert made.returncode == 0, said(made)
    (image,) = images(tmp_path / "out")
    volume = extract(image, tmp_path / "x")
    pages = {p.relative_to(volume).as_posix(): sha256(p) for p in (volume / "site" / "hs").rglob("*.html")}
    assert pages and pages == {rel: sha256(media_set["archive"] / rel) for rel in pages}
    (image,) = images(tmp_path / "reused")
    reused = extract(image, tmp_path / "y")
    made_here = {p.relative_to(volume).as_posix(): sha256(p) for p in (volume / "site").rglob("*.html")}
    assert made_here == {p.relative_to(reused).as_posix(): sha256(p) for p in (reused / "site").rglob("*.html")}
    assert any(rel.startswith("site/lop/") for rel in made_here)
    class_page = next((volume / "site" / "lop").glob("*.html")).read_text(encoding="utf-8")
    assert '<td class="num' in class_page  # the results table, with its marks


def test_the_volume_script_names_a_damaged_file(media_set, tmp_path):
    volume = shutil.copytree(media_set["extracted"][0], tmp_path / "v")
    victim = next(volume.glob("*/data/transcripts/*.xml"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 1
    victim.write_bytes(bytes(data))
    script = subprocess.run([sys.executable, "-I", "kiem_tra.py"], cwd=volume, capture_output=True, text=True)
    assert script.returncode == 1
    assert victim.relative_to(volume).as_posix() in script.stdout


def test_isoinfo_and_xorriso_read_the_labels_and_the_names(media_set):
    isoinfo = require_tool("isoinfo")
    xorriso = require_tool("xorriso")
    for number, image in enumerate(media_set["images"], 1):
        count = len(media_set["images"])
        info = subprocess.run([isoinfo, "-d", "-i", str(image)], capture_output=True, text=True).stdout
        volume_id = re.search(r"^Volume id: (.*)$", info, re.M)[1].strip()
        assert re.fullmatch(r"[A-Z0-9_]{1,32}", volume_id) and volume_id.endswith(f"_D{number:02d}_{count:02d}")
        assert "Joliet with UCS level 3 found" in info and "Rock Ridge" in info
        # the Joliet volume label (what Windows shows): supplementary descriptor, sector 17
        with open(image, "rb") as fh:
            fh.seek(17 * 2048)
            svd = fh.read(2048)
        assert svd[1:6] == b"CD001" and svd[88:91] == b"%/E"
        label = svd[40:72].decode("utf-16-be").rstrip()
        assert len(label) <= 16 and label.endswith(f"D{number:02d}-{count:02d}"), label
        joliet = subprocess.run([isoinfo, "-J", "-l", "-i", str(image)], capture_output=True, text=True).stdout
        extracted = media_set["extracted"][number - 1]
        for bag in bags(extracted):
            assert f" {bag.name} " in joliet + " " or bag.name in joliet
        assert "kiem_tra.py" in joliet and "SHA256SUMS" in joliet
        rock = subprocess.run([isoinfo, "-R", "-l", "-i", str(image)], capture_output=True, text=True).stdout
        assert "README.txt" in rock
        found = subprocess.run([xorriso, "-indev", str(image), "-find", "/", "-type", "f"], capture_output=True,
                               text=True).stdout
        listed = {line.strip().strip("'").lstrip("/") for line in found.splitlines() if line.startswith("'")}
        assert listed == {p.relative_to(extracted).as_posix() for p in extracted.rglob("*") if p.is_file()}


def test_the_same_archive_and_options_give_byte_identical_images(media_set, tmp_path):
    """Made again, in another time zone, from another copy of the archive: the same bytes."""
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    again = archiver("media", copy, "--out", tmp_path / "out", "--medium", "3M", "--all",
                     env={**ENV, "TZ": "America/New_York"})
    assert again.returncode == 0, said(again)
    assert [p.name for p in images(tmp_path / "out")] == [p.name for p in media_set["images"]]
    assert [sha256(p) for p in images(tmp_path / "out")] == [sha256(p) for p in media_set["images"]]
    # the set was recorded already: its record stands as it was
    assert sorted(p.name for p in (copy / "media").iterdir()) == \
        sorted(p.name for p in (media_set["archive"] / "media").iterdir())


def test_a_second_run_writes_only_what_no_set_holds(media_set, tmp_path):
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    again = archiver("media", copy, "--out", tmp_path / "out", "--medium", "3M")
    assert again.returncode == 0, said(again)
    assert "Không có gói nào cần ghi" in again.stdout and "earlier media set" in again.stdout
    assert not images(tmp_path / "out")
    only = archiver("media", copy, "--out", tmp_path / "out2", "--medium", "cd", "--all", "--year", "2024-2025")
    assert only.returncode == 0, said(only)
    (image,) = images(tmp_path / "out2")
    x = extract(image, tmp_path / "x")
    assert bags(x) and all("_2024-2025_" in b.name for b in bags(x))


def test_check_names_a_damaged_media_record_and_a_package_that_changed(media_set, tmp_path):
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    record = next((copy / "media").glob("*.json"))
    data = json.loads(record.read_text(encoding="utf-8"))
    package = data["volumes"][0]["packages"][0]
    package["tag_manifest_sha256"] = "0" * 64
    record.write_text(json.dumps(data), encoding="utf-8")
    checked = archiver("check", copy)
    assert checked.returncode == 1 and "Traceback" not in said(checked)
    assert re.search(rf"media/{re.escape(record.name)}.*{re.escape(package['name'])}", checked.stdout), checked.stdout
    record.write_bytes(b"\xff{ not json")
    checked = archiver("check", copy)
    assert checked.returncode == 1 and f"media/{record.name}" in checked.stdout and "Traceback" not in said(checked)


# -- media verify ----------------------------------------------------------------------------------------
def test_media_verify_passes_on_an_image_a_folder_and_a_device_like_file(media_set):
    image = media_set["images"][1]
    for target in (image, media_set["extracted"][1]):
        checked = archiver("media", "verify", target)
        assert checked.returncode == 0, said(checked)
    checked = archiver("media", "verify", image)
    assert "khớp mã đã ghi" in checked.stdout  # the image's recorded SHA-256, found beside it


def test_media_verify_names_the_file_holding_a_flipped_bit_and_a_truncated_image(media_set, tmp_path):
    image = shutil.copyfile(media_set["images"][0], tmp_path / "disc.iso")
    extracted = media_set["extracted"][0]
    victim = sorted(extracted.glob("*/data/renderings/*.pdf"))[0].relative_to(extracted).as_posix()
    report = subprocess.run([require_tool("xorriso"), "-indev", str(image), "-find", f"/{victim}", "-exec",
                             "report_lba", "--"], capture_output=True, text=True).stdout
    found = re.search(r"File data lba:\s*\d+\s*,\s*(\d+)\s*,\s*\d+\s*,\s*(\d+)\s*,", report)
    assert found, report
    lba, size = int(found[1]), int(found[2])
    with open(image, "r+b") as fh:
        fh.seek(lba * 2048 + size // 2)
        byte = fh.read(1)[0]
        fh.seek(lba * 2048 + size // 2)
        fh.write(bytes([byte ^ 0x10]))
    checked = archiver("media", "verify", image, "--sha256", media_set["record"]["volumes"][0]["sha256"])
    assert checked.returncode == 1, said(checked)
    problems = [line for line in checked.stdout.splitlines() if line.startswith("VẤN ĐỀ")]
    assert any(victim in line for line in problems), checked.stdout
    assert any("khác mã đã ghi" in line for line in problems)  # and the whole image differs from its label
    assert all(victim in line or "disc.iso" in line for line in problems), problems  # nothing else named
    truncated = tmp_path / "short.iso"
    truncated.write_bytes(media_set["images"][0].read_bytes()[: media_set["images"][0].stat().st_size * 2 // 3])
    checked = archiver("media", "verify", truncated)
    assert checked.returncode == 1 and "CẮT NGẮN" in checked.stdout and "Traceback" not in said(checked), said(checked)
    not_a_volume = archiver("media", "verify", tmp_path)
    assert not_a_volume.returncode == 2


def test_media_verify_reads_a_raw_drive_as_far_as_its_image(media_set, tmp_path):
    """A burnt disc read as a raw drive (/dev/sr0): a loop device stands for it, holding the
    image and the padding a burner adds after it; only the image's own bytes are hashed."""
    if os.geteuid() != 0:
        pytest.skip("a loop device needs root (CI runs as root)")
    losetup = require_tool("losetup")
    disc = tmp_path / "disc.bin"
    shutil.copyfile(media_set["images"][1], disc)
    with open(disc, "ab") as fh:
        fh.write(bytes(150 * 2048))  # run-out sectors after the image
    attached = subprocess.run([losetup, "--find", "--show", "--read-only", str(disc)], capture_output=True, text=True)
    assert attached.returncode == 0, attached.stderr
    device = attached.stdout.strip()
    try:
        checked = archiver("media", "verify", device, "--archive", media_set["archive"])
        assert checked.returncode == 0, said(checked)
        assert "khớp mã đã ghi" in checked.stdout and media_set["images"][1].stem in checked.stdout, checked.stdout
        wrong = archiver("media", "verify", device, "--sha256", "0" * 64)
        assert wrong.returncode == 1 and "khác mã đã ghi" in wrong.stdout, said(wrong)
    finally:
        subprocess.run([losetup, "-d", device], check=False)


# -- USB --------------------------------------------------------------------------------------------------
def test_usb_writes_the_same_volume_as_a_fat32_safe_folder(media_set, tmp_path):
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    made = archiver("media", copy, "--out", tmp_path / "out", "--medium", "usb", "--all")
    assert made.returncode == 0, said(made)
    (folder,) = [p for p in (tmp_path / "out").glob("*/*") if p.is_dir()]
    assert folder.name.endswith("_U01-01")
    assert sorted(b.name for b in bags(folder)) == sorted(b.name for b in bags(copy))
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*")]
    assert all(re.fullmatch(r"[A-Za-z0-9._/-]+", n) for n in names)
    assert len({n.lower() for n in names}) == len(names)
    assert max(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 4 * 1024 ** 3
    assert archiver("media", "verify", folder).returncode == 0
    assert archiver("media", "verify", folder.parent).returncode == 0  # a stick holding one volume
    split = archiver("media", copy, "--out", tmp_path / "split", "--medium", "usb:12M", "--all")
    assert split.returncode == 0, said(split)
    assert len([p for p in (tmp_path / "split").glob("*/*") if p.is_dir()]) >= 2


# -- bad input --------------------------------------------------------------------------------------------
def test_an_output_folder_inside_the_archive_is_refused(archive):
    refused = archiver("media", archive, "--out", archive / "discs", "--medium", "cd")
    assert refused.returncode == 2 and "inside the archive" in said(refused)
    assert not (archive / "discs").exists()


def test_an_archive_that_does_not_check_is_refused_and_the_package_named(media_set, tmp_path):
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    shutil.rmtree(copy / "media")
    victim = bags(copy)[0]
    xml = next((victim / "data" / "transcripts").glob("*.xml"))
    data = bytearray(xml.read_bytes())
    data[len(data) // 2] ^= 1
    xml.write_bytes(bytes(data))
    refused = archiver("media", copy, "--out", tmp_path / "out", "--medium", "3M")
    assert refused.returncode == 1 and victim.name in said(refused) and "--force" in said(refused), said(refused)
    assert not images(tmp_path / "out") and not (copy / "media").exists()
    forced = archiver("media", copy, "--out", tmp_path / "forced", "--medium", "3M", "--force")
    assert forced.returncode == 0, said(forced)
    record = json.loads(next((copy / "media").glob("*.json")).read_text(encoding="utf-8"))
    assert any(victim.name in p for p in record["forced_over"])
    # the damage travels visibly: the disc's own check names the file
    holder = next(i for i in images(tmp_path / "forced")
                  if victim.name in subprocess.run([require_tool("isoinfo"), "-R", "-l", "-i", str(i)],
                                                   capture_output=True, text=True).stdout)
    checked = archiver("media", "verify", holder)
    assert checked.returncode == 1 and xml.name in checked.stdout


def test_a_site_made_by_another_version_is_refused_with_the_command_that_makes_it_again(media_set, tmp_path):
    """An archive built before this version's site (its site.js, say): check names the
    site's files, and media says to run `archiver site ARCHIVE` first; after it, media runs."""
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    shutil.rmtree(copy / "media")
    script = copy / "site" / "assets" / "site.js"
    script.write_bytes(script.read_bytes().replace(b"HB.afterSearch", b"HB.laterSearch"))
    refused = archiver("media", copy, "--out", tmp_path / "out", "--medium", "cd")
    assert refused.returncode == 1, said(refused)
    assert f"archiver site {copy}" in said(refused) and "site/assets/site.js" in said(refused), said(refused)
    assert "damaged" not in said(refused)  # no package is named: the site is only made again
    assert not images(tmp_path / "out")
    remade = archiver("site", copy)
    assert remade.returncode == 0, said(remade)
    made = archiver("media", copy, "--out", tmp_path / "out", "--medium", "cd")
    assert made.returncode == 0, said(made)
    assert len(images(tmp_path / "out")) == 1


def test_a_package_larger_than_the_medium_is_named_before_anything_is_written(media_set, tmp_path):
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    refused = archiver("media", copy, "--out", tmp_path / "out", "--medium", "1M", "--all")
    assert refused.returncode == 2, said(refused)
    assert "_9A1" in said(refused) and "never split" in said(refused)
    assert not images(tmp_path / "out")


def test_a_locked_archive_stops_with_the_locks_message(media_set, tmp_path):
    from archiver.archive.lock import archive_lock

    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    with archive_lock(copy):
        locked = archiver("media", copy, "--out", tmp_path / "out", "--medium", "3M", "--all")
    assert locked.returncode == 1 and "another archiver run is writing" in said(locked)
    assert not images(tmp_path / "out")


def test_packages_waiting_for_their_timestamp_are_left_out_and_said(media_set, tmp_path):
    copy = shutil.copytree(media_set["archive"], tmp_path / "archive")
    shutil.rmtree(copy / "media")
    waiting = bags(copy)[-1]
    (copy / ".pending").mkdir()
    waiting.rename(copy / ".pending" / waiting.name)
    (copy / f"{waiting.name}.label.pdf").unlink()
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from archiver.pipeline.build "
                    "import refresh_archive; refresh_archive(Path(sys.argv[1]), site=True)", str(copy)], check=True)
    made = archiver("media", copy, "--out", tmp_path / "out", "--medium", "cd")
    assert made.returncode == 0, said(made)
    assert waiting.name in made.stdout and "timestamp" in made.stdout
    (image,) = images(tmp_path / "out")
    x = extract(image, tmp_path / "x")
    assert waiting.name not in {b.name for b in bags(x)} and len(bags(x)) == len(bags(copy))


# -- the site on a disc, in Chromium ------------------------------------------------------------------------
def _students(volume: Path) -> list[dict]:
    return json.loads((volume / "index.json").read_text(encoding="utf-8"))["transcripts"]


def test_a_volumes_site_finds_its_students_and_names_the_disc_of_the_others(media_set):
    from .test_site import ARTIFACTS, BROWSER_ARGS, CHROMIUM

    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; run scripts/install.sh --test")
    volumes = media_set["extracted"]
    here, there = volumes[0], volumes[2]
    count = len(volumes)
    mine = _students(here)[0]
    other = next(t for t in _students(there) if t["name"] not in {s["name"] for s in _students(here)})
    there_label = json.loads((there / "media.json").read_text(encoding="utf-8"))["name"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((here / "site" / "index.html").as_uri())
        page.wait_for_selector("#media-disc")
        assert f"đĩa 1/{count}" in page.inner_text("#media-disc")
        assert page.locator("#bo-dia tbody tr").count() == count

        def search(query: str) -> None:
            page.evaluate("['data-count', 'data-elsewhere'].forEach(a => document.getElementById('results')"
                          ".removeAttribute(a))")
            page.fill("#q", query)
            page.press("#q", "Enter")
            page.wait_for_selector("#results[data-count][data-elsewhere]")

        search(mine["name"])
        assert mine["name"] in page.locator("#results > ol.hits .hit-name").all_inner_texts()
        search(other["name"])
        assert other["name"] not in page.locator("#results > ol.hits .hit-name").all_inner_texts()
        elsewhere = page.inner_text("#media-elsewhere")
        assert other["name"] in elsewhere
        assert f"trên đĩa 3/{count} (nhãn {there_label})" in elsewhere, elsewhere
        search(other["student_code"])  # by code too
        assert f"đĩa 3/{count}" in page.inner_text("#media-elsewhere")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "media-volume-search.png"), full_page=True)
        page.click("#lang-toggle")
        assert f"on disc 3 of {count} (label {there_label})" in page.inner_text("#media-elsewhere")
        # a student page of this disc opens (the archive's own page, as it is), and its
        # class page says which disc this is
        page.goto((here / "site" / "index.html").as_uri())
        search(mine["name"])
        page.click("#results > ol.hits .hit-name")
        page.wait_for_selector("h1")
        assert mine["name"] in page.inner_text("h1")
        page.click("nav.crumbs li:nth-child(3) a")
        page.wait_for_selector("#media-disc")
        assert f"disc 1 of {count}" in page.inner_text("#media-disc")  # still in English, as chosen above
        browser.close()
    assert [u for u in requests if not u.startswith("file://")] == []
    assert errors == []


# -- kills and a full disk --------------------------------------------------------------------------------
def _fresh_copy(media_set: dict, where: Path) -> Path:
    copy = shutil.copytree(media_set["archive"], where)
    shutil.rmtree(copy / "media")  # as before the set was made
    return copy


def _what_a_kill_left(copy: Path, out: Path, reference: dict[str, str], when: str) -> list[str]:
    """Every image that looks complete is the right one; a recorded set is whole."""
    wrong = []
    for image in images(out):
        if reference.get(image.name) != sha256(image):
            wrong.append(f"{when}: {image.name} looks complete but is not the image an unkilled run writes")
    if (copy / "media").is_dir() and any((copy / "media").iterdir()):
        if sorted(p.name for p in images(out)) != sorted(reference):
            wrong.append(f"{when}: the set is recorded but its images are not all there")
    return wrong


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["main process alone", "whole process group"])
def test_media_killed_at_random_moments_leaves_no_complete_looking_partial_image(media_set, tmp_path, kill):
    import random
    import time

    from .test_faults import KILLS, start_and_kill

    reference = {p.name: sha256(p) for p in media_set["images"]}
    started = time.monotonic()
    timing = archiver("media", _fresh_copy(media_set, tmp_path / "timing"), "--out", tmp_path / "timing-out",
                      "--medium", "3M")
    seconds = time.monotonic() - started
    assert timing.returncode == 0, said(timing)
    rng = random.Random(41 + len(kill))
    failures, landed = [], 0
    for trial in range(10):
        copy = _fresh_copy(media_set, tmp_path / f"trial-{trial}")
        out = tmp_path / f"out-{trial}"
        if trial % 3 == 2:  # now and then, right after an image is renamed into place
            once, at = (lambda o=out: bool(images(o))), rng.uniform(0, 0.2)
        else:
            once, at = None, rng.uniform(0.2, seconds)
        command = [sys.executable, "-m", "archiver", "media", str(copy), "--out", str(out), "--medium", "3M"]
        mid_work, code, left, _ = start_and_kill(command, at, KILLS[kill], once=once)
        when = f"trial {trial} ({'killed' if mid_work else 'not killed'} {at:.2f} s in)"
        landed += mid_work
        if left:
            failures.append(f"{when}: processes still running 5 s later: {left}")
            continue
        failures += _what_a_kill_left(copy, out, reference, when)
        again = archiver("media", copy, "--out", out, "--medium", "3M")
        if again.returncode != 0:
            failures.append(f"{when}: the next run exits {again.returncode}: {said(again)[-500:]}")
            continue
        if {p.name: sha256(p) for p in images(out)} != reference:
            failures.append(f"{when}: the next run did not write the same images")
        leftovers = [p.name for p in out.rglob(".*")]
        if leftovers:
            failures.append(f"{when}: left behind: {leftovers}")
        if trial % 5 == 0:
            checked = archiver("check", copy, "--no-evidence")
            if checked.returncode != 0:
                failures.append(f"{when}: check after the next run: {said(checked)[-500:]}")
        shutil.rmtree(copy)
        shutil.rmtree(out, ignore_errors=True)
    print(f"\n{kill}: 10 media runs killed, {landed} mid-work (an unkilled run takes {seconds:.1f} s)")
    assert landed >= 5
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_a_full_disk_while_writing_an_image_removes_it_and_keeps_the_earlier_ones(media_set, tmp_path):
    import shlex

    from .test_faults import with_small_disk

    reference = {p.name: sha256(p) for p in media_set["images"]}
    page = 4096
    generated = sum(-(-p.stat().st_size // page) * page for v in media_set["extracted"] for p in v.rglob("*")
                    if p.is_file() and not any(p.relative_to(v).parts[0].startswith(b.name) for b in bags(v)))
    first, second = (p.stat().st_size for p in media_set["images"][:2])
    size_kib = (generated + first + second // 2 + 512 * 1024) // 1024
    copy = _fresh_copy(media_set, tmp_path / "archive")
    mount, results = tmp_path / "small", tmp_path / "results"
    mount.mkdir()
    results.mkdir()
    out = mount / "out"
    q = shlex.quote
    media = shlex.join([sys.executable, "-m", "archiver", "media", str(copy), "--out", str(out), "--medium", "3M",
                        "--jobs", "1"])
    steps = [
        f"{media} > {q(str(results / 'first.txt'))} 2>&1; echo $? > {q(str(results / 'first.rc'))}",
        f"find {q(str(out))} -mindepth 1 > {q(str(results / 'left.txt'))}",
        f"ls -A {q(str(copy))}/media > {q(str(results / 'recorded.txt'))} 2>/dev/null || true",
        f"for f in {q(str(out))}/*/*.iso; do [ -f \"$f\" ] && sha256sum \"$f\"; done > {q(str(results / 'kept.txt'))}",
        f"mount -o remount,size=64m {q(str(mount))} || exit 98",
        f"{media} > {q(str(results / 'second.txt'))} 2>&1; echo $? > {q(str(results / 'second.rc'))}",
        f"for f in {q(str(out))}/*/*.iso; do sha256sum \"$f\"; done > {q(str(results / 'final.txt'))}",
    ]
    with_small_disk(mount, size_kib, steps)
    text = (results / "first.txt").read_text(encoding="utf-8")
    assert (results / "first.rc").read_text().strip() == "1", text
    assert "Traceback" not in text and re.search(r"disk full", text, re.I) and str(mount) in "".join(text.split())
    left = (results / "left.txt").read_text().splitlines()
    assert not [p for p in left if Path(p).name.startswith(".")], left  # no partial image, no staging
    kept = dict(reversed(line.split("  ", 1)) for line in (results / "kept.txt").read_text().splitlines())
    assert kept, f"no image was complete before the disk filled: {left}"
    assert all(reference[Path(p).name] == h for p, h in kept.items())  # the earlier images are intact
    assert not (results / "recorded.txt").read_text().strip()  # nothing recorded
    assert (results / "second.rc").read_text().strip() == "0", (results / "second.txt").read_text()
    final = {Path(p).name: h for h, p in (line.split("  ", 1) for line in (results / "final.txt").read_text().splitlines())}
    assert final == reference
