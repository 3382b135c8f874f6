"""Whether a package's manifests can be trusted: the chain ``archiver check`` and
``archiver audit`` share.

A payload manifest says what every file of a package must be, but a file rewritten
together with its manifest line would pass a plain manifest check. So a manifest is
trusted only when

1. the tag manifests list it with its exact bytes (RFC 8493 section 2.2.1), and the
   SHA-256 of ``tagmanifest-sha256.txt`` is the one recorded outside the package when
   there is such a record (``index.json``, which the printed label also carries); and
2. the hash tree over the members' data objects, as the manifest gives their digests,
   has the root that the package's RFC 3161 token certifies (RFC 3161 section 2.4.2,
   ``messageImprint``; the tree is RFC 4998's, section 4.2), and the token's signature
   is intact.

``check`` runs (2) over the digests of the files themselves (:func:`timestamp_problems`
with the files' digests); ``audit`` runs it over the manifests' digests
(:func:`manifest_trust`), reading only a package's small files: a copy held by a remote
is judged without downloading its payload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from .bag import Manifest, parse_manifest
from .layout import PACKAGE_JSON, PAYLOAD_MANIFESTS, TAG_MANIFESTS
from .records import PackageManifest, PackageUnreadable, TranscriptRecord, inside_bag

#: The tag files that the tag manifests list (RFC 8493: every tag file but themselves).
LISTED_TAG_FILES = ("bag-info.txt", "bagit.txt", *PAYLOAD_MANIFESTS)

Digest = Callable[[TranscriptRecord, str, str], str]  # (record, kind, algorithm) -> hex digest


def timestamp_problems(where: str, manifest: PackageManifest, read: Callable[[str], bytes], digest: Digest,
                       tokens: list[tuple[str, list[bytes]]] | None) -> list[str]:
    """The package's RFC 3161 token covers the hash tree of exactly these members (under the
    token's own hash algorithm), and every evidence record rests on that token, from the
    TSA package.json names; each renewal's token is the last of every record.

    ``read(rel)`` gives a file of the package, ``digest(record, kind, algorithm)`` a data
    object's digest (from the file, or from a manifest); ``tokens`` the tokens each
    member's evidence record rests on (``None``: the evidence records are not compared)."""
    from ..timestamps.evidence import EvidenceError, hash_tree_root
    from ..timestamps.tsa import TimestampError, token_facts

    problems: list[str] = []
    stamp = manifest.info.timestamp
    token_rel = str(stamp.get("token") or "data/timestamp/package.tst")
    try:
        if not inside_bag(token_rel):
            raise OSError(f"not a path inside the package: {token_rel!r}")
        token = read(token_rel)
        facts = token_facts(token)
    except (OSError, TimestampError) as exc:
        problems.append(f"{where}: dấu thời gian của gói không đọc được / package timestamp unreadable: "
                        f"{token_rel}: {exc}")
        return problems
    try:
        groups = [[bytes.fromhex(digest(r, k, facts.algorithm)) for k in r.evidence_kinds] for r in manifest.members]
        root = hash_tree_root(groups, facts.algorithm) if groups else b""
    except (ValueError, KeyError, EvidenceError, OSError):
        root = b""
    if root != facts.imprint:
        problems.append(f"{where}: dấu thời gian của gói không khớp nội dung gói (cây băm khác) / the package "
                        "timestamp does not cover this content")
    try:
        recorded_root = read(token_rel.replace("package.tst", "root.sha256.txt")).decode("ascii", errors="replace")
    except OSError:
        recorded_root = None
    if stamp.get("root_sha256") != facts.imprint.hex() or (
            recorded_root is not None and recorded_root.strip() != facts.imprint.hex()):
        problems.append(f"{where}: gốc cây băm ghi trong gói khác dấu thời gian / the recorded tree root differs "
                        "from the token")
    if stamp.get("tsa") != facts.tsa or bool(stamp.get("local")) != facts.local:
        problems.append(f"{where}: đơn vị cấp dấu thời gian khác package.json ({facts.tsa}) / the token's TSA "
                        "differs from the one recorded")
    others = [label for label, found in tokens or () if not found or found[0] != token]
    if others:
        problems.append(f"{where}: {len(others)} hồ sơ bằng chứng không dựa trên dấu thời gian của gói "
                        f"({', '.join(others[:3])}{'…' if len(others) > 3 else ''}) / evidence records that do "
                        "not rest on the package timestamp")
    for renewal in manifest.info.renewals:
        rel = str(renewal.get("token", "")) if isinstance(renewal, dict) else ""
        try:
            if not inside_bag(rel):
                raise OSError(f"not a path inside the package: {rel!r}")
            renewed = read(rel)
            renewed_facts = token_facts(renewed)
        except (OSError, TimestampError) as exc:
            problems.append(f"{where}: dấu thời gian gia hạn {rel} không đọc được / renewal token unreadable: {exc}")
            continue
        if renewal.get("root_sha256") != renewed_facts.imprint.hex():
            problems.append(f"{where}: {rel} khác gốc cây băm ghi trong package.json / the renewal token differs "
                            "from its record")
        missing = [label for label, found in tokens or () if renewed not in found]
        if missing:
            problems.append(f"{where}: {len(missing)} hồ sơ bằng chứng thiếu lần gia hạn {rel} ({', '.join(missing[:3])}"
                            f"{'…' if len(missing) > 3 else ''}) / evidence records without this renewal")
    return problems


