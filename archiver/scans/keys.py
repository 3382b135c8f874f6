"""Signing keys: a PKCS#12 file or a key on a USB token (PKCS#11), as a pyHanko signer.

``KEY`` is a path to a ``.p12``/``.pfx`` file (its passphrase from a hidden prompt or an
environment variable) or an RFC 7512 PKCS#11 URI such as
``pkcs11:token=HT-token;object=principal`` (the PKCS#11 library of the token's vendor
with ``--pkcs11-lib``, or ``module-path`` in the URI; the PIN from a hidden prompt or an
environment variable, never from the URI: a command line is visible to every user of the
machine). Everything that can be wrong with a key is found here, before anything is
written: a wrong passphrase or PIN, a token that is not plugged in, a certificate expired
or not yet valid, a key that is not the certificate's, or an identity that does not fit
the role (spec section 3: ``UID=CCCD:<12 digits>`` for the principal, ``UID=MNS:…`` or
``UID=MST:…`` with the school's name in ``O`` for the school's organisation certificate).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote_to_bytes

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from ..errors import ConfigError
from ..verify.subject import common_name, user_id

PERSON, ORGANISATION = "person", "organisation"
ROLE_IDENTITY = {"HT": PERSON, "TC": ORGANISATION}
ROLE_NAMES = {"HT": "hiệu trưởng / principal", "TC": "nhà trường (chứng thư số tổ chức) / school organisation"}


class KeyProblem(ConfigError):
    """A signing key cannot be used; nothing was written."""

    heading = "Lỗi khoá ký / signing key error"


@dataclass(frozen=True)
class KeySpec:
    key: str  # a file path or a pkcs11: URI
    passphrase_env: str | None = None
    pin_env: str | None = None
    pkcs11_lib: str | None = None


@dataclass
class SigningKey:
    """A pyHanko signer ready to sign, with the facts of its certificate."""

    role: str
    signer: Any  # pyhanko.sign.signers.Signer
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    source: str  # what the clerk gave, for messages (no secrets)
    identity: str  # the certificate's UID: "CCCD:…", "MNS:…", "MST:…"
    name: str  # the certificate's CN (a person's name, the school's name)
    _close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def listed_id(self) -> str:
        """The signer's id as the record lists it: 12 digits for a person, the UID for the school."""
        return self.identity.removeprefix("CCCD:") if self.identity.startswith("CCCD:") else self.identity

    def close(self) -> None:
        for close in self._close:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing a token session must not hide the result
                pass
        self._close.clear()


Secret = Callable[[str], str]  # asks the clerk for a passphrase or PIN (hidden input)


def open_key(spec: KeySpec, role: str, secret: Secret, *, now: dt.datetime | None = None) -> SigningKey:
    """The key for ``role`` ("HT" or "TC"), checked; :class:`KeyProblem` with what to do."""
    now = now or dt.datetime.now(dt.timezone.utc)
    who = ROLE_NAMES.get(role, role)
    if spec.key.lower().startswith("pkcs11:"):
        key = _pkcs11(spec, role, secret, who)
    else:
        key = _pkcs12(spec, role, secret, who)
    try:
        _check(key, role, now, who)
    except BaseException:
        key.close()
        raise
    return key


def _secret(env: str | None, secret: Secret, prompt: str, what: str) -> str:
    import os

    if env:
        value = os.environ.get(env)
        if value is None:
            raise KeyProblem(f"biến môi trường {env} chưa được đặt ({what}) / the environment variable {env} is not set")
        return value
    return secret(prompt)


# -- PKCS#12 ---------------------------------------------------------------------------------------
def _pkcs12(spec: KeySpec, role: str, secret: Secret, who: str) -> SigningKey:
    from cryptography.hazmat.primitives.serialization import pkcs12

    path = Path(spec.key)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyProblem(f"không đọc được tệp khoá {path} của {who} ({exc.strerror or exc}); KEY là tệp .p12/.pfx hoặc "
                         "một URI pkcs11:… / cannot read the key file") from None
    passphrase = _secret(spec.passphrase_env, secret, f"Mật khẩu tệp khoá {path.name} ({who}) / passphrase",
                         "mật khẩu tệp .p12 / PKCS#12 passphrase")
    try:
        private_key, certificate, extra = pkcs12.load_key_and_certificates(data, passphrase.encode("utf-8") or None)
    except ValueError:
        raise KeyProblem(f"{path}: sai mật khẩu, hoặc tệp không phải PKCS#12 (.p12/.pfx) ({who}); không có gì được "
                         "ghi / wrong passphrase, or not a PKCS#12 file; nothing was written") from None
    if private_key is None or certificate is None:
        raise KeyProblem(f"{path}: tệp PKCS#12 thiếu khoá bí mật hoặc chứng thư số ({who}) / the PKCS#12 file lacks "
                         "the private key or its certificate")
    if not isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise KeyProblem(f"{path}: chỉ hỗ trợ khoá RSA hoặc ECDSA ({who}) / only RSA and ECDSA keys are supported")
    chain = [c for c in extra or [] if c != certificate]
    signer = _InMemorySigner.make(private_key, certificate, chain)
    return SigningKey(role, signer, certificate, chain, str(path), user_id(certificate), common_name(certificate))


