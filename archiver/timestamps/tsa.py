"""RFC 3161 timestamping: a remote TSA over HTTP, an embedded local TSA, token checks.

Everything here speaks DER ``TimeStampToken`` bytes (a CMS ``ContentInfo`` wrapping
``SignedData`` over a ``TSTInfo``) so callers can store tokens as they are and hand
them to any RFC 3161 tool (``openssl ts -verify -token_in`` accepts them).

* :class:`HttpTimestamper` asks a real TSA and refuses any answer it cannot fully
  check (status, imprint, nonce, CMS signature, critical timeStamping EKU, chain to
  the configured TSA certificate or trust roots, genTime not in the future).
* :class:`LocalTimestamper` is the offline default: a TSA key and certificate made
  once in the user's data directory, issuing tokens in-process with pyHanko. Its
  tokens are honest about what they are: their certificate says
  ``O=archiver local TSA`` and verification labels them "local timestamp, not from
  a trusted TSA".
* :func:`check_token` is the one place that judges a token; the HTTP client and
  evidence-record verification both use it.

Requests are built and encoded by rfc3161ng (``make_timestamp_request``). The answer
is judged here, not by rfc3161ng's own ``check_timestamp``, which is RSA-only and checks
no certificate path or EKU: the response and token are read with asn1crypto's
``tsp``/``cms`` modules (the library the evidence records use) and the CMS signature
and certificate path are checked by pyHanko (``validate_tst_signed_data``). Transport
is plain :mod:`urllib`, with retries and backoff.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from asn1crypto import algos, cms, core, keys, pem, tsp, x509

from ..errors import ConfigError

__all__ = [
    "LOCAL_TSA_LABEL",
    "LOCAL_TSA_LABEL_VI",
    "LOCAL_TSA_ORGANIZATION",
    "HttpTimestamper",
    "LocalTimestamper",
    "TimestampError",
    "Timestamper",
    "TokenCheck",
    "TokenFacts",
    "TokenFormatError",
    "TsaConfigError",
    "TsaError",
    "TsaUnavailable",
    "check_token",
    "token_intact",
    "default_data_dir",
    "load_certificates",
    "local_tsa_fingerprint",
    "token_facts",
]

#: Subject organisation of every certificate the embedded TSA makes; verification
#: recognises local tokens by it (and reports the certificate fingerprint as well,
#: because anyone can put this string in a certificate).
LOCAL_TSA_ORGANIZATION = "archiver local TSA"
LOCAL_TSA_LABEL = "local timestamp, not from a trusted TSA"
LOCAL_TSA_LABEL_VI = "dấu thời gian cục bộ, không phải của TSA tin cậy"

#: TSA policy OID written into local tokens. A UUID arc (ITU-T X.667, 2.25.*) needs
#: no registration; pyHanko's default would claim a commercial TSA's policy.
LOCAL_TSA_POLICY = "2.25.238229701413324059567652941165988329370"

# pyHanko logs expected outcomes (e.g. "no path to a trust root") as warnings with
# tracebacks; we report those findings ourselves, so keep them off the user's console
# unless the application configures logging.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

# The Timestamper protocol passes bare digests; the length says which SHA-2 it is.
# SHA-256 is what packages use; SHA-384/512 serve hash-tree renewal (RFC 4998 5.2).
_ALGORITHM_BY_SIZE = {32: "sha256", 48: "sha384", 64: "sha512"}
_MAX_RESPONSE_BYTES = 1 << 20  # a TimeStampResp is a few KiB; more is not a TSA


class TimestampError(Exception):
    """Base class for everything that goes wrong while getting or reading a token."""


class TokenFormatError(TimestampError):
    """The bytes are not a readable RFC 3161 TimeStampToken."""


class TsaError(TimestampError):
    """The TSA answered, but not with a token we can accept (or was misconfigured).

    Callers keep the work as "pending timestamp" and try again after fixing the cause.
    """

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"TSA {url}: {message}")
        self.url = url


class TsaUnavailable(TsaError):
    """The TSA could not be reached (or kept timing out) after all retries."""


class TsaConfigError(TimestampError, ConfigError):
    """The TSA settings (arguments, environment, archiver.toml) cannot be used."""


@runtime_checkable
class Timestamper(Protocol):
    """Anything that turns a digest into a DER TimeStampToken for it.

    The digest is SHA-256 (32 bytes); SHA-384/512 digests (48/64 bytes) are accepted
    too and must come back with that algorithm in the token's message imprint.
    """

    def timestamp(self, digest: bytes) -> bytes: ...


# --------------------------------------------------------------------------- tokens


class _TimeStampResp(core.Sequence):
    """RFC 3161 TimeStampResp. asn1crypto's own ``tsp.TimeStampResp`` marks the token as
    mandatory, so it cannot read a rejection (which by definition has no token)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TokenCheck:
    """What :func:`check_token` found out about one TimeStampToken."""

    gen_time: datetime
    tsa_name: str
    hash_algorithm: str
    imprint: bytes
    nonce: int | None
    imprint_ok: bool | None  # None when no expected digest was given
    signature_ok: bool  # CMS signature and signed attributes are intact
    eku_ok: bool  # signer has the critical, sole id-kp-timeStamping EKU
    trusted: bool  # signer certificate chains to one of the trust roots
    local: bool  # issued by an archiver embedded (local) TSA
    tsa_fingerprint: str  # SHA-256 of the signer certificate, hex
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Sound token: right imprint, valid signature, proper EKU, and either
        trusted or an (honestly labelled) local token."""
        return (
            self.imprint_ok is not False
            and self.signature_ok
            and self.eku_ok
            and (self.trusted or self.local)
        )


_T = TypeVar("_T")


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run pyHanko's async validation from sync code, even inside a running loop."""
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _load_token(token: bytes | cms.ContentInfo) -> tuple[cms.ContentInfo, tsp.TSTInfo]:
    return _parse_token(token) if isinstance(token, bytes) else _read_token(token)


