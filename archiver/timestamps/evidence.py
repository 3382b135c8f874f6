"""Evidence records (RFC 4998, DER) proving when a package's transcripts existed.

Design note
-----------
*What an item's hash covers.* One item is one transcript and is an RFC 4998 *data
object group* (section 4.2). The caller passes its data objects as a list of bytes;
for a transcript these are, in any order:

1. the original signed XML exactly as received (no canonicalisation);
2. its verification report, the JSON bytes exactly as stored in the package;
3. its validation data: the DER certificates, CRLs and OCSP responses used for the
   verdict, concatenated in the order they are stored.

Each bytes object is one data object; what is protected is SHA-256 over exactly
those bytes, nothing added (no length prefix, no file name). Verification needs the
same bytes again. Callers with big files may pass the SHA-256 digests instead
(``prehashed=True``).

*Tree shape.* Leaves are items, in input order. A leaf is
``H(sort(h1 ‖ h2 ‖ …))`` over its objects' hashes (a single-object item's leaf is the
object's hash itself). Leaves are paired left to right into a binary tree, each inner
node is ``H`` of its two children sorted and concatenated, and a lone node at the end
of a level moves up unchanged. The root is the message imprint of the package's one
RFC 3161 token: one TSA request per package, never per document. Binary because it
gives the smallest proofs (one sibling per level: ~10 hashes for 1,000 items).

*Sorting.* Wherever hashes are concatenated they are first sorted in binary ascending
order (unsigned, byte by byte: Python's ``bytes`` ordering), as RFC 4998 requires, so
the order of siblings never has to be recorded.

*Reduced hash tree* (per item, ``ArchiveTimeStamp.reducedHashtree``): list 1 holds
the hashes of all the item's data objects (for a single-object item: its hash and its
first sibling); each further list holds the one sibling met on the way up (levels where
the node moved up alone add no list). A tree of one single-object item has no reduced
tree at all: the token's imprint is that object's hash. Verification (section 4.3): every data object's
hash must be in list 1; hash list 1 (a list of one value is carried up as it is), then
for each further list add the running value, sort, concatenate, hash; the result must
equal the token's imprint.

*Renewal* (section 5.2). Timestamp renewal appends to the last chain a new
ArchiveTimeStamp whose tree covers ``H(previous timeStamp)`` (the complete DER of the
previous token's ContentInfo), many records per TSA request. Hash-tree renewal starts
a new chain under a (stronger) hash algorithm over
``H(H(d) ‖ H(DER(ArchiveTimeStampSequence so far)))`` for every data object ``d``
(the formula of section 5.2 step 4; its Figure 4 sorts the pair instead, we follow
the formula) and needs the data again.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from asn1crypto import algos, cms, core, x509

from .tsa import (
    LOCAL_TSA_LABEL,
    LOCAL_TSA_LABEL_VI,
    Timestamper,
    TokenCheck,
    TokenFormatError,
    check_token,
    load_certificates,
)

__all__ = [
    "ArchiveTimeStamp",
    "ArchiveTimeStampChain",
    "ArchiveTimeStampSequence",
    "EvidenceCheck",
    "EvidenceError",
    "EvidenceRecord",
    "PartialHashtree",
    "TimestampCheck",
    "build_evidence",
    "evidence_tokens",
    "renew",
    "renew_hash_tree",
    "verify_evidence",
]

# ----------------------------------------------------------- RFC 4998 ASN.1 (DER)
# Appendix A module "ERS": DEFINITIONS IMPLICIT TAGS.


class PartialHashtree(core.SequenceOf):
    """PartialHashtree ::= SEQUENCE OF OCTET STRING"""

    _child_spec = core.OctetString


class ReducedHashtree(core.SequenceOf):
    """reducedHashtree [2] SEQUENCE OF PartialHashtree"""

    _child_spec = PartialHashtree


class ArchiveTimeStamp(core.Sequence):
    """ArchiveTimeStamp ::= SEQUENCE {
    digestAlgorithm [0] AlgorithmIdentifier OPTIONAL,
    attributes      [1] Attributes OPTIONAL,
    reducedHashtree [2] SEQUENCE OF PartialHashtree OPTIONAL,
    timeStamp       ContentInfo }"""

    _fields = [
        ("digest_algorithm", algos.DigestAlgorithm, {"implicit": 0, "optional": True}),
        ("attributes", cms.CMSAttributes, {"implicit": 1, "optional": True}),
        ("reduced_hashtree", ReducedHashtree, {"implicit": 2, "optional": True}),
        ("time_stamp", cms.ContentInfo),
    ]


class ArchiveTimeStampChain(core.SequenceOf):
    """ArchiveTimeStampChain ::= SEQUENCE OF ArchiveTimeStamp"""

    _child_spec = ArchiveTimeStamp


class ArchiveTimeStampSequence(core.SequenceOf):
    """ArchiveTimeStampSequence ::= SEQUENCE OF ArchiveTimeStampChain"""

    _child_spec = ArchiveTimeStampChain


class CryptoInfos(core.SequenceOf):
    """CryptoInfos ::= SEQUENCE SIZE (1..MAX) OF Attribute"""

    _child_spec = cms.CMSAttribute


class EncryptionInfo(core.Sequence):
    """EncryptionInfo ::= SEQUENCE {
    encryptionInfoType  OBJECT IDENTIFIER,
    encryptionInfoValue ANY DEFINED BY encryptionInfoType }"""

    _fields = [
        ("encryption_info_type", core.ObjectIdentifier),
        ("encryption_info_value", core.Any),
    ]


class DigestAlgorithms(core.SequenceOf):
    _child_spec = algos.DigestAlgorithm


class EvidenceRecordVersion(core.Integer):
    _map = {1: "v1"}


class EvidenceRecord(core.Sequence):
    """EvidenceRecord ::= SEQUENCE {
    version                   INTEGER { v1(1) },
    digestAlgorithms          SEQUENCE OF AlgorithmIdentifier,
    cryptoInfos               [0] CryptoInfos OPTIONAL,
    encryptionInfo            [1] EncryptionInfo OPTIONAL,
    archiveTimeStampSequence  ArchiveTimeStampSequence }"""

    _fields = [
        ("version", EvidenceRecordVersion),
        ("digest_algorithms", DigestAlgorithms),
        ("crypto_infos", CryptoInfos, {"implicit": 0, "optional": True}),
        ("encryption_info", EncryptionInfo, {"implicit": 1, "optional": True}),
        ("archive_time_stamp_sequence", ArchiveTimeStampSequence),
    ]


# ----------------------------------------------------------------------- results


class EvidenceError(Exception):
    """An evidence record cannot be read or used (damaged, truncated, unsupported)."""


@dataclass(frozen=True)
class TimestampCheck:
    """Findings for one ArchiveTimeStamp of a record (chain and position from 0)."""

    chain: int
    position: int
    gen_time: datetime
    tsa_name: str
    hash_ok: bool  # the hashes lead from the data (or previous token) to this imprint
    signature_ok: bool
    eku_ok: bool
    trusted: bool
    local: bool
    tsa_fingerprint: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.hash_ok and self.signature_ok and self.eku_ok and (self.trusted or self.local)


@dataclass(frozen=True)
class EvidenceCheck:
    """Result of :func:`verify_evidence`.

    ``ok`` means the data are exactly what was timestamped and every token is sound
    and either trusted or honestly local; ``trusted`` additionally requires every TSA
    to chain to the given trust roots. Local tokens carry :attr:`local_label`.
    """

    time: datetime | None  # genTime of the first timestamp: when existence is proven
    tsa_name: str  # TSA of the first timestamp
    hash_chain_intact: bool
    signatures_valid: bool
    eku_ok: bool
    trusted: bool
    local: bool
    timestamps: tuple[TimestampCheck, ...]
    problems: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return bool(self.timestamps) and all(t.ok for t in self.timestamps) and not self.problems

    @property
    def reasons(self) -> list[str]:
        """Every problem found, record-level and per timestamp, once each; "local
        timestamp" is a label (``local_label``), not a problem."""
        found = [*self.problems, *(p for t in self.timestamps for p in t.problems if p != LOCAL_TSA_LABEL)]
        return list(dict.fromkeys(found))

    @property
    def local_label(self) -> str | None:
        """Vietnamese / English warning for records resting on a local timestamp."""
        return f"{LOCAL_TSA_LABEL_VI} ({LOCAL_TSA_LABEL})" if self.local else None