def _asn1(cert: x509.Certificate):  # type: ignore[no-untyped-def]
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class _InMemorySigner:
    """pyHanko's SimpleSigner with the private key loaded once: SimpleSigner parses the key
    again for every signature (70 ms for an RSA-2048 key, checks included), more than the
    rest of a signature."""

    @staticmethod
    def make(private_key, certificate: x509.Certificate, chain: list[x509.Certificate]):  # type: ignore[no-untyped-def]
        from asn1crypto import keys as asn1_keys
        from pyhanko.sign.signers import SimpleSigner
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        class Signer(SimpleSigner):
            def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
                from pyhanko_certvalidator.util import get_pyca_cryptography_hash

                mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
                algorithm = mechanism.signature_algo
                hash_algo = get_pyca_cryptography_hash(digest_algorithm)
                if algorithm == "rsassa_pkcs1v15" and isinstance(private_key, rsa.RSAPrivateKey):
                    return private_key.sign(data, padding.PKCS1v15(), hash_algo)
                if algorithm == "ecdsa" and isinstance(private_key, ec.EllipticCurvePrivateKey):
                    return private_key.sign(data, ec.ECDSA(hash_algo))
                return super().sign_raw(data, digest_algorithm)

        der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        return Signer(signing_cert=_asn1(certificate), signing_key=asn1_keys.PrivateKeyInfo.load(der),
                      cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in chain]))


# -- PKCS#11 ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI that select a token and an object."""

    token: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    slot_id: int | None = None
    object: str | None = None
    id: bytes | None = None
    module_path: str | None = None
    module_name: str | None = None


