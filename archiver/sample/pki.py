"""A test PKI for sample schools: root CA, issuing CA, signers, CRLs, a TSA certificate.

Built with ``cryptography``. Everything except key generation is derived from the seed
(serial numbers, validity, names, CRL dates), and RSA PKCS#1 v1.5 signatures are
deterministic, so with the same keys the certificates and CRLs are byte-identical.
Keys found in the output's ``keys/`` folder are reused for exactly that reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_BITS = 2048
TEST_ORG = "Archiver TEST PKI - không dùng thật"
CRL_URL = "http://crl.archiver-test.invalid/{name}.crl"

KEYS_README = """TEST ONLY - CHỈ ĐỂ THỬ NGHIỆM

These private keys belong to an invented sample school made by `archiver sample`.
They are published on purpose, protect nothing, and must never sign anything real.
Các khoá bí mật này thuộc về một trường mẫu giả lập; không dùng cho bất kỳ việc thật nào.
"""


def utc(year: int, month: int = 1, day: int = 1, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.timezone.utc)


class KeyStore:
    """Signers' private keys as PEM files: reused when present, created otherwise."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict[str, rsa.RSAPrivateKey] = {}

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.key.pem"

    def get(self, name: str) -> rsa.RSAPrivateKey:
        if name in self._cache:
            return self._cache[name]
        path = self.path(name)
        key = None
        if path.is_file():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(loaded, rsa.RSAPrivateKey):
                key = loaded
        if key is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(key_pem(key))
        self._cache[name] = key
        return key


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def serial_for(seed: str, name: str) -> int:
    """A stable positive serial number below 2**159 (RFC 5280 allows 20 octets)."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:19], "big") | 1


def person_name(common_name: str, citizen_id: str, province: str, locality: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province),
        x509.NameAttribute(NameOID.LOCALITY_NAME, locality),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.USER_ID, f"CCCD:{citizen_id}"),
    ])


def organisation_name(school_name: str, uid: str, province: str, locality: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province),
        x509.NameAttribute(NameOID.LOCALITY_NAME, locality),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, school_name),
        x509.NameAttribute(NameOID.COMMON_NAME, school_name),
        x509.NameAttribute(NameOID.USER_ID, uid),
    ])


def ca_name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


@dataclass
class Authority:
    """A CA: its key, certificate and the revocations it will publish."""

    name: str  # file stem, e.g. "root-ca"
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    revoked: list[tuple[int, dt.datetime]] = field(default_factory=list)

    def issue(
        self,
        subject: x509.Name,
        public_key: rsa.RSAPublicKey,
        serial: int,
        not_before: dt.datetime,
        not_after: dt.datetime,
        *,
        ca: bool = False,
        path_length: int | None = None,
        timestamping: bool = False,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.CRLDistributionPoints([
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(CRL_URL.format(name=self.name))],
                        relative_name=None, reasons=None, crl_issuer=None,
                    )
                ]),
                critical=False,
            )
        )
        if ca:
            usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False,
                         content_commitment=False)
        else:
            usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True,
                         content_commitment=True)
        builder = builder.add_extension(
            x509.KeyUsage(key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False, **usage),
            critical=True,
        )
        if timestamping:
            # RFC 3161 2.3: the TSA certificate has exactly this EKU, marked critical.
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
        return builder.sign(self.key, hashes.SHA256())

    def crl(self, this_update: dt.datetime, next_update: dt.datetime, number: int) -> x509.CertificateRevocationList:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        for serial, when in sorted(self.revoked):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(when)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        return builder.sign(self.key, hashes.SHA256())


def self_signed_root(name: str, common_name: str, key: rsa.RSAPrivateKey, seed: str,
                     not_before: dt.datetime, not_after: dt.datetime) -> Authority:
    subject = ca_name(common_name)
    placeholder = Authority(name=name, key=key, cert=None)  # type: ignore[arg-type]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial_for(seed, name))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                          crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True,
        )
    )
    placeholder.cert = builder.sign(key, hashes.SHA256())
    return placeholder


def sub_ca(parent: Authority, name: str, common_name: str, key: rsa.RSAPrivateKey, seed: str,
           not_before: dt.datetime, not_after: dt.datetime) -> Authority:
    cert = parent.issue(ca_name(common_name), key.public_key(), serial_for(seed, name),
                        not_before, not_after, ca=True, path_length=0)
    return Authority(name=name, key=key, cert=cert)