def _token_signature_problems(where: str, token: bytes) -> list[str]:
    """The token's own CMS signature is intact (:func:`archiver.timestamps.tsa.token_intact`):
    its TSTInfo, hence the imprint compared above, is what the TSA signed. Who signed it is
    ``archiver evidence verify --trust``'s question (a certificate path, checked at a
    moment), not fixity's, so it is not asked on every audit."""
    from ..timestamps.tsa import TimestampError, token_intact

    try:
        intact = token_intact(token)
    except TimestampError as exc:
        return [f"{where}: dấu thời gian của gói không đọc được / package timestamp unreadable: {exc}"]
    if not intact:
        return [f"{where}: chữ ký của dấu thời gian gói không hợp lệ (đã bị sửa) / the package timestamp's signature "
                "is invalid"]
    return []


# -- a copy's manifests, judged from its small files -------------------------------------------
#: The files of a package that :func:`manifest_trust` reads (besides the timestamp files
#: package.json names): what a replica's copy is judged by before its payload is read.
TRUST_FILES = (*LISTED_TAG_FILES, *TAG_MANIFESTS, PACKAGE_JSON)


@dataclass(frozen=True)
class ManifestTrust:
    """What one copy's manifests say every file of the package must be, and whether they
    may be believed.

    ``digests``: path inside the package -> {algorithm: hex digest} for every file the
    trusted manifests name (payload files from the payload manifests, the tag files from
    the tag manifests, the tag manifests by their own bytes). ``problems``: why the copy's
    manifests are not trusted (empty when they are)."""

    package: str
    tag_manifest_sha256: str  # the SHA-256 of this copy's tagmanifest-sha256.txt ("" if none)
    digests: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def trusted(self) -> bool:
        return not self.problems


