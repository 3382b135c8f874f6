"""The digitisation record of a scanned paper transcript, and where a signed PDF keeps it.

Every PDF that ``archiver scans import`` makes carries one JSON document, schema
``archiver.scan/1``: the roster row as the clerk wrote it, the student's facts read from
it, each page's pixel size and resolution, each source file's SHA-256, and who signs in
which signature field. It lives in the document's XMP metadata (property ``Record`` of
:data:`XMP_NS`), inside the content both signatures cover. XMP rather than an embedded
file: PDF/A-2 allows only PDF/A files as attachments (ISO 19005-2, 6.8), and a JSON file
would void the conformance the national digitisation rule asks for. A profile
(``profiles/hocba-scan-1``) says where a record is read from and which of its members are
the student's facts, so signed PDFs made by other software can be read too (from an XMP
property or an attached file).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping


SCHEMA = "archiver.scan/1"
FORMAT = "hocba-scan-1"

XMP_NS = "urn:archiver:xmp:hocba-scan:1.0/"
XMP_PREFIX = "hocbascan"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

#: XMP properties written beside the record, for people and tools that read XMP only.
XMP_PROPERTIES = (
    ("Record", "Bản ghi số hóa (JSON, archiver.scan/1) / digitisation record (JSON)"),
    ("LookupCode", "Mã tra cứu / lookup code"),
    ("StudentCode", "Mã học sinh / student code"),
    ("StudentName", "Họ và tên học sinh / student name"),
    ("BirthDate", "Ngày sinh / birth date"),
    ("SchoolCode", "Mã trường / school code"),
    ("SchoolName", "Tên trường / school name"),
    ("ClassName", "Lớp / class"),
    ("SchoolYears", "Các năm học trên học bạ giấy / school years the paper covers"),
    ("PageCount", "Số trang quét / number of scanned pages"),
)


class RecordError(ValueError):
    """The digitisation record is missing or cannot be read."""


@dataclass(frozen=True)
class PageInfo:
    """One scanned page as embedded: the page number in the PDF and its source."""

    page: int  # 1-based, in the signed PDF (the information page comes first)
    source: str  # the source file, relative to --images
    source_page: int  # 1-based, within a multi-page TIFF or a scanner PDF
    width: int  # pixels
    height: int
    dpi: tuple[int, int]
    colour: str  # "RGB", "Gray", "Bilevel", "Indexed", "ICC"
    encoding: str  # "JPEG", "PNG", "Flate", "CCITT", "JBIG2", "JPEG2000"

    def to_json(self) -> dict[str, Any]:
        return {"page": self.page, "source": self.source, "source_page": self.source_page, "width": self.width,
                "height": self.height, "dpi": list(self.dpi), "colour": self.colour, "encoding": self.encoding}


@dataclass(frozen=True)
class SourceFile:
    file: str  # relative to --images, with "/"
    sha256: str
    size: int


@dataclass(frozen=True)
class Signer:
    """Who signs, in which signature field: the signed list a verifier holds signatures to
    (spec section 3: the listed identity is ``CCCD:`` + 12 digits for a person, the
    certificate's ``MNS:``/``MST:`` UID for the school)."""

    role: str
    field: str
    name: str
    id: str  # 12 digits for a person; "MNS:…" or "MST:…" for the school


@dataclass
class ScanRecord:
    lookup_code: str
    student_code: str
    name: str
    birth_date: str  # ISO
    gender: str
    citizen_id: str
    school_code: str
    school_name: str
    province: str
    class_name: str
    school_years: list[str]
    roster_file: str
    roster_row: int
    roster_values: dict[str, str]
    digitised: str  # ISO time the PDF was assembled
    pages: list[PageInfo] = field(default_factory=list)
    sources: list[SourceFile] = field(default_factory=list)
    signers: list[Signer] = field(default_factory=list)
    software: str = ""
    note: str = ""

    @property
    def school_year(self) -> str:
        """The year whose package holds it: the last one the paper covers."""
        return self.school_years[-1] if self.school_years else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "format": FORMAT, "lookup_code": self.lookup_code,
            "student": {"code": self.student_code, "name": self.name, "birth_date": self.birth_date,
                        "gender": self.gender, "citizen_id": self.citizen_id},
            "school": {"code": self.school_code, "name": self.school_name, "province": self.province},
            "class_name": self.class_name, "school_years": list(self.school_years), "school_year": self.school_year,
            "roster": {"file": self.roster_file, "row": self.roster_row, "values": dict(self.roster_values)},
            "digitised": self.digitised, "note": self.note,
            "pages": [p.to_json() for p in self.pages],
            "sources": [{"file": s.file, "sha256": s.sha256, "size": s.size} for s in self.sources],
            "signers": [{"role": s.role, "field": s.field, "name": s.name, "id": s.id} for s in self.signers],
            "software": self.software,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=False, separators=(",", ":")).encode("utf-8")


def pointer(document: Any, path: str) -> Any:
    """RFC 6901 JSON pointer (``/student/name``); None when it leads nowhere."""
    if path in ("", "/"):
        return document
    node = document
    for raw in path.lstrip("/").split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def nfc(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value)) if value is not None else ""


# -- XMP --------------------------------------------------------------------------------------
def xmp_property(xmp: bytes, namespace: str, name: str) -> str | None:
    """The text of one simple XMP property, written as an element or as an attribute of an
    ``rdf:Description`` (pyHanko rewrites XMP in the attribute form when it signs)."""
    from ..safexml import UnsafeXml, parse_bytes

    start, end = xmp.find(b"<x:xmpmeta"), xmp.rfind(b"</x:xmpmeta>")
    body = xmp[start:end + len(b"</x:xmpmeta>")] if start >= 0 and end > start else xmp
    try:
        root = parse_bytes(body, max_bytes=16 * 1024 * 1024).getroot()
    except UnsafeXml as exc:
        raise RecordError(f"XMP không đọc được / unreadable XMP: {exc.message}") from None
    tag = f"{{{namespace}}}{name}"
    for description in root.iter(f"{{{RDF}}}Description"):
        if tag in description.attrib:
            return description.attrib[tag]
        for child in description:
            if child.tag == tag:
                return "".join(child.itertext())
    return None