# ------------------------------------------------------------------------ hashing

_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_DEFAULT_ALGORITHM = "sha256"
_ORDER_TOLERANCE = timedelta(seconds=1)


def _hasher(algorithm: str) -> Callable[[bytes], bytes]:
    try:
        fn = _HASHES[algorithm]
    except KeyError:
        raise EvidenceError(
            f"hash algorithm {algorithm!r} is not supported (use one of {', '.join(_HASHES)})"
        ) from None
    return lambda data: fn(data).digest()


def _node(hash_fn: Callable[[bytes], bytes], values: Sequence[bytes]) -> bytes:
    return hash_fn(b"".join(sorted(values)))


@dataclass(frozen=True)
class _Tree:
    root: bytes
    reduced: list[list[list[bytes]]]  # per item: its reduced hash tree


def _build_tree(groups: Sequence[Sequence[bytes]], algorithm: str) -> _Tree:
    """Binary hash tree over groups of data-object hashes (see the module docstring)."""
    hash_fn = _hasher(algorithm)
    leaves: list[bytes] = []
    reduced: list[list[list[bytes]]] = []
    for group in groups:
        if not group:
            raise ValueError("every item needs at least one data object")
        if len(group) == 1:
            leaves.append(group[0])
            reduced.append([])
        else:
            ordered = sorted(group)
            leaves.append(hash_fn(b"".join(ordered)))
            reduced.append([ordered])

    levels = [leaves]
    while len(levels[-1]) > 1:
        level = levels[-1]
        parents = []
        for i in range(0, len(level) - 1, 2):
            a, b = level[i], level[i + 1]
            parents.append(hash_fn(a + b if a <= b else b + a))
        if len(level) % 2:
            parents.append(level[-1])  # carried up unchanged
        levels.append(parents)

    for item, lists in enumerate(reduced):
        pos = item
        for level in levels[:-1]:
            sibling = pos ^ 1
            if sibling < len(level):
                if lists:
                    lists.append([level[sibling]])
                else:  # single-object item: list 1 = its hash and its first sibling
                    lists.append(sorted((level[pos], level[sibling])))
            pos >>= 1
        # A lone single-object item keeps no reduced tree: the token covers its hash
        # directly (RFC 4998 4.3 would hash even a one-value list once more).
    return _Tree(root=levels[-1][0], reduced=reduced)


