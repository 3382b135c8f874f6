"""Timestamps in the build with a real RFC 3161 TSA (OpenSSL on 127.0.0.1): one request
per package, pending when the TSA fails, completed later, renewed as a new version."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from archiver.archive.check import check_archive
from archiver.cli import main
from archiver.timestamps.evidence import verify_evidence
from tests.tsa_server import TsaServer, tsa_pki, tsa_server  # noqa: F401  (fixtures)

from .conftest import SAMPLE, flip_a_byte, require_tool


def cli(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def build_args(out: Path, url: str, cert: Path) -> list[str]:
    return ["build", str(SAMPLE / "input"), "--trust", str(SAMPLE / "trust"), "--out", str(out),
            "--tsa-url", url, "--tsa-cert", str(cert), "--jobs", "1", "--no-site"]


def bags(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if (p / "bagit.txt").is_file())


def openssl_verify(bag: Path) -> subprocess.CompletedProcess:
    ts = bag / "data" / "timestamp"
    return subprocess.run(["openssl", "ts", "-verify", "-digest", (ts / "root.sha256.txt").read_text().strip(),
                           "-in", str(ts / "package.tst"), "-token_in", "-CAfile", str(ts / "tsa-chain.pem")],
                          capture_output=True, text=True)


def test_a_real_tsa_stamps_each_package_once_and_openssl_agrees(tsa_server: TsaServer, tmp_path: Path):
    require_tool("openssl")
    out = tmp_path / "archive"
    result = cli(*build_args(out, tsa_server.url(), tsa_server.pki.ca_cert))
    assert result.exit_code == 0, result.output
    assert "TSA requests: 2" in result.output.replace("yêu cầu TSA / ", "")
    for bag in bags(out):
        proc = openssl_verify(bag)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        meta = json.loads((bag / "data" / "package.json").read_text(encoding="utf-8"))
        assert meta["timestamp"]["local"] is False
        assert "Timestamp-Status: tsa" in (bag / "bag-info.txt").read_text(encoding="utf-8")


def test_tsa_failure_leaves_packages_pending_then_completed(tsa_server: TsaServer, tmp_path: Path):
    out = tmp_path / "archive"
    failed = cli(*build_args(out, tsa_server.url("garbage"), tsa_server.pki.ca_cert))
    assert failed.exit_code == 1
    assert "pending" in failed.output and tsa_server.url("garbage") not in [None]
    assert bags(out) == []  # nothing is published as if it were timestamped
    pending = sorted((out / ".pending").iterdir())
    assert len(pending) == 2
    for bag in pending:
        assert not (bag / "data" / "evidence").exists()
        assert "Timestamp-Status: pending" in (bag / "bag-info.txt").read_text(encoding="utf-8")
    assert not check_archive(out).ok  # check names the waiting packages
    done = cli("timestamp", "--pending", str(out), "--tsa-url", tsa_server.url(),
               "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert done.exit_code == 0, done.output
    assert not any((out / ".pending").iterdir())
    assert len(bags(out)) == 2
    result = check_archive(out)
    assert result.ok, result.problems
    for bag in bags(out):
        assert openssl_verify(bag).returncode == 0


def test_rebuilding_while_the_tsa_is_down_keeps_waiting_then_completes(tsa_server: TsaServer, tmp_path: Path):
    """The build says to rerun when the TSA is up: a rerun while it is still down archives
    nothing twice, says why it waits, and the rerun with a working TSA completes it."""
    out = tmp_path / "archive"
    down = build_args(out, tsa_server.url("garbage"), tsa_server.pki.ca_cert)
    assert cli(*down).exit_code == 1
    again = cli(*down)
    assert again.exit_code == 1 and "not archived" not in again.output
    assert tsa_server.url("garbage") in again.output  # the cause, with the URL
    assert len(list((out / ".pending").iterdir())) == 2 and bags(out) == []
    up = cli(*build_args(out, tsa_server.url(), tsa_server.pki.ca_cert))
    assert up.exit_code == 0, up.output
    assert not any((out / ".pending").iterdir()) and len(bags(out)) == 2
    result = check_archive(out)
    assert result.ok, result.problems


def test_renewal_makes_a_new_version_whose_records_carry_two_timestamps(tsa_server: TsaServer, tmp_path: Path):
    out = tmp_path / "archive"
    assert cli(*build_args(out, tsa_server.url(), tsa_server.pki.ca_cert)).exit_code == 0
    before = {b.name for b in bags(out)}
    renewed = cli("renew", str(out), "--tsa-url", tsa_server.url(), "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert renewed.exit_code == 0, renewed.output
    after = {b.name for b in bags(out)}
    assert after - before == {f"{n}_v2" for n in before}
    v2 = out / f"{sorted(before)[0]}_v2"
    meta = json.loads((v2 / "data" / "package.json").read_text(encoding="utf-8"))
    m = meta["members"][0]
    objects = [(v2 / m["files"][k]).read_bytes() for k in ("xml", "report_json", "validation")]
    check = verify_evidence(objects, (v2 / m["files"]["evidence"]).read_bytes(), trust=tsa_server.pki.ca_cert)
    assert check.hash_chain_intact and len(check.timestamps) == 2
    assert check_archive(out).ok
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert all(p["id"].endswith("_v2") for p in index["packages"])
    # the package's own timestamp stays where its README says; the renewal sits beside it
    v1 = out / sorted(before)[0]
    ts1, ts2 = v1 / "data" / "timestamp", v2 / "data" / "timestamp"
    assert (ts2 / "package.tst").read_bytes() == (ts1 / "package.tst").read_bytes()
    assert (ts2 / "root.sha256.txt").read_text() == (ts1 / "root.sha256.txt").read_text()
    assert (ts2 / "renewal-1.tst").is_file() and meta["renewals"][0]["token"] == "data/timestamp/renewal-1.tst"
    assert openssl_verify(v2).returncode == 0
    assert v2.name in (v2 / "data" / "README.txt").read_text(encoding="utf-8")  # made again for v2

    # a package whose records no longer match its data is not renewed
    broken = out / sorted(before)[1]
    broken = max((b for b in bags(out) if b.name.startswith(broken.name)), key=lambda b: b.name)
    m = json.loads((broken / "data" / "package.json").read_text(encoding="utf-8"))["members"][0]
    report = broken / m["files"]["report_json"]
    report.write_bytes(report.read_bytes() + b" ")
    again = cli("renew", str(out), "--tsa-url", tsa_server.url(), "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert "not renewed" in again.output and m["stem"] in again.output


def test_a_waiting_package_that_changed_is_not_stamped(tsa_server: TsaServer, tmp_path: Path):
    """New checksums must never vouch for content changed while it waited for its TSA."""
    out = tmp_path / "archive"
    assert cli(*build_args(out, tsa_server.url("garbage"), tsa_server.pki.ca_cert)).exit_code == 1
    waiting = sorted((out / ".pending").iterdir())[0]
    pdf = sorted((waiting / "data" / "renderings").iterdir())[0]
    flip_a_byte(pdf)
    done = cli("timestamp", "--pending", str(out), "--tsa-url", tsa_server.url(),
               "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert done.exit_code != 0
    assert "not stamped" in done.output and pdf.name in done.output
    assert (out / ".pending" / waiting.name).is_dir() and not (out / waiting.name).exists()
    assert len(bags(out)) == 1  # the untouched one was stamped and published


def test_a_package_with_a_damaged_rendering_is_not_renewed(tsa_server: TsaServer, tmp_path: Path):
    out = tmp_path / "archive"
    assert cli(*build_args(out, tsa_server.url(), tsa_server.pki.ca_cert)).exit_code == 0
    damaged = bags(out)[0]
    pdf = sorted((damaged / "data" / "renderings").iterdir())[0]
    flip_a_byte(pdf)
    again = cli("renew", str(out), "--tsa-url", tsa_server.url(), "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert "not renewed" in again.output and pdf.name in again.output
    assert not (out / f"{damaged.name}_v2").exists() and (out / f"{bags(out)[-1].name}").name.endswith("_v2")


def test_hash_tree_renewal_hashes_the_data_again_under_a_stronger_algorithm(tsa_server: TsaServer, tmp_path: Path):
    """RFC 4998 5.2: when SHA-256 weakens, the data are hashed again (SHA-512) and stamped."""
    out = tmp_path / "archive"
    assert cli(*build_args(out, tsa_server.url(), tsa_server.pki.ca_cert)).exit_code == 0
    renewed = cli("renew", str(out), "--hash-tree", "--algorithm", "sha512", "--tsa-url", tsa_server.url(),
                  "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert renewed.exit_code == 0, renewed.output
    v2 = next(b for b in bags(out) if b.name.endswith("_v2"))
    meta = json.loads((v2 / "data" / "package.json").read_text(encoding="utf-8"))
    assert meta["renewals"][0]["kind"] == "hash-tree sha512"
    m = meta["members"][0]
    objects = [(v2 / m["files"][k]).read_bytes() for k in ("xml", "report_json", "validation")]
    check = verify_evidence(objects, (v2 / m["files"]["evidence"]).read_bytes(), trust=tsa_server.pki.ca_cert)
    assert check.ok and check.trusted and len(check.timestamps) == 2
    assert check_archive(out).ok, check_archive(out).problems
    # a changed original no longer matches the new chain either
    objects[0] = objects[0].replace(b"<HK1>", b"<HK1> ", 1)
    assert not verify_evidence(objects, (v2 / m["files"]["evidence"]).read_bytes()).hash_chain_intact


def test_a_package_waiting_for_its_tsa_is_not_stamped_by_the_local_one(tsa_server: TsaServer, tmp_path: Path):
    """The TSA a package waits for is the one that was configured: a run without --tsa-url
    must not quietly stamp it with the local TSA."""
    out = tmp_path / "archive"
    assert cli(*build_args(out, tsa_server.url("garbage"), tsa_server.pki.ca_cert)).exit_code == 1
    local = cli("timestamp", "--pending", str(out))
    assert local.exit_code == 1 and "--tsa-url" in local.output
    assert len(list((out / ".pending").iterdir())) == 2 and bags(out) == []
    done = cli("timestamp", "--pending", str(out), "--tsa-url", tsa_server.url(),
               "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert done.exit_code == 0, done.output


def test_new_content_for_a_class_still_waiting_makes_its_next_version_and_loses_nothing(tsa_server: TsaServer,
                                                                                        tmp_path: Path):
    """Two builds while the TSA is down, the second with more of a class: its package waits
    as the next version on top of the first (never over it), and both are published later."""
    first, second = tmp_path / "first", tmp_path / "second"
    sources = sorted((SAMPLE / "input" / "8A1").glob("*.xml"))
    for folder, files in ((first, sources[:3]), (second, sources[3:])):
        folder.mkdir()
        for source in files:
            (folder / source.name).write_bytes(source.read_bytes())
    out = tmp_path / "archive"
    down = [tsa_server.url("garbage"), tsa_server.pki.ca_cert]
    for folder in (first, second):
        args = build_args(out, *down)
        args[1] = str(folder)
        assert cli(*args).exit_code == 1
        shutil.rmtree(folder)  # the inputs are gone: the archive is all there is
    waiting = sorted(p.name for p in (out / ".pending").iterdir())
    assert waiting == ["0109944_2025-2026_8A1", "0109944_2025-2026_8A1_v2"]
    done = cli("timestamp", "--pending", str(out), "--tsa-url", tsa_server.url(),
               "--tsa-cert", str(tsa_server.pki.ca_cert))
    assert done.exit_code == 0, done.output
    current = json.loads((out / "0109944_2025-2026_8A1_v2" / "data" / "package.json").read_text(encoding="utf-8"))
    assert len(current["members"]) == len(sources)
    assert check_archive(out).ok, check_archive(out).problems


def test_the_tsa_chain_holds_the_local_root_only_when_it_issued_the_token(tmp_path: Path, monkeypatch):
    """A token that says it is from an archiver local TSA is not vouched for by this
    computer's local root unless that root issued it."""
    from cryptography import x509

    from archiver.timestamps.package import tsa_chain
    from archiver.timestamps.tsa import LocalTimestamper

    theirs = LocalTimestamper(tmp_path / "theirs")
    token = theirs.timestamp(bytes(32))
    monkeypatch.setenv("ARCHIVER_DATA_DIR", str(tmp_path / "ours"))
    ours = LocalTimestamper(tmp_path / "ours")

    def subjects(pem: bytes) -> set[str]:
        return {c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(pem)}

    ours_root = x509.load_der_x509_certificate(ours.root_cert.dump()).subject.rfc4514_string()
    theirs_root = x509.load_der_x509_certificate(theirs.root_cert.dump()).subject.rfc4514_string()
    chain = subjects(tsa_chain(token))
    assert theirs_root in chain and ours_root not in chain
    assert ours_root in subjects(tsa_chain(ours.timestamp(bytes(32))))


