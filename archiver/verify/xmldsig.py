"""XML-DSig structure and cryptography (spec section 3, checks 1-4).

The cryptography is libxmlsec1's (the ``xmlsec`` binding): it canonicalises the
Vietnamese convention correctly (default-namespace ``Signature``, un-namespaced
``SigningTime``), where lxml's subtree C14N adds a spurious ``xmlns=""`` (spec section
6), and it is what ``xmlsec1 --verify`` runs, so our crypto verdicts agree with it.
libxmlsec1 answers yes or no; when it says no, the digests are recomputed by libxmlsec1
itself on a scratch copy (signed with a throwaway key) to tell a changed content
(HASH_FAILURE) from a bad signature value (SIG_CRYPTO_FAILURE).

References are resolved by our own rules before libxmlsec1 sees them: Ids must be
unique in the whole document and a region must sit at its profile location, so a
wrapped copy of the signed data cannot stand in for the real one.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import re
from dataclasses import dataclass, field

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from ..profiles import Policy
from .lru import LruCache

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
DS = f"{{{DSIG_NS}}}"
SIGNING_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?")


@dataclass
class Reference:
    uri: str
    target: etree._Element | None  # None: unresolved or ambiguous
    digest_method: str
    has_transforms: bool


@dataclass
class ParsedSignature:
    """What a Signature element says, before anything is checked cryptographically."""

    element: etree._Element
    id: str
    c14n_method: str = ""
    signature_method: str = ""
    references: list[Reference] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)
    signing_time_text: str = ""
    signing_time: dt.datetime | None = None
    time_object_id: str = ""
    problems: list[str] = field(default_factory=list)  # format problems, for people

    @property
    def signer_certificate(self) -> x509.Certificate | None:
        return self.certificates[0] if self.certificates else None


def collect_ids(root: etree._Element) -> dict[str, list[etree._Element]]:
    """Every element carrying an ``Id`` attribute, by value."""
    ids: dict[str, list[etree._Element]] = {}
    for node in root.iter(etree.Element):
        value = node.get("Id")
        if value is not None:
            ids.setdefault(value, []).append(node)
    return ids


def parse_signing_time(text: str, default_offset: str) -> dt.datetime | None:
    match = SIGNING_TIME.fullmatch(text.strip())
    if not match:
        return None
    offset = match[3] or default_offset
    try:
        return dt.datetime.fromisoformat(match[1] + (match[2] or "") + offset.replace("Z", "+00:00"))
    except ValueError:
        return None


def load_certificate(b64: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(b64))


def parse_signature(sig: etree._Element, ids: dict[str, list[etree._Element]],
                    default_offset: str, cert_loader=load_certificate) -> ParsedSignature:
    parsed = ParsedSignature(element=sig, id=sig.get("Id") or "")
    problems = parsed.problems
    signed_info = sig.find(f"{DS}SignedInfo")
    if signed_info is None:
        problems.append("thiếu SignedInfo / no SignedInfo")
        return parsed
    c14n = signed_info.find(f"{DS}CanonicalizationMethod")
    method = signed_info.find(f"{DS}SignatureMethod")
    parsed.c14n_method = c14n.get("Algorithm", "") if c14n is not None else ""
    parsed.signature_method = method.get("Algorithm", "") if method is not None else ""
    if not parsed.c14n_method or not parsed.signature_method:
        problems.append("thiếu thuật toán / CanonicalizationMethod or SignatureMethod missing")
    for ref in signed_info.findall(f"{DS}Reference"):
        uri = ref.get("URI", "")
        digest = ref.find(f"{DS}DigestMethod")
        target = None
        if not uri.startswith("#") or len(uri) < 2:
            problems.append(f"Reference URI={uri!r} không trỏ vào tài liệu / does not point inside the document")
        else:
            found = ids.get(uri[1:], [])
            if len(found) == 1:
                target = found[0]
            elif not found:
                problems.append(f"Reference {uri} không tìm thấy / resolves to nothing")
            else:
                problems.append(f"Reference {uri} trỏ tới {len(found)} phần tử / resolves to {len(found)} elements")
        parsed.references.append(Reference(
            uri=uri, target=target,
            digest_method=digest.get("Algorithm", "") if digest is not None else "",
            has_transforms=ref.find(f"{DS}Transforms") is not None,
        ))
    if not parsed.references:
        problems.append("không có Reference / no Reference")
    if any(r.has_transforms for r in parsed.references):
        problems.append("Reference có Transforms, định dạng không cho phép / Transforms are not allowed")
    value = sig.find(f"{DS}SignatureValue")
    if value is None or not (value.text or "").strip():
        problems.append("thiếu SignatureValue / no SignatureValue")
    for node in sig.findall(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate"):
        try:
            parsed.certificates.append(cert_loader("".join((node.text or "").split())))
        except (ValueError, TypeError):
            problems.append("X509Certificate không đọc được hoặc bị hỏng / unreadable or damaged X509Certificate")
    if not parsed.certificates:
        problems.append("thiếu chứng thư số người ký / no signer certificate in KeyInfo")
    _signing_time(parsed, default_offset)
    return parsed


def _signing_time(parsed: ParsedSignature, default_offset: str) -> None:
    sig = parsed.element
    props = [p for p in sig.iter(f"{DS}SignatureProperty") if p.get("Target") == f"#{parsed.id}"]
    times = [t for p in props for t in p.findall("SigningTime")]
    if len(times) != 1:
        parsed.problems.append(
            "thiếu thời điểm ký (SigningTime) / no SigningTime" if not times
            else "nhiều SigningTime / several SigningTime elements")
        return
    node = times[0]
    parsed.signing_time_text = (node.text or "").strip()
    parsed.signing_time = parse_signing_time(parsed.signing_time_text, default_offset)
    if parsed.signing_time is None:
        parsed.problems.append(f"SigningTime {parsed.signing_time_text!r} sai định dạng / malformed")
    obj = next((a for a in node.iterancestors() if a.tag == f"{DS}Object"), None)
    if obj is None or obj.getparent() is not sig or not obj.get("Id"):
        parsed.problems.append("SigningTime không nằm trong Object có Id / not inside an Object with an Id")
        return
    parsed.time_object_id = obj.get("Id")
    if not any(r.target is obj for r in parsed.references):
        parsed.problems.append("SigningTime không được ký (không có Reference) / SigningTime is not covered by a Reference")


# --- cryptography ---------------------------------------------------------------------

class CryptoChecker:
    """libxmlsec1 verification of one document's signatures."""

    def __init__(self, root: etree._Element, id_elements: tuple[str, ...],
                 keys: "LruCache[x509.Certificate, xmlsec.Key] | None" = None):
        self.root = root
        self.id_elements = id_elements
        registrar = xmlsec.SignatureContext()
        # Tell libxmlsec1 which attributes are Ids: only after we know they are unique.
        for node in root.iter(*id_elements):
            if node.get("Id") is not None:
                registrar.register_id(node, "Id")
        self._keys = keys if keys is not None else LruCache()  # shared across documents by the caller

    def _key(self, cert: x509.Certificate) -> xmlsec.Key:
        key = self._keys.get(cert)
        if key is None:
            key = xmlsec.Key.from_memory(cert.public_bytes(_DER), xmlsec.constants.KeyDataFormatCertDer)
            self._keys[cert] = key
        return key

    def verify(self, parsed: ParsedSignature) -> str:
        """"PASSED", "HASH_FAILURE" or "SIG_CRYPTO_FAILURE"."""
        cert = parsed.signer_certificate
        try:
            ctx = xmlsec.SignatureContext()
            ctx.key = self._key(cert)
            ctx.verify(parsed.element)
            return "PASSED"
        except (xmlsec.Error, ValueError):
            pass
        return "HASH_FAILURE" if self.digests_differ(parsed) else "SIG_CRYPTO_FAILURE"

    def digests_differ(self, parsed: ParsedSignature) -> bool:
        """Recompute the Reference digests with libxmlsec1 on a scratch copy of the document."""
        scratch = copy.deepcopy(self.root)
        sig = next(s for s in scratch.iter(f"{DS}Signature") if s.get("Id") == parsed.id)
        registrar = xmlsec.SignatureContext()
        for node in scratch.iter(*self.id_elements):
            if node.get("Id") is not None:
                registrar.register_id(node, "Id")
        expected = [(r.findtext(f"{DS}DigestValue") or "").strip() for r in sig.iter(f"{DS}Reference")]
        for node in sig.iter(f"{DS}DigestValue"):
            node.text = ""
        ctx = xmlsec.SignatureContext()
        try:
            ctx.key = _throwaway_key(parsed.signature_method)
            ctx.sign(sig)
        except (xmlsec.Error, ValueError):
            return True  # the references cannot even be digested
        actual = [(r.findtext(f"{DS}DigestValue") or "").strip() for r in sig.iter(f"{DS}Reference")]
        return [base64.b64decode(x) for x in actual] != [_b64(x) for x in expected]


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text)
    except (ValueError, TypeError):
        return b""


