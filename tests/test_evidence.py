"""RFC 4998 evidence records: build, verify, renew, interop with OpenSSL, and the CLI."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.commands.evidence import command, renewed_path
from archiver.timestamps.evidence import (
    EvidenceError,
    EvidenceRecord,
    build_evidence,
    evidence_tokens,
    renew,
    renew_hash_tree,
    verify_evidence,
)
from archiver.timestamps.tsa import (
    LOCAL_TSA_LABEL_VI,
    HttpTimestamper,
    LocalTimestamper,
    Timestamper,
    TsaUnavailable,
    load_certificates,
)
from tests.tsa_server import (  # noqa: F401  (fixtures)
    Pki,
    TsaServer,
    closed_port_url,
    openssl_verify_token,
    tsa_pki,
    tsa_server,
)


def transcript(n: int) -> list[bytes]:
    """One item: signed XML, verification report (JSON), validation data (DER blobs)."""
    xml = f'<HocBa id="{n}"><HoTen>Nguyễn Văn {n}</HoTen><Signature/></HocBa>'.encode()
    report = f'{{"item": {n}, "valid": true}}'.encode()
    return [xml, report, os.urandom(64) + n.to_bytes(4, "big")]


class Counting:
    """A real timestamper, counted: proves one TSA request per package."""

    def __init__(self, inner: Timestamper) -> None:
        self.inner = inner
        self.calls = 0

    def timestamp(self, digest: bytes) -> bytes:
        self.calls += 1
        return self.inner.timestamp(digest)


@pytest.fixture(scope="module")
def local_tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTimestamper:
    return LocalTimestamper(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def package(local_tsa: LocalTimestamper) -> tuple[list[list[bytes]], list[bytes]]:
    items = [transcript(n) for n in range(7)]
    return items, build_evidence(items, local_tsa)


@pytest.fixture(scope="module")
def http_package(tsa_server: TsaServer) -> tuple[list[list[bytes]], list[bytes]]:
    items = [transcript(n) for n in range(5)]
    client = HttpTimestamper(tsa_server.url(), tsa_server.pki.ca_cert, timeout=10)
    return items, build_evidence(items, client)


# -------------------------------------------------------------------- round trips


def test_one_tsa_request_per_package(local_tsa: LocalTimestamper) -> None:
    counting = Counting(local_tsa)
    records = build_evidence([transcript(n) for n in range(50)], counting)
    assert counting.calls == 1 and len(records) == 50
    assert len({tuple(evidence_tokens(r)) for r in records}) == 1  # the same token


def test_local_records_verify_and_are_labelled(package, local_tsa: LocalTimestamper) -> None:
    items, records = package
    for item, record in zip(items, records, strict=True):
        check = verify_evidence(item, record)
        assert check.ok and check.hash_chain_intact and check.signatures_valid and check.eku_ok
        assert check.local and not check.trusted
        assert LOCAL_TSA_LABEL_VI in (check.local_label or "")
        assert check.time is not None and check.time.tzinfo is not None
        assert check.timestamps[0].tsa_fingerprint == local_tsa.fingerprint
        # order of the data objects does not matter (hashes are sorted)
        assert verify_evidence(list(reversed(item)), record, [local_tsa.root_cert]).trusted


def test_http_tsa_records_verify_as_trusted(http_package, tsa_server: TsaServer) -> None:
    items, records = http_package
    for item, record in zip(items, records, strict=True):
        check = verify_evidence(item, record, tsa_server.pki.ca_cert)  # a Path works too
        assert check.ok and check.trusted and not check.local and check.local_label is None
        assert "archiver test TSA" in check.tsa_name
    untrusted = verify_evidence(items[0], records[0])
    assert not untrusted.ok and not untrusted.trusted
    assert any("trusted root" in p for p in untrusted.timestamps[0].problems)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8, 9])
def test_tree_shapes(local_tsa: LocalTimestamper, count: int) -> None:
    # odd levels, single-object items and mixed group sizes all round-trip
    items = [transcript(n)[: 1 + n % 3] for n in range(count)]
    records = build_evidence(items, local_tsa)
    for item, record in zip(items, records, strict=True):
        assert verify_evidence(item, record).hash_chain_intact
    if count > 1:
        assert not verify_evidence(items[0], records[1]).hash_chain_intact


def test_a_lone_single_object_item_has_no_reduced_tree(local_tsa: LocalTimestamper) -> None:
    """RFC 4998 4.3 hashes every list of the reduced tree, even a list of one value; so a
    tree of one single-object item carries no reducedHashtree and the token's imprint is
    the object's own hash, which a strict verifier and ours both accept."""
    from archiver.timestamps.evidence import EvidenceRecord

    data = b"a single data object"
    (record,) = build_evidence([[data]], local_tsa)
    assert verify_evidence([data], record).hash_chain_intact
    ats = EvidenceRecord.load(record)["archive_time_stamp_sequence"][0][0]
    assert not ats["reduced_hashtree"]
    two = EvidenceRecord.load(build_evidence([[data], [b"another"]], local_tsa)[0])
    assert two["archive_time_stamp_sequence"][0][0]["reduced_hashtree"].native == [
        sorted([hashlib.sha256(data).digest(), hashlib.sha256(b"another").digest()])]


