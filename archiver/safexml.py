"""Reading untrusted XML safely (spec section 4).

No DTD (internal or external), no entity expansion, no network, no XInclude, a size
limit. Everything that breaks these rules is refused with a short reason a clerk can
act on; the caller turns that into a REJECTED verdict and keeps the file in quarantine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


@dataclass
class UnsafeXml(Exception):
    """The input cannot be read as a transcript. ``code`` is stable, ``message`` is for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,  # Ids are resolved by our own rules, never by DTD/xml:id magic
    )


_ROOT_START = re.compile(rb"<[A-Za-z_\x80-\xff]")


def _prolog_has_doctype(data: bytes) -> bool:
    # A DOCTYPE can only stand in the prolog, before the root element's start tag.
    doctype = data.find(b"<!DOCTYPE")
    if doctype == -1:
        return False
    root = _ROOT_START.search(data)
    return root is None or doctype < root.start()


def parse_bytes(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse ``data`` or raise :class:`UnsafeXml` with the reason."""
    if len(data) == 0:
        raise UnsafeXml("EMPTY", "Tệp rỗng (0 byte) / the file is empty")
    if len(data) > max_bytes:
        raise UnsafeXml(
            "TOO_LARGE",
            f"Tệp quá lớn ({len(data):,} byte, giới hạn {max_bytes:,}) / "
            f"the file is larger than the {max_bytes:,}-byte limit",
        )
    # A DOCTYPE is refused before parsing: it carries entity bombs and XXE.
    if _prolog_has_doctype(data):
        raise UnsafeXml(
            "DTD_FORBIDDEN",
            "Tệp có khai báo DTD/thực thể (DOCTYPE), không được phép / "
            "the file declares a DTD or entities, which transcripts must not",
        )
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(
            "NOT_WELL_FORMED",
            f"Tệp không phải XML hợp lệ (dòng {exc.lineno}): {exc.msg} / "
            "the file is not well-formed XML",
        ) from None
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXml(
            "DTD_FORBIDDEN",
            "Tệp có khai báo DTD/thực thể (DOCTYPE), không được phép / "
            "the file declares a DTD or entities, which transcripts must not",
        )
    for _ in tree.iter(etree.Entity):
        raise UnsafeXml("ENTITY_FORBIDDEN", "Tệp dùng thực thể XML / the file uses XML entities")
    encoding = (docinfo.encoding or "UTF-8").upper()
    if encoding not in ("UTF-8", "UTF8"):
        raise UnsafeXml(
            "ENCODING",
            f"Tệp mã hoá {docinfo.encoding}, định dạng yêu cầu UTF-8 / "
            f"the file is encoded as {docinfo.encoding}; transcripts must be UTF-8",
        )
    return tree
