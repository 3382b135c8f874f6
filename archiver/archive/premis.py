"""PREMIS 3 preservation metadata: what each package holds and what was done to it.

Each package carries ``data/premis.xml``: a file object per original and per rendering
(identified by SHA-256, the digests its manifests and evidence records use), the events
(ingestion, validation, rendering, timestamping; renewals appended later) and the
software agent. Vocabularies are the Library of Congress's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lxml import etree

from .. import __version__
from .records import PackageInfo, TranscriptRecord

PREMIS_NS = "http://www.loc.gov/premis/v3"
EVENT_TYPES = "http://id.loc.gov/vocabulary/preservation/eventType"


XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
HASH_FUNCTIONS = "http://id.loc.gov/vocabulary/preservation/cryptographicHashFunctions"
RELATIONSHIP_TYPES = "http://id.loc.gov/vocabulary/preservation/relationshipType"
_MEDIA_TYPES = {"xml": "application/xml", "pdf": "application/pdf"}


def premis_event(root: etree._Element, identifier: str, kind: str, detail: str, outcome: str,
                 when: dt.datetime, objects: list[str]) -> None:
    """Add one PREMIS 3 event, its type from the Library of Congress vocabulary. Events
    go after the objects and before the agent, the order the PREMIS schema requires (so
    events appended later, by renewal, keep the document valid)."""
    P = f"{{{PREMIS_NS}}}"
    ev = etree.Element(f"{P}event")
    agent = root.find(f"{P}agent")
    if agent is not None:
        agent.addprevious(ev)
    else:
        root.append(ev)
    ident = etree.SubElement(ev, f"{P}eventIdentifier")
    etree.SubElement(ident, f"{P}eventIdentifierType").text = "local"
    etree.SubElement(ident, f"{P}eventIdentifierValue").text = identifier
    etree.SubElement(ev, f"{P}eventType", authority="eventType", authorityURI=EVENT_TYPES).text = kind
    etree.SubElement(ev, f"{P}eventDateTime").text = when.isoformat(timespec="seconds")
    etree.SubElement(ev, f"{P}eventDetailInformation").append(_el(f"{P}eventDetail", detail))
    out = etree.SubElement(ev, f"{P}eventOutcomeInformation")
    etree.SubElement(out, f"{P}eventOutcome").text = outcome
    agent = etree.SubElement(ev, f"{P}linkingAgentIdentifier")
    etree.SubElement(agent, f"{P}linkingAgentIdentifierType").text = "software"
    etree.SubElement(agent, f"{P}linkingAgentIdentifierValue").text = f"archiver {__version__}"
    for obj in objects:
        link = etree.SubElement(ev, f"{P}linkingObjectIdentifier")
        etree.SubElement(link, f"{P}linkingObjectIdentifierType").text = "sha256"
        etree.SubElement(link, f"{P}linkingObjectIdentifierValue").text = obj


def premis_object(root: etree._Element, digest: str, size: int, media_type: str, original_name: str,
                   relationships: list[tuple[str, str, str, str]]) -> None:
    """A PREMIS 3 file object identified by its SHA-256 (what the events link to).
    ``relationships``: (type, sub-type, identifier type, identifier value)."""
    P = f"{{{PREMIS_NS}}}"
    obj = etree.SubElement(root, f"{P}object", {f"{{{XSI_NS}}}type": "premis:file"})
    ident = etree.SubElement(obj, f"{P}objectIdentifier")
    etree.SubElement(ident, f"{P}objectIdentifierType").text = "sha256"
    etree.SubElement(ident, f"{P}objectIdentifierValue").text = digest
    chars = etree.SubElement(obj, f"{P}objectCharacteristics")
    etree.SubElement(chars, f"{P}compositionLevel").text = "0"
    fixity = etree.SubElement(chars, f"{P}fixity")
    etree.SubElement(fixity, f"{P}messageDigestAlgorithm", authority="cryptographicHashFunctions",
                     authorityURI=HASH_FUNCTIONS).text = "SHA-256"
    etree.SubElement(fixity, f"{P}messageDigest").text = digest
    etree.SubElement(chars, f"{P}size").text = str(size)
    designation = etree.SubElement(etree.SubElement(chars, f"{P}format"), f"{P}formatDesignation")
    etree.SubElement(designation, f"{P}formatName").text = media_type
    if original_name:
        etree.SubElement(obj, f"{P}originalName").text = original_name
    for kind, sub, id_type, value in relationships:
        rel = etree.SubElement(obj, f"{P}relationship")
        etree.SubElement(rel, f"{P}relationshipType", authority="relationshipType",
                         authorityURI=RELATIONSHIP_TYPES).text = kind
        etree.SubElement(rel, f"{P}relationshipSubType").text = sub
        related = etree.SubElement(rel, f"{P}relatedObjectIdentifier")
        etree.SubElement(related, f"{P}relatedObjectIdentifierType").text = id_type
        etree.SubElement(related, f"{P}relatedObjectIdentifierValue").text = value


def package_premis(folder_name: str, created: dt.datetime, members: list[TranscriptRecord],
                   info: PackageInfo, payload: Path) -> bytes:
    """The package's preservation metadata (PREMIS 3): an object per original and per
    rendering, the events, and the software agent that did them. ``payload`` is the
    folder that becomes the bag's data/ (member paths start with "data/")."""

    def size(rel: str) -> int:
        return (payload / rel.removeprefix("data/")).stat().st_size

    root = new_document()
    for m in members:
        kind = m.original
        links = []
        if m.replaces:
            links.append(("reference", "thay thế / replaces", "MaTraCuu", m.replaces))
        if m.superseded_by:
            links.append(("reference", "bị thay thế bởi / is superseded by", "MaTraCuu", m.superseded_by))
        premis_object(root, m.sha256, size(m.files[kind]),
                       {"xml": _MEDIA_TYPES["xml"], "pdf_signed": _MEDIA_TYPES["pdf"]}.get(kind, "application/octet-stream"),
                       m.input_paths[0] if m.input_paths else "", links)
        if "pdf" in m.hashes:
            premis_object(root, m.hashes["pdf"], size(m.files["pdf"]),
                           _MEDIA_TYPES["pdf"], "", [("derivation", "has source", "sha256", m.sha256)])
    counter = 0

    def event(kind: str, detail: str, outcome: str, objects: list[str]) -> None:
        nonlocal counter
        counter += 1
        premis_event(root, f"{folder_name}-{counter}", kind, detail, outcome, created, objects)

    for m in members:
        event("ingestion", "Nhận tệp gốc, giữ nguyên từng byte / original received, kept bit-exact; from: "
              + "; ".join(m.input_paths), "success", [m.sha256])
        event("validation", "Kiểm tra lại chữ ký số theo hocba-xml mục 3 / signatures re-verified",
              m.verdict, [m.sha256])
        if "pdf" in m.hashes:
            event("creation", "Kết xuất PDF/A-3b, nhúng tệp XML gốc / PDF/A-3b rendering created",
                  "success", [m.sha256, m.hashes["pdf"]])
    status = info.timestamp.get("status")
    event("message digest calculation",
          "Cây băm RFC 4998 và dấu thời gian RFC 3161 cho cả gói / RFC 4998 hash tree, RFC 3161 "
          f"timestamp of its root ({'pending' if status == 'pending' else info.timestamp.get('time', '')})",
          "pending" if status == "pending" else "success", [m.sha256 for m in members])
    add_agent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def new_document() -> etree._Element:
    return etree.Element(f"{{{PREMIS_NS}}}premis", nsmap={"premis": PREMIS_NS, "xsi": XSI_NS}, version="3.0")


def add_agent(root: etree._Element) -> None:
    """The software agent (archiver, this version) that the events link to."""
    P = f"{{{PREMIS_NS}}}"
    agent = etree.SubElement(root, f"{P}agent")
    ident = etree.SubElement(agent, f"{P}agentIdentifier")
    etree.SubElement(ident, f"{P}agentIdentifierType").text = "software"
    etree.SubElement(ident, f"{P}agentIdentifierValue").text = f"archiver {__version__}"
    etree.SubElement(agent, f"{P}agentName").text = "archiver"
    etree.SubElement(agent, f"{P}agentType").text = "software"
    etree.SubElement(agent, f"{P}agentVersion").text = __version__


def append_event(path: Path, kind: str, detail: str, when: dt.datetime, outcome: str = "success") -> None:
    """One more event in an existing ``premis.xml`` (in a staged copy of a package)."""
    root = etree.parse(str(path)).getroot()
    premis_event(root, f"{kind}-{when:%Y%m%dT%H%M%S}", kind, detail, outcome, when, [])
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _el(tag: str, text: str) -> etree._Element:
    node = etree.Element(tag)
    node.text = text
    return node