def hash_tree_root(groups: Sequence[Sequence[bytes]], algorithm: str = _DEFAULT_ALGORITHM) -> bytes:
    """The root of the hash tree over ``groups`` of data-object hashes, as
    :func:`build_evidence` timestamps it (``archiver check`` recomputes it from files)."""
    return _build_tree(groups, algorithm).root


def _root_from(
    hash_fn: Callable[[bytes], bytes], covered: Sequence[bytes], tree: Sequence[Sequence[bytes]]
) -> bytes | None:
    """RFC 4998 section 4.3: the root the reduced tree leads to from ``covered``, or
    None if some covered hash is not in the first list."""
    if not tree:  # no reduced tree: the token covers the (single) hash directly
        return covered[0] if len(covered) == 1 else _node(hash_fn, covered)
    first = tree[0]
    if Counter(covered) - Counter(first):
        return None
    value = first[0] if len(first) == 1 else _node(hash_fn, first)
    for siblings in tree[1:]:
        value = _node(hash_fn, [*siblings, value])
    return value


# ---------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class _Ats:
    algorithm: str
    tree: list[list[bytes]]
    token: cms.ContentInfo
    token_der: bytes
    imprint: bytes
    imprint_algorithm: str
    gen_time: datetime
    asn1: ArchiveTimeStamp


@dataclass(frozen=True)
class _Record:
    asn1: EvidenceRecord
    chains: list[list[_Ats]]


