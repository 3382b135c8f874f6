"""A package's timestamp: one RFC 3161 request over the hash tree of its members.

:func:`stamp_package` turns the members' digests into one evidence record each (RFC 4998)
and the files of ``data/timestamp/``: the token, the root it certifies, and the TSA's
certificate chain, so that ``openssl ts -verify`` can check it with nothing else.
:func:`renewal` does the same for an RFC 4998 renewal (section 5.2). The archive writes
what these return; nothing here touches a package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from .evidence import build_evidence, evidence_tokens, renew, renew_hash_tree
from .tsa import Timestamper, TsaUnavailable, load_certificates, token_facts

TIMESTAMP_FOLDER = "data/timestamp"


@dataclass(frozen=True)
class PackageStamp:
    """What a timestamp adds to a package."""

    evidence: list[bytes]  # one DER evidence record per member, in the members' order
    files: dict[str, bytes]  # path relative to the bag root -> bytes (data/timestamp/…)
    info: dict[str, Any]  # the "timestamp" (or renewal) entry of package.json


def stamp_package(items: Sequence[Sequence[bytes]], timestamper: Timestamper,
                  tsa_cert: Path | None = None) -> PackageStamp:
    """One token for the whole package over its members' data-object digests (SHA-256):
    ``package.tst``, ``root.sha256.txt``, ``tsa-chain.pem``. Raises what the timestamper
    raises (a :class:`~archiver.timestamps.tsa.TimestampError`) before producing anything."""
    records = build_evidence(items, timestamper, prehashed=True)
    files, info = _timestamp_files(evidence_tokens(records[0])[0], tsa_cert, "package")
    return PackageStamp(records, files, info)


def renewal(records: Sequence[bytes], timestamper: Timestamper, number: int, *, tsa_cert: Path | None = None,
            data: Sequence[Sequence[bytes]] | None = None, hash_tree: str | None = None) -> PackageStamp:
    """RFC 4998 section 5.2 renewal of a package's records with one request: timestamp
    renewal, or with ``hash_tree`` (an algorithm) hash-tree renewal over ``data`` (each
    record's data objects, needed again). Its files are ``renewal-N.tst`` and so on."""
    if hash_tree:
        renewed = renew_hash_tree(list(zip(data or [], records)), timestamper, algorithm=hash_tree)
    else:
        renewed = renew(list(records), timestamper)
    files, info = _timestamp_files(evidence_tokens(renewed[0])[-1], tsa_cert, f"renewal-{number}")
    info["kind"] = f"hash-tree {hash_tree}" if hash_tree else "timestamp"
    return PackageStamp(renewed, files, info)


def _timestamp_files(token: bytes, tsa_cert: Path | None, name: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The token, its imprint and the TSA chain: ``package.tst``, ``root.sha256.txt``,
    ``tsa-chain.pem`` for the package's own timestamp, and ``<name>.tst``,
    ``<name>.root.sha256.txt``, ``<name>.tsa-chain.pem`` for a renewal, so the original
    stays where the package README says it is."""
    facts = token_facts(token)
    prefix = "" if name == "package" else f"{name}."
    token_file = f"{TIMESTAMP_FOLDER}/{name}.tst"
    files = {
        token_file: token,
        f"{TIMESTAMP_FOLDER}/{prefix}root.sha256.txt": facts.imprint.hex().encode() + b"\n",
        f"{TIMESTAMP_FOLDER}/{prefix}tsa-chain.pem": tsa_chain(token, tsa_cert),
    }
    return files, {"status": "done", "time": facts.time.isoformat(), "tsa": facts.tsa, "local": facts.local,
                   "token": token_file, "root_sha256": facts.imprint.hex()}


def tsa_chain(token: bytes, tsa_cert: Path | None = None) -> bytes:
    """PEM of the certificates that take the token to its root: those it carries, the
    configured TSA certificate file, and, for a token of this computer's local TSA that
    does not carry its root, that root, but only when it really issued the token's signer
    (another computer's local TSA has another root)."""
    facts = token_facts(token)
    certs = [_crypto(c) for c in facts.certificates]
    if tsa_cert is not None:
        try:
            certs += [_crypto(c) for c in load_certificates(Path(tsa_cert))]
        except (OSError, ValueError):
            pass
    if facts.local and facts.signer is not None:
        local_root = _local_root()
        signer = _crypto(facts.signer)
        if local_root is not None and _issued(signer, local_root):
            certs.append(local_root)
    unique = list({c.fingerprint(hashes.SHA256()): c for c in certs}.values())  # each certificate once
    return b"".join(c.public_bytes(Encoding.PEM) for c in unique)


def _crypto(cert: ax509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def _local_root() -> x509.Certificate | None:
    from .tsa import LocalTimestamper, TimestampError

    try:
        return _crypto(LocalTimestamper().root_cert)
    except (TimestampError, OSError, ValueError):
        return None


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, another key type: not its issuer
        return False


@dataclass
class GivesUpOnce:
    """A timestamper that, once its TSA was unreachable after all retries, fails the next
    packages at once: they wait in .pending all the same, without a minute of retries each."""

    inner: Timestamper
    down: Exception | None = field(default=None)

    @property
    def url(self) -> str | None:
        return getattr(self.inner, "url", None)

    def timestamp(self, digest: bytes) -> bytes:
        if self.down is not None:
            raise self.down
        try:
            return self.inner.timestamp(digest)
        except TsaUnavailable as exc:
            self.down = exc
            raise
