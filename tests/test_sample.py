"""The sample-school generator: realistic, consistent, complete, deterministic."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from archiver.cli import main
from archiver.profiles import get_profile
from archiver.safexml import parse_bytes
from archiver.sample import SampleOptions, generate_sample
from archiver.sample.school import learning_result
from archiver.transcript import read_transcript

DSIG = "{http://www.w3.org/2000/09/xmldsig#}"
ORDER = {"GVBM": 1, "GVCN": 2, "HT": 3, "TC": 4}


def transcripts(folder: Path) -> list[Path]:
    return sorted((folder / "input").rglob("*.xml"))


def cert_of(signature: etree._Element) -> x509.Certificate:
    b64 = signature.find(f"{DSIG}KeyInfo/{DSIG}X509Data/{DSIG}X509Certificate").text
    import base64

    return x509.load_der_x509_certificate(base64.b64decode(b64))


def signing_time(signature: etree._Element) -> str:
    return signature.find(f"{DSIG}Object/{DSIG}SignatureProperties/{DSIG}SignatureProperty/SigningTime").text


def test_layout(generated_school: Path):
    for sub in ("trust/root-ca.pem", "trust/issuing-ca.pem", "trust/issuing-ca.crl",
                "trust/root-ca.crl", "tsa/tsa.pem", "tsa/tsa.key.pem", "keys/README.txt",
                "sample.json", "defects.json"):
        assert (generated_school / sub).is_file(), sub
    summary = json.loads((generated_school / "sample.json").read_text(encoding="utf-8"))
    assert list(summary["classes"]) == ["9A1", "8A1", "7A1"]
    assert len(transcripts(generated_school)) == summary["transcripts"] == 3 * 4 + 1
    assert "TEST ONLY" in (generated_school / "keys" / "README.txt").read_text(encoding="utf-8")


def test_every_transcript_follows_the_schema(generated_school: Path):
    schema = get_profile("hocba-1-thcs").schema
    for path in transcripts(generated_school):
        assert schema.validate(etree.parse(str(path))), (path, schema.error_log)


def test_content_is_complete_and_consistent(generated_school: Path):
    profile = get_profile("hocba-1-thcs")
    for path in transcripts(generated_school):
        data = path.read_bytes()
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        t = read_transcript(parse_bytes(data), profile)
        assert re.fullmatch(r"[0-9a-f]{32}", t.lookup_code)
        assert re.fullmatch(r"\d{12}", t.student.citizen_id)
        assert t.register_number == f"{t.student.student_code}/THCS"
        assert [s.code for s in t.subjects] == [s.code for s in profile.subjects]
        assert unicodedata.is_normalized("NFC", data.decode("utf-8"))
        assert re.search(r"[^\x00-\x7f]", t.student.name) or t.student.name.isascii()
        scored, commented = [], []
        for s in t.subjects:
            if s.assessment == "score":
                year = (Decimal(s.term1) + 2 * Decimal(s.term2)) / 3
                assert s.year == str(year.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)), (path, s)
                scored.append(float(s.year))
            else:
                assert {s.term1, s.term2, s.year} <= {"Đ", "CĐ"}
                commented.append(s.year)
        assert t.learning.year == learning_result(scored, commented), path
        if t.title:
            assert t.learning.year == "Tốt" and t.conduct.year == "Tốt"
        assert t.history[-1].class_name == t.class_name and t.history[-1].school_year == t.school_year


def test_names_carry_vietnamese_diacritics(generated_school: Path):
    profile = get_profile("hocba-1-thcs")
    names = [read_transcript(parse_bytes(p.read_bytes()), profile).student.name
             for p in transcripts(generated_school)]
    assert sum(not n.isascii() for n in names) >= len(names) * 0.8


def test_every_required_signature_is_there_in_order_and_matches_its_signer(generated_school: Path):
    profile = get_profile("hocba-1-thcs")
    for path in transcripts(generated_school):
        root = etree.parse(str(path)).getroot()
        t = read_transcript(root, profile)
        sigs = {s.get("Id"): s for s in root.iter(f"{DSIG}Signature")}
        assert len(sigs) == len(t.signers) == len(t.subjects) + 3
        times: dict[str, list[str]] = {}
        for entry in t.signers:
            sig = sigs[entry.signature_id]
            assert sig.getparent().get("VaiTro") == entry.role
            uid = cert_of(sig).subject.get_attributes_for_oid(NameOID.USER_ID)[0].value
            expected = entry.signer_id if entry.role == "TC" else f"CCCD:{entry.signer_id}"
            assert uid == expected
            cn = cert_of(sig).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            assert cn == entry.name
            refs = [r.get("URI") for r in sig.iter(f"{DSIG}Reference")]
            region = f"#MH-{entry.subject}" if entry.role == "GVBM" else "#DLHocBa"
            assert refs == [region, f"#{entry.signature_id}-TG"]
            stamp = signing_time(sig)
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+07:00)?", stamp)
            times.setdefault(entry.role, []).append(stamp[:19])
        assert max(times["GVBM"]) <= min(times["GVCN"]) <= min(times["HT"]) <= min(times["TC"])
        assert all(t[:10] <= f"{t[:4]}-06-30" for ts in times.values() for t in ts)


def test_signing_time_is_unnamespaced_and_ids_are_unique(generated_school: Path):
    for path in transcripts(generated_school):
        root = etree.parse(str(path)).getroot()
        assert len(root.xpath("//SigningTime")) == len(root.xpath("//*[local-name()='Signature']"))
        ids = root.xpath("//@Id")
        assert len(ids) == len(set(ids)), path


def test_a_revoked_and_replaced_pair_is_included(generated_school: Path):
    profile = get_profile("hocba-1-thcs")
    old = next(generated_school.glob("input/*/*-thu-hoi.xml"))
    new = old.with_name(old.name.replace("-thu-hoi", ""))
    t_old = read_transcript(parse_bytes(old.read_bytes()), profile)
    t_new = read_transcript(parse_bytes(new.read_bytes()), profile)
    assert t_new.replaces and t_new.replaces.lookup_code == t_old.lookup_code
    assert t_new.student == t_old.student and t_new.lookup_code != t_old.lookup_code


def test_certificates_and_tsa(generated_school: Path):
    tsa = x509.load_pem_x509_certificate((generated_school / "tsa" / "tsa.pem").read_bytes())
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    root = x509.load_pem_x509_certificate((generated_school / "trust" / "root-ca.pem").read_bytes())
    assert root.issuer == root.subject
    crl = x509.load_pem_x509_crl((generated_school / "trust" / "issuing-ca.crl").read_bytes())
    assert len(list(crl)) == 2  # the two revoked defect certificates


def test_thpt_schools_take_four_electives(tmp_path: Path, sample_dir: Path):
    shutil.copytree(sample_dir / "keys", tmp_path / "keys")
    generate_sample(SampleOptions(out=tmp_path, classes=2, students=2, profile_id="hocba-1-thpt"))
    profile = get_profile("hocba-1-thpt")
    for path in transcripts(tmp_path):
        tree = parse_bytes(path.read_bytes())
        assert profile.schema.validate(tree), profile.schema.error_log
        t = read_transcript(tree, profile)
        electives = [s for s in t.subjects if not profile.subject(s.code).required]
        assert len(electives) == 4 and t.register_number.endswith("/THPT")
        assert t.grade in {"10", "11", "12"}


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_and_keys_give_identical_bytes(tmp_path: Path, sample_dir: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate_sample(SampleOptions(out=a, classes=2, students=3, seed="same", defects=True, jobs=2))
    shutil.copytree(a / "keys", b / "keys")  # keys are the one random part
    generate_sample(SampleOptions(out=b, classes=2, students=3, seed="same", defects=True, jobs=1))
    assert tree_digest(a) == tree_digest(b)


def test_another_seed_gives_another_school(tmp_path: Path, sample_dir: Path):
    summaries = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        shutil.copytree(sample_dir / "keys", out / "keys")
        summaries.append(generate_sample(SampleOptions(out=out, classes=1, students=2, seed=seed)))
    assert summaries[0].school_name != summaries[1].school_name or \
        summaries[0].school_code != summaries[1].school_code


def test_cli_reports_what_it_wrote(tmp_path: Path, sample_dir: Path):
    shutil.copytree(sample_dir / "keys", tmp_path / "keys")
    result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path), "--classes", "1",
                                       "--students", "2", "--year", "2024-2025"])
    assert result.exit_code == 0, result.output
    assert "năm học 2024-2025" in result.output and "3 học bạ" in result.output


def test_defects_manifest_matches_the_files(generated_school: Path):
    manifest = json.loads((generated_school / "defects.json").read_text(encoding="utf-8"))
    files = {p.relative_to(generated_school).as_posix() for p in (generated_school / "defects").iterdir()}
    listed = [d["file"] for d in manifest["defects"]]
    assert sorted(listed) == sorted(files) and len(listed) == len(set(listed))
    kinds = {d["kind"] for d in manifest["defects"]}
    required = {"tampered-content", "corrupted-signature-value", "wrong-signer", "wrong-region",
                "expired-certificate", "not-yet-valid-certificate", "revoked-certificate",
                "missing-signature", "wrapped-signature", "duplicate-id", "signing-time-missing",
                "signing-time-uncovered", "sha1", "untrusted-ca", "dtd-xxe", "entity-bomb",
                "truncated", "empty", "not-xml"}
    assert required <= kinds
    for d in manifest["defects"]:
        assert d["verdict"] in {"VALID", "INVALID", "INDETERMINATE", "REJECTED"}
        assert (d["verdict"] == "REJECTED") == (d["reason"] is not None)
        data = (generated_school / d["file"]).read_bytes()
        if d["verdict"] == "REJECTED":
            continue
        root = etree.fromstring(data)
        present = {s.get("Id") for s in root.iter(f"{DSIG}Signature")}
        for sig_id, (status, sub) in d["signatures"].items():
            assert status in {"TOTAL_FAILED", "INDETERMINATE"} and sub.isupper()
            assert sig_id in present or d["kind"] == "missing-signature"