def decode_record(text: str | bytes) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise RecordError(f"bản ghi số hóa không phải JSON / the digitisation record is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise RecordError("bản ghi số hóa không phải đối tượng JSON / the digitisation record is not a JSON object")
    return document


def xmp_packet(record: ScanRecord, *, title: str, author: str, description: str, date: str,
               creator_tool: str, producer: str) -> bytes:
    """The document's XMP: PDF/A-2b identification, Dublin Core, and the record with its
    extension schema (ISO 19005-2 6.6.2.3: custom properties must be described)."""
    from xml.sax.saxutils import escape, quoteattr

    e = escape
    values = {
        "Record": record.to_bytes().decode("utf-8"), "LookupCode": record.lookup_code,
        "StudentCode": record.student_code, "StudentName": record.name, "BirthDate": record.birth_date,
        "SchoolCode": record.school_code, "SchoolName": record.school_name, "ClassName": record.class_name,
        "SchoolYears": ", ".join(record.school_years), "PageCount": str(len(record.pages)),
    }
    custom = "".join(f"<{XMP_PREFIX}:{k}>{e(v)}</{XMP_PREFIX}:{k}>" for k, v in values.items())
    properties = "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        f"<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{e(desc)}</pdfaProperty:description></rdf:li>"
        for name, desc in XMP_PROPERTIES)
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="{RDF}">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
<pdfaid:part>2</pdfaid:part>
<pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(title)}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{e(author)}</rdf:li></rdf:Seq></dc:creator>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(description)}</rdf:li></rdf:Alt></dc:description>
<dc:identifier>{e(record.lookup_code)}</dc:identifier>
<dc:language><rdf:Bag><rdf:li>vi</rdf:li></rdf:Bag></dc:language>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
<xmp:CreateDate>{date}</xmp:CreateDate>
<xmp:ModifyDate>{date}</xmp:ModifyDate>
<xmp:MetadataDate>{date}</xmp:MetadataDate>
<xmp:CreatorTool>{e(creator_tool)}</xmp:CreatorTool>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
<pdf:Producer>{e(producer)}</pdf:Producer>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:{XMP_PREFIX}={quoteattr(XMP_NS)}>
{custom}
</rdf:Description>
<rdf:Description rdf:about=""
 xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
 xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>archiver: học bạ giấy số hóa (scanned paper transcript)</pdfaSchema:schema>
<pdfaSchema:namespaceURI>{XMP_NS}</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>{XMP_PREFIX}</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq>{properties}</rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"""
    return packet.encode("utf-8")


def record_from_json(document: Mapping[str, Any]) -> ScanRecord:
    """A record written by this software, back from its JSON (for the site and tests)."""
    student = document.get("student") or {}
    school = document.get("school") or {}
    roster = document.get("roster") or {}
    return ScanRecord(
        lookup_code=nfc(document.get("lookup_code", "")), student_code=nfc(student.get("code", "")),
        name=nfc(student.get("name", "")), birth_date=nfc(student.get("birth_date", "")),
        gender=nfc(student.get("gender", "")), citizen_id=nfc(student.get("citizen_id", "")),
        school_code=nfc(school.get("code", "")), school_name=nfc(school.get("name", "")),
        province=nfc(school.get("province", "")), class_name=nfc(document.get("class_name", "")),
        school_years=[nfc(y) for y in document.get("school_years") or []],
        roster_file=nfc(roster.get("file", "")), roster_row=int(roster.get("row") or 0),
        roster_values={nfc(k): nfc(v) for k, v in (roster.get("values") or {}).items()},
        digitised=nfc(document.get("digitised", "")), note=nfc(document.get("note", "")),
        pages=[PageInfo(int(p.get("page", 0)), nfc(p.get("source", "")), int(p.get("source_page", 1)),
                        int(p.get("width", 0)), int(p.get("height", 0)),
                        tuple(int(d) for d in (p.get("dpi") or (0, 0))[:2]),  # type: ignore[arg-type]
                        nfc(p.get("colour", "")), nfc(p.get("encoding", "")))
               for p in document.get("pages") or [] if isinstance(p, Mapping)],
        sources=[SourceFile(nfc(s.get("file", "")), nfc(s.get("sha256", "")), int(s.get("size", 0)))
                 for s in document.get("sources") or [] if isinstance(s, Mapping)],
        signers=[Signer(nfc(s.get("role", "")), nfc(s.get("field", "")), nfc(s.get("name", "")),
                        nfc(s.get("id", "")))
                 for s in document.get("signers") or [] if isinstance(s, Mapping)],
        software=nfc(document.get("software", "")),
    )


def read_pdf_record(data: bytes) -> dict[str, Any] | None:
    """The record (JSON, as written) of a PDF this software made, from its current XMP;
    None when it has none. For comparing and showing; verification reads the signed
    revision instead (:mod:`archiver.verify.pdf`)."""
    import io

    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            metadata = pdf.Root.get("/Metadata")
            xmp = metadata.read_bytes() if metadata is not None else b""
    except (pikepdf.PdfError, ValueError, TypeError, AttributeError):
        return None
    try:
        text = xmp_property(xmp, XMP_NS, "Record") if xmp else None
        return decode_record(text) if text else None
    except RecordError:
        return None