@functools.lru_cache(maxsize=8)
def _parse_token(token: bytes) -> tuple[cms.ContentInfo, tsp.TSTInfo]:
    """A token's bytes parsed once for the checks that read the same token one after the
    other (:func:`token_facts`, :func:`token_intact`, :func:`check_token`)."""
    try:
        info = cms.ContentInfo.load(token, strict=True)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise TokenFormatError(f"not a readable RFC 3161 timestamp token ({exc})") from exc
    return _read_token(info)


def _read_token(info: cms.ContentInfo) -> tuple[cms.ContentInfo, tsp.TSTInfo]:
    try:
        if info["content_type"].native != "signed_data":
            raise ValueError("not CMS SignedData")
        signed = info["content"]
        eci = signed["encap_content_info"]
        if eci["content_type"].native != "tst_info":
            raise ValueError("SignedData does not carry a TSTInfo")
        tst_info = eci["content"].parsed
        if not isinstance(tst_info, tsp.TSTInfo):
            raise ValueError("SignedData does not carry a TSTInfo")
        # Touch the fields we rely on so that lazy parsing fails here, not later.
        _ = tst_info["gen_time"].native, tst_info["message_imprint"].native
        _ = tst_info["nonce"].native, tst_info["tsa"].native
        _ = [si["sid"].native for si in signed["signer_infos"]]
        for choice in signed["certificates"] or ():
            if choice.name == "certificate":
                _ = choice.chosen.subject.native
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise TokenFormatError(f"not a readable RFC 3161 timestamp token ({exc})") from exc
    return info, tst_info


