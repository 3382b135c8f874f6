"""The trust configuration: a folder of CA certificates and CRLs.

Self-signed certificates are trust anchors, the others intermediates to build paths
with. Files: ``*.pem`` / ``*.crt`` / ``*.cer`` (PEM, possibly several per file, or DER)
and ``*.crl`` (PEM or DER). Anything unreadable is a configuration error, named.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import ConfigError

CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der"}
CRL_SUFFIXES = {".crl"}


class TrustConfigError(ConfigError):
    """The trust folder cannot be used as it is."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class TrustStore:
    anchors: list[x509.Certificate] = field(default_factory=list)
    intermediates: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    source: str = ""

    @property
    def empty(self) -> bool:
        return not self.anchors

    def crls_by_issuer(self, issuer: x509.Name) -> list[x509.CertificateRevocationList]:
        return [c for c in self.crls if c.issuer == issuer]

    def add_certificate(self, cert: x509.Certificate) -> None:
        target = self.anchors if cert.issuer == cert.subject else self.intermediates
        if all(der(c) != der(cert) for c in target):
            target.append(cert)


def _certificates(data: bytes, path: Path) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise TrustConfigError(
            f"Không đọc được chứng thư số {path} / cannot read certificate {path}: {exc}") from None


def _crl(data: bytes, path: Path) -> x509.CertificateRevocationList:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise TrustConfigError(f"Không đọc được CRL {path} / cannot read CRL {path}: {exc}") from None


def load_trust(folder: str | Path | None) -> TrustStore:
    """Read a trust folder (recursively). ``None`` gives an empty store."""
    store = TrustStore(source=str(folder or ""))
    if folder is None:
        return store
    folder = Path(folder)
    if not folder.is_dir():
        raise TrustConfigError(
            f"Thư mục tin cậy {folder} không tồn tại / trust folder {folder} does not exist")
    for path in sorted(folder.rglob("*")):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in CERT_SUFFIXES | CRL_SUFFIXES:
            continue
        if path.name.endswith(".key.pem"):
            continue  # never read private keys, even when someone left one here
        data = path.read_bytes()
        if suffix in CRL_SUFFIXES:
            store.crls.append(_crl(data, path))
        else:
            for cert in _certificates(data, path):
                store.add_certificate(cert)
    if not store.anchors:
        raise TrustConfigError(
            f"Thư mục {folder} không có chứng thư gốc (tự ký) nào / "
            f"{folder} holds no self-signed root certificate to trust")
    return store
