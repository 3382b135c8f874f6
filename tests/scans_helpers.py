"""Helpers for the tests of scanned paper transcripts: the sample's scans signed once per
session, keys made for a role without the import's checks (to make wrong documents on
purpose), and certificates from the sample's test CA."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from archiver.scans.keys import SigningKey, _InMemorySigner
from archiver.verify.subject import common_name, user_id
from archiver.scans.record import ScanRecord, Signer

from .conftest import SAMPLE

PASSPHRASE = "hocba-thu-nghiem"
TRUST = SAMPLE / "trust"
KEYS = SAMPLE / "keys"
SCANS = SAMPLE / "scans"
PRINCIPAL_ID = "001074490020"  # the sample's principal (keys/cccd-001074490020.*)
SCHOOL_UID = "MNS:0109944"


def run_archiver(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd, check=False)


def import_sample(out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_archiver("scans", "import", SCANS / "roster.csv", "--images", SCANS / "images", "--out", out,
                        "--principal-key", KEYS / "principal.p12", "--school-key", KEYS / "school.p12",
                        "--passphrase-env", "SCAN_PASS", *extra, env={"SCAN_PASS": PASSPHRASE, **(env or {})})


def pem_key(name: str, role: str) -> SigningKey:
    """A signing key from the sample's PEM files, for ``role``, without any check."""
    key = serialization.load_pem_private_key((KEYS / f"{name}.key.pem").read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((KEYS / f"{name}.crt.pem").read_bytes())
    return make_key(key, cert, role)


def make_key(key, cert: x509.Certificate, role: str, chain: list[x509.Certificate] | None = None) -> SigningKey:  # type: ignore[no-untyped-def]
    issuing = x509.load_pem_x509_certificate((TRUST / "issuing-ca.pem").read_bytes())
    chain = chain if chain is not None else [issuing]
    return SigningKey(role, _InMemorySigner.make(key, cert, chain), cert, chain, "test", user_id(cert), common_name(cert))


def issue(subject: x509.Name, *, ca_name: str = "issuing-ca", ca_cert: x509.Certificate | None = None,
          ca_key=None, serial: int | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:  # type: ignore[no-untyped-def]
    """A signer certificate from the sample's test CA (or another CA given)."""
    ca_key = ca_key or serialization.load_pem_private_key((KEYS / f"{ca_name}.key.pem").read_bytes(), password=None)
    ca_cert = ca_cert or x509.load_pem_x509_certificate((TRUST / f"{ca_name}.pem").read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(dt.datetime(2024, 8, 1, tzinfo=dt.timezone.utc))
            .not_valid_after(dt.datetime(2031, 7, 31, tzinfo=dt.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def school_name(uid: str = SCHOOL_UID) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Trường THCS Trưng Vương"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Trường THCS Trưng Vương"),
                      x509.NameAttribute(NameOID.USER_ID, uid)])


def scan_document(keys: list[SigningKey], *, listed: list[Signer] | None = None, scan: str | None = None) -> bytes:
    """A scan of the sample signed by ``keys`` in order (each in its role's field), the
    record listing ``listed`` (default: the sample's principal and school)."""
    from archiver.scans.document import assemble
    from archiver.scans.pages import read_scan
    from archiver.scans.roster import read_roster
    from archiver.scans.signing import sign, time_stamper
    from archiver.timestamps.tsa import LocalTimestamper

    roster = read_roster(SCANS / "roster.csv")
    row = next(r for r in roster.rows if scan is None or r.scan == scan)
    pages = read_scan(SCANS / "images", row.scan)
    listed = listed if listed is not None else [Signer("HT", "CKS-HT", "Hiệu trưởng", PRINCIPAL_ID),
                                                Signer("TC", "CKS-TC", "Trường THCS Trưng Vương", SCHOOL_UID)]
    record = ScanRecord(
        lookup_code="ab" * 16, student_code=row.student_code, name=row.name, birth_date=row.birth_date,
        gender=row.gender, citizen_id=row.citizen_id, school_code=row.school_code, school_name=row.school_name,
        province=row.province, class_name=row.class_name, school_years=row.school_years, roster_file="roster.csv",
        roster_row=row.row, roster_values=row.values, digitised="2026-12-01T09:00:00+07:00", sources=pages.sources,
        signers=listed, software="test")
    data = assemble(record, pages)
    stamper = time_stamper(LocalTimestamper())
    for key in keys:
        data = sign(data, key, stamper=stamper)
    return data


def verify(path: Path, trust: Path = TRUST) -> dict:
    import json

    proc = run_archiver("verify", "--trust", trust, "--json", path)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)[0]


@pytest.fixture(scope="session")
def signed_scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's scans imported and signed with the PKCS#12 test keys (once per session)."""
    out = tmp_path_factory.mktemp("scans") / "signed"
    proc = import_sample(out)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the 150-dpi defect is refused
    return out


def copy_trust(target: Path) -> Path:
    shutil.copytree(TRUST, target)
    return target
