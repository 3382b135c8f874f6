"""Signing sample transcripts the Vietnamese way, with libxmlsec1 (the ``xmlsec`` binding).

Why libxmlsec1 and not signxml: the convention puts ``Signature`` in the default
namespace and an un-namespaced ``SigningTime`` inside it, which lxml's subtree C14N
(used by signxml) gets wrong (spec section 6). libxmlsec1 canonicalises correctly and
is what ``xmlsec1 --verify`` runs, so what we sign is what the reference tool accepts.

The template is written as text and parsed, never assembled node by node: lxml does not
emit the ``xmlns=""`` that the un-namespaced ``SigningTime`` needs when it is created
under a default-namespace parent.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ALGORITHMS = {
    # name: (SignatureMethod, DigestMethod, xmlsec transform for the signature)
    "rsa-sha256": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                   "http://www.w3.org/2001/04/xmlenc#sha256"),
    "rsa-sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                 "http://www.w3.org/2000/09/xmldsig#sha1"),
}


@dataclass(frozen=True)
class Signer:
    """A signing identity: private key (PEM) and certificate chain (DER), signer's first."""

    key_pem: bytes
    chain_der: tuple[bytes, ...]
    subject: str  # RFC 4514, for X509SubjectName

    @classmethod
    def from_certs(cls, key_pem: bytes, chain: list[x509.Certificate]) -> "Signer":
        return cls(key_pem, tuple(c.public_bytes(serialization.Encoding.DER) for c in chain),
                   chain[0].subject.rfc4514_string())


@dataclass
class SignatureSpec:
    """One Signature to write into a CKS wrapper. The defaults follow the spec exactly;
    the other settings exist to make the labelled defects."""

    sig_id: str
    role: str
    subject: str | None  # subject code, for GVBM
    region_uri: str  # "#DLHocBa" or "#<MonHoc Id>"
    signing_time: str | None  # None: no SigningTime Object at all
    signer: Signer
    algorithm: str = "rsa-sha256"
    cover_time: bool = True  # a Reference covers the SigningTime Object
    object_id: str | None = None
    extra_references: list[str] = field(default_factory=list)

    @property
    def time_object_id(self) -> str:
        return self.object_id or f"{self.sig_id}-TG"


def signature_template(spec: SignatureSpec) -> str:
    """The Signature element with empty DigestValue/SignatureValue, as XML text."""
    sig_method, digest_method = ALGORITHMS[spec.algorithm]
    uris = [spec.region_uri, *spec.extra_references]
    if spec.signing_time is not None and spec.cover_time:
        uris.append(f"#{spec.time_object_id}")
    refs = "".join(
        f'<Reference URI={quoteattr(uri)}><DigestMethod Algorithm="{digest_method}"/>'
        "<DigestValue></DigestValue></Reference>"
        for uri in uris
    )
    certs = "".join(
        f"<X509Certificate>{base64.b64encode(der).decode('ascii')}</X509Certificate>"
        for der in spec.signer.chain_der
    )
    subject = escape(spec.signer.subject)
    time_object = ""
    if spec.signing_time is not None:
        time_object = (
            f"<Object Id={quoteattr(spec.time_object_id)}><SignatureProperties>"
            f"<SignatureProperty Target={quoteattr('#' + spec.sig_id)}>"
            f'<SigningTime xmlns="">{escape(spec.signing_time)}</SigningTime>'
            "</SignatureProperty></SignatureProperties></Object>"
        )
    return (
        f'<Signature xmlns="{DSIG_NS}" Id={quoteattr(spec.sig_id)}><SignedInfo>'
        f'<CanonicalizationMethod Algorithm="{C14N}"/>'
        f'<SignatureMethod Algorithm="{sig_method}"/>{refs}</SignedInfo>'
        "<SignatureValue></SignatureValue>"
        f"<KeyInfo><X509Data><X509SubjectName>{subject}</X509SubjectName>{certs}</X509Data></KeyInfo>"
        f"{time_object}</Signature>"
    )


def wrapper(spec: SignatureSpec, wrapper_name: str = "CKS") -> str:
    attrs = f" VaiTro={quoteattr(spec.role)}"
    if spec.subject:
        attrs += f" MonHoc={quoteattr(spec.subject)}"
    return f"<{wrapper_name}{attrs}>{signature_template(spec)}</{wrapper_name}>"


class KeyCache:
    """xmlsec keys parsed once per process: loading PEM for each signature is wasted work."""

    def __init__(self) -> None:
        self._keys: dict[bytes, xmlsec.Key] = {}

    def get(self, key_pem: bytes) -> xmlsec.Key:
        key = self._keys.get(key_pem)
        if key is None:
            key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
            self._keys[key_pem] = key
        return key


_KEYS = KeyCache()


def sign_document(
    unsigned: bytes,
    keys: list[tuple[str, bytes]],
    id_elements: tuple[str, ...] = ("DLHocBa", "MonHoc"),
) -> etree._Element:
    """Parse a document whose signature templates are in place and sign each of them.

    ``keys`` pairs a Signature Id with its signer's private key (PEM), in signing order.
    Returns the signed root; callers serialise it (see :func:`serialise`).
    """
    root = etree.fromstring(unsigned, etree.XMLParser(resolve_entities=False, no_network=True))
    # Business elements are referenced by their Id attribute; libxmlsec1 must be told so.
    registrar = xmlsec.SignatureContext()
    for name in id_elements:
        for node in root.iter(name):
            if node.get("Id") is not None:
                registrar.register_id(node, "Id")
    by_id = {sig.get("Id"): sig for sig in root.iter(f"{{{DSIG_NS}}}Signature")}
    for sig_id, key_pem in keys:
        ctx = xmlsec.SignatureContext()
        ctx.key = _KEYS.get(key_pem)
        ctx.sign(by_id[sig_id])
    return root


XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def serialise(root: etree._Element) -> bytes:
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
