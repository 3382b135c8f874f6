"""`archiver build`, the main job: packages per class, nothing lost, safe under faults."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.pipeline.build import BuildOptions, build
from archiver.archive.check import check_archive
from archiver.cli import main
from archiver.errors import ArchiveWriteError

from .conftest import SAMPLE, flip_a_byte, require_tool

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def run_build(inputs, out: Path, **kw):
    return build(BuildOptions(inputs=[Path(p) for p in inputs], out=out, trust_dir=SAMPLE / "trust",
                              jobs=kw.pop("jobs", 2), now=kw.pop("now", NOW), site=kw.pop("site", False), **kw))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    result = run_build([SAMPLE / "input", SAMPLE / "defects"], out)
    assert result.complete, result.problems
    return out


def copy_of(archive: Path, tmp_path: Path) -> Path:
    """A copy of the module's archive, to damage."""
    copy = tmp_path / "copy"
    shutil.copytree(archive, copy)
    return copy


def bags(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if (p / "bagit.txt").is_file())


def members(bag: Path) -> list[dict]:
    return json.loads((bag / "data" / "package.json").read_text(encoding="utf-8"))["members"]


def all_input_files() -> list[Path]:
    return sorted(p for folder in ("input", "defects") for p in (SAMPLE / folder).rglob("*") if p.is_file())


def test_one_package_per_class_and_a_quarantine(archive: Path):
    names = [b.name for b in bags(archive)]
    assert names == ["0109944_2025-2026_8A1", "0109944_2025-2026_9A1", "_KiemDuyet_2025-2026"]
    for name in names:
        assert (archive / f"{name}.label.pdf").is_file()


def test_bagit_python_validates_every_bag(archive: Path):
    import bagit

    for bag in bags(archive):
        assert bagit.Bag(str(bag)).validate(), bag
        assert (bag / "bagit.txt").read_text(encoding="utf-8").startswith("BagIt-Version: 1.0\n")  # RFC 8493