def test_check_ties_a_token_of_any_hash_algorithm_to_the_tree_of_the_package(tmp_path: Path):
    """A package token over SHA-512 is compared with the members' tree under SHA-512: one
    over other data is named (it used to pass unchecked when it was not SHA-256)."""
    import hashlib

    from archiver.archive.records import PackageManifest
    from archiver.timestamps.evidence import hash_tree_root
    from archiver.timestamps.tsa import LocalTimestamper

    out = tmp_path / "archive"
    result = cli("build", str(SAMPLE / "input" / "8A1"), "--trust", str(SAMPLE / "trust"), "--out", str(out),
                 "--jobs", "1", "--no-site")
    assert result.exit_code == 0, result.output
    bag = bags(out)[0]
    manifest = PackageManifest.read(bag)
    tree = [[hashlib.sha512((bag / r.files[k]).read_bytes()).digest() for k in r.evidence_kinds]
            for r in manifest.members]
    for root, expected in ((hash_tree_root(tree, "sha512"), False), (hashlib.sha512(b"other").digest(), True)):
        (bag / "data" / "timestamp" / "package.tst").write_bytes(LocalTimestamper().timestamp(root))
        problems = check_archive(out).problems
        assert any("không khớp nội dung gói" in p for p in problems) is expected, problems
