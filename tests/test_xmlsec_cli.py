"""Every signature the generator writes verifies with the reference tool, xmlsec1.

xmlsec1 checks digests, the signature value and the certificate chain to the trust
folder at the signing time. It does not know our profile (who signs what, where the
region must be) nor CRLs: those are the verifier's job, and some defects are built to
pass here and fail there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import require_tool
from .xmlsec_cli import signature_ids, signing_time_utc, verify


@pytest.fixture(scope="module", autouse=True)
def _xmlsec1():
    require_tool("xmlsec1")


def all_signatures(folder: Path):
    for path in sorted((folder / "input").rglob("*.xml")):
        for sig_id in signature_ids(path):
            yield path, sig_id


def test_xmlsec1_accepts_every_signature_of_a_generated_school(generated_school: Path):
    checked = 0
    for path, sig_id in all_signatures(generated_school):
        ok, output = verify(path, sig_id, generated_school / "trust", signing_time_utc(path, sig_id))
        assert ok, f"{path.name} {sig_id}: {output}"
        checked += 1
    assert checked == 13 * 15


def test_xmlsec1_accepts_every_signature_of_the_committed_fixture(sample_dir: Path):
    for path, sig_id in all_signatures(sample_dir):
        ok, output = verify(path, sig_id, sample_dir / "trust", signing_time_utc(path, sig_id))
        assert ok, f"{path.name} {sig_id}: {output}"


def defect(folder: Path, kind: str) -> tuple[Path, dict]:
    manifest = json.loads((folder / "defects.json").read_text(encoding="utf-8"))
    entry = next(d for d in manifest["defects"] if d["kind"] == kind)
    return folder / entry["file"], entry


@pytest.mark.parametrize("kind", ["tampered-content", "corrupted-signature-value"])
def test_xmlsec1_refuses_exactly_the_signatures_a_crypto_defect_breaks(sample_dir: Path, kind: str):
    path, entry = defect(sample_dir, kind)
    for sig_id in signature_ids(path):
        ok, _ = verify(path, sig_id, sample_dir / "trust", signing_time_utc(path, sig_id))
        assert ok == (sig_id not in entry["signatures"]), sig_id


@pytest.mark.parametrize("kind", ["expired-certificate", "not-yet-valid-certificate", "untrusted-ca"])
def test_xmlsec1_refuses_certificates_outside_their_validity_or_trust(sample_dir: Path, kind: str):
    path, entry = defect(sample_dir, kind)
    (sig_id,) = entry["signatures"]
    ok, output = verify(path, sig_id, sample_dir / "trust", signing_time_utc(path, sig_id))
    assert not ok, output


@pytest.mark.parametrize("kind", ["wrapped-signature", "wrong-region", "wrong-signer",
                                  "revoked-certificate", "signing-time-uncovered"])
def test_profile_defects_pass_the_crypto_checks_alone(sample_dir: Path, kind: str):
    """These break the profile's rules, not the cryptography: only our verifier sees them."""
    path, entry = defect(sample_dir, kind)
    crypto_only = [s for s, (_, sub) in entry["signatures"].items()
                   if sub in {"FORMAT_FAILURE", "SIG_CONSTRAINTS_FAILURE", "REVOKED"}]
    assert crypto_only
    for sig_id in crypto_only:
        ok, output = verify(path, sig_id, sample_dir / "trust", signing_time_utc(path, sig_id) or "2026-06-20 00:00:00")
        assert ok, f"{kind} {sig_id}: {output}"
