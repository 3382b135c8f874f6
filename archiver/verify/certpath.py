"""Certificate path and revocation checks at the signing time (spec section 3, checks 5-6).

Path building and validation (signatures along the chain, basic constraints, key usage,
CRL validation) are pyhanko-certvalidator's, the library pyHanko uses for AdES
validation. It runs once per certificate, not once per signature: a school signs
thousands of transcripts with about fifty certificates. What differs between the
signatures of one certificate is only the signing time, so the time-dependent rules of
the spec (validity window at SigningTime, revocation before or after it, proof of
existence, expiry by the validation time) are evaluated per signature on the facts the
validation established: the path, and the revocation entries of CRLs it accepted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as pv_errors
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from ..vn import VN
from .lru import LruCache
from .report import FAILED, PASSED, UNDECIDED
from .trust import TrustStore, der, sha256

UTC = dt.timezone.utc


@dataclass(frozen=True)
class CertificateFacts:
    """What one validation of a certificate established, independent of the signing time."""

    chain_found: bool
    path: tuple[x509.Certificate, ...]  # signer first, trust anchor last
    revoked_at: dt.datetime | None = None  # the signer certificate's revocation
    revocation_data: bool = False  # a CRL from its issuer exists (whether it is fresh enough is per signature)
    # nextUpdate of each CRL from the signer's issuer (None: open-ended): a CRL counts for a
    # signature only if it was still current at (or issued after) the signing time
    crl_next_updates: tuple[dt.datetime | None, ...] = ()
    # (CA subject, revocation time) for every revoked CA certificate in the path
    ca_revoked: tuple[tuple[str, dt.datetime], ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    error: tuple[str, str, str] | None = None  # (status, sub-indication, detail) if structural
    path_der: tuple[bytes, ...] = ()
    path_sha256: tuple[str, ...] = ()
    crl_der: tuple[bytes, ...] = ()
    crl_sha256: tuple[str, ...] = ()
    valid_from: dt.datetime = dt.datetime.max.replace(tzinfo=UTC)  # the intersection of the
    valid_until: dt.datetime = dt.datetime.min.replace(tzinfo=UTC)  # path's validity windows


@dataclass
class CertificateOutcome:
    status: str
    sub_indication: str
    message: str
    facts: CertificateFacts
    checks: dict[str, str] = field(default_factory=dict)




def _vn(when: dt.datetime, with_time: bool = False) -> str:
    """A date for the Vietnamese half of a message: dd/mm/yyyy, in Vietnam time."""
    local = _utc(when).astimezone(VN)
    return f"{local:%d/%m/%Y %H:%M} (giờ Việt Nam)" if with_time else f"{local:%d/%m/%Y}"


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s name and key signed ``cert`` (names alone repeat when a CA renews)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # noqa: BLE001 - wrong key, unsupported algorithm, damaged certificate
        return False
    return True


def _utc(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _window(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    return cert.not_valid_before_utc, cert.not_valid_after_utc


class CertificateEvaluator:
    """Evaluates signer certificates against a trust store; caches per certificate."""

    def __init__(self, trust: TrustStore, *, revocation_required: bool = True):
        self.trust = trust
        self.revocation_required = revocation_required
        self._anchors = [asn1_x509.Certificate.load(der(c)) for c in trust.anchors]
        self._intermediates = [asn1_x509.Certificate.load(der(c)) for c in trust.intermediates]
        self._crl_der = [c.public_bytes(_DER) for c in trust.crls]
        # Keyed by the certificate and the intermediates its signature supplied: a chain
        # found with one document's KeyInfo must not be reused for another's.
        self._cache: LruCache[tuple[x509.Certificate, frozenset[x509.Certificate]], CertificateFacts] = LruCache()

    # -- facts, once per certificate --------------------------------------------------
    def facts(self, cert: x509.Certificate, supplied: list[x509.Certificate],
              signing_time: dt.datetime) -> CertificateFacts:
        # certificates hash and compare by their DER, inside cryptography: no copies made
        key = (cert, frozenset(c for c in supplied if c != cert))
        found = self._cache.get(key)
        if found is None:
            found = self._validate(cert, supplied, signing_time)
            self._cache[key] = found
        return found

    def _context(self, supplied: list[asn1_x509.Certificate], moment: dt.datetime) -> ValidationContext:
        ee_rule = (RevocationCheckingRule.CRL_REQUIRED if self.revocation_required
                   else RevocationCheckingRule.CHECK_IF_DECLARED_SOFT)
        policy = CertRevTrustPolicy(
            RevocationCheckingPolicy(ee_certificate_rule=ee_rule,
                                     intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT),
            # A CRL issued after the signing time still tells the status at that time.
            retroactive_revinfo=True,
        )
        return ValidationContext(
            trust_roots=self._anchors,
            other_certs=self._intermediates + supplied,
            crls=self._crl_der,
            moment=moment,
            revinfo_policy=policy,
            allow_fetching=False,  # offline, always
        )

    def _validate(self, cert: x509.Certificate, supplied: list[x509.Certificate],
                  signing_time: dt.datetime) -> CertificateFacts:
        # Validate at the signing time clamped into the certificate's own window: the
        # window itself is judged per signature, here we want the path and its revocation data.
        not_before, not_after = _window(cert)
        moment = min(max(_utc(signing_time), not_before + dt.timedelta(seconds=1)),
                     not_after - dt.timedelta(seconds=1))
        supplied_asn1 = [asn1_x509.Certificate.load(der(c)) for c in supplied if der(c) != der(cert)]
        context = self._context(supplied_asn1, moment)
        leaf = asn1_x509.Certificate.load(der(cert))
        validator = CertificateValidator(leaf, intermediate_certs=supplied_asn1, validation_context=context)
        error: tuple[str, str, str] | None = None
        path_found = True
        try:
            asyncio.run(validator.async_validate_usage(set()))
        except pv_errors.PathBuildingError as exc:
            path_found = False
            error = (UNDECIDED, "NO_CERTIFICATE_CHAIN_FOUND", str(exc))
        except pv_errors.RevokedError:
            pass  # the revocation date is read below, and judged per signing time
        except (pv_errors.InsufficientRevinfoError, pv_errors.StaleRevinfoError):
            pass  # judged below from the CRLs found
        except pv_errors.ExpiredError as exc:
            error = (FAILED, "EXPIRED", str(exc))
        except pv_errors.NotYetValidError as exc:
            error = (FAILED, "NOT_YET_VALID", str(exc))
        except (pv_errors.PathValidationError, pv_errors.ValidationError) as exc:
            error = (UNDECIDED, "CERTIFICATE_CHAIN_GENERAL_FAILURE", str(exc))
        except Exception as exc:  # noqa: BLE001 - a damaged certificate the parsers refuse
            path_found = False
            error = (UNDECIDED, "CERTIFICATE_CHAIN_GENERAL_FAILURE",
                     f"chứng thư số không phân tích được / the certificate cannot be parsed: {exc}")
        path = self._path(cert, supplied) if path_found else (cert,)
        try:
            revoked_at, leaf_crls, ca_revoked, crls = self._revocation(path)
        except Exception:  # noqa: BLE001 - see above
            revoked_at, leaf_crls, ca_revoked, crls = None, [], [], []
        return CertificateFacts(
            chain_found=path_found,
            path=path,
            revoked_at=revoked_at,
            revocation_data=bool(leaf_crls),
            crl_next_updates=tuple(c.next_update_utc for c in leaf_crls),
            ca_revoked=tuple(ca_revoked),
            crls=tuple(crls),
            error=error,
            path_der=tuple(der(c) for c in path),
            path_sha256=tuple(sha256(der(c)) for c in path),
            crl_der=tuple(c.public_bytes(_DER) for c in crls),
            crl_sha256=tuple(sha256(c.public_bytes(_DER)) for c in crls),
            valid_from=max(_window(c)[0] for c in path),
            valid_until=min(_window(c)[1] for c in path),
        )

    def _path(self, cert: x509.Certificate, supplied: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
        """The chain pyhanko validated, for the report: issuer by issuer up to an anchor,
        each issuer the one whose key verifies the certificate (a renewed CA keeps its name)."""
        pool = self.trust.intermediates + [c for c in supplied if der(c) != der(cert)]
        path = [cert]
        while path[-1].issuer != path[-1].subject and len(path) < 8:
            current = path[-1]
            anchor = next((a for a in self.trust.anchors if _issued_by(current, a)), None)
            if anchor is not None:
                path.append(anchor)
                break
            parent = next((c for c in pool if c not in path and _issued_by(current, c)), None)
            if parent is None:
                break
            path.append(parent)
        return tuple(path)

    def _revocation(self, path: tuple[x509.Certificate, ...]):  # type: ignore[no-untyped-def]
        """From the CRLs each issuer in the path signed: the signer certificate's revocation
        date and its CRLs, every revoked CA certificate of the path, and all CRLs used."""
        leaf_revoked: dt.datetime | None = None
        leaf_crls: list[x509.CertificateRevocationList] = []
        ca_revoked: list[tuple[str, dt.datetime]] = []
        used: list[x509.CertificateRevocationList] = []
        for position, (cert, issuer) in enumerate(zip(path, path[1:])):
            crls = [c for c in self.trust.crls_by_issuer(cert.issuer) if c.is_signature_valid(issuer.public_key())]
            used += crls
            revoked_at = None
            for crl in crls:
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None:
                    when = entry.revocation_date_utc
                    revoked_at = when if revoked_at is None else min(revoked_at, when)
            if position == 0:
                leaf_revoked, leaf_crls = revoked_at, crls
            elif revoked_at is not None:
                ca_revoked.append((cert.subject.rfc4514_string(), revoked_at))
        return leaf_revoked, leaf_crls, ca_revoked, used

    # -- outcome, per signature -----------------------------------------------------------
    def evaluate(self, cert: x509.Certificate, supplied: list[x509.Certificate],
                 signing_time: dt.datetime, validation_time: dt.datetime,
                 proof_of_existence: dt.datetime | None = None) -> CertificateOutcome:
        facts = self.facts(cert, supplied, signing_time)
        t = _utc(signing_time)
        poe = _utc(proof_of_existence) if proof_of_existence else None
        # The common case, decided without building messages: inside every window, no
        # structural error, not revoked, revocation data present, not expired since.
        fresh_crl = any(n is None or n >= t for n in facts.crl_next_updates)
        if facts.chain_found and facts.error is None and facts.revoked_at is None and not facts.ca_revoked \
                and (fresh_crl or not self.revocation_required) \
                and facts.valid_from <= t <= facts.valid_until and _utc(validation_time) <= facts.valid_until:
            return CertificateOutcome(PASSED, "", "", facts, {"chain": "PASSED", "revocation": "PASSED"})
        checks = {"chain": "PASSED", "revocation": "PASSED"}

        def result(status: str, sub: str, message: str, check: str) -> CertificateOutcome:
            checks[check] = "FAILED" if status == FAILED else "INDETERMINATE"
            return CertificateOutcome(status, sub, message, facts, checks)

        if not facts.chain_found and facts.error is not None and facts.error[1] != "NO_CERTIFICATE_CHAIN_FOUND":
            checks["revocation"] = "NOT_CHECKED"
            return result(facts.error[0], facts.error[1], facts.error[2], "chain")
        if not facts.chain_found:
            checks["revocation"] = "NOT_CHECKED"
            return result(UNDECIDED, "NO_CERTIFICATE_CHAIN_FOUND",
                          "Không tìm được chuỗi tới CA tin cậy / no path to a configured trust anchor",
                          "chain")
        for c in facts.path:
            not_before, not_after = _window(c)
            if not_before <= t <= not_after:
                continue
            # "vi / en" with one separator, so the site can show one language at a time
            who_vi, who_en = ("chứng thư người ký", "signer certificate") if c is facts.path[0] else \
                (f"CA {c.subject.rfc4514_string()}",) * 2
            if t < not_before:
                return result(FAILED, "NOT_YET_VALID",
                              f"{who_vi}: hiệu lực từ {_vn(not_before)}, ký lúc {_vn(t)} / "
                              f"{who_en}: valid from {not_before:%Y-%m-%d}, signed {t:%Y-%m-%d}", "chain")
            if t > not_after:
                return result(FAILED, "EXPIRED",
                              f"{who_vi}: hết hạn {_vn(not_after)}, ký lúc {_vn(t)} / "
                              f"{who_en}: expired {not_after:%Y-%m-%d}, signed {t:%Y-%m-%d}", "chain")
        if facts.error is not None:
            status, sub, detail = facts.error
            return result(status, sub, detail, "chain")
        for subject, when in facts.ca_revoked:  # a CA revoked before the signing voids what it issued
            if when <= t:
                return result(FAILED, "REVOKED",
                              f"CA {subject} bị thu hồi lúc {_vn(when, True)}, trước khi ký / "
                              "an issuing CA was revoked before the signing time", "revocation")
            if poe is None or poe > when:
                return result(UNDECIDED, "REVOKED_NO_POE",
                              f"CA {subject} bị thu hồi lúc {_vn(when, True)}, sau khi ký; chưa có "
                              "bằng chứng tồn tại trước đó / an issuing CA was revoked after signing, "
                              "no earlier proof of existence", "revocation")
        if facts.revoked_at is not None:
            if facts.revoked_at <= t:
                return result(FAILED, "REVOKED",
                              f"Thu hồi lúc {_vn(facts.revoked_at, True)}, trước khi ký / "
                              "revoked before the signing time", "revocation")
            if poe is None or poe > facts.revoked_at:
                return result(UNDECIDED, "REVOKED_NO_POE",
                              f"Thu hồi lúc {_vn(facts.revoked_at, True)}, sau khi ký; chưa có "
                              "bằng chứng tồn tại trước đó / revoked after signing, no earlier proof of existence",
                              "revocation")
        elif not facts.revocation_data and self.revocation_required:
            return result(UNDECIDED, "TRY_LATER",
                          "Không có CRL của CA cấp chứng thư / no CRL from the issuing CA in the trust folder",
                          "revocation")
        elif not fresh_crl and self.revocation_required:
            return result(UNDECIDED, "TRY_LATER",
                          "CRL của CA cấp chứng thư đã hết hạn trước thời điểm ký; cần CRL mới hơn / "
                          "the issuing CA's CRLs expired before the signing time: add a newer CRL",
                          "revocation")
        expiry = min(_window(c)[1] for c in facts.path)
        if _utc(validation_time) > expiry and (poe is None or poe > expiry):
            return result(UNDECIDED, "OUT_OF_BOUNDS_NO_POE",
                          f"Chứng thư hết hạn {_vn(expiry)}, chưa có bằng chứng tồn tại khi còn hạn / "
                          "expired before the validation time, no proof of existence while valid",
                          "chain")
        return CertificateOutcome(PASSED, "", "", facts, checks)


from cryptography.hazmat.primitives.serialization import Encoding as _Encoding  # noqa: E402

_DER = _Encoding.DER
__all__ = ["CertificateEvaluator", "CertificateFacts", "CertificateOutcome", "sha256"]