def _signer_certificate(signed: cms.SignedData) -> x509.Certificate | None:
    infos = signed["signer_infos"]
    if len(infos) != 1:
        return None
    sid = infos[0]["sid"]
    try:
        for choice in signed["certificates"] or ():
            cert = choice.chosen
            if not isinstance(cert, x509.Certificate):
                continue
            if sid.name == "issuer_and_serial_number":
                # The serial first, and the issuer's DER before asn1crypto's comparison of
                # names (RFC 5280 7.1 string preparation: a millisecond per name).
                wanted = sid.chosen
                if cert.serial_number == wanted["serial_number"].native and (
                    cert.issuer.dump() == wanted["issuer"].dump() or cert.issuer == wanted["issuer"]
                ):
                    return cert
            elif cert.key_identifier == sid.chosen.native:
                return cert
    except (ValueError, TypeError, KeyError) as exc:  # a damaged name or serial: asn1crypto parses lazily
        raise TokenFormatError(f"not a readable RFC 3161 timestamp token ({exc})") from exc
    return None


def _eku_problem(cert: x509.Certificate) -> str | None:
    """RFC 3161 §2.3: the TSA certificate MUST have exactly one EKU, id-kp-timeStamping,
    and the extension MUST be critical."""
    eku = cert.extended_key_usage_value
    if eku is None or "time_stamping" not in eku.native:
        return "chứng thư TSA thiếu mục đích sử dụng khoá timeStamping / the TSA certificate lacks the id-kp-timeStamping extended key usage"
    if len(eku.native) != 1:
        return "chứng thư TSA có mục đích sử dụng khoá khác ngoài timeStamping / the TSA certificate has extended key usages besides id-kp-timeStamping"
    if "extended_key_usage" not in cert.critical_extensions:
        return "phần mở rộng mục đích sử dụng khoá của chứng thư TSA không được đánh dấu critical (bắt buộc) / the TSA certificate's extended key usage is not marked critical"
    return None


def _digest_algorithm(digest: bytes) -> str:
    try:
        return _ALGORITHM_BY_SIZE[len(digest)]
    except KeyError:
        raise ValueError(
            f"expected a SHA-256/384/512 digest (32/48/64 bytes), got {len(digest)} bytes"
        ) from None


def _describe_indication(indication: Any) -> str:
    name = getattr(indication, "name", None)
    return name.lower().replace("_", " ") if name else str(indication)


def _is_local(cert: x509.Certificate) -> bool:
    return cert.subject.native.get("organization_name") == LOCAL_TSA_ORGANIZATION


def _tsa_name(tst_info: tsp.TSTInfo, signer: x509.Certificate | None) -> str:
    tsa = tst_info["tsa"]
    if tsa.native is not None:
        if tsa.name == "directory_name":
            return tsa.chosen.human_friendly
        return str(tsa.native)
    return signer.subject.human_friendly if signer is not None else "(unknown TSA)"


@dataclass(frozen=True)
class TokenFacts:
    """What a token says of itself, unchecked: what ``archiver check`` compares with the
    package's records before it checks the token (:func:`check_token`)."""

    imprint: bytes
    algorithm: str
    time: datetime
    tsa: str  # the signer certificate's subject (RFC 4514), as package.json records it
    local: bool  # issued by an archiver embedded TSA (the same rule as check_token's)
    certificates: tuple[x509.Certificate, ...]
    signer: x509.Certificate | None


def token_facts(token: bytes) -> TokenFacts:
    """The facts of a DER TimeStampToken; :class:`TokenFormatError` when it is not one."""
    from cryptography import x509 as cx509

    info, tst_info = _load_token(token)
    signed = info["content"]
    signer = _signer_certificate(signed)
    certs = tuple(c.chosen for c in signed["certificates"] or () if c.name == "certificate")
    try:
        subject = cx509.load_der_x509_certificate(signer.dump()).subject.rfc4514_string() if signer else ""
    except ValueError as exc:
        raise TokenFormatError(f"the TSA certificate in the token is damaged ({exc})") from None
    imprint = tst_info["message_imprint"]
    return TokenFacts(imprint=imprint["hashed_message"].native, algorithm=imprint["hash_algorithm"]["algorithm"].native,
                      time=tst_info["gen_time"].native, tsa=subject, local=signer is not None and _is_local(signer),
                      certificates=certs, signer=signer)


