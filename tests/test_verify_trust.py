"""Certificate paths beyond the signer's own certificate: a revoked CA, a CRL too old
for the signing time, a CA renewed under the same name, chains that depend on what a
document supplies. Trust folders are made from the committed test PKI's keys."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from archiver.verify import Verifier, load_trust

from .conftest import SAMPLE

AT = dt.datetime.fromisoformat("2026-12-01T00:00:00+07:00")
UTC = dt.timezone.utc
DS = "{http://www.w3.org/2000/09/xmldsig#}"


def key(name: str):
    return serialization.load_pem_private_key((SAMPLE / "keys" / f"{name}.key.pem").read_bytes(), None)


def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((SAMPLE / "trust" / f"{name}.pem").read_bytes())


def crl(issuer: str, this: dt.datetime, next_: dt.datetime, revoked: list[tuple[int, dt.datetime]] = ()) -> bytes:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(cert(issuer).subject)
               .last_update(this).next_update(next_))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(key(issuer), hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def trust(tmp_path: Path) -> Path:
    folder = tmp_path / "trust"
    shutil.copytree(SAMPLE / "trust", folder)
    return folder


def transcript() -> bytes:
    return sorted((SAMPLE / "input").rglob("*.xml"))[0].read_bytes()


def verdict(trust: Path, data: bytes):
    return Verifier(load_trust(trust), validation_time=AT).verify_bytes(data)


def test_the_committed_trust_folder_makes_the_sample_valid(trust: Path):
    assert verdict(trust, transcript()).verdict == "VALID"


def test_a_ca_revoked_before_signing_voids_its_certificates(trust: Path):
    revoked = (cert("issuing-ca").serial_number, dt.datetime(2026, 1, 1, tzinfo=UTC))
    (trust / "root-ca.crl").write_bytes(crl("root-ca", dt.datetime(2026, 1, 2, tzinfo=UTC),
                                            dt.datetime(2027, 1, 2, tzinfo=UTC), [revoked]))
    report = verdict(trust, transcript())
    assert report.verdict == "INVALID"
    assert {s.sub_indication for s in report.signatures} == {"REVOKED"}
    assert "CA" in report.signatures[0].message
    # the root's CRL that said so is archived with the report
    assert len(report.crls) == 2


def test_a_ca_revoked_after_signing_needs_a_proof_of_existence(trust: Path):
    revoked = (cert("issuing-ca").serial_number, dt.datetime(2026, 9, 1, tzinfo=UTC))
    (trust / "root-ca.crl").write_bytes(crl("root-ca", dt.datetime(2026, 9, 2, tzinfo=UTC),
                                            dt.datetime(2027, 9, 2, tzinfo=UTC), [revoked]))
    assert verdict(trust, transcript()).verdict == "INDETERMINATE"
    verifier = Verifier(load_trust(trust), validation_time=AT)
    proven = verifier.verify_bytes(transcript(), proof_of_existence=dt.datetime(2026, 7, 1, tzinfo=UTC))
    assert proven.verdict == "VALID"


def test_a_crl_that_ended_before_the_signing_time_is_no_revocation_data(trust: Path):
    (trust / "issuing-ca.crl").write_bytes(crl("issuing-ca", dt.datetime(2024, 9, 1, tzinfo=UTC),
                                               dt.datetime(2024, 10, 1, tzinfo=UTC)))
    report = verdict(trust, transcript())
    assert report.verdict == "INDETERMINATE"
    assert "TRY_LATER" in {s.sub_indication for s in report.signatures}


def test_a_ca_renewed_under_the_same_name_does_not_hide_the_real_issuer(trust: Path):
    old = cert("issuing-ca")
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    renewed = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(cert("root-ca").subject)
               .public_key(new_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(old.not_valid_before_utc).not_valid_after(old.not_valid_after_utc)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .sign(key("root-ca"), hashes.SHA256()))
    (trust / "issuing-ca-0-renewed.pem").write_bytes(renewed.public_bytes(serialization.Encoding.PEM))
    report = verdict(trust, transcript())
    assert report.verdict == "VALID", [s.message for s in report.signatures]


def test_a_chain_found_through_one_document_is_not_lent_to_another(trust: Path):
    """Without the issuing CA in the trust folder, only documents that carry it in their
    KeyInfo chain; the verdict of each does not depend on what was verified before."""
    (trust / "issuing-ca.pem").unlink()
    (trust / "issuing-ca-2.pem").unlink()
    full = transcript()
    root = etree.fromstring(full)
    for data in root.iter(f"{DS}X509Data"):
        for extra in data.findall(f"{DS}X509Certificate")[1:]:  # keep the signer's own, drop the CAs
            data.remove(extra)
    stripped = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    for order in ((full, stripped), (stripped, full)):
        verifier = Verifier(load_trust(trust), validation_time=AT)
        verdicts = {data: verifier.verify_bytes(data).verdict for data in order}
        assert verdicts == {full: "VALID", stripped: "INDETERMINATE"}  # the sample carries its CA