def test_prehashed_digests_give_the_same_records(local_tsa: LocalTimestamper) -> None:
    items = [transcript(n) for n in range(3)]
    digests = [[hashlib.sha256(d).digest() for d in item] for item in items]
    records = build_evidence(digests, local_tsa, prehashed=True)
    for item, digest_item, record in zip(items, digests, records, strict=True):
        assert verify_evidence(item, record).ok
        assert verify_evidence(digest_item, record, prehashed=True).ok
    with pytest.raises(ValueError, match="32-byte digests"):
        build_evidence([[b"not a digest"]], local_tsa, prehashed=True)


def test_bad_build_inputs(local_tsa: LocalTimestamper) -> None:
    with pytest.raises(ValueError, match="no items"):
        build_evidence([], local_tsa)
    with pytest.raises(ValueError, match="at least one data object"):
        build_evidence([[b"a"], []], local_tsa)
    with pytest.raises(TypeError, match="list of data objects"):
        build_evidence([b"xml"], local_tsa)  # type: ignore[list-item]


class WrongDigest:
    """A faulty timestamper: asks its (real) TSA about other data."""

    def __init__(self, inner: Timestamper) -> None:
        self.inner = inner

    def timestamp(self, digest: bytes) -> bytes:
        return self.inner.timestamp(hashlib.sha256(b"other" + digest).digest())


def test_token_for_another_imprint_is_not_stored(local_tsa: LocalTimestamper) -> None:
    with pytest.raises(EvidenceError, match="token for other data"):
        build_evidence([transcript(1)], WrongDigest(local_tsa))


def test_tsa_down_produces_nothing(tsa_pki: Pki) -> None:
    client = HttpTimestamper(closed_port_url(), tsa_pki.ca_cert, timeout=0.2, retries=0)
    with pytest.raises(TsaUnavailable, match="pending timestamp"):
        build_evidence([transcript(1)], client)


# ---------------------------------------------------------------------- tampering


@pytest.mark.parametrize("which", [0, 1, 2])
def test_tampering_any_data_object_breaks_verification(package, which: int) -> None:
    items, records = package
    item = list(items[3])
    item[which] = item[which][:-1] + bytes([item[which][-1] ^ 1])
    check = verify_evidence(item, records[3])
    assert not check.ok and not check.hash_chain_intact
    assert "not covered by this record" in check.timestamps[0].problems[0]


def test_a_missing_or_extra_object_is_noticed(package) -> None:
    items, records = package
    assert not verify_evidence([*items[2], b"extra"], records[2]).ok
    partial = verify_evidence(items[2][:2], records[2])
    assert partial.ok and "1 more data object" in partial.notes[0]


def test_records_are_not_interchangeable(package) -> None:
    items, records = package
    assert not verify_evidence(items[0], records[1]).ok