def token_intact(token: bytes) -> bool:
    """Whether the token's own CMS signature holds (RFC 5652): its signed attributes name
    the TSTInfo as the content (section 11.1), carry the digest of the TSTInfo it holds
    (11.2) and the hash of the signer's certificate (RFC 3161 2.4.1, ESS), and the
    signature over them verifies under that certificate's key (5.4).
    :class:`TokenFormatError` when it is not a token at all.

    This is the integrity half of :func:`check_token`, which also judges the signer (EKU,
    a certificate path to trust roots at a moment): a fixity audit asks only this, of
    every package on every run, and path building is what costs (8 ms a token, against
    0.1 ms). The tests hold it to pyHanko's verdict on every altered byte of a token."""
    import hashlib

    info, _ = _load_token(token)
    signed = info["content"]
    signer = _signer_certificate(signed)
    if signer is None:
        return False
    signer_info = signed["signer_infos"][0]
    attributes = signer_info["signed_attrs"]
    try:
        _ = signer_info["signature_algorithm"].native  # parsed whole: damaged parameters are a damaged token
        digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
        values: dict[str, list] = {}
        for attribute in attributes:
            values.setdefault(attribute["type"].native, []).extend(attribute["values"])
        content_type, digest = values.get("content_type", []), values.get("message_digest", [])
        if len(content_type) != 1 or content_type[0].native != "tst_info" or len(digest) != 1:
            return False
        content = bytes(signed["encap_content_info"]["content"])
        if digest[0].native != hashlib.new(digest_algorithm, content).digest():
            return False
        ess = values.get("signing_certificate_v2") or values.get("signing_certificate") or []
        if len(ess) != 1:
            return False
        cert_id = ess[0]["certs"][0]
        hash_name = cert_id["hash_algorithm"]["algorithm"].native if "hash_algorithm" in cert_id else "sha1"
        if cert_id["cert_hash"].native != hashlib.new(hash_name, signer.dump()).digest():
            return False
        return _signature_holds(signer_info["signature_algorithm"], signer_info["signature"].native,
                                attributes.untag().dump(), signer.public_key, digest_algorithm)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return False  # damaged, or an algorithm archiver cannot check: the same verdict


def _signature_holds(algorithm: algos.SignedDigestAlgorithm, signature: bytes, data: bytes,
                     key_info: keys.PublicKeyInfo, digest_algorithm: str) -> bool:
    """RSA PKCS #1 v1.5 (RFC 5754), what TSAs sign with, is checked by the ``cryptography``
    package directly; any other algorithm by pyhanko-certvalidator's validator (the one
    pyHanko's CMS validation calls), imported only then: it costs a run a tenth of its
    start-up."""
    from cryptography.exceptions import InvalidSignature

    try:
        if algorithm.signature_algo == "rsassa_pkcs1v15" and key_info.algorithm == "rsa":
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding, rsa

            try:
                name = algorithm.hash_algo
            except ValueError:  # rsaEncryption alone: the signer info's digest algorithm says
                name = digest_algorithm
            hash_ = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
                     "sha384": hashes.SHA384, "sha512": hashes.SHA512}[name]()
            key = serialization.load_der_public_key(key_info.dump())
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            key.verify(signature, data, padding.PKCS1v15(), hash_)
        else:
            from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator, SignatureValidationContext

            DefaultSignatureValidator().validate_signature(
                signature, data, key_info, algorithm, SignatureValidationContext(contextual_md_algorithm=digest_algorithm))
    except InvalidSignature:
        return False
    return True


