"""Safe reading (spec section 4): no DTD, no entities, no network, a size limit."""

from __future__ import annotations

import pytest

from archiver.safexml import UnsafeXml, parse_bytes

from .conftest import FIXTURES

SAMPLE = (FIXTURES / "spec" / "sample-transcript.xml").read_bytes()


def reason(data: bytes, **kw) -> str:
    with pytest.raises(UnsafeXml) as err:
        parse_bytes(data, **kw)
    assert "/" in err.value.message, "messages are Vietnamese / English"
    return err.value.code


def test_a_plain_transcript_parses():
    assert parse_bytes(SAMPLE).getroot().tag == "HocBa"


def test_empty_input():
    assert reason(b"") == "EMPTY"


def test_size_limit():
    assert reason(SAMPLE, max_bytes=1000) == "TOO_LARGE"


@pytest.mark.parametrize("doctype", [
    b'<!DOCTYPE HocBa [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE HocBa SYSTEM "http://example.invalid/hocba.dtd">',
    b'<!DOCTYPE HocBa [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
    b"<!DOCTYPE HocBa>",
])
def test_any_doctype_is_refused(doctype: bytes):
    head, body = SAMPLE.split(b"\n", 1)
    assert reason(head + b"\n" + doctype + b"\n" + body) == "DTD_FORBIDDEN"


def test_doctype_text_inside_content_is_not_a_doctype():
    data = SAMPLE.replace(b"Ch\xc4\x83m ngoan", b"&lt;!DOCTYPE&gt; Ch\xc4\x83m ngoan")
    assert parse_bytes(data).getroot().tag == "HocBa"


def test_truncated_and_garbage_are_not_well_formed():
    assert reason(SAMPLE[: len(SAMPLE) // 2]) == "NOT_WELL_FORMED"
    assert reason(b"\xff\xd8\xff\xe0 JFIF") == "NOT_WELL_FORMED"
    assert reason(b"%PDF-1.7\n") == "NOT_WELL_FORMED"


def test_xinclude_is_not_processed():
    data = SAMPLE.replace(
        b"<NhanXetChung>",
        b'<NhanXetChung><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" parse="text"/>')
    tree = parse_bytes(data)
    assert b"root:" not in __import__("lxml.etree", fromlist=["tostring"]).tostring(tree)


def test_non_utf8_encoding_is_refused():
    data = SAMPLE.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode("utf-8").encode("utf-16")
    assert reason(data) in {"ENCODING", "NOT_WELL_FORMED"}
    latin = b'<?xml version="1.0" encoding="ISO-8859-1"?><HocBa/>'
    assert reason(latin) == "ENCODING"