def parse_pkcs11_uri(uri: str) -> Pkcs11Uri:
    """RFC 7512: ``pkcs11:`` path attributes separated by ``;``, query attributes after
    ``?`` separated by ``&``, values percent-encoded. A PIN in the URI is refused."""
    if not uri.lower().startswith("pkcs11:"):
        raise KeyProblem(f"{uri!r} không phải URI pkcs11: / not a pkcs11: URI")
    body = uri[len("pkcs11:"):]
    path, _, query = body.partition("?")
    values: dict[str, bytes] = {}
    for part in [p for p in path.split(";") if p] + [q for q in query.split("&") if q]:
        name, sep, value = part.partition("=")
        if not sep:
            raise KeyProblem(f"URI PKCS#11 sai ở {part!r} (cần tên=giá trị) / malformed PKCS#11 URI attribute {part!r}")
        values[name.strip().lower()] = unquote_to_bytes(value)
    if "pin-value" in values or "pin-source" in values:
        raise KeyProblem("không ghi mã PIN trong URI (ai dùng máy cũng xem được dòng lệnh); dùng --pin-env hoặc nhập "
                         "khi được hỏi / do not put the PIN in the URI: use --pin-env or the prompt")
    known = {"token", "serial", "manufacturer", "model", "slot-id", "object", "id", "type", "module-path",
             "module-name", "library-manufacturer", "library-description", "library-version", "slot-description",
             "slot-manufacturer"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise KeyProblem(f"URI PKCS#11 có thuộc tính lạ {', '.join(unknown)} / unknown PKCS#11 URI attributes")
    kind = values.get("type", b"private").decode()
    if kind not in ("private", "cert"):
        raise KeyProblem(f"URI PKCS#11: type={kind} không dùng để ký; bỏ type hoặc ghi type=private / use type=private")

    def text(name: str) -> str | None:
        return values[name].decode("utf-8") if name in values else None

    slot = text("slot-id")
    if slot is not None and not slot.isdigit():
        raise KeyProblem(f"URI PKCS#11: slot-id={slot!r} phải là số / slot-id must be a number")
    return Pkcs11Uri(token=text("token"), serial=text("serial"), manufacturer=text("manufacturer"),
                     model=text("model"), slot_id=int(slot) if slot else None, object=text("object"),
                     id=values.get("id"), module_path=text("module-path"), module_name=text("module-name"))


def _pkcs11(spec: KeySpec, role: str, secret: Secret, who: str) -> SigningKey:
    uri = parse_pkcs11_uri(spec.key)
    library = spec.pkcs11_lib or uri.module_path
    if not library:
        raise KeyProblem(f"cần --pkcs11-lib: thư viện PKCS#11 của USB token ({who}), ví dụ tệp .dll/.so của nhà cung "
                         "cấp chứng thư số / --pkcs11-lib is needed: the token vendor's PKCS#11 library")
    if uri.object is None and uri.id is None:
        raise KeyProblem(f"URI PKCS#11 cần object=… hoặc id=… để chọn khoá ({who}) / the URI must name the key with "
                         "object= or id=")
    try:
        import pkcs11
        from pkcs11 import exceptions as p11e
    except ImportError:  # pragma: no cover - a dependency
        raise KeyProblem("cần gói python-pkcs11 để dùng USB token / python-pkcs11 is needed for PKCS#11 keys") from None
    if not Path(library).is_file():
        raise KeyProblem(f"không thấy thư viện PKCS#11 {library} / the PKCS#11 library {library} does not exist")
    try:
        lib = pkcs11.lib(library)
    except Exception as exc:  # noqa: BLE001 - a library that is not PKCS#11 fails in many ways
        raise KeyProblem(f"không nạp được thư viện PKCS#11 {library} ({exc}) / cannot load the PKCS#11 library") from None
    token = _find_token(lib, uri, who)
    pin = _secret(spec.pin_env, secret, f"Mã PIN của token {token.label.strip()} ({who}) / PIN",
                  "mã PIN của USB token / token PIN")
    try:
        session = token.open(user_pin=pin)
    except p11e.PinIncorrect:
        raise KeyProblem(f"sai mã PIN của token {token.label.strip()} ({who}); nhập sai nhiều lần token sẽ bị khoá; "
                         "không có gì được ghi / wrong PIN; nothing was written") from None
    except p11e.PinLocked:
        raise KeyProblem(f"token {token.label.strip()} đã bị khoá PIN ({who}); liên hệ nhà cung cấp chứng thư số / the "
                         "token's PIN is locked") from None
    except (p11e.PinLenRange, p11e.PinInvalid):
        raise KeyProblem(f"mã PIN không hợp lệ (độ dài hoặc ký tự) ({who}) / the PIN is not valid") from None
    except p11e.PKCS11Error as exc:
        raise KeyProblem(f"không mở được token {token.label.strip()} ({type(exc).__name__}) ({who}) / cannot open the "
                         "token") from None
    from pyhanko.sign.pkcs11 import PKCS11Signer

    signer = PKCS11Signer(session, cert_label=uri.object, key_label=uri.object, key_id=uri.id, cert_id=uri.id,
                          other_certs_to_pull=None)
    try:
        asyncio.run(signer.ensure_objects_loaded())
    except Exception as exc:  # noqa: BLE001 - pyHanko's SigningError and PKCS#11 errors alike
        session.close()
        what = f"object={uri.object}" if uri.object else f"id={uri.id.hex() if uri.id else ''}"
        raise KeyProblem(f"token {token.label.strip()}: không tìm thấy khoá và chứng thư số {what} ({who}): {exc} / "
                         "the key or its certificate is not on the token") from None
    certificate = x509.load_der_x509_certificate(signer.signing_cert.dump())
    chain = [x509.load_der_x509_certificate(c.dump()) for c in signer.cert_registry
             if c.dump() != signer.signing_cert.dump()]
    return SigningKey(role, signer, certificate, chain, spec.key, user_id(certificate), common_name(certificate),
                      [session.close])


def _find_token(lib, uri: Pkcs11Uri, who: str):  # type: ignore[no-untyped-def]
    from pkcs11 import exceptions as p11e

    try:
        slots = lib.get_slots(token_present=True)
    except p11e.PKCS11Error as exc:
        raise KeyProblem(f"thư viện PKCS#11 không liệt kê được khe cắm ({type(exc).__name__}) / cannot list slots") from None
    found = []
    for slot in slots:
        try:
            token = slot.get_token()
        except p11e.PKCS11Error:
            continue
        if uri.slot_id is not None and slot.slot_id != uri.slot_id:
            continue
        if uri.token is not None and token.label.strip() != uri.token:
            continue
        if uri.serial is not None and _text(token.serial).strip() != uri.serial:
            continue
        if uri.manufacturer is not None and token.manufacturer_id.strip() != uri.manufacturer:
            continue
        if uri.model is not None and token.model.strip() != uri.model:
            continue
        found.append(token)
    if not found:
        named = f"token={uri.token}" if uri.token else "token"
        raise KeyProblem(f"không thấy USB token ({named}) của {who}: hãy cắm token rồi chạy lại; không có gì được ghi / "
                         "the token is not plugged in (or another one is); nothing was written")
    if len(found) > 1:
        raise KeyProblem(f"có {len(found)} token khớp URI ({who}); ghi thêm token=… hoặc serial=… / several tokens "
                         "match: add token= or serial=")
    return found[0]


def _text(value: Any) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


# -- checks -----------------------------------------------------------------------------------------
def identity_problem(cert: x509.Certificate, role: str) -> str:
    """Why a certificate cannot sign for ``role`` (spec section 3), or ''."""
    uid = user_id(cert)
    if ROLE_IDENTITY.get(role) == PERSON:
        if not re.fullmatch(r"CCCD:\d{12}", uid):
            return (f"chứng thư số của {cert.subject.rfc4514_string()} không phải chứng thư cá nhân có UID=CCCD:<12 chữ "
                    f"số> (UID={uid or 'không có'}) / not a personal certificate with UID=CCCD:<12 digits>")
    elif ROLE_IDENTITY.get(role) == ORGANISATION:
        has_org = bool(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        if not re.fullmatch(r"(MNS|MST):\S+", uid) or not has_org:
            return (f"chứng thư số của {cert.subject.rfc4514_string()} không phải chứng thư tổ chức có UID=MNS:… hoặc "
                    f"MST:… và tên trường (O) (UID={uid or 'không có'}) / not an organisation certificate with "
                    "UID=MNS:/MST: and O")
    return ""


def _check(key: SigningKey, role: str, now: dt.datetime, who: str) -> None:
    cert = key.certificate
    if now < cert.not_valid_before_utc:
        raise KeyProblem(f"chứng thư số của {who} ({key.name}) chưa có hiệu lực: từ {cert.not_valid_before_utc:%d/%m/%Y}"
                         f" / the certificate is not valid yet")
    if now > cert.not_valid_after_utc:
        raise KeyProblem(f"chứng thư số của {who} ({key.name}) đã hết hạn ngày {cert.not_valid_after_utc:%d/%m/%Y}; "
                         "hãy gia hạn hoặc dùng chứng thư mới; không có gì được ghi / the certificate expired on "
                         f"{cert.not_valid_after_utc:%Y-%m-%d}; nothing was written")
    problem = identity_problem(cert, role)
    if problem:
        raise KeyProblem(f"khoá của {who} không đúng vai trò: {problem}")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            raise KeyProblem(f"chứng thư số của {who} ({key.name}) không dùng để ký số (Key Usage) / the certificate "
                             "is not for signing")
    except x509.ExtensionNotFound:
        pass
    # The key must be the certificate's: sign a probe and check it with the certificate.
    probe = b"archiver: kiem tra khoa / key check"
    try:
        signature = asyncio.run(key.signer.async_sign_raw(probe, "sha256"))
    except Exception as exc:  # noqa: BLE001 - PKCS#11 and pyHanko errors alike
        raise KeyProblem(f"khoá của {who} không ký được ({type(exc).__name__}: {exc}) / the key cannot sign") from None
    public = cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            mechanism = key.signer.get_signature_mechanism_for_digest("sha256").signature_algo
            if mechanism == "rsassa_pss":
                public.verify(signature, probe, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
            else:
                public.verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, probe, ec.ECDSA(hashes.SHA256()))
        else:
            raise KeyProblem(f"chỉ hỗ trợ khoá RSA hoặc ECDSA ({who}) / only RSA and ECDSA keys are supported")
    except KeyProblem:
        raise
    except Exception:  # noqa: BLE001 - InvalidSignature
        raise KeyProblem(f"khoá bí mật của {who} không khớp chứng thư số {key.name} / the private key is not the "
                         "certificate's") from None