def check_token(
    token: bytes | cms.ContentInfo,
    expected_digest: bytes | None,
    trust_roots: Sequence[x509.Certificate],
    *,
    at: datetime | None = None,
) -> TokenCheck:
    """Check one TimeStampToken and report every finding (never raises on a bad token,
    only on one that cannot be read at all: :class:`TokenFormatError`).

    ``trust_roots`` are the certificates a TSA may chain to (or be); ``at`` is the
    moment the certificate path must be valid (default: now). The imprint must use
    SHA-256 or the hash the caller's digest length implies.
    """
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    info, tst_info = _load_token(token)
    signed = info["content"]
    imprint = tst_info["message_imprint"]["hashed_message"].native
    hash_algorithm = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
    gen_time = tst_info["gen_time"].native
    signer = _signer_certificate(signed)
    problems: list[str] = []

    imprint_ok: bool | None = None
    if expected_digest is not None:
        imprint_ok = imprint == expected_digest
        if not imprint_ok:
            problems.append("dấu thời gian của dữ liệu khác / the token is for different data (message imprint does not match)")

    def result(**checked: Any) -> TokenCheck:
        return TokenCheck(gen_time=gen_time, tsa_name=_tsa_name(tst_info, signer), hash_algorithm=hash_algorithm,
                          imprint=imprint, nonce=tst_info["nonce"].native, imprint_ok=imprint_ok,
                          problems=tuple(problems), **checked)

    if signer is None:
        problems.append("dấu thời gian không kèm chứng thư của TSA / the token does not include its TSA certificate")
        return result(signature_ok=False, eku_ok=False, trusted=False, local=False, tsa_fingerprint="")

    eku = _eku_problem(signer)
    if eku:
        problems.append(eku)

    context = ValidationContext(
        trust_roots=list(trust_roots),
        moment=at or datetime.now(UTC),
        allow_fetching=False,  # archives are checked offline; no OCSP/CRL fetching
        revocation_mode="soft-fail",
    )
    signature_ok = trusted = False
    try:
        status = _run(
            validate_tst_signed_data(
                signed, context, lambda _algo: imprint
            )  # imprint checked above
        )
        signature_ok = bool(status["intact"] and status["valid"])
        trusted = signature_ok and status["trust_problem_indic"] is None
        if not signature_ok:
            problems.append("chữ ký của dấu thời gian không hợp lệ (đã bị sửa) / the token's signature is invalid (the token was altered)")
        elif not trusted and _is_local(signer):
            problems.append(LOCAL_TSA_LABEL)
        elif not trusted:
            problems.append(
                "chứng thư TSA không dẫn tới gốc tin cậy / the TSA certificate does not chain to a trusted root "
                f"({_describe_indication(status['trust_problem_indic'])}); add the TSA's "
                "CA certificate to the trust folder if you trust it"
            )
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"không kiểm tra được chữ ký của dấu thời gian / the token's signature could not be checked ({exc})")

    return result(signature_ok=signature_ok, eku_ok=eku is None, trusted=trusted, local=_is_local(signer),
                  tsa_fingerprint=signer.sha256.hex())


# --------------------------------------------------------------------- certificates


