"""`archiver replicate`, `audit` and `repair` against real destinations: a local folder,
an SFTP remote on a real OpenSSH server, a WebDAV server without hashes (`rclone serve
webdav`) and an rclone crypt remote over a local folder. Faults are injected into the
archive and two replicas; every one must be found, every one repaired when a good copy
exists, and no good copy ever overwritten."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.replication_servers import Servers, servers  # noqa: F401  (fixture)

from .conftest import SAMPLE

PACKAGE = "0109944_2025-2026_8A1"
OTHER = "0109944_2025-2026_9A1"


def archiver(*args, env=None, check_rc: int | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "archiver", *map(str, args)], capture_output=True, text=True,
                          env={**(env or os.environ), "COLUMNS": "200"}, timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("replication") / "archive"
    archiver("build", SAMPLE / "input", SAMPLE / "defects", "--out", out, "--trust", SAMPLE / "trust",
             "--jobs", "2", check_rc=0)
    return out


@pytest.fixture
def archive(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(built, copy)
    return copy


def files_of(root: Path) -> dict[str, str]:
    """Every file under ``root`` (archiver's own dot-folders aside): path -> SHA-256."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".") and not rel.startswith("audit/"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def check_passes(root: Path) -> None:
    proc = archiver("check", root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


# == a local folder ================================================================================
def test_a_local_folder_replica_is_a_complete_checkable_archive_and_a_second_run_copies_nothing(
        archive: Path, tmp_path: Path):
    dest = tmp_path / "usb"
    first = archiver("replicate", archive, dest, "--json", check_rc=0)
    report = json.loads(first.stdout)["destinations"][0]
    assert report["ok"] and len(report["confirmed"]) == 3 and report["files_copied"] > 200
    assert files_of(dest) == files_of(archive)
    check_passes(dest)
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file() and ".archiver" not in p.name}
    second = json.loads(archiver("replicate", archive, dest, "--json", check_rc=0).stdout)["destinations"][0]
    assert second["files_copied"] == 0 and second["archive_files_copied"] == 0 and second["already"] == 3
    # nothing at the destination was written again (but the audit log, which the first run added to)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # the replication is in the archive's audit log and in a PREMIS document of its run
    log = [json.loads(line) for line in (archive / "audit" / "audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in log].count("replication") == 1  # the second run did nothing to log
    premis = premis_events(archive)
    assert ("replication", PACKAGE) in {(kind, package) for kind, package, _ in premis}
    # and the audit folder is replicated too, one run behind (the second run copied the
    # first one's log and PREMIS document, and logged nothing, having copied nothing else)
    assert second["audit_files_copied"] == 2
    third = json.loads(archiver("replicate", archive, dest, "--json", check_rc=0).stdout)["destinations"][0]
    assert third["files_copied"] == third["archive_files_copied"] == third["audit_files_copied"] == 0
    assert (dest / "audit" / "audit.jsonl").read_bytes() == (archive / "audit" / "audit.jsonl").read_bytes()
    archiver("audit", archive, check_rc=0)  # more lines in the archive's log
    fourth = json.loads(archiver("replicate", archive, dest, "--json", check_rc=0).stdout)["destinations"][0]
    assert fourth["audit_files_copied"] == 2  # the longer log and the audit's PREMIS document
    assert (dest / "audit" / "audit.jsonl").read_bytes() == (archive / "audit" / "audit.jsonl").read_bytes()
    assert {p.name for p in (dest / "audit").glob("*.premis.xml")} == {
        p.name for p in (archive / "audit").glob("*.premis.xml")}
    assert not (dest / ".archiver-replaced").exists()  # a log that continues the old one replaces it
    check_passes(archive)
    check_passes(dest)


def premis_events(archive: Path) -> list[tuple[str, str, str]]:
    """(event type, package, outcome) of every PREMIS event in the archive's audit folder;
    each document's events link to a file object it declares."""
    from lxml import etree

    P = "{http://www.loc.gov/premis/v3}"
    events = []
    for path in sorted((archive / "audit").glob("*.premis.xml")):
        root = etree.parse(str(path)).getroot()
        declared = {o.findtext(f"{P}objectIdentifier/{P}objectIdentifierValue") for o in root.iter(f"{P}object")}
        assert root.find(f"{P}agent") is not None
        for event in root.iter(f"{P}event"):
            linked = {v.text for v in event.iter(f"{P}linkingObjectIdentifierValue")}
            assert linked and linked <= declared, path
            detail = event.findtext(f"{P}eventDetailInformation/{P}eventDetail")
            events.append((event.findtext(f"{P}eventType"), detail.split(":", 1)[0],
                           event.findtext(f"{P}eventOutcomeInformation/{P}eventOutcome")))
    return events


def test_the_audit_of_an_intact_archive_and_replica_is_clean_and_logged(archive: Path, tmp_path: Path):
    dest = tmp_path / "usb"
    archiver("replicate", archive, dest, check_rc=0)
    proc = archiver("audit", archive, "--replica", dest, "--json", check_rc=0)
    result = json.loads(proc.stdout)
    assert result["ok"] and result["findings"] == [] and len(result["packages"]) == 3
    assert [s["files"] for s in result["locations"]] == [s["files"] for s in result["locations"]][:1] * 2
    entries = [json.loads(line) for line in (archive / "audit" / "audit.jsonl").read_text().splitlines()]
    checks = [e for e in entries if e["event"] == "fixity-check"]
    assert len(checks) == 6 and all(e["outcome"] == "pass" for e in checks)
    text = archiver("audit", archive, "--replica", dest, check_rc=0).stdout
    assert "toàn vẹn / intact" in text
    check_passes(archive)  # the audit folder is checked too


def test_slices_cover_every_package_exactly_once(archive: Path):
    seen = []
    for k in range(1, 4):
        result = json.loads(archiver("audit", archive, "--slice", f"{k}/3", "--json", check_rc=0).stdout)
        seen += result["packages"]
    assert sorted(seen) == sorted(p.name for p in archive.iterdir() if (p / "bagit.txt").is_file())
    sampled = json.loads(archiver("audit", archive, "--slice", "1/50", "--sample", "2", "--json").stdout)
    assert len(sampled["packages"]) >= 2
    daily = json.loads(archiver("audit", archive, "--days", "30", "--json").stdout)
    assert daily["slice"].endswith("/30")


@pytest.mark.parametrize("args", [["--slice", "0/3"], ["--slice", "4/3"], ["--slice", "x"],
                                  ["--slice", "1/2", "--days", "3"], ["--replica", "nosuchremote:x"]])
def test_usage_mistakes_exit_2_before_anything_is_read(archive: Path, args: list[str], servers: Servers):
    proc = archiver("audit", archive, *args, env=servers.env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_rclone_is_a_clear_message(archive: Path, tmp_path: Path):
    proc = archiver("replicate", archive, "remote:backup", env={**os.environ, "PATH": str(tmp_path)})
    assert proc.returncode == 2 and "rclone" in proc.stderr and "Traceback" not in proc.stderr
    proc = archiver("replicate", archive, "remote:backup", "--rclone", tmp_path / "nothing")
    assert proc.returncode == 2 and "--rclone" in proc.stderr


# == remotes ========================================================================================
@pytest.mark.slow
@pytest.mark.parametrize("remote", ["sftp", "dav", "secret"])
def test_a_remote_replica_is_confirmed_audited_and_its_second_run_copies_nothing(
        archive: Path, servers: Servers, remote: str):
    where = {"sftp": f"sftp:{servers.sftp_root}/{archive.parent.name}", "dav": f"dav:{archive.parent.name}",
             "secret": f"secret:{archive.parent.name}"}[remote]
    first = json.loads(archiver("replicate", archive, where, "--json", env=servers.env, check_rc=0).stdout)
    report = first["destinations"][0]
    assert report["ok"] and len(report["confirmed"]) == 3 and report["method"] == "download"
    second = json.loads(archiver("replicate", archive, where, "--json", env=servers.env, check_rc=0).stdout)
    assert second["destinations"][0]["files_copied"] == 0 and second["destinations"][0]["already"] == 3
    audited = json.loads(archiver("audit", archive, "--replica", where, "--json", env=servers.env, check_rc=0).stdout)
    assert audited["locations"][1]["method"] == "download" and audited["locations"][1]["files"] > 200
    if remote == "secret":  # encrypted at rest: no file name nor content in the clear
        stored = [p for p in servers.crypt_root.rglob("*") if p.is_file()]  # names are encrypted too
        assert stored and not any(PACKAGE in str(p) for p in stored)
        assert not any(b"<?xml" in p.read_bytes()[:200] for p in stored)
    else:
        plain = servers.sftp_root / archive.parent.name if remote == "sftp" else servers.webdav_root / archive.parent.name
        check_passes(plain)


def test_an_md5_remote_is_compared_with_the_md5_of_checked_source_bytes(archive: Path, tmp_path: Path,
                                                                       servers: Servers):
    """A remote that keeps MD5 (not SHA-256) is confirmed without a download: its MD5s
    are compared with those of source bytes that matched the manifest."""
    from archiver.replication.audit import open_locations, run_audit
    from archiver.replication.locations import RcloneRemote
    from archiver.replication.rclone import Rclone
    from archiver.replication.replicate import replicate

    remote = RcloneRemote(f"localsums:{tmp_path / 'md5'}", Rclone(), hash_type="md5")
    assert remote.remote_hash == "md5"
    result = replicate(archive, remote)
    assert result.ok and len(result.confirmed) == 3, result.findings
    target = tmp_path / "md5" / PACKAGE / "data" / "transcripts"
    victim = sorted(target.iterdir())[0]
    victim.write_bytes(victim.read_bytes().replace(b"<", b"[", 1))
    audited = run_audit(archive, [open_locations(archive, [])[0], remote], write_log=False)
    assert [(f.location, f.path, f.kind) for f in audited.findings] == [
        (remote.name, f"data/transcripts/{victim.name}", "damaged")]
    assert audited.locations[1].method.startswith("MD5")


# == one writer per destination ======================================================================
def test_a_destination_being_written_by_another_run_is_refused_clearly(archive: Path, tmp_path: Path,
                                                                      servers: Servers):
    """Two jobs never write one destination at once: a local folder has the archive's own
    lock; a remote has a marker file (and a lock on this computer). A marker another
    computer left stops the run, naming that computer and how to clear it; one this
    computer left (a killed run) is taken over."""
    from archiver.archive.lock import archive_lock

    usb = tmp_path / "usb"
    with archive_lock(usb):
        proc = archiver("replicate", archive, usb)
    assert proc.returncode == 1 and "another archiver run" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not any(p.name.startswith("0109944") for p in usb.iterdir())

    remote_root = tmp_path / "remote"
    remote_root.mkdir()
    where = f"localsums:{remote_root}"
    (remote_root / ".archiver-lock.json").write_text(json.dumps(
        {"host": "may-tinh-so-gd", "pid": 4242, "started": "2026-01-02T02:00:00+07:00", "token": "x"}))
    proc = archiver("replicate", archive, where, env=servers.env)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1 and "may-tinh-so-gd" in said and "rclone deletefile" in said, said
    assert not any(p.name.startswith("0109944") for p in remote_root.iterdir())
    import socket

    (remote_root / ".archiver-lock.json").write_text(json.dumps(
        {"host": socket.gethostname(), "pid": 1, "started": "2026-01-02T02:00:00+07:00", "token": "killed"}))
    archiver("replicate", archive, where, env=servers.env, check_rc=0)
    assert not (remote_root / ".archiver-lock.json").exists()  # taken over, and gone when the run ended
    check_passes(remote_root)


def test_a_site_page_changed_by_hand_is_not_spread_to_a_replica(archive: Path, tmp_path: Path):
    usb = tmp_path / "usb"
    archiver("replicate", archive, usb, check_rc=0)
    page = archive / "site" / "index.html"
    good = page.read_bytes()
    page.write_bytes(good.replace(b"</body>", b"<p>edited</p></body>"))
    proc = archiver("replicate", archive, usb, "--json")
    assert proc.returncode == 1
    problems = json.loads(proc.stdout)["destinations"][0]["problems"]
    assert any(p.startswith("site:") and "site/index.html" in p for p in problems), problems
    assert (usb / "site" / "index.html").read_bytes() == good


def test_the_token_integrity_check_agrees_with_pyhanko_on_every_altered_byte(built: Path):
    """The audit checks each package's RFC 3161 token with token_intact (the signed
    attributes and the signature, no certificate path: a tenth of the cost); on the token
    and on copies of it with a bit altered, it says what pyHanko's full check says of the
    signature (or that it is not a token at all)."""
    from archiver.timestamps.tsa import TokenFormatError, check_token, token_intact

    token = (built / PACKAGE / "data" / "timestamp" / "package.tst").read_bytes()
    assert token_intact(token) and check_token(token, None, []).signature_ok
    disagree = []
    for offset in range(0, len(token), 5):  # a different bit of every fifth byte
        altered = bytearray(token)
        altered[offset] ^= 1 << (offset // 5 % 8)
        try:
            ours = token_intact(bytes(altered))
        except TokenFormatError:
            ours = None
        try:
            theirs = check_token(bytes(altered), None, []).signature_ok
        except TokenFormatError:
            theirs = None
        except (ValueError, AttributeError):  # pyHanko could not read it either
            theirs = False
        if ours != theirs:
            disagree.append(offset)
    assert not disagree, f"token_intact and pyHanko disagree at offsets {disagree}"


# == fault injection ================================================================================
def flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x08
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])


def replace_with_manifests(bag: Path, rel: str) -> None:
    """A forger's change: the file rewritten together with its manifest lines and the tag
    manifests, so that the bag validates on its own."""
    path = bag / rel
    data = path.read_bytes() + b"\n<!-- forged -->\n"
    path.write_bytes(data)
    for algorithm in ("sha256", "sha512"):
        manifest = bag / f"manifest-{algorithm}.txt"
        lines = [f"{hashlib.new(algorithm, data).hexdigest()}  {rel}" if line.endswith(f"  {rel}") else line
                 for line in manifest.read_text().splitlines()]
        manifest.write_text("\n".join(lines) + "\n")
    for algorithm in ("sha256", "sha512"):
        tag = bag / f"tagmanifest-{algorithm}.txt"
        lines = []
        for line in tag.read_text().splitlines():
            digest, name = line.split(" ", 1)
            lines.append(f"{hashlib.new(algorithm, (bag / name).read_bytes()).hexdigest()} {name}")
        tag.write_text("\n".join(lines) + "\n")


QUARANTINE = "_KiemDuyet_2025-2026"


def inject(root: Path, package: str, rels: list[str], forged: tuple[str, str]) -> list[tuple[str, str]]:
    """The five faults: a flipped bit, a truncated file, a deleted file and an extra file
    in ``package``, and a file of another package replaced together with its manifest
    lines and tag manifests. (path, the kind of finding each must give)."""
    bag = root / package
    flip_bit(bag / rels[0])
    truncate(bag / rels[1])
    (bag / rels[2]).unlink()
    (bag / "data" / "notes.txt").write_text("not part of the package\n")
    replace_with_manifests(root / forged[0], forged[1])
    return [(f"{package}/{rels[0]}", "damaged"), (f"{package}/{rels[1]}", "damaged"),
            (f"{package}/{rels[2]}", "missing"), (f"{package}/data/notes.txt", "extra"),
            (f"{forged[0]}/{forged[1]}", "damaged"),
            *((f"{forged[0]}/{name}", "manifest-tampered") for name in
              ("manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt"))]


def member_files(root: Path, package: str, folder: str) -> list[str]:
    return sorted(f"data/{folder}/{p.name}" for p in (root / package / "data" / folder).iterdir())


def stem(rel: str) -> str:
    return Path(rel).stem


@pytest.mark.slow
def test_faults_in_the_archive_and_two_replicas_are_all_found_and_all_repaired(archive: Path, tmp_path: Path,
                                                                               servers: Servers):
    usb = tmp_path / "usb"
    sftp_folder = servers.sftp_root / f"faults-{tmp_path.name}"
    sftp = f"sftp:{sftp_folder}"
    for dest in (usb, sftp):
        archiver("replicate", archive, dest, env=servers.env, check_rc=0)
    pdfs, xmls = member_files(archive, PACKAGE, "renderings"), member_files(archive, PACKAGE, "transcripts")
    o_pdfs, o_xmls = member_files(archive, OTHER, "renderings"), member_files(archive, OTHER, "transcripts")
    rejected = member_files(archive, QUARANTINE, "rejected")[0]
    # five faults in each copy, each on a file of its own: a good copy of everything exists
    expected = {
        str(archive): inject(archive, PACKAGE, [pdfs[0], xmls[0], f"data/reports/{stem(xmls[1])}.json"],
                             (OTHER, o_xmls[0])),
        str(usb): inject(usb, PACKAGE, [pdfs[1], xmls[2], f"data/reports/{stem(xmls[3])}.html"],
                         (QUARANTINE, rejected)),
        sftp: inject(sftp_folder, OTHER, [o_pdfs[1], o_xmls[2], f"data/evidence/{stem(o_xmls[3])}.ers"],
                     (PACKAGE, xmls[4])),
    }
    good_before = _good_files(archive, usb, sftp_folder, expected, sftp)

    audited = json.loads(archiver("audit", archive, "--replica", usb, "--replica", sftp, "--json",
                                  env=servers.env, check_rc=1).stdout)
    found = {(f["location"], f"{f['package']}/{f['path']}", f["kind"]) for f in audited["findings"]}
    wanted = {(loc, path, kind) for loc, items in expected.items() for path, kind in items}
    assert wanted <= found, f"not detected: {sorted(wanted - found)}"
    assert found <= wanted, f"reported but not injected: {sorted(found - wanted)}"

    # replicate never spreads a damaged source file
    fresh = tmp_path / "fresh"
    spread = json.loads(archiver("replicate", archive, fresh, "--json", env=servers.env, check_rc=1).stdout)
    assert not spread["ok"]
    for path, _kind in expected[str(archive)]:
        package, rel = path.split("/", 1)
        target = fresh / package / rel
        assert not target.exists() or target.read_bytes() == (usb / package / rel).read_bytes(), path

    # on the screen, the audit names the commands that repair what it found
    told = archiver("audit", archive, "--replica", usb, "--replica", sftp, env=servers.env, check_rc=1).stdout
    assert [line.split(": ", 1)[1] for line in told.splitlines() if line.startswith("Sửa ")] == [
        f"archiver repair {archive} --from {usb} --from {sftp}", f"archiver repair {archive} --to {usb}",
        f"archiver repair {archive} --to {sftp}"], told
    repaired = archiver("repair", archive, "--from", usb, "--from", sftp, env=servers.env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    repaired = archiver("repair", archive, "--to", usb, "--to", sftp, env=servers.env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    clean = json.loads(archiver("audit", archive, "--replica", usb, "--replica", sftp, "--json",
                                env=servers.env).stdout)
    assert clean["ok"], clean["findings"]
    for root in (archive, usb, sftp_folder):
        check_passes(root)
    # no good copy was ever overwritten: same bytes, same file (inode) as before
    assert _good_files(archive, usb, sftp_folder, expected, sftp) == good_before
    # every damaged copy was kept, none deleted
    kept = [p for root in (archive, usb, sftp_folder) for p in (root / ".damaged").rglob("*") if p.is_file()]
    assert len(kept) == sum(1 for items in expected.values() for _, kind in items if kind != "missing")
    # and the next replication completes the fresh copy
    archiver("replicate", archive, fresh, env=servers.env, check_rc=0)
    check_passes(fresh)


def _good_files(archive: Path, usb: Path, sftp_folder: Path, expected, sftp) -> dict[str, tuple[str, int]]:
    out = {}
    for root, key in ((archive, str(archive)), (usb, str(usb)), (sftp_folder, sftp)):
        bad = {p for p, _ in expected[key]}
        for path in root.rglob("*"):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and rel.split("/")[0] in (PACKAGE, OTHER, QUARANTINE) and rel not in bad:
                out[f"{key}|{rel}"] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_ino)
    return out


def test_with_no_good_copy_anywhere_repair_says_so_and_changes_nothing(archive: Path, tmp_path: Path):
    usb = tmp_path / "usb"
    archiver("replicate", archive, usb, check_rc=0)
    rel = member_files(archive, PACKAGE, "renderings")[0]
    for root in (archive, usb):
        flip_bit(root / PACKAGE / rel)
    before = files_of(archive), files_of(usb)
    proc = archiver("repair", archive, "--from", usb)
    assert proc.returncode == 1
    assert "không có bản sao tốt" in proc.stdout and rel in proc.stdout
    assert (files_of(archive), files_of(usb)) == before
    assert not (archive / ".damaged").exists()


def test_check_names_a_damaged_or_edited_audit_log(archive: Path):
    archiver("audit", archive, check_rc=0)
    archiver("audit", archive, check_rc=0)
    log = archive / "audit" / "audit.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:1] + lines[2:]))  # a line removed
    proc = archiver("check", archive)
    assert proc.returncode == 1 and "audit/audit.jsonl" in proc.stdout and "Traceback" not in proc.stderr
    log.write_bytes(b"".join(lines[:1]) + b"\xff\xfe{not json\n" + b"".join(lines[2:]))
    assert "audit/audit.jsonl" in archiver("check", archive).stdout
    premis = next((archive / "audit").glob("*.premis.xml"))
    premis.write_bytes(premis.read_bytes()[:50])
    assert premis.name in archiver("check", archive).stdout
