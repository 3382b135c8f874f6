"""Re-verification (spec sections 2-5): every defect gets exactly its verdict."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import main
from archiver.verify import VerificationReport, Verifier, VerifySettings, load_trust, verify_inputs

AT = dt.datetime.fromisoformat("2026-12-01T00:00:00+07:00")


@pytest.fixture(scope="module")
def verifier(sample_dir: Path) -> Verifier:
    return Verifier(load_trust(sample_dir / "trust"), validation_time=AT)


def verify(verifier: Verifier, path: Path, **kw) -> VerificationReport:
    return verifier.verify_bytes(path.read_bytes(), str(path), **kw)


def not_passed(report: VerificationReport) -> dict[str, list[str]]:
    return {s.id: [s.status, s.sub_indication] for s in report.signatures if s.status != "TOTAL_PASSED"}


def test_every_transcript_of_the_sample_is_valid(sample_dir: Path, verifier: Verifier):
    paths = sorted((sample_dir / "input").rglob("*.xml"))
    assert len(paths) == 11
    for path in paths:
        report = verify(verifier, path)
        assert report.verdict == "VALID", (path, not_passed(report), report.reasons)
        assert len(report.signatures) == 15 and not report.warnings
        assert all(all(v == "PASSED" for v in s.checks.values()) for s in report.signatures)


def manifest_entries():
    data = json.loads((Path(__file__).parent.parent / "fixtures/sample/defects.json").read_text("utf-8"))
    return [pytest.param(d, id=d["kind"]) for d in data["defects"]]


@pytest.mark.parametrize("defect", manifest_entries())
def test_each_defect_gets_exactly_its_verdict(sample_dir: Path, verifier: Verifier, defect: dict):
    report = verify(verifier, sample_dir / defect["file"])
    assert report.verdict == defect["verdict"]
    assert not_passed(report) == defect["signatures"]
    if defect["reason"]:
        assert defect["reason"] in [r.code for r in report.reasons]
        assert all(r.message for r in report.reasons)
    assert set(defect["warnings"]) <= {w.code for w in report.warnings}
    if defect["verdict"] == "VALID":
        assert set(defect["warnings"]) == {w.code for w in report.warnings}


def test_the_generated_school_agrees_with_its_manifest(generated_school: Path):
    manifest = json.loads((generated_school / "defects.json").read_text(encoding="utf-8"))
    verifier = Verifier(load_trust(generated_school / "trust"),
                        validation_time=dt.datetime.fromisoformat(manifest["validation_time"]))
    for path in sorted((generated_school / "input").rglob("*.xml")):
        assert verify(verifier, path).verdict == "VALID"
    for defect in manifest["defects"]:
        report = verify(verifier, generated_school / defect["file"])
        assert (report.verdict, not_passed(report)) == (defect["verdict"], defect["signatures"]), defect["kind"]


def test_proof_of_existence_settles_what_time_left_open(sample_dir: Path, verifier: Verifier):
    revoked_later = sample_dir / "defects" / "revoked-after-signing.xml"
    expired_later = sample_dir / "defects" / "expired-after-signing.xml"
    poe = dt.datetime.fromisoformat("2026-06-27T00:00:00+07:00")  # before revocation and expiry
    assert verify(verifier, revoked_later, proof_of_existence=poe).verdict == "VALID"
    assert verify(verifier, expired_later, proof_of_existence=poe).verdict == "VALID"
    late = dt.datetime.fromisoformat("2026-09-01T00:00:00+07:00")
    assert verify(verifier, expired_later, proof_of_existence=late).verdict == "INDETERMINATE"


def test_validation_time_matters_only_for_expiry(sample_dir: Path):
    early = Verifier(load_trust(sample_dir / "trust"),
                     validation_time=dt.datetime.fromisoformat("2026-07-15T00:00:00+07:00"))
    assert verify(early, sample_dir / "defects" / "expired-after-signing.xml").verdict == "VALID"
    assert verify(early, sample_dir / "defects" / "expired-certificate.xml").verdict == "INVALID"


def test_without_trust_nothing_chains(sample_dir: Path):
    bare = Verifier(load_trust(None), validation_time=AT)
    report = verify(bare, next((sample_dir / "input").rglob("*.xml")))
    assert report.verdict == "INDETERMINATE"
    assert {s.sub_indication for s in report.signatures} == {"NO_CERTIFICATE_CHAIN_FOUND"}


def test_each_certificate_is_validated_once(sample_dir: Path):
    verifier = Verifier(load_trust(sample_dir / "trust"), validation_time=AT)
    for path in sorted((sample_dir / "input").rglob("*.xml")):
        verify(verifier, path)
    (evaluator,) = verifier._evaluators.values()
    certs = set()
    for path in sorted((sample_dir / "input").rglob("*.xml")):
        certs |= {s.certificate.sha256 for s in verify(verifier, path).signatures}
    assert len(evaluator._cache) == len(certs) < 11 * 15


def test_report_round_trips_with_its_validation_data(sample_dir: Path, verifier: Verifier):
    path = next((sample_dir / "input").rglob("*.xml"))
    report = verify(verifier, path)
    data = json.loads(json.dumps(report.to_dict(validation_data=True)))
    again = VerificationReport.from_dict(data)
    assert again.to_dict(validation_data=True) == report.to_dict(validation_data=True)
    assert data["schema"] == "archiver.verification/1"
    assert report.certificates and report.crls
    used = {h for s in report.signatures for h in s.chain} | {h for s in report.signatures for h in s.crls}
    assert used == set(report.certificates) | set(report.crls)
    for digest, blob in report.certificates.items():
        assert hashlib.sha256(blob).hexdigest() == digest


# -- the command line ---------------------------------------------------------------------

def run_cli(*args: str, columns: int = 200):
    return CliRunner().invoke(main, ["verify", *args], env={"COLUMNS": str(columns)})


def test_json_output_follows_section_5(sample_dir: Path):
    result = run_cli("--trust", str(sample_dir / "trust"), "--at", "2026-12-01", "--json",
                     str(sample_dir / "defects"))
    assert result.exit_code == 1
    reports = json.loads(result.output)
    assert len(reports) == len(list((sample_dir / "defects").iterdir()))
    for r in reports:
        assert {"path", "sha256", "verdict", "reasons", "signatures"} <= set(r)
        for reason in r["reasons"]:
            assert set(reason) >= {"code", "message"}
        for s in r["signatures"]:
            assert {"id", "role", "subject", "signer", "signing_time", "status",
                    "sub_indication", "message"} <= set(s)
        assert r["sha256"] == hashlib.sha256(Path(r["path"]).read_bytes()).hexdigest()


def test_exit_codes(sample_dir: Path, tmp_path: Path):
    trust = ["--trust", str(sample_dir / "trust"), "--at", "2026-12-01"]
    assert run_cli(*trust, "-q", str(sample_dir / "input")).exit_code == 0
    assert run_cli(*trust, "-q", str(sample_dir / "defects" / "sha1.xml")).exit_code == 1
    assert run_cli("--trust", str(tmp_path / "none"), str(sample_dir / "input")).exit_code == 2
    assert run_cli(*trust, "--profile", "nope", str(sample_dir / "input")).exit_code == 2
    assert run_cli(*trust, "--at", "yesterday", str(sample_dir / "input")).exit_code == 2


def test_human_output_names_verdicts_in_vietnamese(sample_dir: Path):
    result = run_cli("--trust", str(sample_dir / "trust"), "--at", "2026-12-01",
                     str(sample_dir / "defects" / "wrong-signer.xml"), str(sample_dir / "defects" / "empty.xml"),
                     columns=80)
    assert "Không hợp lệ (INVALID)" in result.output and "Bị từ chối (REJECTED)" in result.output
    # the failing signature's reason in full, with its Id, role and code; the table fits 80 columns
    text = " ".join(result.output.split())
    assert "CKS-HT (Hiệu trưởng): Người ký hoặc vùng ký không đúng vai trò" in text
    assert "(SIG_CONSTRAINTS_FAILURE)" in text
    assert all(len(line) <= 80 for line in result.output.splitlines())
    assert "Tổng cộng / total: 2" in result.output
    assert "Traceback" not in result.output


def test_unreadable_inputs_are_rejected_never_a_traceback(sample_dir: Path, tmp_path: Path):
    (tmp_path / "dir.xml").mkdir()
    (tmp_path / "binary.xml").write_bytes(os.urandom(2048))
    (tmp_path / "huge.xml").write_bytes(b"<HocBa>" + b" " * (6 * 1024 * 1024) + b"</HocBa>")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    result = run_cli("--trust", str(sample_dir / "trust"), "--json", str(tmp_path))
    assert "Traceback" not in result.output
    reports = {Path(r["path"]).name: r for r in json.loads(result.output)}
    assert {r["verdict"] for r in reports.values()} == {"REJECTED"}
    huge = reports["huge.xml"]
    assert huge["reasons"][0]["code"] == "TOO_LARGE"
    # only the start of an oversized file is parsed, but its hash and size are the whole file's
    assert huge["sha256"] == hashlib.sha256((tmp_path / "huge.xml").read_bytes()).hexdigest()
    assert huge["size"] == (tmp_path / "huge.xml").stat().st_size
    assert reports["broken.zip"]["reasons"][0]["code"] == "UNREADABLE"
    # a mistyped path is a usage error
    missing = run_cli("--trust", str(sample_dir / "trust"), str(tmp_path / "missing.xml"))
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_damaged_encrypted_and_repeated_zip_members(sample_dir: Path, tmp_path: Path):
    import warnings
    import zipfile

    good = sorted((sample_dir / "input").rglob("*.xml"))[0].read_bytes()
    with zipfile.ZipFile(tmp_path / "crc.zip", "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.xml", good)
    data = bytearray((tmp_path / "crc.zip").read_bytes())
    data[data.index(b"<HocBa") + 10] ^= 0x01  # a byte of the stored member: its CRC no longer matches
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    with zipfile.ZipFile(tmp_path / "enc.zip", "w") as zf:
        zf.writestr("a.xml", good)
    data = bytearray((tmp_path / "enc.zip").read_bytes())
    for header, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # mark the member encrypted
        data[data.index(header) + flags_at] |= 0x01
    (tmp_path / "enc.zip").write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the repeated name, as it should
        with zipfile.ZipFile(tmp_path / "dup.zip", "w") as zf:
            zf.writestr("a.xml", good)
            zf.writestr("a.xml", b"<x/>")
    for jobs in ("1", "2"):
        result = run_cli("--trust", str(sample_dir / "trust"), "--at", "2026-12-01", "--json", "--jobs", jobs,
                         str(tmp_path / "crc.zip"), str(tmp_path / "enc.zip"), str(tmp_path / "dup.zip"))
        assert "Traceback" not in result.output
        reports = json.loads(result.output)
        assert len(reports) == 4 and result.exit_code == 1
        by_path = {r["path"]: r for r in reports}
        assert "damaged" in by_path[f"{tmp_path / 'crc.zip'}!/a.xml"]["reasons"][0]["message"]
        assert "encrypted" in by_path[f"{tmp_path / 'enc.zip'}!/a.xml"]["reasons"][0]["message"]
        # both members of the same name are verified, each for what it is
        assert by_path[f"{tmp_path / 'dup.zip'}!/a.xml"]["verdict"] == "VALID"
        assert by_path[f"{tmp_path / 'dup.zip'}!/a.xml (2)"]["verdict"] == "REJECTED"


def test_zip_exports_are_read_member_by_member(sample_dir: Path, tmp_path: Path):
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        for path in sorted((sample_dir / "input").rglob("*.xml")):
            zf.write(path, path.relative_to(sample_dir / "input").as_posix())
        zf.writestr("readme.txt", "not a transcript")
    result = run_cli("--trust", str(sample_dir / "trust"), "--at", "2026-12-01", "--json", str(export))
    reports = json.loads(result.output)
    assert result.exit_code == 0 and len(reports) == 11
    assert all("export.zip!/" in r["path"] for r in reports)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_inputs_are_never_modified(sample_dir: Path, tmp_path: Path):
    folder = tmp_path / "school"
    shutil.copytree(sample_dir / "input", folder / "input")
    shutil.copytree(sample_dir / "defects", folder / "defects")
    before = snapshot(folder)
    run_cli("--trust", str(sample_dir / "trust"), "--jobs", "2", "-q", str(folder))
    run_cli("--trust", str(sample_dir / "trust"), "--json", str(folder))
    assert snapshot(folder) == before


def test_parallel_runs_give_the_same_reports_in_the_same_order(sample_dir: Path):
    settings = VerifySettings(trust_dir=str(sample_dir / "trust"), validation_time=AT)
    paths = [sample_dir / "input", sample_dir / "defects"]
    one = [r.to_dict() for r in verify_inputs(paths, settings, jobs=1)]
    two = [r.to_dict() for r in verify_inputs(paths, settings, jobs=2, batch_size=3)]
    assert one == two


def test_profile_can_be_forced_and_mismatch_is_rejected(sample_dir: Path):
    path = next((sample_dir / "input").rglob("*.xml"))
    settings = VerifySettings(trust_dir=str(sample_dir / "trust"), validation_time=AT, profile_id="hocba-1-thpt")
    (report,) = verify_inputs([path], settings)
    assert report.verdict == "REJECTED" and report.reasons[0].code == "PROFILE_MISMATCH"