def load_certificates(source: Path | bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or many) or DER bytes, a file, or a directory of
    ``*.pem``/``*.crt``/``*.cer``/``*.der`` files."""
    if isinstance(source, Path):
        if source.is_dir():
            found: list[x509.Certificate] = []
            for path in sorted(source.iterdir()):
                if path.suffix.lower() in {".pem", ".crt", ".cer", ".der"}:
                    found.extend(load_certificates(path))
            return found
        data = source.read_bytes()
        origin = str(source)
    else:
        data, origin = source, "certificate bytes"
    try:
        if pem.detect(data):
            return [
                x509.Certificate.load(der)
                for kind, _headers, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"
            ]
        cert = x509.Certificate.load(data, strict=True)
        _ = cert.subject.native  # force parsing
        return [cert]
    except (ValueError, TypeError) as exc:
        raise TsaConfigError(f"{origin} is not a PEM or DER certificate ({exc})") from exc


# ------------------------------------------------------------------------- HTTP TSA


class HttpTimestamper:
    """RFC 3161 client over HTTP(S) POST that accepts only fully checked tokens.

    ``tsa_cert_path`` is the TSA's certificate or the CA that issued it (PEM/DER);
    either may be the trust anchor. ``trust_roots`` adds further anchors. Transient
    failures (connection refused, timeouts, HTTP 5xx/429) are retried ``retries``
    times with exponential backoff starting at ``backoff`` seconds; then
    :class:`TsaUnavailable`. An answer that is not a valid, trusted token for our
    digest raises :class:`TsaError` straight away (retrying would not fix it).
    """

    def __init__(
        self,
        url: str,
        tsa_cert_path: Path | str | None,
        trust_roots: Iterable[x509.Certificate] | Path | str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 1.0,
        max_clock_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise TsaConfigError(f"TSA URL {url!r} must start with http:// or https://")
        self.url = url
        roots: list[x509.Certificate] = []
        if tsa_cert_path is not None:
            roots.extend(load_certificates(Path(tsa_cert_path)))
        if isinstance(trust_roots, (str, Path)):
            roots.extend(load_certificates(Path(trust_roots)))
        elif trust_roots is not None:
            roots.extend(trust_roots)
        if not roots:
            raise TsaConfigError(
                f"no certificate configured for TSA {url}; set ARCHIVER_TSA_CERT or "
                "[tsa] cert in archiver.toml to the TSA's certificate (or its CA)"
            )
        self.trust_roots = tuple(roots)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_clock_skew = max_clock_skew

    def __repr__(self) -> str:
        return f"HttpTimestamper({self.url!r})"

    def timestamp(self, digest: bytes) -> bytes:
        import rfc3161ng

        algorithm = _digest_algorithm(digest)
        nonce = secrets.randbits(63) + 1  # positive, never zero
        # The request is rfc3161ng's; the token must carry the TSA certificate (certReq).
        request = rfc3161ng.make_timestamp_request(
            digest=digest, hashname=algorithm, include_tsa_certificate=True, nonce=nonce)
        body = self._post(rfc3161ng.encode_timestamp_request(request))
        return self._accept(body, digest, nonce)

    def _post(self, payload: bytes) -> bytes:
        import http.client
        import urllib.error
        import urllib.request

        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            req = urllib.request.Request(
                self.url,
                data=payload,
                method="POST",
                headers={
                    "Content-Type": "application/timestamp-query",
                    "Accept": "application/timestamp-reply",
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    body = resp.read(_MAX_RESPONSE_BYTES + 1)
            except urllib.error.HTTPError as exc:
                if exc.code >= 500 or exc.code == 429:
                    last = f"HTTP {exc.code} {exc.reason}"
                    continue
                raise TsaError(
                    self.url,
                    f"refused the request with HTTP {exc.code} {exc.reason}; "
                    "check the TSA URL and any access credentials",
                ) from exc
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,  # broken or non-HTTP answers on the socket
            ) as exc:
                reason = getattr(exc, "reason", exc)
                last = (
                    "timed out" if isinstance(reason, TimeoutError) else str(reason) or repr(reason)
                )
                continue
            if len(body) > _MAX_RESPONSE_BYTES:
                raise TsaError(self.url, "sent an oversized answer; this is not an RFC 3161 TSA")
            return body
        raise TsaUnavailable(
            self.url,
            f"no usable answer after {self.retries + 1} attempts ({last}); the package "
            "stays 'pending timestamp' — try again later or use another TSA",
        )

    def _accept(self, body: bytes, digest: bytes, nonce: int) -> bytes:
        try:
            response = _TimeStampResp.load(body, strict=True)
            status = response["status"]["status"].native
            status_text = "; ".join(response["status"]["status_string"].native or [])
            fail_info = ", ".join(sorted(response["status"]["fail_info"].native or []))
        except (ValueError, TypeError, KeyError) as exc:
            raise TsaError(
                self.url, "answered with something that is not an RFC 3161 timestamp response"
            ) from exc
        if status not in ("granted", "granted_with_mods"):
            detail = ", ".join(x for x in (status_text, fail_info) if x)
            raise TsaError(
                self.url, f"refused to timestamp ({status}{': ' + detail if detail else ''})"
            )
        token = response["time_stamp_token"]
        if isinstance(token, core.Void):
            raise TsaError(self.url, "granted the request but sent no token")
        token_der = token.dump()
        try:
            check = check_token(token_der, digest, self.trust_roots)
        except TokenFormatError as exc:
            raise TsaError(self.url, str(exc)) from exc
        if check.nonce != nonce:
            raise TsaError(self.url, "answered with a token for another request (nonce mismatch)")
        if check.problems:
            raise TsaError(self.url, "; ".join(check.problems))
        skew = check.gen_time - datetime.now(UTC)
        if skew > self.max_clock_skew:
            raise TsaError(
                self.url,
                f"dated its token {skew} in the future; check this computer's clock and the TSA's",
            )
        return token_der


# ------------------------------------------------------------------------ local TSA


def default_data_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """Where archiver keeps per-user state: ``$ARCHIVER_DATA_DIR``, else
    ``%LOCALAPPDATA%\\archiver`` on Windows, else ``$XDG_DATA_HOME/archiver`` or
    ``~/.local/share/archiver``."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get("ARCHIVER_DATA_DIR"):
        return Path(env["ARCHIVER_DATA_DIR"])
    if platform.startswith("win"):
        base = env.get("LOCALAPPDATA")
        return Path(base) / "archiver" if base else Path.home() / "AppData" / "Local" / "archiver"
    base = env.get("XDG_DATA_HOME")
    return Path(base) / "archiver" if base else Path.home() / ".local" / "share" / "archiver"