def test_sha256sum_accepts_every_manifest(archive: Path):
    require_tool("sha256sum")
    for bag in bags(archive):
        for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
            proc = subprocess.run(["sha256sum", "--strict", "-c", manifest], cwd=bag, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr


def test_openssl_accepts_every_package_timestamp(archive: Path):
    require_tool("openssl")
    for bag in bags(archive):
        ts = bag / "data" / "timestamp"
        digest = (ts / "root.sha256.txt").read_text().strip()
        proc = subprocess.run(["openssl", "ts", "-verify", "-digest", digest, "-in", str(ts / "package.tst"),
                               "-token_in", "-CAfile", str(ts / "tsa-chain.pem")], capture_output=True, text=True)
        assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stdout + proc.stderr


def test_premis_describes_every_file_and_event_in_schema_order(archive: Path):
    from lxml import etree

    P = "{http://www.loc.gov/premis/v3}"
    for bag in bags(archive):
        root = etree.parse(str(bag / "data" / "premis.xml")).getroot()
        order = [child.tag.removeprefix(P) for child in root]
        assert order == sorted(order, key=["object", "event", "agent"].index) and order[-1] == "agent"
        objects = {o.findtext(f"{P}objectIdentifier/{P}objectIdentifierValue") for o in root.iter(f"{P}object")}
        expected = {m["sha256"] for m in members(bag)} | {m["hashes"]["pdf"] for m in members(bag) if "pdf" in m["hashes"]}
        assert objects == expected
        linked = {v.text for v in root.iter(f"{P}linkingObjectIdentifierValue")}
        assert linked <= objects
        for o in root.iter(f"{P}object"):  # the size stated is the file's
            digest = o.findtext(f"{P}objectIdentifier/{P}objectIdentifierValue")
            m = next(m for m in members(bag) if digest in (m["sha256"], m["hashes"].get("pdf")))
            rel = m["files"]["pdf"] if digest == m["hashes"].get("pdf") else m["files"].get("xml") or m["files"]["original"]
            assert int(o.findtext(f"{P}objectCharacteristics/{P}size")) == (bag / rel).stat().st_size


def test_bag_info_carries_the_label_fields(archive: Path):
    info = (archive / "0109944_2025-2026_9A1" / "bag-info.txt").read_text(encoding="utf-8")
    for field in ("Source-Organization: Trường THCS", "School-Year: 2025-2026", "Class: 9A1",
                  "Count-VALID:", "Count-INVALID:", "Created: 2026-12-01", "Software: archiver",
                  "Package-Id: 0109944_2025-2026_9A1", "Timestamp-Status: local"):
        assert field in info


def test_every_input_ends_in_exactly_one_package(archive: Path):
    stored: dict[str, list[str]] = {}
    for bag in bags(archive):
        for m in members(bag):
            for p in m["input_paths"]:
                stored.setdefault(p, []).append(bag.name)
            original = bag / (m["files"].get("xml") or m["files"]["original"])
            assert any(Path(p).read_bytes() == original.read_bytes() for p in m["input_paths"])
    assert sorted(stored) == sorted(str(p) for p in all_input_files())
    assert all(len(v) == 1 for v in stored.values())
    report = json.loads((archive / "report.json").read_text(encoding="utf-8"))
    assert sorted(w["input"] for w in report["inputs_detail"]) == sorted(stored)


def test_quarantine_holds_each_rejected_defect_bit_exact_with_its_reason(archive: Path):
    manifest = json.loads((SAMPLE / "defects.json").read_text(encoding="utf-8"))
    quarantine = {Path(p).name: m for m in members(archive / "_KiemDuyet_2025-2026") for p in m["input_paths"]}
    for d in manifest["defects"]:
        if d["verdict"] != "REJECTED":
            continue
        m = quarantine[Path(d["file"]).name]
        assert m["reason_code"] == d["reason"] and m["reason"]
        stored = archive / "_KiemDuyet_2025-2026" / m["files"]["original"]
        assert stored.read_bytes() == (SAMPLE / d["file"]).read_bytes()


def test_verdicts_in_the_packages_are_the_manifests(archive: Path):
    manifest = json.loads((SAMPLE / "defects.json").read_text(encoding="utf-8"))
    by_name = {Path(p).name: m for b in bags(archive) for m in members(b) for p in m["input_paths"]}
    for d in manifest["defects"]:
        assert by_name[Path(d["file"]).name]["verdict"] == d["verdict"], d["kind"]


def test_revoked_and_replaced_pair_is_kept_whole_and_marked(archive: Path):
    bag = archive / "0109944_2025-2026_9A1"
    ms = {m["lookup_code"]: m for m in members(bag)}
    new = next(m for m in ms.values() if m["replaces"])
    old = ms[new["replaces"]]
    assert old["superseded_by"] == new["lookup_code"]
    report = json.loads((bag / old["files"]["report_json"]).read_text(encoding="utf-8"))
    assert report["archive"]["superseded_by"] == new["lookup_code"]
    assert "SUPERSEDED" in {w["code"] for w in report["warnings"]}
    index = json.loads((archive / "index.json").read_text(encoding="utf-8"))
    entry = next(t for t in index["transcripts"] if t["lookup_code"] == old["lookup_code"])
    assert entry["superseded_by"] == new["lookup_code"]


def test_every_transcript_has_its_rendering_reports_and_evidence(archive: Path):
    for bag in bags(archive)[:2]:
        for m in members(bag):
            assert set(m["files"]) >= {"xml", "pdf", "report_json", "report_html", "validation", "evidence"}
            assert (bag / m["files"]["pdf"]).read_bytes().startswith(b"%PDF-")


def test_archive_report_and_index(archive: Path):
    html = (archive / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "9A1" in html and "Bị từ chối" in html
    report = json.loads((archive / "report.json").read_text(encoding="utf-8"))
    assert report["tsa_requests"] == 3 and len(report["packages_written"]) == 3
    index = json.loads((archive / "index.json").read_text(encoding="utf-8"))
    assert index["schema"] == "archiver.index/1" and len(index["transcripts"]) == 30


def test_label_names_the_package_and_its_tag_manifest_hash(archive: Path, tmp_path: Path):
    require_tool("pdftotext")
    import hashlib

    bag = archive / "0109944_2025-2026_9A1"
    tag = hashlib.sha256((bag / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    text = subprocess.run(["pdftotext", str(archive / f"{bag.name}.label.pdf"), "-"],
                          capture_output=True, text=True).stdout
    assert bag.name in text and "Lớp 9A1" in text and tag[:32] in text and tag[32:] in text
    assert "Ngày lập: 01/12/2026" in text  # the build's date, dd/mm/yyyy
    # both QR codes (sleeve and USB tag) hold the hash, as a phone or zbarimg reads them
    from . import pdftools

    png = pdftools.render_png(archive / f"{bag.name}.label.pdf", tmp_path / "label", dpi=150, page=1)[-1]
    assert pdftools.zbar_qr(png) == [tag, tag]


def test_check_passes_on_a_fresh_archive(archive: Path):
    result = check_archive(archive)
    assert result.ok, result.problems
    assert result.evidence_checked == 30 + 6


def test_check_names_every_problem(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    bag = copy / "0109944_2025-2026_9A1"
    m = members(bag)[0]
    xml = bag / m["files"]["xml"]
    xml.write_bytes(xml.read_bytes().replace(b"<HK1>", b"<HK1> ", 1))
    (bag / m["files"]["evidence"]).write_bytes(b"\x30\x03\x02\x01")
    result = check_archive(copy)
    assert not result.ok
    text = "\n".join(result.problems)
    assert "0109944_2025-2026_9A1" in text
    cli = CliRunner().invoke(main, ["check", str(copy)])
    assert cli.exit_code == 1 and "VẤN ĐỀ" in cli.output
    as_json = CliRunner().invoke(main, ["check", "--json", str(copy)])
    report = json.loads(as_json.output)
    assert as_json.exit_code == 1 and report["ok"] is False and report["problems"] == result.problems


def _rebag(bag: Path) -> None:
    """What a careless repair or a forger does: checksums made again over the changed files."""
    import bagit

    bagit.Bag(str(bag)).save(manifests=True)


def test_check_is_not_fooled_by_checksums_made_again(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    bag = copy / "0109944_2025-2026_8A1"
    m = members(bag)[0]
    pdf = bag / m["files"]["pdf"]
    flip_a_byte(pdf)
    other = copy / "0109944_2025-2026_9A1" / "data" / "timestamp" / "package.tst"
    shutil.copy(other, bag / "data" / "timestamp" / "package.tst")
    _rebag(bag)
    text = "\n".join(check_archive(copy).problems)
    assert f"{m['files']['pdf']} khác mã băm ghi trong package.json" in text  # the recorded hash
    assert "dấu thời gian của gói không khớp nội dung gói" in text  # the token over the tree of members
    assert "không dựa trên dấu thời gian của gói" in text  # the records rest on another token
    assert "tagmanifest-sha256.txt khác mã băm trong index.json và trên nhãn" in text


def test_check_names_each_missing_or_extra_file(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    bag = copy / "0109944_2025-2026_8A1"
    gone = [bag / m["files"]["pdf"] for m in members(bag)[:2]]
    for path in gone:
        path.unlink()
    (bag / "data" / "renderings" / "extra.txt").write_text("x")
    (bag / "notes.txt").write_text("x")
    text = "\n".join(check_archive(copy, evidence=False).problems)
    for path in gone:
        assert f"thiếu tệp {path.relative_to(bag).as_posix()}" in text
    assert "tệp lạ data/renderings/extra.txt" in text and "tệp lạ notes.txt" in text
    assert "Payload-Oxum" not in text  # the files are named instead of a count
    for manifest in bag.glob("tagmanifest-*.txt"):  # optional in BagIt, not in an archiver package
        manifest.unlink()
    assert "thiếu tagmanifest-sha256.txt" in "\n".join(check_archive(copy, evidence=False).problems)


def test_check_compares_the_index_the_site_shows_with_the_packages(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    index = json.loads((copy / "index.json").read_text(encoding="utf-8"))
    invalid = next(t for t in index["transcripts"] if t["verdict"] == "INVALID")
    invalid["verdict"] = "VALID"
    dropped = index["transcripts"].pop()
    (copy / "index.json").write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
    text = "\n".join(check_archive(copy, evidence=False).problems)
    assert f"{invalid['stem']} ghi kết luận VALID, gói ghi INVALID" in text
    assert f"thiếu {dropped['package']}/{dropped['stem']} (có trong gói)" in text
    (copy / "index.json").write_text("{", encoding="utf-8")
    assert "index.json: không đọc được" in "\n".join(check_archive(copy, evidence=False).problems)


def test_check_notices_a_renamed_package(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    (copy / "0109944_2025-2026_8A1").rename(copy / "lop-8A1")
    problems = check_archive(copy, evidence=False).problems
    assert any("lop-8A1: thư mục gói mang tên khác mã gói 0109944_2025-2026_8A1" in p for p in problems)
    assert len([p for p in problems if "0109944_2025-2026_8A1" in p]) <= 3  # said once, not per transcript


def test_the_tree_root_is_recomputed_from_the_files_without_archiver(archive: Path, tmp_path: Path):
    """The package README's step 3: the standard-library script ties the files to the root
    the RFC 3161 token certifies (step 2), so a rebagged change shows without archiver."""
    def tree_root(bag: Path) -> str:
        return subprocess.run(["python3", "-I", "data/timestamp/tree_root.py"], cwd=bag, capture_output=True,
                              text=True, check=True).stdout.strip()

    for bag in (p for p in archive.iterdir() if (p / "bagit.txt").is_file()):
        assert tree_root(bag) == (bag / "data" / "timestamp" / "root.sha256.txt").read_text().strip(), bag.name
    copy = tmp_path / "copy"
    shutil.copytree(archive / "0109944_2025-2026_8A1", copy)
    xml = copy / members(copy)[0]["files"]["xml"]
    xml.write_bytes(xml.read_bytes().replace(b"<HK1>", b"<HK1> ", 1))
    _rebag(copy)
    assert tree_root(copy) != (copy / "data" / "timestamp" / "root.sha256.txt").read_text().strip()


def test_names_from_old_windows_shares_and_zips_are_read_in_the_vietnamese_code_page(tmp_path: Path):
    """A file name that is not UTF-8 on disk, and a zip member name without the UTF-8 flag
    (Windows' own zip), are recorded readably; the build neither crashes nor loses them."""
    import os
    import zipfile

    inputs = tmp_path / "in"
    inputs.mkdir()
    sources = sorted((SAMPLE / "input" / "8A1").glob("*.xml"))
    legacy = Path(os.fsdecode(os.fsencode(inputs) + b"/L\xf5\xecp-Pha\xf2m.xml"))  # cp1258 bytes
    legacy.write_bytes(sources[0].read_bytes())
    name = b"L\xf5\xecp 8A1/Pha\xf2m Thi\xf2 Dung.xml"
    placeholder = b"P" * len(name)
    with zipfile.ZipFile(inputs / "export.zip", "w") as zf:
        zf.writestr(placeholder.decode(), sources[1].read_bytes())
    (inputs / "export.zip").write_bytes((inputs / "export.zip").read_bytes().replace(placeholder, name))
    out = tmp_path / "out"
    result = run_build([inputs], out)
    assert result.complete, result.problems
    recorded = "\n".join(p for m in members(out / "0109944_2025-2026_8A1") for p in m["input_paths"])
    assert "Lớp-Phạm.xml" in recorded and "export.zip!/Lớp 8A1/Phạm Thị Dung.xml" in recorded


def test_files_that_are_not_transcripts_say_what_they_are(tmp_path: Path):
    """A class export holds PDFs beside the XML, and a copied folder Windows' files: each is
    kept, and its reason says what it is and whether the clerk has anything to do."""
    import zipfile

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "Học bạ.pdf").write_bytes(b"%PDF-1.7\n...")
    (inputs / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 windows")
    inner = tmp_path / "lop8A1.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.write(next((SAMPLE / "input" / "8A1").glob("*.xml")), "a.xml")
    with zipfile.ZipFile(inputs / "export.zip", "w") as zf:
        zf.write(inner, "lop8A1.zip")
    out = tmp_path / "out"
    run_build([inputs], out)
    quarantines = [q for q in out.iterdir() if q.name.startswith("_KiemDuyet_") and q.is_dir()]
    # the files that say no year join the year the nested zip's transcript names
    assert [q.name for q in quarantines] == ["_KiemDuyet_2025-2026"]
    reasons = {Path(m["input_paths"][0]).name: m["reason"] for q in quarantines for m in members(q)}
    assert reasons["Học bạ.pdf"].startswith("Tệp PDF, không phải học bạ XML")
    assert "không cần làm gì" in reasons["Thumbs.db"]
    assert "hãy giải nén" in reasons["lop8A1.zip"].lower()


def test_a_zip_with_an_unusable_member_is_kept_whole_and_its_transcripts_archived(tmp_path: Path):
    """A member that would expand beyond any transcript (a zip bomb) or cannot be read
    (bad CRC) is never expanded into the archive: the zip itself, the original the clerk
    handed over, goes to quarantine whole; its readable transcripts are archived."""
    import zipfile

    inputs = tmp_path / "in"
    inputs.mkdir()
    good = sorted((SAMPLE / "input" / "8A1").glob("*.xml"))
    with zipfile.ZipFile(inputs / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(good[0], "8A1/a.xml")
        zf.writestr("8A1/huge.xml", b"\0" * (65 * 1024 * 1024))
    with zipfile.ZipFile(inputs / "crc.zip", "w", zipfile.ZIP_STORED) as zf:
        zf.write(good[1], "8A1/b.xml")
        zf.writestr("8A1/broken.xml", b"<x>" + b"a" * 1000 + b"</x>")
    damaged = bytearray((inputs / "crc.zip").read_bytes())
    damaged[damaged.index(b"aaaa")] ^= 1
    (inputs / "crc.zip").write_bytes(bytes(damaged))
    out = tmp_path / "out"
    result = run_build([inputs], out)
    assert result.complete, result.problems
    archived = {m["sha256"] for m in members(out / "0109944_2025-2026_8A1")}
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in good[:2]} <= archived
    kept = {Path(m["input_paths"][0]).name: m for q in out.iterdir() if q.name.startswith("_KiemDuyet_")
            and q.is_dir() for m in members(q)}
    assert kept["bomb.zip"]["reason_code"] == "ZIP_KEPT_WHOLE" and "huge.xml" in kept["bomb.zip"]["reason"]
    assert kept["crc.zip"]["reason_code"] == "ZIP_KEPT_WHOLE" and "broken.xml" in kept["crc.zip"]["reason"]
    assert max(p.stat().st_size for p in out.rglob("*") if p.is_file()) < 1024 * 1024  # nothing expanded


def test_a_file_larger_than_fat32_allows_is_not_archived_and_said(tmp_path: Path, monkeypatch):
    import archiver.pipeline.build as build_module

    monkeypatch.setattr(build_module, "FAT32_MAX_FILE", 4096)  # 4 GiB, scaled down for the test
    inputs = tmp_path / "in"
    shutil.copytree(SAMPLE / "input" / "8A1", inputs)
    (inputs / "sao-luu.bak").write_bytes(b"x" * 5000)
    result = run_build([inputs], tmp_path / "out")
    assert not result.complete and any("sao-luu.bak" in p and "FAT32" in p for p in result.problems)
    assert not any(p.name.endswith(".bak") for p in (tmp_path / "out").rglob("*"))


def test_check_notices_a_whole_package_or_label_gone(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    quarantine = next(p for p in copy.iterdir() if p.name.startswith("_KiemDuyet_") and p.is_dir())
    shutil.rmtree(quarantine)
    (copy / "0109944_2025-2026_8A1.label.pdf").unlink()
    text = "\n".join(check_archive(copy, evidence=False).problems)
    assert quarantine.name in text and "0109944_2025-2026_8A1.label.pdf" in text
    # the next build archives the rejected inputs again and prints the missing label
    assert run_build([SAMPLE / "input", SAMPLE / "defects"], copy).complete
    assert check_archive(copy, evidence=False).ok


def test_a_copy_met_in_a_later_run_keeps_its_path(tmp_path: Path):
    """Packages are never rewritten; a path under which archived content turns up again
    goes to ARCHIVE/input-paths.jsonl, and stays listed when that folder is gone."""
    out = tmp_path / "out"
    assert run_build([SAMPLE / "input" / "8A1"], out).complete
    extra = tmp_path / "ban-sao"
    extra.mkdir()
    original = sorted((SAMPLE / "input" / "8A1").glob("*.xml"))[0]
    shutil.copy(original, extra / "copy.xml")
    second = run_build([SAMPLE / "input" / "8A1", extra], out)
    assert second.packages_written == [] and second.duplicates == 1
    for _ in range(2):  # the log is not written twice for the same path
        run_build([SAMPLE / "input" / "8A1"], out)
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    paths = next(t["input_paths"] for t in index["transcripts"] if str(original) in t["input_paths"])
    assert str(extra / "copy.xml") in paths
    assert len((out / "input-paths.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_rerun_on_the_same_input_does_no_work(archive: Path, tmp_path: Path):
    copy = copy_of(archive, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file() and p.parent != copy}
    result = run_build([SAMPLE / "input", SAMPLE / "defects"], copy)
    assert result.packages_written == [] and result.tsa_requests == 0
    assert result.already_archived == result.unique
    after = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file() and p.parent != copy}
    assert before == after


def test_identical_inputs_are_kept_once_with_every_path(tmp_path: Path):
    inputs = tmp_path / "in"
    shutil.copytree(SAMPLE / "input" / "8A1", inputs / "8A1")
    first = sorted((inputs / "8A1").iterdir())[0]
    (inputs / "copy").mkdir()
    shutil.copy(first, inputs / "copy" / "ban-sao.xml")
    out = tmp_path / "out"
    result = run_build([inputs], out, jobs=1)
    assert result.duplicates == 1 and result.unique == 5
    (bag,) = bags(out)
    member = next(m for m in members(bag) if len(m["input_paths"]) == 2)
    assert sorted(Path(p).name for p in member["input_paths"]) == sorted([first.name, "ban-sao.xml"])


def test_new_content_makes_a_new_version_and_adding_a_class_touches_only_it(tmp_path: Path):
    inputs = tmp_path / "in"
    shutil.copytree(SAMPLE / "input" / "9A1", inputs / "9A1")
    held_back = sorted((inputs / "9A1").glob("*.xml"))[-1]
    spare = tmp_path / held_back.name
    shutil.move(held_back, spare)
    out = tmp_path / "out"
    run_build([inputs], out, jobs=1)
    v1 = out / "0109944_2025-2026_9A1"
    v1_bytes = {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()}
    # Another class arrives: only it is processed.
    shutil.copytree(SAMPLE / "input" / "8A1", inputs / "8A1")
    second = run_build([inputs], out, jobs=1)
    assert second.packages_written == ["0109944_2025-2026_8A1"] and second.tsa_requests == 1
    # New content in an existing class: a new version beside the old one, which stays as it was.
    shutil.move(spare, inputs / "9A1" / held_back.name)
    third = run_build([inputs], out, jobs=1)
    assert third.packages_written == ["0109944_2025-2026_9A1_v2"]
    assert {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()} == v1_bytes
    v2_members = members(out / "0109944_2025-2026_9A1_v2")
    assert len(v2_members) == len(members(v1)) + 1
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert {p["id"] for p in index["packages"]} == {"0109944_2025-2026_9A1_v2", "0109944_2025-2026_8A1"}
    assert check_archive(out).ok


def test_disk_full_stops_with_a_clear_message_and_no_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import archiver.archive.members as members_module

    real = members_module.write_file
    calls = {"n": 0}

    def failing(path, data):
        calls["n"] += 1
        if calls["n"] > 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(members_module, "write_file", failing)
    out = tmp_path / "out"
    with pytest.raises(ArchiveWriteError) as err:
        run_build([SAMPLE / "input" / "8A1"], out, jobs=1)
    assert "Hết chỗ trống" in str(err.value) and "disk full at" in str(err.value) and " MB" in str(err.value)
    assert bags(out) == []


def test_mistakes_on_the_command_line_stop_before_anything_is_written(tmp_path: Path):
    def build_cli(*args: str):
        return CliRunner().invoke(main, ["build", *args, "--no-site"])

    out = tmp_path / "archive"
    no_trust = build_cli(str(SAMPLE / "input" / "8A1"), "--out", str(out))
    assert no_trust.exit_code == 2 and "--trust" in no_trust.output
    copy = tmp_path / "input"
    shutil.copytree(SAMPLE / "input" / "8A1", copy)
    inside = build_cli(str(copy), "--out", str(copy / "archive"), "--trust", str(SAMPLE / "trust"))
    assert inside.exit_code == 2 and "không được nằm trong" in inside.output
    missing = build_cli(str(tmp_path / "nope"), "--out", str(out), "--trust", str(SAMPLE / "trust"))
    assert missing.exit_code == 2
    bad_trust = build_cli(str(copy), "--out", str(out), "--trust", str(tmp_path / "no-such-trust"))
    assert bad_trust.exit_code == 2
    both = build_cli(str(copy), "--out", str(out), "--trust", str(SAMPLE / "trust"), "--no-trust")
    assert both.exit_code == 2 and "--no-trust" in both.output + both.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = build_cli(str(empty), "--out", str(out), "--trust", str(SAMPLE / "trust"))
    assert nothing.exit_code == 2 and "không có tệp nào" in nothing.output
    assert not out.exists() and not (copy / "archive").exists()
    assert "Traceback" not in no_trust.output + inside.output + missing.output + bad_trust.output


def test_a_trust_folder_that_fits_no_signature_is_pointed_out(tmp_path: Path):
    """The clerk's likeliest mistake: another school's (or an old) trust folder. Archived
    transcripts are not verified again, so the build says so before the discs are burnt."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another school's CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=3650)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    wrong = tmp_path / "wrong-trust"
    wrong.mkdir()
    (wrong / "root.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    result = CliRunner().invoke(main, ["build", str(SAMPLE / "input" / "8A1"), "--out", str(tmp_path / "a"),
                                       "--trust", str(wrong), "--no-site", "--jobs", "1"])
    assert result.exit_code == 0
    assert "5/5 học bạ có chữ ký không dẫn tới CA tin cậy" in " ".join((result.output + result.stderr).split())
    right = CliRunner().invoke(main, ["build", str(SAMPLE / "input" / "8A1"), "--out", str(tmp_path / "b"),
                                      "--trust", str(SAMPLE / "trust"), "--no-site", "--jobs", "1"])
    assert right.exit_code == 0 and "CA tin cậy nào" not in right.output + right.stderr


def test_package_names_never_merge_two_classes_nor_differ_only_by_case():
    from archiver.archive.layout import package_name

    names = {c: package_name("0109944", "2025-2026", c) for c in ("6A1", "8A1/2", "8A1-2", "9A1", "9a1", "10Á1",
                                                                   "10A1", "12:A", "X" * 250)}
    assert names["6A1"] == "0109944_2025-2026_6A1"  # the usual names are as before
    assert len({n.upper() for n in names.values()}) == len(names)  # distinct, ignoring case
    assert all(len(n) <= 48 and re.fullmatch(r"[A-Za-z0-9_-]+", n) for n in names.values())
    assert package_name("0109944", "2025-2026", "8A1/2") == names["8A1/2"]  # the same every run


def test_symbolic_links_in_an_input_folder_are_not_followed(tmp_path: Path):
    source = tmp_path / "input"
    shutil.copytree(SAMPLE / "input" / "8A1", source)
    secret = tmp_path / "elsewhere.xml"
    secret.write_bytes(b"<private/>")
    (source / "link.xml").symlink_to(secret)
    result = run_build([source], tmp_path / "out")
    assert not result.complete and any("link.xml" in p and "symbolic link" in p for p in result.problems)
    archived = [p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert b"<private/>" not in archived


def test_an_unwritable_archive_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["build", str(SAMPLE / "input" / "8A1"), "--out", str(blocker / "archive"),
                                       "--trust", str(SAMPLE / "trust"), "--no-site"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "archive" in result.output


def test_an_archive_made_before_names_carried_a_hash_keeps_its_packages(tmp_path: Path, monkeypatch):
    """A class archived under its plain name ("…_8a1") gets its next version there, not a
    second package beside it; a plain name taken by another class is not shared."""
    import archiver.pipeline.build as build_module

    sources = sorted((SAMPLE / "input" / "8A1").glob("*.xml"))
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, source in ((first, sources[0]), (second, sources[1])):
        folder.mkdir()
        (folder / source.name).write_bytes(source.read_bytes().replace(b'Lop="8A1"', b'Lop="8a1"'))
    out = tmp_path / "out"
    with monkeypatch.context() as old:
        old.setattr(build_module, "package_name", lambda c, y, k: build_module.safe_name(f"{c}_{y}_{k}"))
        assert run_build([first], out).complete
    assert (out / "0109944_2025-2026_8a1").is_dir()
    assert run_build([second], out).complete
    assert sorted(p.name for p in bags(out)) == ["0109944_2025-2026_8a1", "0109944_2025-2026_8a1_v2"]


def test_one_writer_at_a_time(tmp_path: Path):
    """A second build on the same archive (two cron jobs, two clerks) stops at once with a
    clear message instead of removing the first one's staging area."""
    from archiver.archive.lock import archive_lock

    out = tmp_path / "archive"
    with archive_lock(out):
        second = CliRunner().invoke(main, ["build", str(SAMPLE / "input" / "8A1"), "--out", str(out),
                                           "--trust", str(SAMPLE / "trust"), "--no-site", "--jobs", "1"])
    assert second.exit_code == 1 and "another archiver run is writing this archive" in " ".join(
        (second.output + second.stderr).split())
    assert bags(out) == []
    assert run_build([SAMPLE / "input" / "8A1"], out).complete  # the lock ends with its holder


def test_bad_tsa_settings_stop_before_any_work(tmp_path: Path):
    result = CliRunner().invoke(main, ["build", str(SAMPLE / "input" / "8A1"), "--out", str(tmp_path / "a"),
                                       "--trust", str(SAMPLE / "trust"), "--no-site", "--tsa-url",
                                       "http://127.0.0.1:9/tsr", "--tsa-cert", str(tmp_path / "no-such.pem")])
    assert result.exit_code == 2 and "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "a").exists()


def test_check_and_stamping_refuse_a_folder_that_is_no_archive(tmp_path: Path):
    """A scheduled fixity check on an unmounted disk or a mistyped path must not pass."""
    empty = tmp_path / "not-an-archive"
    empty.mkdir()
    assert not check_archive(empty).ok
    assert CliRunner().invoke(main, ["check", str(empty)]).exit_code == 1
    assert CliRunner().invoke(main, ["renew", str(empty)]).exit_code == 2
    assert CliRunner().invoke(main, ["timestamp", "--pending", str(empty)]).exit_code == 2
    assert CliRunner().invoke(main, ["renew", str(tmp_path / "nowhere")]).exit_code == 2


def test_strict_fails_on_non_valid_verdicts(tmp_path: Path):
    args = ["build", str(SAMPLE / "defects" / "sha1.xml"), "--trust", str(SAMPLE / "trust"), "--no-site",
            "--jobs", "1"]
    assert CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")]).exit_code == 0
    strict = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--strict"])
    assert strict.exit_code == 1 and "--strict" in strict.output and "all were archived" in strict.output


def test_a_large_archive_builds_its_site_in_a_fresh_process(archive: Path, tmp_path: Path, monkeypatch):
    """Past SITE_PROCESS_MIN transcripts the site is made in a spawned process (so the
    build's heap does not add to the site's); the pages are the same either way."""
    import archiver.pipeline.build as build_module
    from archiver.site import build_site

    build_site(archive, tmp_path / "in-process", jobs=1)
    copy = copy_of(archive, tmp_path)
    monkeypatch.setattr(build_module, "SITE_PROCESS_MIN", 0)
    build_module.run_site(build_site, copy, 1, 10)
    ours = {p.relative_to(copy / "site"): p.read_bytes() for p in (copy / "site").rglob("*") if p.is_file()}
    theirs = {p.relative_to(tmp_path / "in-process"): p.read_bytes()
              for p in (tmp_path / "in-process").rglob("*") if p.is_file()}
    assert ours == theirs


def test_an_unchanged_rerun_leaves_the_site_as_it_was(tmp_path: Path):
    out = tmp_path / "archive"
    first = run_build([SAMPLE / "input"], out, site=True)
    assert first.complete and not first.site_unchanged
    marker = out / "site" / ".archiver-site"
    before = {p: p.stat().st_mtime_ns for p in (out / "site").rglob("*")}
    again = run_build([SAMPLE / "input"], out, site=True, now=NOW + dt.timedelta(days=1))
    assert again.site_unchanged and again.packages_written == []
    assert {p: p.stat().st_mtime_ns for p in (out / "site").rglob("*")} == before
    # a site made from another index (or by another version) is made again
    marker.write_text(marker.read_text(encoding="utf-8") + "stale\n", encoding="utf-8")
    third = run_build([SAMPLE / "input"], out, site=True)
    assert not third.site_unchanged and "stale" not in marker.read_text(encoding="utf-8")


def test_evidence_verify_takes_a_transcript_and_its_record_or_a_whole_package(archive: Path, tmp_path: Path):
    from archiver.commands.evidence import command as evidence

    bag = archive / "0109944_2025-2026_9A1"
    member = members(bag)[0]
    xml, ers = bag / member["files"]["xml"], bag / member["files"]["evidence"]
    one = CliRunner().invoke(evidence, ["verify", str(xml), str(ers)])
    assert one.exit_code == 0 and "HỢP LỆ / VERIFIED" in one.output, one.output
    assert member["files"]["report_json"].rsplit("/", 1)[-1] in one.output  # the companions it took
    n = len(members(bag))
    whole = CliRunner().invoke(evidence, ["verify", str(bag)])
    assert whole.exit_code == 0 and f"{n}/{n}" in whole.output, whole.output

    copy = tmp_path / bag.name
    shutil.copytree(bag, copy)
    report = copy / member["files"]["report_json"]
    report.write_bytes(report.read_bytes() + b" ")
    broken = CliRunner().invoke(evidence, ["verify", str(copy)])
    assert broken.exit_code == 1 and member["stem"] in broken.output and f"{n - 1}/{n}" in broken.output
    assert CliRunner().invoke(evidence, ["verify", str(xml)]).exit_code == 2  # which record?


def test_check_says_why_an_evidence_record_fails(archive: Path, tmp_path: Path):
    """Records swapped between two transcripts, with the bag's manifests made again (so
    only the evidence can tell): check names both and says what is wrong."""
    import bagit

    copy = copy_of(archive, tmp_path)
    bag = copy / "0109944_2025-2026_8A1"
    first, second = members(bag)[:2]
    a, b = bag / first["files"]["evidence"], bag / second["files"]["evidence"]
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    bagit.Bag(str(bag)).save(manifests=True)
    problems = [p for p in check_archive(copy).problems if "evidence record does not verify" in p]
    assert {first["stem"], second["stem"]} <= {p.split("/")[1].split(":")[0] for p in problems}
    assert all(p.split("does not verify: ", 1)[1].strip() for p in problems)


def test_a_stray_file_in_a_later_run_joins_the_archive_s_year(tmp_path: Path):
    out = tmp_path / "out"
    assert run_build([SAMPLE / "input" / "8A1"], out).complete
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 windows")
    assert run_build([stray], out).complete
    assert (out / "_KiemDuyet_2025-2026").is_dir() and not (out / "_KiemDuyet_khong-ro-nam").exists()


def test_a_rendering_is_what_the_package_xml_and_report_give_again(archive: Path):
    """The build renders from the content its verify stage read (not parsing the XML twice):
    the PDF must be exactly what rendering the archived XML with its archived report gives."""
    from archiver.render import render_transcript

    bag = bags(archive)[0]
    for m in members(bag)[:3]:
        report = json.loads((bag / m["files"]["report_json"]).read_text(encoding="utf-8"))
        report.pop("validation_data", None)
        again = render_transcript((bag / m["files"]["xml"]).read_bytes(), profile=report["profile"],
                                  verification=report, attachment_name=f"{m['stem']}.xml")
        assert again == (bag / m["files"]["pdf"]).read_bytes()


def test_the_site_of_a_build_is_the_site_made_from_the_archive_alone(tmp_path: Path):
    """The build's site reads the transcripts its verify stage kept; `archiver site`, later,
    parses the archived XML. The pages are the same."""
    from archiver.site import build_site

    out = tmp_path / "archive"
    assert run_build([SAMPLE / "input"], out, site=True).complete
    build_site(out, tmp_path / "alone", jobs=1)
    ours = {p.relative_to(out / "site"): p.read_bytes() for p in (out / "site").rglob("*") if p.is_file()}
    theirs = {p.relative_to(tmp_path / "alone"): p.read_bytes() for p in (tmp_path / "alone").rglob("*") if p.is_file()}
    marker = Path(".archiver-site")  # the build also records the index it was made from
    assert ours.pop(marker).startswith(theirs.pop(marker))
    assert ours == theirs
    assert not (out / ".staging").exists()  # what the build kept went with its staging area


def test_an_input_changed_after_its_verification_is_not_archived(tmp_path: Path, monkeypatch):
    """The package stage reads each original again: content that is not what was verified
    (a file edited while the build runs) stops the build, and nothing is published."""
    import archiver.pipeline.build as build_module

    source = tmp_path / "input"
    shutil.copytree(SAMPLE / "input", source)
    verify_one = build_module.verify_one

    def verify_then_edit(job):
        verified = verify_one(job)
        path = Path(job[1].source)
        path.write_bytes(path.read_bytes() + "\n<!-- sửa sau khi kiểm tra -->".encode())
        return verified

    monkeypatch.setattr(build_module, "verify_one", verify_then_edit)
    out = tmp_path / "archive"
    with pytest.raises(ArchiveWriteError) as err:
        run_build([source], out, jobs=1)
    assert "đã thay đổi trong khi lập kho" in str(err.value) and "run again" in str(err.value)
    assert bags(out) == []


def test_packages_are_flushed_file_by_file_where_syncfs_is_not_trusted(tmp_path: Path, monkeypatch):
    """syncfs is used on kernel file systems only; on others (ntfs-3g through FUSE on a
    Windows-formatted USB drive) every file is fsynced, as before."""
    import archiver.fsutil as fsutil

    folder = tmp_path / "pkg"
    (folder / "data").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (folder / "data" / name).write_bytes(b"x")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(fsutil.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    monkeypatch.setattr(fsutil, "_file_system_type", lambda path: "fuseblk")
    fsutil.fsync_tree(folder)
    assert len(synced) == 3 + 2  # three files, two folders
    synced.clear()
    monkeypatch.setattr(fsutil, "_file_system_type", lambda path: "ext4")
    fsutil.fsync_tree(folder)
    assert synced == [] if sys.platform.startswith("linux") else len(synced) == 5


def test_a_student_code_is_never_a_path(tmp_path: Path):
    """The member files are named after the student code in the XML: a code holding "/",
    ".." or "%" (a damaged or forged transcript is archived too) stays a plain file name
    inside its package."""
    source = tmp_path / "input"
    shutil.copytree(SAMPLE / "input" / "8A1", source)
    victim = sorted(source.glob("*.xml"))[0]
    data = victim.read_bytes()
    code = re.search(rb"<MaHocSinh>([^<]*)</MaHocSinh>", data)[1]
    victim.write_bytes(data.replace(b"<MaHocSinh>" + code, b"<MaHocSinh>../../../tr%C3%B6n/" + code, 1))
    out = tmp_path / "archive"
    assert run_build([source], out).complete
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.is_relative_to(source) or p.is_relative_to(out) for p in files)
    stems = [m["stem"] for bag in bags(out) for m in members(bag)]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", s) for s in stems), stems
    assert check_archive(out).ok


def test_a_transcript_that_cannot_be_rendered_is_archived_and_named(tmp_path: Path, monkeypatch):
    """Archived without its PDF (the XML is the original), its verification reasons kept,
    and named as a problem of the run (exit 1) and by check: never a silent success."""
    import archiver.render as render_module
    from archiver.render import RenderError

    real = render_module.render_transcript
    victim = sorted((SAMPLE / "input" / "8A1").glob("*.xml"))[0]

    def failing(data, **kw):
        if data == victim.read_bytes():
            raise RenderError("LAYOUT", "Không dàn trang được", "the rendering cannot be laid out")
        return real(data, **kw)

    monkeypatch.setattr(render_module, "render_transcript", failing)
    out = tmp_path / "out"
    result = run_build([SAMPLE / "input" / "8A1"], out, jobs=1)
    assert not result.complete
    assert [p for p in result.problems if victim.name in p and "not rendered" in p], result.problems
    bag = bags(out)[0]
    member = next(m for m in members(bag) if any(victim.name in p for p in m["input_paths"]))
    assert "pdf" not in member["files"] and "cannot be laid out" in member["render_error"]
    report = json.loads((bag / member["files"]["report_json"]).read_text(encoding="utf-8"))
    assert member["reason"] == "; ".join(r["message"] for r in report["reasons"])  # not overwritten
    assert any(member["stem"] in p and "no rendering" in p for p in check_archive(out).problems)


def test_a_bug_in_the_verifier_stops_the_build_instead_of_becoming_a_verdict(tmp_path: Path, monkeypatch):
    from archiver.errors import InternalError
    from archiver.verify.engine import Verifier

    def broken(self, root, profile, report, poe):
        raise KeyError("a bug")

    monkeypatch.setattr(Verifier, "_check_document", broken)
    out = tmp_path / "out"
    with pytest.raises(InternalError) as err:
        run_build([SAMPLE / "input" / "8A1"], out, jobs=1)
    assert "internal error" in str(err.value) and "8A1" in str(err.value)
    assert bags(out) == [] and not (out / ".staging").exists()
    run = CliRunner().invoke(main, ["verify", "--trust", str(SAMPLE / "trust"), str(SAMPLE / "input" / "8A1")])
    assert "VERIFIER_ERROR" in run.output  # `archiver verify` still reports it as that file's finding


def test_the_lock_is_held_by_the_main_process_alone():
    """A worker forked while the archive is locked closes its copy of the lock, so that a
    main process killed on its own frees the archive even before its workers are gone."""
    import multiprocessing

    from archiver.archive.lock import _HELD_HERE, archive_lock

    def child(queue):
        queue.put(sorted(_HELD_HERE))

    import tempfile

    with tempfile.TemporaryDirectory() as folder, archive_lock(Path(folder)):
        assert _HELD_HERE
        queue = multiprocessing.get_context("fork").Queue()
        proc = multiprocessing.get_context("fork").Process(target=child, args=(queue,))
        proc.start()
        assert queue.get(timeout=10) == []
        proc.join()
