"""Run the reference verifier, the ``xmlsec1`` CLI (Debian package xmlsec1), per signature."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

from cryptography import x509
from lxml import etree

DSIG = "http://www.w3.org/2000/09/xmldsig#"


def signature_ids(path: Path) -> list[str]:
    root = etree.parse(str(path)).getroot()
    return [s.get("Id") for s in root.iter(f"{{{DSIG}}}Signature")]


def signing_time_utc(path: Path, sig_id: str) -> str | None:
    """The signature's SigningTime as the UTC "YYYY-MM-DD HH:MM:SS" xmlsec1 expects."""
    root = etree.parse(str(path)).getroot()
    for prop in root.iter(f"{{{DSIG}}}SignatureProperty"):
        if prop.get("Target") == f"#{sig_id}":
            node = prop.find("SigningTime")
            if node is not None and node.text:
                text = node.text.strip()
                if not re.search(r"(Z|[+-]\d\d:\d\d)$", text):
                    text += "+07:00"
                when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return None


def verify(path: Path, sig_id: str, trust: Path, at: str | None = None) -> tuple[bool, str]:
    """(accepted, output) of ``xmlsec1 --verify`` for one signature: crypto, and the
    certificate chain to the trust folder's CAs at the given UTC time."""
    cmd = ["xmlsec1", "--verify", "--enabled-reference-uris", "same-doc",
           "--id-attr:Id", "DLHocBa", "--id-attr:Id", "MonHoc",
           "--id-attr:Id", f"{DSIG}:Signature", "--node-id", sig_id]
    for pem in sorted(trust.glob("*.pem")):
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        # Self-signed CAs are the anchors; the others are intermediates to build paths with.
        cmd += ["--trusted-pem" if cert.issuer == cert.subject else "--untrusted-pem", str(pem)]
    if at:
        cmd += ["--verification-time", at]
    # TZ=UTC: xmlsec1 reads --verification-time as local time.
    proc = subprocess.run(cmd + [str(path)], capture_output=True, text=True, timeout=60,
                          env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    return proc.returncode == 0, proc.stdout + proc.stderr


def verify_crypto_only(path: Path, sig_id: str) -> bool:
    """xmlsec1 on digests and signature value alone (``--insecure``: certificates unchecked)."""
    cmd = ["xmlsec1", "--verify", "--insecure", "--enabled-reference-uris", "same-doc",
           "--id-attr:Id", "DLHocBa", "--id-attr:Id", "MonHoc",
           "--id-attr:Id", f"{DSIG}:Signature", "--node-id", sig_id, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    return proc.returncode == 0