_ROOT_FILE = "root-cert.pem"
_CERT_FILE = "tsa-cert.pem"
_KEY_FILE = "tsa-key.pem"


def local_tsa_fingerprint(data_dir: Path | None = None) -> str | None:
    """SHA-256 (hex) of this user's local TSA certificate, or None if none exists yet.
    Never creates one."""
    path = (data_dir or default_data_dir()) / "tsa" / _CERT_FILE
    try:
        return load_certificates(path)[0].sha256.hex()
    except (OSError, IndexError, TsaConfigError):
        return None


def _create_local_tsa(target: Path) -> None:
    """Make the local TSA: a self-signed root CA and a TSA certificate it issues.

    Why two certificates rather than one self-signed TSA certificate: RFC 3161 tools
    (OpenSSL's ``ts -verify``, pyHanko) check the timestamping purpose on the signer
    and want a CA (keyCertSign) as the anchor; a single certificate cannot be both
    without breaking the "digitalSignature only" rule for TSA keys. It also mirrors
    a real TSA hierarchy, so local and remote tokens go through the same checks.
    The root's private key is discarded after signing: nothing needs it again, and a
    kept CA key would let anyone holding this folder mint further "local" TSAs.
    """
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC) - timedelta(minutes=5)
    # Long validity on purpose: a local token has no outside trust to expire, and an
    # expired certificate would only make old local records fail for no gain.
    until = now + timedelta(days=365 * 30)
    install_id = secrets.token_hex(4)

    def name(common: str) -> cx509.Name:
        return cx509.Name(
            [
                cx509.NameAttribute(NameOID.ORGANIZATION_NAME, LOCAL_TSA_ORGANIZATION),
                cx509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "not a trusted TSA"),
                cx509.NameAttribute(NameOID.COMMON_NAME, f"{common} {install_id}"),
            ]
        )

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    root_name = name("archiver local TSA root")
    root = (
        cx509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(cx509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            cx509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            cx509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    tsa = (
        cx509.CertificateBuilder()
        .subject_name(name("archiver local TSA"))
        .issuer_name(root_name)
        .public_key(tsa_key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            cx509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            cx509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False
        )
        .add_extension(
            cx509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pem_enc = serialization.Encoding.PEM
    (target / _ROOT_FILE).write_bytes(root.public_bytes(pem_enc))
    (target / _CERT_FILE).write_bytes(tsa.public_bytes(pem_enc))
    key_pem = tsa_key.private_bytes(
        pem_enc, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(target / _KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)


class LocalTimestamper:
    """The embedded, offline TSA. Key and certificates live in ``<data_dir>/tsa`` and
    are created on first use (``data_dir`` defaults to :func:`default_data_dir`).

    Its tokens are real RFC 3161 tokens (``openssl ts -verify`` accepts them with the
    root as CA file) but prove time only as far as this computer's clock and key can
    be trusted; verification labels them accordingly.
    """

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.tsa_dir = self.data_dir / "tsa"
        self._loaded_key = None
        if not self.tsa_dir.is_dir():
            self._create()
        try:
            self.root_cert = load_certificates(self.tsa_dir / _ROOT_FILE)[0]
            self.tsa_cert = load_certificates(self.tsa_dir / _CERT_FILE)[0]
            key_pem = (self.tsa_dir / _KEY_FILE).read_bytes()
            _, _, key_der = pem.unarmor(key_pem)
            self._key = keys.PrivateKeyInfo.load(key_der)
            _ = self._key.native
        except (OSError, IndexError, ValueError, TypeError, TsaConfigError) as exc:
            raise TsaConfigError(
                f"the local TSA in {self.tsa_dir} is damaged ({exc}); move that folder "
                "away to make a new one (tokens already issued stay verifiable)"
            ) from exc

    def _create(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Build in a private temp dir, then rename into place: two processes starting
        # at once end up sharing one TSA instead of overwriting each other's key.
        tmp = Path(tempfile.mkdtemp(prefix=".tsa-new-", dir=self.data_dir))
        try:
            _create_local_tsa(tmp)
            os.rename(tmp, self.tsa_dir)
        except OSError:
            if not self.tsa_dir.is_dir():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _private_key(self):  # type: ignore[no-untyped-def]
        if self._loaded_key is None:
            from cryptography.hazmat.primitives import serialization

            self._loaded_key = serialization.load_der_private_key(self._key.dump(), password=None)
        return self._loaded_key

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the local TSA certificate, as reported in verification."""
        return self.tsa_cert.sha256.hex()

    def __repr__(self) -> str:
        return f"LocalTimestamper({str(self.data_dir)!r})"

    def timestamp(self, digest: bytes) -> bytes:
        from pyhanko.sign.timestamps.common_utils import handle_tsp_response
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

        algorithm = _digest_algorithm(digest)

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        private_key = self._private_key()

        class _Signer(DummyTimeStamper):
            # pyHanko's test TSA would claim another TSA's policy OID; use ours.
            def _build_tst_info(self, message_imprint, dt, req):  # type: ignore[no-untyped-def]
                info = super()._build_tst_info(message_imprint, dt, req)
                info["policy"] = tsp.ObjectIdentifier(LOCAL_TSA_POLICY)
                return info

            # pyHanko loads (and re-checks) the RSA key for every token, ~90 ms each;
            # the same signed attributes here, signed with the key loaded once.
            def _sign_tst_info(self, tst_info_data, md_algorithm, dt):  # type: ignore[no-untyped-def]
                from pyhanko.sign.general import as_signing_certificate, simple_cms_attribute

                algorithm = getattr(hashes, md_algorithm.upper())()
                digest = hashes.Hash(algorithm)
                digest.update(tst_info_data)
                signed_attrs = cms.CMSAttributes([
                    simple_cms_attribute("content_type", "tst_info"),
                    simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                    simple_cms_attribute("signing_certificate", as_signing_certificate(self.tsa_cert)),
                    simple_cms_attribute("message_digest", digest.finalize()),
                ])
                signature = private_key.sign(signed_attrs.dump(), padding.PKCS1v15(), algorithm)
                return signature, signed_attrs

        signer = _Signer(
            tsa_cert=self.tsa_cert,
            tsa_key=self._key,
            certs_to_embed=[self.root_cert],  # so verifiers can build the whole chain
            fixed_dt=datetime.now(UTC),
        )
        nonce, request = signer.request_cms(digest, algorithm)
        token = handle_tsp_response(signer.request_tsa_response(request), nonce)
        return token.dump()