def test_altered_token_inside_a_record_is_caught(package) -> None:
    items, records = package
    record = bytearray(records[0])
    record[-5] ^= 0x01  # the record ends with the token's signature value
    check = verify_evidence(items[0], bytes(record))
    assert not check.ok and not check.signatures_valid


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r[: len(r) // 2],  # truncated
        lambda r: r[:10],
        lambda r: b"",
        lambda r: b"PK\x03\x04 this is a zip file, not an evidence record",
        lambda r: r + b"\x00trailing",
        lambda r: evidence_tokens(r)[0],  # valid DER, wrong structure
    ],
    ids=["half", "ten-bytes", "empty", "garbage", "trailing", "token-not-record"],
)
def test_damaged_record_is_a_clear_error(package, damage) -> None:
    items, records = package
    with pytest.raises(EvidenceError) as info:
        verify_evidence(items[0], damage(records[0]))
    message = str(info.value)
    assert "evidence record" in message and "backup" in message
    assert "Traceback" not in message and len(message) < 400


# ------------------------------------------------------------------------ renewal


def test_timestamp_renewal_one_request_for_the_batch(package, local_tsa: LocalTimestamper) -> None:
    items, records = package
    counting = Counting(local_tsa)
    renewed = renew(records, counting)
    assert counting.calls == 1
    for item, old, new in zip(items, records, renewed, strict=True):
        check = verify_evidence(item, new, [local_tsa.root_cert])
        assert check.ok and check.trusted and len(check.timestamps) == 2
        assert [(t.chain, t.position) for t in check.timestamps] == [(0, 0), (0, 1)]
        assert check.time == verify_evidence(item, old).time  # still proves the first time
        assert evidence_tokens(new)[0] == evidence_tokens(old)[0]  # kept byte for byte
    tampered = [items[0][0] + b" ", *items[0][1:]]
    check = verify_evidence(tampered, renewed[0])
    assert not check.timestamps[0].hash_ok and check.timestamps[1].hash_ok


def test_renewal_of_renewal_and_mixed_tsas(http_package, tsa_server: TsaServer, local_tsa) -> None:
    items, records = http_package
    client = HttpTimestamper(tsa_server.url(), tsa_server.pki.ca_cert, timeout=10)
    twice = renew(renew(records, local_tsa), client)
    check = verify_evidence(items[1], twice[1], [tsa_server.pki.ca_cert, local_tsa.root_cert])
    assert check.ok and check.trusted and len(check.timestamps) == 3 and check.local


def test_renewal_cannot_hide_a_swapped_token(package, local_tsa: LocalTimestamper) -> None:
    items, records = package
    other = build_evidence([transcript(99)], local_tsa)[0]
    # graft a renewal made for another record onto this record's chain
    mixed = EvidenceRecord.load(records[0])
    donor = EvidenceRecord.load(renew([other], local_tsa)[0])
    chain = list(mixed["archive_time_stamp_sequence"][0]) + [
        donor["archive_time_stamp_sequence"][0][1]
    ]
    forged = EvidenceRecord(
        {
            "version": "v1",
            "digest_algorithms": mixed["digest_algorithms"],
            "archive_time_stamp_sequence": [chain],
        }
    ).dump()
    check = verify_evidence(items[0], forged)
    assert not check.ok and not check.timestamps[1].hash_ok


def test_hash_tree_renewal(package, local_tsa: LocalTimestamper) -> None:
    items, records = package
    counting = Counting(local_tsa)
    renewed = renew_hash_tree(list(zip(items, renew(records, local_tsa), strict=True)), counting)
    assert counting.calls == 1
    for item, record in zip(items, renewed, strict=True):
        check = verify_evidence(item, record)
        assert check.ok, check
        assert [(t.chain, t.position) for t in check.timestamps] == [(0, 0), (0, 1), (1, 0)]
        parsed = EvidenceRecord.load(record)
        assert [a["algorithm"].native for a in parsed["digest_algorithms"]] == ["sha256", "sha512"]
    # a further timestamp renewal continues the new (SHA-512) chain
    again = renew(renewed[:1], local_tsa)[0]
    assert [(t.chain, t.position) for t in verify_evidence(items[0], again).timestamps][-1] == (
        1,
        1,
    )
    assert verify_evidence(items[0], again).ok
    bad = verify_evidence([b"changed", *items[0][1:]], renewed[0])
    assert not bad.ok and not bad.timestamps[2].hash_ok
    with pytest.raises(EvidenceError, match="verify with the data files"):
        verify_evidence([hashlib.sha256(d).digest() for d in items[0]], renewed[0], prehashed=True)