def manifest_trust(package: str, read: Callable[[str], bytes | None], anchor: str | None = None,
                   elsewhere: Callable[[str], Iterable[bytes]] = lambda rel: ()) -> ManifestTrust:
    """Judge one copy of ``package`` from its small files.

    ``read(rel)`` returns a file of this copy (``None`` when it is not there). package.json
    and the timestamp files may come from any copy whose bytes match this copy's manifests:
    ``elsewhere(rel)`` gives the other copies' bytes, each checked here against the manifest
    (a damaged package.json in one copy does not make its manifests untrustworthy).
    ``anchor``: the SHA-256 its ``tagmanifest-sha256.txt`` must have (from ``index.json``),
    when known."""
    problems: list[str] = []
    raw = {name: read(name) for name in (*LISTED_TAG_FILES, *TAG_MANIFESTS)}
    tag256 = raw["tagmanifest-sha256.txt"]
    anchor_found = hashlib.sha256(tag256).hexdigest() if tag256 is not None else ""
    if anchor and anchor_found != anchor:
        problems.append("tagmanifest-sha256.txt khác mã băm ghi trong index.json và trên nhãn / differs from the "
                        "tag manifest recorded in index.json and on the label")
    tags = [parse_manifest(name, raw[name]) for name in TAG_MANIFESTS]
    consistent = [t for t in tags if t.present and not t.problems and _lists_exactly(t, raw)]
    if not consistent or (anchor and tags[0] not in consistent):
        problems.append("danh sách mã băm của tệp thẻ không khớp các danh sách mã băm / the tag manifests do not "
                        "match the manifests")
    digests: dict[str, dict[str, str]] = {}
    for t in consistent:
        for rel, value in t.entries.items():
            digests.setdefault(rel, {})[t.algorithm] = value
    for name in TAG_MANIFESTS:
        t = next((t for t in consistent if t.name == name), None)
        if t is not None:
            data = raw[name] or b""
            digests[name] = {"sha256": hashlib.sha256(data).hexdigest(), "sha512": hashlib.sha512(data).hexdigest()}
    payload = [parse_manifest(name, raw[name]) for name in PAYLOAD_MANIFESTS]
    usable = [m for m in payload if m.present and not m.problems and _listed_bytes(m.name, raw[m.name], consistent)]
    for m in usable:
        for rel, value in m.entries.items():
            digests.setdefault(rel, {})[m.algorithm] = value
    if not usable:
        problems.append("không danh sách mã băm nào của gói khớp danh sách của tệp thẻ / no payload manifest "
                        "matches the tag manifests")
    elif len({frozenset(m.entries) for m in usable}) > 1:
        problems.append("hai danh sách mã băm liệt kê các tệp khác nhau / the payload manifests list different files")
    if not problems:
        problems += _token_problems(package, read, elsewhere, digests)
    return ManifestTrust(package, anchor_found, digests if not problems else {}, tuple(problems))


def _lists_exactly(tag: Manifest, raw: Mapping[str, bytes | None]) -> bool:
    """A tag manifest that lists each tag file archiver writes, with its exact bytes."""
    if set(tag.entries) != set(LISTED_TAG_FILES):
        return False
    return all(raw[name] is not None and hashlib.new(tag.algorithm, raw[name]).hexdigest() == tag.entries[name]
               for name in LISTED_TAG_FILES)


def _listed_bytes(name: str, data: bytes | None, tags: list[Manifest]) -> bool:
    return data is not None and bool(tags) and all(
        name in t.entries and hashlib.new(t.algorithm, data).hexdigest() == t.entries[name] for t in tags)


def _token_problems(package: str, read: Callable[[str], bytes | None], elsewhere: Callable[[str], Iterable[bytes]],
                    digests: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The token over the hash tree of the data objects, their digests as the manifests give them."""

    def verified(rel: str) -> bytes:
        wanted = digests.get(rel, {})
        own = read(rel)
        for data in ([own] if own is not None else []) + list(elsewhere(rel)):
            if wanted and all(hashlib.new(a, data).hexdigest() == v for a, v in wanted.items()):
                return data
        raise OSError(f"không bản sao nào của {rel} khớp danh sách mã băm / no copy of {rel} matches the manifest")

    try:
        manifest = PackageManifest.from_bytes(verified(PACKAGE_JSON))
    except (OSError, PackageUnreadable) as exc:
        return [f"{package}: {exc}"]

    def digest(record: TranscriptRecord, kind: str, algorithm: str) -> str:
        return digests[record.files[kind]][algorithm]

    if not manifest.info.stamped:
        return [f"{package}: gói chưa có dấu thời gian, không xác nhận được danh sách mã băm / the package has no "
                "timestamp to vouch for its manifests"]
    problems = timestamp_problems(package, manifest, verified, digest, None)
    if not problems:  # then the token's bytes are the manifest's: is its signature intact?
        problems = _token_signature_problems(package, verified(str(manifest.info.timestamp.get("token")
                                                                   or "data/timestamp/package.tst")))
    return problems
