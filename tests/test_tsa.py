"""RFC 3161 clients against real TSAs: OpenSSL's `ts -reply` and the embedded local TSA."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archiver.timestamps.config import TsaConfig, make_timestamper, read_config_file, resolve_tsa_config
from archiver.timestamps.tsa import (
    LOCAL_TSA_LABEL,
    LOCAL_TSA_ORGANIZATION,
    HttpTimestamper,
    LocalTimestamper,
    TsaConfigError,
    TsaError,
    TsaUnavailable,
    check_token,
    default_data_dir,
    load_certificates,
    local_tsa_fingerprint,
)
from tests.tsa_server import (  # noqa: F401  (fixtures)
    Pki,
    TsaServer,
    closed_port_url,
    openssl_verify_token,
    tsa_pki,
    tsa_server,
)

DIGEST = hashlib.sha256(b"hoc ba so 2025-2026, lop 9A1").digest()


def fast_client(url: str, pki: Pki, **kw: object) -> HttpTimestamper:
    """Small timeouts and backoff so failure tests finish in well under a second."""
    options: dict = {"timeout": 0.3, "retries": 1, "backoff": 0.05, **kw}
    return HttpTimestamper(url, pki.ca_cert, **options)


@pytest.fixture(scope="module")
def local_tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTimestamper:
    return LocalTimestamper(tmp_path_factory.mktemp("data"))


# ------------------------------------------------------------------ HTTP, good path


def test_openssl_tsa_token_is_checked_and_openssl_verifies_it(tsa_server: TsaServer) -> None:
    pki = tsa_server.pki
    token = fast_client(tsa_server.url(), pki, timeout=10).timestamp(DIGEST)

    check = check_token(token, DIGEST, load_certificates(pki.ca_cert))
    assert check.ok and check.trusted and not check.local
    assert check.imprint == DIGEST and check.hash_algorithm == "sha256"
    assert "archiver test TSA" in check.tsa_name

    result = openssl_verify_token(token, DIGEST, pki.ca_cert)
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def test_tsa_certificate_itself_can_be_the_configured_anchor(tsa_server: TsaServer) -> None:
    pki = tsa_server.pki
    client = HttpTimestamper(tsa_server.url(), pki.tsa_cert, timeout=10)
    assert check_token(client.timestamp(DIGEST), DIGEST, client.trust_roots).trusted


def test_sha512_imprints_for_hash_tree_renewal(tsa_server: TsaServer) -> None:
    digest = hashlib.sha512(b"x").digest()
    token = fast_client(tsa_server.url(), tsa_server.pki, timeout=10).timestamp(digest)
    assert check_token(token, digest, []).hash_algorithm == "sha512"
    assert openssl_verify_token(token, digest, tsa_server.pki.ca_cert).returncode == 0


def test_each_request_carries_a_fresh_nonce_and_cert_req(tsa_server: TsaServer) -> None:
    client = fast_client(tsa_server.url(), tsa_server.pki, timeout=10)
    a, b = (check_token(client.timestamp(DIGEST), DIGEST, []) for _ in range(2))
    assert a.nonce and b.nonce and a.nonce != b.nonce
    # cert_req=True: the token embeds the TSA certificate (check_token found the signer)
    assert a.tsa_fingerprint == load_certificates(tsa_server.pki.tsa_cert)[0].sha256.hex()


# ------------------------------------------------------------------ HTTP, bad paths


def test_token_for_another_imprint_is_refused(tsa_server: TsaServer) -> None:
    with pytest.raises(TsaError, match="different data") as info:
        fast_client(tsa_server.url("other"), tsa_server.pki, timeout=10).timestamp(DIGEST)
    assert tsa_server.url("other") in str(info.value)


def test_tsa_certificate_without_timestamping_eku_is_refused(tsa_server: TsaServer) -> None:
    with pytest.raises(TsaError, match="id-kp-timeStamping"):
        fast_client(tsa_server.url("no-eku"), tsa_server.pki, timeout=10).timestamp(DIGEST)


def test_untrusted_tsa_is_refused(tsa_server: TsaServer) -> None:
    with pytest.raises(TsaError, match="does not chain to a trusted root"):
        fast_client(tsa_server.url("untrusted"), tsa_server.pki, timeout=10).timestamp(DIGEST)


def test_tsa_refusal_reports_pki_status(tsa_server: TsaServer) -> None:
    with pytest.raises(TsaError, match="refused to timestamp.*bad_alg"):
        fast_client(tsa_server.url("reject"), tsa_server.pki, timeout=10).timestamp(DIGEST)


def test_future_gen_time_is_refused(tsa_server: TsaServer) -> None:
    with pytest.raises(TsaError, match="in the future.*clock"):
        fast_client(tsa_server.url("future"), tsa_server.pki, timeout=10).timestamp(DIGEST)


def test_garbage_answer_is_a_clear_error_naming_the_url(tsa_server: TsaServer) -> None:
    with pytest.raises(TsaError, match="not an RFC 3161 timestamp response") as info:
        fast_client(tsa_server.url("garbage"), tsa_server.pki).timestamp(DIGEST)
    assert tsa_server.url("garbage") in str(info.value)
    assert not isinstance(info.value, TsaUnavailable)


def test_timeout_retries_then_tsa_unavailable(tsa_server: TsaServer) -> None:
    before = tsa_server.requests["/slow"]
    started = time.monotonic()
    with pytest.raises(TsaUnavailable, match="timed out.*pending timestamp") as info:
        fast_client(tsa_server.url("slow"), tsa_server.pki, timeout=0.2, retries=1).timestamp(
            DIGEST
        )
    assert time.monotonic() - started < 1.5  # 2 × 0.2 s + backoff, not the server's delay
    assert tsa_server.url("slow") in str(info.value)
    assert tsa_server.requests["/slow"] - before == 2


def test_server_errors_are_retried_with_backoff(tsa_server: TsaServer) -> None:
    before = tsa_server.requests["/error"]
    with pytest.raises(TsaUnavailable, match="HTTP 503"):
        fast_client(tsa_server.url("error"), tsa_server.pki, retries=2).timestamp(DIGEST)
    assert tsa_server.requests["/error"] - before == 3


def test_nobody_listening_is_tsa_unavailable(tsa_pki: Pki) -> None:
    url = closed_port_url()
    with pytest.raises(TsaUnavailable) as info:
        fast_client(url, tsa_pki, retries=1).timestamp(DIGEST)
    assert url in str(info.value)


def test_client_configuration_errors(tsa_pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(TsaConfigError, match="no certificate configured"):
        HttpTimestamper("http://127.0.0.1:9/tsa", None)
    with pytest.raises(TsaConfigError, match="http://"):
        HttpTimestamper("ftp://127.0.0.1/tsa", tsa_pki.ca_cert)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    with pytest.raises(TsaConfigError, match="not a PEM or DER certificate"):
        HttpTimestamper("http://127.0.0.1:9/tsa", junk)
    with pytest.raises(ValueError, match="32/48/64 bytes"):
        HttpTimestamper("http://127.0.0.1:9/tsa", tsa_pki.ca_cert).timestamp(b"short")


# ----------------------------------------------------------------------- local TSA


def test_local_tokens_verify_with_openssl(local_tsa: LocalTimestamper, tmp_path: Path) -> None:
    token = local_tsa.timestamp(DIGEST)
    result = openssl_verify_token(token, DIGEST, local_tsa.tsa_dir / "root-cert.pem")
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def test_local_tokens_are_recognised_as_local(local_tsa: LocalTimestamper) -> None:
    token = local_tsa.timestamp(DIGEST)
    untrusted = check_token(token, DIGEST, [])
    assert untrusted.local and not untrusted.trusted and untrusted.signature_ok
    assert untrusted.ok  # sound, but labelled:
    assert LOCAL_TSA_LABEL in untrusted.problems
    assert untrusted.tsa_fingerprint == local_tsa.fingerprint
    trusted = check_token(token, DIGEST, [local_tsa.root_cert])
    assert trusted.trusted and trusted.local and trusted.problems == ()
    # our own policy OID, not the one pyHanko's test TSA would claim
    info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    assert info["policy"].dotted.startswith("2.25.")


def test_local_tsa_is_created_once_and_reused(tmp_path: Path) -> None:
    assert local_tsa_fingerprint(tmp_path) is None
    first = LocalTimestamper(tmp_path)
    assert LocalTimestamper(tmp_path).fingerprint == first.fingerprint
    assert local_tsa_fingerprint(tmp_path) == first.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tsa"]  # no temp leftovers
    if sys.platform != "win32":
        assert (tmp_path / "tsa" / "tsa-key.pem").stat().st_mode & 0o077 == 0


def test_local_tsa_certificate_profile(local_tsa: LocalTimestamper) -> None:
    tsa = x509.load_pem_x509_certificate((local_tsa.tsa_dir / "tsa-cert.pem").read_bytes())
    root = x509.load_pem_x509_certificate((local_tsa.tsa_dir / "root-cert.pem").read_bytes())
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert (
        tsa.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        == LOCAL_TSA_ORGANIZATION
    )
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert tsa.issuer == root.subject
    assert not (local_tsa.tsa_dir / "root-key.pem").exists()  # root key discarded


def test_damaged_local_tsa_gives_a_clear_error(tmp_path: Path) -> None:
    LocalTimestamper(tmp_path)
    (tmp_path / "tsa" / "tsa-key.pem").write_bytes(b"oops")
    with pytest.raises(TsaConfigError, match="damaged.*move that folder away"):
        LocalTimestamper(tmp_path)


def test_altered_token_fails_the_signature_check(local_tsa: LocalTimestamper) -> None:
    token = bytearray(local_tsa.timestamp(DIGEST))
    token[-5] ^= 0x01  # inside the RSA signature value at the end of SignerInfo
    check = check_token(bytes(token), DIGEST, [local_tsa.root_cert])
    assert not check.signature_ok and not check.ok


# -------------------------------------------------------------------------- config


def test_config_precedence() -> None:
    file_config = {"tsa": {"url": "http://file.example/tsa", "cert": "certs/tsa.pem"}}
    env = {"ARCHIVER_TSA_URL": "http://env.example/tsa", "ARCHIVER_TSA_CERT": "/env/tsa.pem"}
    base = Path("/srv/archive")

    explicit = resolve_tsa_config("http://cli/tsa", "/cli.pem", env=env, file_config=file_config)
    assert explicit == TsaConfig("http://cli/tsa", Path("/cli.pem"), "command line")

    from_env = resolve_tsa_config(env=env, file_config=file_config, file_dir=base)
    assert (from_env.url, from_env.cert) == ("http://env.example/tsa", Path("/env/tsa.pem"))

    from_file = resolve_tsa_config(env={}, file_config=file_config, file_dir=base)
    assert from_file.url == "http://file.example/tsa"
    assert from_file.cert == base / "certs" / "tsa.pem"  # relative to archiver.toml

    local = resolve_tsa_config(env={}, file_config={})
    assert local.is_local and local.cert is None

    with pytest.raises(TsaConfigError, match="without --tsa-url"):  # not a silent fall back to local
        resolve_tsa_config(None, "/cli.pem", env={}, file_config={})


def test_config_file_reading(tmp_path: Path) -> None:
    assert read_config_file(tmp_path / "missing.toml") == {}
    good = tmp_path / "archiver.toml"
    good.write_text('[tsa]\nurl = "http://127.0.0.1:1/tsa"\n', encoding="utf-8")
    assert read_config_file(good)["tsa"]["url"] == "http://127.0.0.1:1/tsa"
    bad = tmp_path / "bad.toml"
    bad.write_text("[tsa\n", encoding="utf-8")
    with pytest.raises(TsaConfigError, match="cannot read"):
        read_config_file(bad)
    # a misspelt key must not fall back to the local TSA unnoticed
    with pytest.raises(TsaConfigError, match="urll"):
        resolve_tsa_config(env={}, file_config={"tsa": {"urll": "http://127.0.0.1:1/tsa"}})


def test_make_timestamper(tmp_path: Path, tsa_pki: Pki) -> None:
    assert isinstance(make_timestamper(TsaConfig(None, None, "local"), tmp_path), LocalTimestamper)
    http = make_timestamper(TsaConfig("http://127.0.0.1:9/tsa", tsa_pki.ca_cert, "test"), timeout=1)
    assert isinstance(http, HttpTimestamper) and http.timeout == 1


def test_default_data_dir() -> None:
    assert default_data_dir({"ARCHIVER_DATA_DIR": "/x"}, "linux") == Path("/x")
    assert default_data_dir({"LOCALAPPDATA": r"C:\Users\a\AppData\Local"}, "win32") == Path(
        r"C:\Users\a\AppData\Local", "archiver"
    )
    assert default_data_dir({"XDG_DATA_HOME": "/xdg"}, "linux") == Path("/xdg/archiver")
    assert default_data_dir({}, "linux") == Path.home() / ".local" / "share" / "archiver"
    assert os.fspath(default_data_dir({}, "darwin")).endswith(os.path.join("share", "archiver"))