def _decode(ers_der: bytes, origin: str = "evidence record") -> _Record:
    """Parse and fully walk a DER EvidenceRecord; any damage becomes EvidenceError."""
    if not ers_der:
        raise EvidenceError(f"hồ sơ bằng chứng rỗng, hãy khôi phục tệp .ers từ bản sao lưu / {origin} is empty; restore the .ers file from a backup copy")
    try:
        record = EvidenceRecord.load(ers_der, strict=True)
        if record["version"].native != "v1":
            raise ValueError(f"version {record['version'].native} (only v1 exists)")
        _ = record["digest_algorithms"].native
        chains: list[list[_Ats]] = []
        for chain in record["archive_time_stamp_sequence"]:
            parsed: list[_Ats] = []
            for ats in chain:
                token = ats["time_stamp"]
                tst_info = token["content"]["encap_content_info"]["content"].parsed
                imprint = tst_info["message_imprint"]
                imprint_algorithm = imprint["hash_algorithm"]["algorithm"].native
                algorithm = (
                    ats["digest_algorithm"]["algorithm"].native
                    if ats["digest_algorithm"].native is not None
                    else imprint_algorithm
                )
                tree = [[bytes(h.native) for h in pht] for pht in ats["reduced_hashtree"] or ()]
                parsed.append(
                    _Ats(
                        algorithm=algorithm,
                        tree=tree,
                        token=token,
                        token_der=token.dump(),
                        imprint=imprint["hashed_message"].native,
                        imprint_algorithm=imprint_algorithm,
                        gen_time=tst_info["gen_time"].native,
                        asn1=ats,
                    )
                )
            if not parsed:
                raise ValueError("an ArchiveTimeStampChain is empty")
            chains.append(parsed)
        if not chains:
            raise ValueError("it holds no timestamps")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise EvidenceError(
            f"hồ sơ bằng chứng hỏng hoặc không phải RFC 4998, hãy khôi phục từ bản sao lưu / {origin} is damaged "
            f"or not an RFC 4998 evidence record ({exc}); restore it from a backup copy"
        ) from exc
    return _Record(asn1=record, chains=chains)


def evidence_tokens(ers_der: bytes) -> list[bytes]:
    """Every TimeStampToken (DER) of a record, oldest first."""
    return [ats.token_der for chain in _decode(ers_der).chains for ats in chain]


# ---------------------------------------------------------------------- encoding


_V = TypeVar("_V", bound=core.Asn1Value)


def _frozen(value: _V) -> _V:
    """Encode once and re-load. asn1crypto re-encodes a freshly constructed value's
    whole subtree each time an ancestor is encoded; a loaded value reuses its bytes.
    This halves the cost of building 1,000 records."""
    return type(value).load(value.dump())


@functools.cache
def _algorithm_id(algorithm: str) -> algos.DigestAlgorithm:
    return _frozen(algos.DigestAlgorithm({"algorithm": algorithm}))


@functools.cache
def _algorithm_ids(algorithms: tuple[str, ...]) -> DigestAlgorithms:
    return _frozen(DigestAlgorithms([_algorithm_id(a) for a in algorithms]))


def _make_ats(algorithm: str, tree: list[list[bytes]], token: cms.ContentInfo) -> ArchiveTimeStamp:
    fields: dict[str, object] = {"digest_algorithm": _algorithm_id(algorithm), "time_stamp": token}
    if tree:  # absent for a tree of one single-object item
        fields["reduced_hashtree"] = _frozen(ReducedHashtree([PartialHashtree(lst) for lst in tree]))
    return _frozen(ArchiveTimeStamp(fields))


def _make_record(
    chains: Sequence[Sequence[ArchiveTimeStamp]],
    algorithms: Sequence[str],
    template: EvidenceRecord | None = None,
) -> bytes:
    """Encode a record; unchanged parts of ``template`` keep their exact bytes."""
    fields: dict[str, object] = {
        "version": "v1",
        "digest_algorithms": _algorithm_ids(tuple(algorithms)),
        "archive_time_stamp_sequence": ArchiveTimeStampSequence(
            [ArchiveTimeStampChain(list(chain)) for chain in chains]
        ),
    }
    if template is not None:
        for name in ("crypto_infos", "encryption_info"):
            if not isinstance(template[name], core.Void):
                fields[name] = template[name]
    return EvidenceRecord(fields).dump()


