"""A real RFC 3161 TSA for tests: OpenSSL's ``openssl ts -reply`` behind ``http.server``.

The test PKI (a CA, a TSA certificate with the critical timeStamping EKU, a TSA
certificate without it, and an unrelated CA + TSA) is generated at test time in a
temporary folder. The server listens on 127.0.0.1 on a free port only; each URL path
selects a behaviour:

=================  ==========================================================
``/tsa``           OpenSSL TSA, signer chains to ``pki.ca_cert``
``/untrusted``     OpenSSL TSA, signer chains to an unrelated CA
``/reject``        OpenSSL TSA that only allows SHA-512 (refuses our SHA-256)
``/other``         OpenSSL TSA asked about a different imprint (same nonce)
``/no-eku``        pyHanko TSA whose certificate has no timeStamping EKU
``/future``        pyHanko TSA with a proper certificate and genTime +1 day
``/garbage``       HTTP 200 with an HTML page
``/error``         HTTP 503
``/slow``          sleeps ``SLOW_SECONDS`` before answering
=================  ==========================================================

Use it through the ``tsa_server`` fixture (import it into the test module).
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import keys, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SLOW_SECONDS = 1.5  # the server's delay; clients in tests time out well before
OPENSSL_TIMEOUT = 20  # bound on one `openssl ts -reply` run


@dataclass(frozen=True)
class Pki:
    folder: Path
    ca_cert: Path  # trust anchor of the good TSA
    tsa_cert: Path
    tsa_key: Path
    no_eku_cert: Path
    no_eku_key: Path
    other_ca_cert: Path  # an unrelated CA
    other_tsa_cert: Path
    other_tsa_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "archiver test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ca(cn: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _key()
    now = datetime.now(UTC) - timedelta(hours=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    cn: str, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey, eku: bool
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _key()
    now = datetime.now(UTC) - timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if eku:  # RFC 3161 2.3: sole EKU id-kp-timeStamping, critical
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: rsa.RSAPrivateKey | None = None
) -> None:
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (folder / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def make_pki(folder: Path) -> Pki:
    """Generate the whole test PKI (RSA-2048, 30 days) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("archiver test TSA CA")
    tsa, tsa_key = _leaf("archiver test TSA", ca, ca_key, eku=True)
    no_eku, no_eku_key = _leaf("archiver test TSA without EKU", ca, ca_key, eku=False)
    other_ca, other_ca_key = _ca("unrelated CA")
    other_tsa, other_tsa_key = _leaf("unrelated TSA", other_ca, other_ca_key, eku=True)
    _write(folder, "ca", ca)
    _write(folder, "tsa", tsa, tsa_key)
    _write(folder, "no-eku", no_eku, no_eku_key)
    _write(folder, "other-ca", other_ca)
    _write(folder, "other-tsa", other_tsa, other_tsa_key)
    (folder / "serial").write_text("01\n")
    (folder / "openssl-ts.cnf").write_text(_OPENSSL_CONFIG.format(dir=folder.as_posix()))
    return Pki(
        folder=folder,
        ca_cert=folder / "ca.pem",
        tsa_cert=folder / "tsa.pem",
        tsa_key=folder / "tsa.key",
        no_eku_cert=folder / "no-eku.pem",
        no_eku_key=folder / "no-eku.key",
        other_ca_cert=folder / "other-ca.pem",
        other_tsa_cert=folder / "other-tsa.pem",
        other_tsa_key=folder / "other-tsa.key",
    )


_OPENSSL_CONFIG = """\
[ tsa ]
default_tsa = tsa_good

[ tsa_good ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

[ tsa_untrusted ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/other-tsa.pem
certs = $dir/other-ca.pem
signer_key = $dir/other-tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
tsa_name = yes
ess_cert_id_alg = sha256

[ tsa_reject ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha512
ess_cert_id_alg = sha256
"""


def openssl_reply(pki: Pki, query: bytes, section: str) -> bytes:
    """Run ``openssl ts -reply`` on a DER TimeStampReq; returns the DER TimeStampResp."""
    with tempfile.TemporaryDirectory() as tmp:
        query_file, reply_file = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
        query_file.write_bytes(query)
        subprocess.run(
            [
                "openssl",
                "ts",
                "-reply",
                "-config",
                str(pki.folder / "openssl-ts.cnf"),
                "-section",
                section,
                "-queryfile",
                str(query_file),
                "-out",
                str(reply_file),
            ],
            check=True,
            capture_output=True,
            timeout=OPENSSL_TIMEOUT,
        )
        return reply_file.read_bytes()


