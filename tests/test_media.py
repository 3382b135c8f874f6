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