_THROWAWAY: dict[str, xmlsec.Key] = {}


def _throwaway_key(signature_method: str) -> xmlsec.Key:
    """A key of the right type, only so libxmlsec1 computes the digests for us."""
    from cryptography.hazmat.primitives import serialization

    kind = "ec" if "ecdsa" in signature_method else "rsa"
    if kind not in _THROWAWAY:
        private = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else \
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        _THROWAWAY[kind] = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatPem)
    return _THROWAWAY[kind]


def algorithm_problems(parsed: ParsedSignature, policy: Policy) -> list[str]:
    """Check 4: the algorithm policy (SHA-1 anywhere is refused)."""
    problems = []
    if parsed.c14n_method not in policy.c14n_methods:
        problems.append(f"CanonicalizationMethod {parsed.c14n_method} không được phép / not allowed")
    if parsed.signature_method not in policy.signature_methods:
        problems.append(f"SignatureMethod {parsed.signature_method} không được phép / not allowed")
    for ref in parsed.references:
        if ref.digest_method not in policy.digest_methods:
            problems.append(f"DigestMethod {ref.digest_method} không được phép / not allowed")
    cert = parsed.signer_certificate
    if cert is not None:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < policy.min_rsa_bits:
            problems.append(f"khoá RSA {key.key_size} bit quá ngắn / RSA key too short")
        elif isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < policy.min_ec_bits:
            problems.append(f"khoá EC {key.curve.key_size} bit quá ngắn / EC key too short")
    return problems


from cryptography.hazmat.primitives.serialization import Encoding as _Encoding  # noqa: E402

_DER = _Encoding.DER