def test_renew_rejects_damaged_input(package, local_tsa: LocalTimestamper) -> None:
    _, records = package
    with pytest.raises(EvidenceError, match="evidence record 2 is damaged"):
        renew([records[0], records[1][:50]], local_tsa)


# ---------------------------------------------------------------- interoperability


@dataclass
class Node:
    offset: int
    depth: int
    header: int
    length: int
    text: str

    @property
    def end(self) -> int:
        return self.offset + self.header + self.length


_LINE = re.compile(r"^\s*(\d+):d=(\d+)\s+hl=\s*(\d+)\s+l=\s*(\d+)\s+(?:prim|cons):\s*(.*?)\s*$")


def asn1parse(der: bytes, tmp_path: Path) -> list[Node]:
    path = tmp_path / "record.ers"
    path.write_bytes(der)
    out = subprocess.run(
        ["openssl", "asn1parse", "-inform", "DER", "-in", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    ).stdout
    return [
        Node(int(m[1]), int(m[2]), int(m[3]), int(m[4]), m[5])
        for m in map(_LINE.match, out.splitlines())
        if m
    ]


def independent_read(der: bytes, tmp_path: Path) -> list[tuple[list[list[bytes]], bytes]]:
    """(reduced hash tree, token DER) of every ArchiveTimeStamp of chain 1, read from
    `openssl asn1parse` output and byte offsets only (no archiver / asn1crypto code)."""
    nodes = asn1parse(der, tmp_path)
    assert nodes[0].depth == 0 and nodes[0].text.startswith("SEQUENCE")  # EvidenceRecord
    assert nodes[1].depth == 1 and nodes[1].text == "INTEGER           :01"  # version v1
    assert nodes[2].depth == 1 and nodes[2].text.startswith("SEQUENCE")  # digestAlgorithms
    assert nodes[4].text.endswith(":sha256")
    sequence = next(n for n in nodes[3:] if n.depth == 1)  # archiveTimeStampSequence
    assert sequence.text.startswith("SEQUENCE") and sequence.end == len(der)
    stamps = []
    ats_nodes = [n for n in nodes if n.depth == 3 and n.offset > sequence.offset]
    for ats in ats_nodes:
        inner = [n for n in nodes if ats.offset < n.offset < ats.end]
        fields = [n for n in inner if n.depth == 4]
        assert [f.text.split()[0] for f in fields] == ["cont", "cont", "SEQUENCE"]
        assert fields[0].text == "cont [ 0 ]" and fields[1].text == "cont [ 2 ]"
        tree_node, token_node = fields[1], fields[2]
        tree: list[list[bytes]] = []
        for n in inner:
            if tree_node.offset < n.offset < tree_node.end:
                if n.depth == 5:
                    assert n.text.startswith("SEQUENCE")  # a PartialHashtree
                    tree.append([])
                else:
                    assert n.depth == 6 and n.text.startswith("OCTET STRING")
                    tree[-1].append(bytes.fromhex(n.text.split("[HEX DUMP]:")[1]))
        token_children = [n for n in inner if n.depth == 5 and token_node.offset < n.offset]
        assert token_children[0].text.endswith(":pkcs7-signedData")
        stamps.append((tree, der[token_node.offset : token_node.end]))
    return stamps


def independent_root(covered: list[bytes], tree: list[list[bytes]]) -> bytes:
    """RFC 4998 section 4.3 with hashlib only."""
    h = lambda data: hashlib.sha256(data).digest()  # noqa: E731
    assert all(c in tree[0] for c in covered)
    value = tree[0][0] if len(tree[0]) == 1 else h(b"".join(sorted(tree[0])))
    for siblings in tree[1:]:
        value = h(b"".join(sorted([*siblings, value])))
    return value


def test_records_decode_with_openssl_and_reverify_independently(
    http_package, tsa_server: TsaServer, local_tsa: LocalTimestamper, tmp_path: Path
) -> None:
    items, records = http_package
    renewed = renew(records, local_tsa)
    for item, record in zip(items, renewed, strict=True):
        (tree1, token1), (tree2, token2) = independent_read(record, tmp_path)
        root1 = independent_root([hashlib.sha256(d).digest() for d in item], tree1)
        verified = openssl_verify_token(token1, root1, tsa_server.pki.ca_cert)
        assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified.stderr
        # the renewal covers the complete DER of the first token
        root2 = independent_root([hashlib.sha256(token1).digest()], tree2)
        verified = openssl_verify_token(token2, root2, local_tsa.tsa_dir / "root-cert.pem")
        assert verified.returncode == 0, verified.stderr
        # and the reduced tree is small: group list + one sibling per level
        assert len(tree1[0]) == 3 and all(len(level) == 1 for level in tree1[1:])


def test_openssl_accepts_every_stored_token(package, local_tsa: LocalTimestamper) -> None:
    _items, records = package
    for record in renew(records[:2], local_tsa):
        for n, token in enumerate(evidence_tokens(record)):
            from archiver.timestamps.tsa import check_token

            imprint = check_token(token, None, []).imprint
            result = openssl_verify_token(token, imprint, local_tsa.tsa_dir / "root-cert.pem")
            assert result.returncode == 0, (n, result.stderr)


# ----------------------------------------------------------------------------- CLI


@pytest.fixture()
def cli_env(tmp_path: Path, local_tsa: LocalTimestamper, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ARCHIVER_DATA_DIR", str(local_tsa.data_dir))
    monkeypatch.delenv("ARCHIVER_TSA_URL", raising=False)
    monkeypatch.delenv("ARCHIVER_TSA_CERT", raising=False)
    monkeypatch.chdir(tmp_path)  # no archiver.toml here
    return tmp_path


def write_item(folder: Path, item: list[bytes], record: bytes) -> tuple[list[str], Path]:
    names = []
    for name, data in zip(["hocba.xml", "report.json", "validation.der"], item, strict=True):
        (folder / name).write_bytes(data)
        names.append(str(folder / name))
    (folder / "hocba.ers").write_bytes(record)
    return names, folder / "hocba.ers"


def test_cli_verify_ok_and_local_label(cli_env: Path, package) -> None:
    items, records = package
    files, ers = write_item(cli_env, items[4], records[4])
    result = CliRunner().invoke(command, ["verify", *files, "--ers", str(ers)])
    assert result.exit_code == 0, result.output
    assert "HỢP LỆ / VERIFIED" in result.output and "nguyên vẹn / intact" in result.output
    assert LOCAL_TSA_LABEL_VI in result.output and "của máy tính này" in result.output
    assert "UTC" in result.output and "giờ Việt Nam" in result.output

    strict = CliRunner().invoke(command, ["verify", *files, "--ers", str(ers), "--require-trusted"])
    assert strict.exit_code == 1


def test_cli_verify_with_a_trust_list_needs_even_a_local_timestamp_to_chain_to_it(
        cli_env: Path, package, local_tsa: LocalTimestamper, tsa_server: TsaServer) -> None:
    """Anyone can make a "local" TSA: a record remade on another machine must not pass a
    check that names whom to trust."""
    items, records = package
    files, ers = write_item(cli_env, items[4], records[4])
    other = cli_env / "other-ca.pem"
    other.write_bytes(tsa_server.pki.ca_cert.read_bytes())
    refused = CliRunner().invoke(command, ["verify", *files, "--ers", str(ers), "--trust", str(other)])
    assert refused.exit_code == 1 and "KHÔNG HỢP LỆ / NOT VERIFIED" in refused.output
    own = cli_env / "local-root.pem"
    own.write_bytes(local_tsa.root_cert.dump())  # DER
    accepted = CliRunner().invoke(command, ["verify", *files, "--ers", str(ers), "--trust", str(own)])
    assert accepted.exit_code == 0, accepted.output


def test_cli_verify_with_trust_folder(cli_env: Path, http_package, tsa_server: TsaServer) -> None:
    items, records = http_package
    files, ers = write_item(cli_env, items[0], records[0])
    trust = cli_env / "trust"
    trust.mkdir()
    (trust / "ca.pem").write_bytes(tsa_server.pki.ca_cert.read_bytes())
    args = ["verify", *files, "--ers", str(ers), "--trust", str(trust), "--require-trusted"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert "TSA tin cậy / trusted TSA: có" in result.output


def test_cli_verify_tampered_and_garbage(cli_env: Path, package) -> None:
    items, records = package
    files, ers = write_item(cli_env, items[5], records[5])
    Path(files[1]).write_bytes(b'{"valid": false}')
    result = CliRunner().invoke(command, ["verify", *files, "--ers", str(ers)])
    assert result.exit_code == 1 and "BỊ HỎNG / BROKEN" in result.output
    assert "KHÔNG HỢP LỆ" in result.output

    ers.write_bytes(records[5][:200])
    result = CliRunner().invoke(command, ["verify", *files, "--ers", str(ers)])
    assert result.exit_code == 1
    assert "damaged" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_renew_writes_beside_and_never_overwrites(cli_env: Path, package) -> None:
    items, records = package
    files, ers = write_item(cli_env, items[6], records[6])
    config = str(cli_env / "archiver.toml")
    first = CliRunner().invoke(command, ["renew", str(ers), "--config", config])
    assert first.exit_code == 0, first.output
    r1 = cli_env / "hocba.r1.ers"
    assert r1.exists() and ers.read_bytes() == records[6]
    second = CliRunner().invoke(command, ["renew", str(ers), str(r1), "--config", config])
    assert second.exit_code == 0, second.output
    # hocba.ers → r2 (r1 is taken), then hocba.r1.ers → r3 (r2 was just written)
    r2, r3 = cli_env / "hocba.r2.ers", cli_env / "hocba.r3.ers"
    assert r2.exists() and r3.exists() and r1.read_bytes() != r2.read_bytes()
    for path in (r1, r2, r3):
        result = CliRunner().invoke(command, ["verify", *files, "--ers", str(path)])
        assert result.exit_code == 0, result.output


def test_cli_renew_with_http_tsa_and_tsa_down(
    cli_env: Path, package, tsa_server: TsaServer
) -> None:
    items, records = package
    _files, ers = write_item(cli_env, items[1], records[1])
    args = [
        "renew",
        str(ers),
        "--tsa-url",
        tsa_server.url(),
        "--tsa-cert",
        str(tsa_server.pki.ca_cert),
    ]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert tsa_server.url() in result.output
    renewed = (cli_env / "hocba.r1.ers").read_bytes()
    check = verify_evidence(items[1], renewed, [tsa_server.pki.ca_cert])
    assert check.ok and not check.timestamps[1].local and check.timestamps[1].trusted

    down_url = closed_port_url()
    (cli_env / "archiver.toml").write_text(
        f'[tsa]\nurl = "{down_url}"\ncert = "{tsa_server.pki.ca_cert.as_posix()}"\n',
        encoding="utf-8",
    )
    down = CliRunner().invoke(command, ["renew", str(ers)])
    assert down.exit_code == 1 and down_url in down.output
    assert "nothing was renewed" in down.output
    assert not (cli_env / "hocba.r2.ers").exists()


def test_renewed_path_naming(tmp_path: Path) -> None:
    assert renewed_path(tmp_path / "a.ers").name == "a.r1.ers"
    assert renewed_path(tmp_path / "a.r1.ers").name == "a.r2.ers"
    assert renewed_path(tmp_path / "a.b.ers").name == "a.b.r1.ers"
    (tmp_path / "a.r1.ers").write_bytes(b"")
    assert renewed_path(tmp_path / "a.ers").name == "a.r2.ers"


def test_trust_roots_accept_bytes_and_certificates(http_package, tsa_server: TsaServer) -> None:
    items, records = http_package
    pem = tsa_server.pki.ca_cert.read_bytes()
    assert verify_evidence(items[2], records[2], [pem]).trusted
    assert verify_evidence(items[2], records[2], load_certificates(pem)).trusted
