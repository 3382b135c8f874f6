"""What a certificate's subject says of its holder: the two fields our roles are read from
(spec section 3: the UID names the person or organisation, the CN is shown)."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID


def user_id(cert: x509.Certificate) -> str:
    """The subject's UID (``CCCD:…``, ``MST:…``, ``MNS:…``), or ""."""
    values = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    return str(values[0].value) if values else ""


def common_name(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""
