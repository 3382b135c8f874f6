"""Keys on USB tokens (PKCS#11), with SoftHSM2: a token made by the test, the sample's keys
imported into it, the import signing through RFC 7512 URIs (issue 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import require_tool
from .scans_helpers import KEYS, PRINCIPAL_ID, SCANS, TRUST, run_archiver, signed_scans  # noqa: F401

LIBRARIES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
             "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
PIN = "123456"

# Certificates go onto the token with python-pkcs11 (softhsm2-util imports keys only).
_PUT_CERTIFICATE = """
import sys, pkcs11
from pkcs11 import Attribute, CertificateType, ObjectClass
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
lib, label, pin, pem, object_label, object_id = sys.argv[1:7]
cert = x509.load_pem_x509_certificate(open(pem, "rb").read())
with pkcs11.lib(lib).get_token(token_label=label).open(rw=True, user_pin=pin) as session:
    session.create_object({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                           Attribute.TOKEN: True, Attribute.LABEL: object_label, Attribute.ID: bytes.fromhex(object_id),
                           Attribute.VALUE: cert.public_bytes(Encoding.DER),
                           Attribute.SUBJECT: cert.subject.public_bytes()})
"""


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two SoftHSM2 tokens, as a school has: the principal's and the school's."""
    require_tool("softhsm2-util")
    library = next((lib for lib in LIBRARIES if Path(lib).is_file()), None)
    if library is None:
        pytest.fail("libsofthsm2.so not found; Debian package softhsm2 (scripts/install.sh --test installs it)")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}

    def run(*args: str) -> None:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    for label, key_name, object_label in (("HT-Token", f"cccd-{PRINCIPAL_ID}", "hieu-truong"),
                                          ("Truong-Token", "mns-0109944", "con-dau")):
        run("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "87654321", "--pin", PIN)
        run("softhsm2-util", "--import", str(KEYS / f"{key_name}.key.pem"), "--token", label, "--label",
            object_label, "--id", "01", "--pin", PIN)
        run(sys.executable, "-c", _PUT_CERTIFICATE, library, label, PIN, str(KEYS / f"{key_name}.crt.pem"),
            object_label, "01")
    return {"SOFTHSM2_CONF": str(conf), "library": library}


def _import(token: dict[str, str], out: Path, principal: str, school: str, pin: str = PIN):
    return run_archiver("scans", "import", SCANS / "roster.csv", "--images", SCANS / "images", "--out", out,
                        "--principal-key", principal, "--school-key", school, "--pkcs11-lib", token["library"],
                        "--pin-env", "TOKEN_PIN", env={"SOFTHSM2_CONF": token["SOFTHSM2_CONF"], "TOKEN_PIN": pin})


def test_signing_through_pkcs11_uris_gives_the_same_result_as_pkcs12(token: dict[str, str], tmp_path: Path,
                                                                     signed_scans: Path):
    from archiver.scans.record import read_pdf_record

    out = tmp_path / "out"
    proc = _import(token, out, "pkcs11:token=HT-Token;object=hieu-truong",
                   "pkcs11:token=Truong-Token;object=con-dau")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the 150-dpi row, as with PKCS#12
    made = sorted(p.relative_to(out) for p in out.rglob("*.pdf"))
    assert made == sorted(p.relative_to(signed_scans) for p in signed_scans.rglob("*.pdf"))
    reports = json.loads(run_archiver("verify", "--trust", TRUST, "--json", out).stdout)
    expected = json.loads(run_archiver("verify", "--trust", TRUST, "--json", signed_scans).stdout)
    for got, want in zip(reports, expected):
        assert got["verdict"] == want["verdict"] == "VALID"
        assert [(s["id"], s["certificate"]["sha256"], s["status"]) for s in got["signatures"]] == \
               [(s["id"], s["certificate"]["sha256"], s["status"]) for s in want["signatures"]]
    for rel in made:
        a, b = read_pdf_record((out / rel).read_bytes()), read_pdf_record((signed_scans / rel).read_bytes())
        for record in (a, b):
            record.pop("digitised")
        assert a == b  # the same pages, sources, roster row and signers


def test_an_id_in_the_uri_selects_the_key_too(token: dict[str, str], tmp_path: Path):
    proc = _import(token, tmp_path / "out", "pkcs11:token=HT-Token;id=%01", "pkcs11:token=Truong-Token;id=%01")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(list((tmp_path / "out").rglob("*.pdf"))) == 3


def test_a_wrong_pin_stops_before_anything_is_written(token: dict[str, str], tmp_path: Path):
    proc = _import(token, tmp_path / "out", "pkcs11:token=HT-Token;object=hieu-truong",
                   "pkcs11:token=Truong-Token;object=con-dau", pin="000000")
    assert proc.returncode == 2
    assert "sai mã PIN" in proc.stderr and "nothing was written" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_token_that_is_not_plugged_in_is_said_so(token: dict[str, str], tmp_path: Path):
    proc = _import(token, tmp_path / "out", "pkcs11:token=Khong-Co;object=hieu-truong",
                   "pkcs11:token=Truong-Token;object=con-dau")
    assert proc.returncode == 2
    assert "không thấy USB token" in proc.stderr and "not plugged in" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_school_token_given_for_the_principal_is_refused(token: dict[str, str], tmp_path: Path):
    proc = _import(token, tmp_path / "out", "pkcs11:token=Truong-Token;object=con-dau",
                   "pkcs11:token=HT-Token;object=hieu-truong")
    assert proc.returncode == 2
    assert "không đúng vai trò" in proc.stderr and "UID=CCCD" in proc.stderr


def test_a_pin_in_the_uri_is_refused(tmp_path: Path):
    from archiver.scans.keys import KeyProblem, parse_pkcs11_uri

    with pytest.raises(KeyProblem, match="PIN"):
        parse_pkcs11_uri("pkcs11:token=A;object=b?pin-value=1234")
    uri = parse_pkcs11_uri("pkcs11:token=H%E1%BB%8Dc%20b%E1%BA%A1;object=k%C3%BD;id=%01%02?module-path=/x.so")
    assert (uri.token, uri.object, uri.id, uri.module_path) == ("Học bạ", "ký", b"\x01\x02", "/x.so")