def _load_key(path: Path) -> keys.PrivateKeyInfo:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return keys.PrivateKeyInfo.load(der)


def _load_cert(path: Path) -> ax509.Certificate:
    der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)
    return ax509.Certificate.load(der)


def pyhanko_reply(pki: Pki, query: bytes, cert: Path, key: Path, gen_time: datetime) -> bytes:
    """A TimeStampResp from pyHanko's in-process TSA (for certificates OpenSSL refuses
    to sign with, and for a chosen genTime)."""
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    signer = DummyTimeStamper(
        tsa_cert=_load_cert(cert),
        tsa_key=_load_key(key),
        certs_to_embed=[_load_cert(pki.ca_cert)],
        fixed_dt=gen_time,
    )
    return signer.request_tsa_response(tsp.TimeStampReq.load(query)).dump()


class TsaServer:
    """``ThreadingHTTPServer`` on 127.0.0.1:<free port> serving the modes above."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.requests: Counter[str] = Counter()
        self._openssl_lock = threading.Lock()  # `openssl ts -reply` updates the serial file
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length", 0)), 1 << 16)
                body = self.rfile.read(length)
                path = self.path
                server.requests[path] += 1
                try:
                    status, reply = server.answer(path, body)
                except Exception as exc:  # a broken test server must not hang the client
                    status, reply = 500, repr(exc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                try:
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, mode: str = "tsa") -> str:
        return f"http://127.0.0.1:{self.port}/{mode}"

    def answer(self, path: str, body: bytes) -> tuple[int, bytes]:
        now = datetime.now(UTC)
        if path == "/tsa":
            return 200, self._openssl(body, "tsa_good")
        if path == "/untrusted":
            return 200, self._openssl(body, "tsa_untrusted")
        if path == "/reject":
            return 200, self._openssl(body, "tsa_reject")
        if path == "/other":
            request = tsp.TimeStampReq.load(body)
            imprint = request["message_imprint"]
            request["message_imprint"] = tsp.MessageImprint(
                {
                    "hash_algorithm": imprint["hash_algorithm"],
                    "hashed_message": hashlib.sha256(b"some other document").digest(),
                }
            )
            return 200, self._openssl(request.dump(), "tsa_good")
        if path == "/no-eku":
            return 200, pyhanko_reply(
                self.pki, body, self.pki.no_eku_cert, self.pki.no_eku_key, now
            )
        if path == "/future":
            return 200, pyhanko_reply(
                self.pki, body, self.pki.tsa_cert, self.pki.tsa_key, now + timedelta(days=1)
            )
        if path == "/garbage":
            return 200, b"<html><body>Captive portal: please log in</body></html>"
        if path == "/error":
            return 503, b"Service Unavailable"
        if path == "/slow":
            time.sleep(SLOW_SECONDS)
            return 200, self._openssl(body, "tsa_good")
        return 404, b"no such TSA"

    def _openssl(self, body: bytes, section: str) -> bytes:
        with self._openssl_lock:
            return openssl_reply(self.pki, body, section)

    def __enter__(self) -> TsaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def tsa_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def tsa_server(tsa_pki: Pki):  # type: ignore[no-untyped-def]
    """A running test TSA (see the module docstring for its URL paths)."""
    with TsaServer(tsa_pki) as server:
        yield server


def openssl_verify_token(
    token: bytes, digest: bytes, ca_file: Path
) -> subprocess.CompletedProcess[str]:
    """``openssl ts -verify -digest HEX -token_in -in TOKEN -CAfile CA``."""
    with tempfile.TemporaryDirectory() as tmp:
        token_file = Path(tmp) / "token.der"
        token_file.write_bytes(token)
        return subprocess.run(
            [
                "openssl",
                "ts",
                "-verify",
                "-digest",
                digest.hex(),
                "-token_in",
                "-in",
                str(token_file),
                "-CAfile",
                str(ca_file),
            ],
            capture_output=True,
            text=True,
            timeout=OPENSSL_TIMEOUT,
        )


def closed_port_url() -> str:
    """A 127.0.0.1 URL where nothing listens (a port that was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"
