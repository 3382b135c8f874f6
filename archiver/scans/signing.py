"""PAdES signatures of a scanned transcript: the principal first, then the school.

Each signature is PAdES B-T (ETSI EN 319 142-1): CMS ``ETSI.CAdES.detached`` over the whole
file but the signature value, with a signature timestamp from the configured TSA (the
embedded local one by default, whose tokens say so), added as an incremental update by
pyHanko. The signature fields are invisible (no appearance: PDF/A needs embedded fonts in
every appearance, and the information page already says who signs); Adobe Reader, Foxit
and the government's signing tools list them in their signature panels.

pyHanko rewrites the XMP and the Info dictionary when it signs (producer, modification date):
its serialiser moves namespace declarations onto nested elements, which PDF/A validators
built on PDFBox's XMP parser no longer read as the extension schema, and it appends its
name to the Info producer but not to the XMP one, which PDF/A forbids (ISO 19005-2,
6.6.2.2). So a signature's revision leaves the metadata exactly as the document has it
(:class:`_MetadataKept`): the XMP both signatures cover is the one written, byte for
byte, and the tests check it with PDFBox Preflight and poppler after signing.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from asn1crypto import cms

from ..timestamps.tsa import Timestamper, TimestampError
from .keys import SigningKey

#: Room kept for each CMS signature (bytes before hex encoding): the signer's chain, the
#: signature and a timestamp token with its TSA chain fit with a wide margin.
RESERVED = 24_576
FIELDS = {"HT": "CKS-HT", "TC": "CKS-TC"}
REASONS = {
    "HT": "Hiệu trưởng xác nhận bản số hóa thống nhất với học bạ giấy / the principal confirms the scan matches the "
          "paper transcript",
    "TC": "Nhà trường xác nhận bản số hóa thống nhất với học bạ giấy / the school confirms the scan matches the paper "
          "transcript",
}


class SigningFailed(Exception):
    """A signature could not be made (the TSA, the token): the row is not written."""


def time_stamper(timestamper: Timestamper) -> Any:
    """pyHanko's TimeStamper interface over archiver's (local or HTTP) timestamper."""
    from pyhanko.sign.timestamps.api import TimeStamper

    class ArchiverTimeStamper(TimeStamper):
        def __init__(self) -> None:
            super().__init__(include_nonce=False)

        async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
            loop = asyncio.get_running_loop()
            token = await loop.run_in_executor(None, timestamper.timestamp, message_digest)
            return cms.ContentInfo.load(token)

    return ArchiverTimeStamper()


def _writer(data: bytes):  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    class _MetadataKept(IncrementalPdfFileWriter):
        """An incremental update that leaves the document's metadata as it is (see above)."""

        def _update_meta(self) -> None:
            pass

    return _MetadataKept(io.BytesIO(data), strict=False)


def sign(data: bytes, key: SigningKey, *, stamper: Any, location: str = "") -> bytes:
    """``data`` with one more PAdES B-T signature by ``key`` in its role's field."""
    from pyhanko.sign import fields
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner

    meta = PdfSignatureMetadata(
        field_name=FIELDS[key.role], subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        reason=REASONS[key.role], location=location or None, name=key.name or None)
    writer = _writer(data)
    try:
        out = PdfSigner(meta, key.signer, timestamper=stamper).sign_pdf(writer, bytes_reserved=RESERVED)
    except TimestampError as exc:
        raise SigningFailed(f"không lấy được dấu thời gian / no timestamp: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - pyHanko's SigningError, PKCS#11 errors (a token pulled out)
        cause = exc.__cause__ or exc
        if isinstance(cause, TimestampError):
            raise SigningFailed(f"không lấy được dấu thời gian / no timestamp: {cause}") from None
        raise SigningFailed(f"không ký được ({type(exc).__name__}: {exc}) / the signature failed") from None
    return out.getvalue()