def _timestamp_root(timestamper: Timestamper, root: bytes, algorithm: str) -> cms.ContentInfo:
    """Get one token for ``root`` and make sure it really is for ``root``."""
    token_der = timestamper.timestamp(root)
    try:
        token = cms.ContentInfo.load(token_der, strict=True)
        imprint = token["content"]["encap_content_info"]["content"].parsed["message_imprint"]
        ok = (
            imprint["hashed_message"].native == root
            and imprint["hash_algorithm"]["algorithm"].native == algorithm
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise EvidenceError(f"the timestamper returned an unreadable token ({exc})") from exc
    if not ok:
        raise EvidenceError("the timestamper returned a token for other data; nothing was written")
    return token


# ------------------------------------------------------------------------- build


def _item_hashes(
    items: Sequence[Sequence[bytes]], prehashed: bool, algorithm: str
) -> list[list[bytes]]:
    hash_fn = _hasher(algorithm)
    size = len(hash_fn(b""))
    groups = []
    for number, item in enumerate(items, 1):
        if isinstance(item, (bytes, bytearray)):
            raise TypeError(f"item {number} is bytes; pass each item as a list of data objects")
        if prehashed:
            if any(len(d) != size for d in item):
                raise ValueError(f"item {number}: with prehashed=True pass {size}-byte digests")
            groups.append([bytes(d) for d in item])
        else:
            groups.append([hash_fn(bytes(d)) for d in item])
    return groups


def build_evidence(
    items: Sequence[Sequence[bytes]],
    timestamper: Timestamper,
    *,
    prehashed: bool = False,
) -> list[bytes]:
    """One DER EvidenceRecord per item, all sharing one token from ``timestamper``.

    ``items[i]`` is the list of data objects of item ``i`` (see the module docstring
    for what a transcript's are), or their SHA-256 digests with ``prehashed=True``.
    Raises whatever the timestamper raises (e.g. :class:`archiver.timestamps.tsa.TsaUnavailable`)
    before anything is produced, so the caller can keep the package pending.
    """
    if not items:
        raise ValueError("no items to timestamp")
    groups = _item_hashes(items, prehashed, _DEFAULT_ALGORITHM)
    tree = _build_tree(groups, _DEFAULT_ALGORITHM)
    token = _timestamp_root(timestamper, tree.root, _DEFAULT_ALGORITHM)
    return [
        _make_record([[_make_ats(_DEFAULT_ALGORITHM, reduced, token)]], [_DEFAULT_ALGORITHM])
        for reduced in tree.reduced
    ]


# ------------------------------------------------------------------------ verify


TrustSource = x509.Certificate | bytes | Path


def _trust_roots(trust: Sequence[TrustSource] | Path | None) -> list[x509.Certificate]:
    if trust is None:
        return []
    if isinstance(trust, Path):
        return load_certificates(trust)
    roots: list[x509.Certificate] = []
    for item in trust:
        roots.extend([item] if isinstance(item, x509.Certificate) else load_certificates(item))
    return roots


def _sequence_hash(record: _Record, upto: int, algorithm: str) -> bytes:
    """ha = H(DER ArchiveTimeStampSequence of the chains before ``upto``), using the
    chains' original encodings (asn1crypto re-emits parsed values byte for byte)."""
    chains = [c for c in record.asn1["archive_time_stamp_sequence"]][:upto]
    return _hasher(algorithm)(ArchiveTimeStampSequence(chains).dump())


def verify_evidence(
    data_objects: Sequence[bytes],
    ers_der: bytes,
    trust: Sequence[TrustSource] | Path | None = None,
    *,
    prehashed: bool = False,
    at: datetime | None = None,
) -> EvidenceCheck:
    """Check that ``ers_der`` proves the existence of ``data_objects`` (one item).

    Every timestamp of every chain is checked: the hash chain from the data (or the
    previous token) to its imprint, the token signature, the TSA certificate's EKU and
    its chain to ``trust`` (certificates, PEM/DER bytes, file/folder paths, or a list
    of those).
    Each token's certificate must be valid when the next timestamp was made (the last
    one: at ``at``, default now). ``prehashed`` takes SHA-256 digests instead of data;
    it cannot check chains made by hash-tree renewal under another algorithm.
    Raises :class:`EvidenceError` only when the record cannot be read at all.
    """
    if not data_objects:
        raise ValueError("give at least one data object to verify")
    record = _decode(ers_der)
    roots = _trust_roots(trust)
    problems: list[str] = []
    notes: list[str] = []
    flat = [(k, j, ats) for k, chain in enumerate(record.chains) for j, ats in enumerate(chain)]
    checks: list[TimestampCheck] = []
    previous: tuple[datetime, bool] | None = None  # genTime and locality of the last token

    for n, (k, j, ats) in enumerate(flat):
        chain_algorithm = record.chains[k][0].algorithm
        ats_problems: list[str] = []
        expected: bytes | None = None
        if ats.algorithm != chain_algorithm or ats.imprint_algorithm != ats.algorithm:
            ats_problems.append("thuật toán băm trong một chuỗi không thống nhất / hash algorithms inside one chain disagree")
        elif ats.algorithm not in _HASHES:
            ats_problems.append(f"không hỗ trợ thuật toán băm {ats.algorithm!r} / hash algorithm {ats.algorithm!r} is not supported")
        else:
            hash_fn = _hasher(ats.algorithm)
            if j > 0:  # timestamp renewal: covers the previous token
                covered = [hash_fn(record.chains[k][j - 1].token_der)]
            else:
                if prehashed:
                    if ats.algorithm != _DEFAULT_ALGORITHM:
                        raise EvidenceError(
                            f"chain {k + 1} uses {ats.algorithm}; verify with the data "
                            "files, not SHA-256 digests"
                        )
                    object_hashes = [bytes(d) for d in data_objects]
                else:
                    object_hashes = [hash_fn(bytes(d)) for d in data_objects]
                if k > 0:  # hash-tree renewal: data hash joined with the older chains
                    ha = _sequence_hash(record, k, ats.algorithm)
                    object_hashes = [hash_fn(h + ha) for h in object_hashes]
                covered = object_hashes
                if k == 0 and ats.tree and len(covered) > 1 and len(ats.tree[0]) > len(covered):
                    notes.append(
                        f"the record also covers {len(ats.tree[0]) - len(covered)} more data "
                        "object(s) of this item that were not given"
                    )
            expected = _root_from(hash_fn, covered, ats.tree)
            if expected is None:
                ats_problems.append(
                    "một tệp dữ liệu không khớp hồ sơ (đã bị sửa, hoặc nhầm tệp) / a data object is not covered by "
                    "this record (changed, or the wrong file)"
                    if j == 0
                    else "lần gia hạn không phủ dấu thời gian trước / the renewal does not cover the previous timestamp"
                )
            elif expected != ats.imprint:
                ats_problems.append("cây băm không dẫn tới giá trị được đóng dấu / the hash tree does not lead to the timestamped value")

        moment = flat[n + 1][2].gen_time if n + 1 < len(flat) else (at or datetime.now(UTC))
        try:
            token = check_token(ats.token, None, roots, at=moment)
        except TokenFormatError as exc:
            raise EvidenceError(f"dấu thời gian thứ {n + 1} của hồ sơ bị hỏng / timestamp {n + 1} of the record is damaged ({exc})") from exc
        hash_ok = not ats_problems
        # A renewal hashes its predecessor, so it is younger whatever the dates say; an
        # inversion means a clock was wrong. Allow the usual 1 s genTime precision; a
        # local token's clock is not vouched for anyway, so that is only a note.
        if previous is not None and ats.gen_time < previous[0] - _ORDER_TOLERANCE:
            message = f"dấu thời gian thứ {n + 1} có ngày trước dấu thời gian nó gia hạn / timestamp {n + 1} is dated before the timestamp it renews"
            (notes if previous[1] or token.local else problems).append(message)
        previous = (ats.gen_time, token.local)
        checks.append(_timestamp_check(k, j, token, hash_ok, ats_problems))

    first = checks[0]
    return EvidenceCheck(
        time=first.gen_time,
        tsa_name=first.tsa_name,
        hash_chain_intact=all(c.hash_ok for c in checks),
        signatures_valid=all(c.signature_ok for c in checks),
        eku_ok=all(c.eku_ok for c in checks),
        trusted=all(c.trusted for c in checks),
        local=any(c.local for c in checks),
        timestamps=tuple(checks),
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _timestamp_check(
    chain: int, position: int, token: TokenCheck, hash_ok: bool, hash_problems: list[str]
) -> TimestampCheck:
    return TimestampCheck(
        chain=chain,
        position=position,
        gen_time=token.gen_time,
        tsa_name=token.tsa_name,
        hash_ok=hash_ok,
        signature_ok=token.signature_ok,
        eku_ok=token.eku_ok,
        trusted=token.trusted,
        local=token.local,
        tsa_fingerprint=token.tsa_fingerprint,
        problems=(*hash_problems, *token.problems),
    )


# ------------------------------------------------------------------------- renew


def renew(ers_list: Sequence[bytes], timestamper: Timestamper) -> list[bytes]:
    """Timestamp renewal (RFC 4998 section 5.2) for a batch of records: one TSA request
    per hash algorithm in use (normally exactly one), each record's last chain gets a
    new ArchiveTimeStamp covering the hash of its previous token. Returns the renewed
    records in input order; the inputs are not modified.

    Renew before the newest token's TSA certificate expires or its algorithms weaken;
    verify the records first, renewal does not repair them.
    """
    if not ers_list:
        raise ValueError("no evidence records to renew")
    records = [_decode(der, f"evidence record {i + 1}") for i, der in enumerate(ers_list)]
    by_algorithm: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        by_algorithm.setdefault(record.chains[-1][-1].algorithm, []).append(i)

    renewed: list[bytes | None] = [None] * len(records)
    for algorithm, indexes in by_algorithm.items():
        hash_fn = _hasher(algorithm)
        groups = [[hash_fn(records[i].chains[-1][-1].token_der)] for i in indexes]
        tree = _build_tree(groups, algorithm)
        token = _timestamp_root(timestamper, tree.root, algorithm)
        for i, reduced in zip(indexes, tree.reduced, strict=True):
            record = records[i]
            chains = [list(c) for c in record.asn1["archive_time_stamp_sequence"]]
            chains[-1].append(_make_ats(algorithm, reduced, token))
            renewed[i] = _make_record(chains, _algorithms(record, algorithm), record.asn1)
    return [der for der in renewed if der is not None]


def renew_hash_tree(
    items: Sequence[tuple[Sequence[bytes], bytes]],
    timestamper: Timestamper,
    *,
    algorithm: str = "sha512",
) -> list[bytes]:
    """Hash-tree renewal (RFC 4998 section 5.2) for a batch: ``items`` are
    ``(data_objects, ers_der)`` pairs; each record gets a new chain under
    ``algorithm`` covering ``H(H(d) ‖ H(DER(ArchiveTimeStampSequence)))`` for each of
    its data objects. One TSA request (whose imprint uses ``algorithm``) for all.
    Use it when the hash algorithm in use is weakening; it needs the original data."""
    if not items:
        raise ValueError("no evidence records to renew")
    hash_fn = _hasher(algorithm)
    records = [_decode(der, f"evidence record {i + 1}") for i, (_, der) in enumerate(items)]
    groups = []
    for (data_objects, _), record in zip(items, records, strict=True):
        if not data_objects:
            raise ValueError("hash-tree renewal needs every item's data objects")
        ha = _sequence_hash(record, len(record.chains), algorithm)
        groups.append([hash_fn(hash_fn(bytes(d)) + ha) for d in data_objects])
    tree = _build_tree(groups, algorithm)
    token = _timestamp_root(timestamper, tree.root, algorithm)
    out = []
    for record, reduced in zip(records, tree.reduced, strict=True):
        chains = [list(c) for c in record.asn1["archive_time_stamp_sequence"]]
        chains.append([_make_ats(algorithm, reduced, token)])
        out.append(_make_record(chains, _algorithms(record, algorithm), record.asn1))
    return out


def _algorithms(record: _Record, extra: str) -> list[str]:
    names = [a["algorithm"].native for a in record.asn1["digest_algorithms"]]
    return names if extra in names else [*names, extra]
