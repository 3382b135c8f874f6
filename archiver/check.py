"""``archiver check``: re-validate an archive offline and name every problem.

Per package: the bag (completeness and every checksum, file by file, from the manifests
bagit-python reads), every file against the hash ``package.json`` records for it, each
report against its original, each evidence record over its three data objects, the
package's RFC 3161 token against the hash tree of its members and the TSA recorded, the
counts in bag-info. Per archive: ``index.json`` (what the site shows) against the
packages: every package, label, transcript and quarantined file, their verdicts and
hashes, and the tag-manifest hash printed on each label.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .jsonstream import load_object
from .package import VERDICT_ORDER, item_kinds, item_objects, published_packages, token_facts


@dataclass
class CheckResult:
    packages: int = 0
    items: int = 0
    evidence_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_archive(archive: Path, *, evidence: bool = True, progress=None) -> CheckResult:
    import logging

    # bagit-python logs each problem as it goes; they are all in result.problems, said once
    quiet = logging.getLogger("bagit")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return _check_archive(archive, evidence=evidence, progress=progress)
    finally:
        quiet.setLevel(level)


def _check_archive(archive: Path, *, evidence: bool, progress) -> CheckResult:
    result = CheckResult()
    if not archive.is_dir():
        result.problems.append(f"{archive}: không phải thư mục lưu trữ / not an archive folder")
        return result
    folders = [p for p in sorted(archive.iterdir()) if p.is_dir() and not p.name.startswith(".")
               and (p / "bagit.txt").is_file()]
    if not folders and not (archive / "index.json").is_file() and not (archive / ".pending").is_dir():
        # an unmounted USB stick or a mistyped path must not pass a scheduled fixity check
        result.problems.append(f"{archive}: không phải kho lưu trữ archiver (không có gói nào, không có index.json) "
                               "/ not an archive: no packages and no index.json")
        return result
    metas: dict[str, dict[str, Any]] = {}
    for folder in folders:
        result.packages += 1
        meta = _check_package(folder, result, evidence=evidence, progress=progress)
        if meta is not None:
            metas[folder.name] = meta
    pending = archive / ".pending"
    for folder in sorted(pending.iterdir()) if pending.is_dir() else []:
        result.problems.append(f"{folder.name}: đang chờ dấu thời gian, chạy `archiver timestamp --pending` "
                               f"/ waiting for its timestamp")
    _check_index(archive, folders, metas, result)
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The files of a bag outside ``data/``; anything else there is named.
_TAG_FILES = re.compile(r"^(bagit\.txt|bag-info\.txt|(tag)?manifest-[a-z0-9]+\.txt)$")


def _check_bag(folder: Path, where: str, problems: list[str], sha256: dict[str, str]) -> Any:
    """Completeness and fixity of one bag, file by file (bagit-python reads the manifests;
    its own validate() stops at the first kind of problem and names few files). Fills
    ``sha256`` with each file's digest as read, for the checks that follow."""
    import bagit

    try:
        bag = bagit.Bag(str(folder))
    except bagit.BagError as exc:
        problems.append(f"{where}: không đọc được gói BagIt / unreadable bag: {exc}")
        return None
    only_listed, only_present = bag.compare_manifests_with_fs()
    for rel in sorted(only_listed):
        problems.append(f"{where}: thiếu tệp {rel} (có trong danh sách mã băm) / file missing")
    for rel in sorted(only_present):
        problems.append(f"{where}: tệp lạ {rel} (không có trong danh sách mã băm) / file not in the manifest")
    for rel, expected in sorted(bag.entries.items()):
        path = folder / rel
        if not path.is_file():
            if not rel.startswith("data/"):
                problems.append(f"{where}: thiếu tệp {rel} / tag file missing")
            continue
        digests = {algorithm: hashlib.new(algorithm) for algorithm in sorted({*expected, "sha256"})}
        with path.open("rb") as fh:  # every algorithm in one read
            for block in iter(lambda: fh.read(1 << 20), b""):
                for digest in digests.values():
                    digest.update(block)
        sha256[rel] = digests["sha256"].hexdigest()
        wrong = [a for a in expected if digests[a].hexdigest() != expected[a].lower()]
        if wrong:
            problems.append(f"{where}: {rel} đã bị thay đổi (mã băm {wrong[0]} khác danh sách) / checksum mismatch")
    for required in ("tagmanifest-sha256.txt", "manifest-sha256.txt"):
        if not (folder / required).is_file():  # archiver writes both; the label prints the first's hash
            problems.append(f"{where}: thiếu {required} / {required} missing")
    for path in sorted(folder.iterdir()):
        if path.is_file() and not _TAG_FILES.match(path.name) and path.name not in bag.entries:
            problems.append(f"{where}: tệp lạ {path.name} cạnh bagit.txt / unexpected file in the bag")
    oxum = bag.info.get("Payload-Oxum", "")
    if oxum and not only_listed and not only_present:
        files = [p for p in (folder / "data").rglob("*") if p.is_file()]
        actual = f"{sum(p.stat().st_size for p in files)}.{len(files)}"
        if oxum != actual:
            problems.append(f"{where}: Payload-Oxum {oxum} khác thực tế {actual} / payload size or count differs")
    return bag


def _check_package(folder: Path, result: CheckResult, *, evidence: bool, progress) -> dict[str, Any] | None:
    """Every check of one package; returns its package.json (None when unreadable)."""
    from .evidence import EvidenceError, evidence_tokens, verify_evidence

    where = folder.name
    problems = result.problems
    read: dict[str, str] = {}  # SHA-256 of each file, as the bag check read it

    def digest_of(rel: str) -> str:
        if rel not in read:
            read[rel] = _sha256(folder / rel)
        return read[rel]

    bag = _check_bag(folder, where, problems, read)
    try:
        meta = json.loads((folder / "data" / "package.json").read_text(encoding="utf-8"))
        members = list(meta["members"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"{where}: data/package.json không đọc được / unreadable: {exc}")
        return None
    if meta.get("package_id") and meta["package_id"] != folder.name:
        problems.append(f"{where}: thư mục gói mang tên khác mã gói {meta['package_id']} (bị đổi tên?) / "
                        "the folder name differs from the package id")
    counts: Counter = Counter()
    tokens: list[tuple[str, bytes]] = []  # (member, the first token of its record)
    groups: list[list[bytes]] = []
    for m in members:
        result.items += 1
        counts[m.get("verdict")] += 1
        label = f"{where}/{m.get('stem')}"
        files, recorded = m.get("files", {}), m.get("hashes", {})
        for kind, rel in sorted(files.items()):
            path = folder / rel
            if not path.is_file():
                problems.append(f"{label}: thiếu tệp {rel} / missing file")
            elif kind in recorded and digest_of(rel) != recorded[kind]:
                problems.append(f"{label}: {rel} khác mã băm ghi trong package.json / differs from its recorded hash")
        try:
            objects = item_objects(folder, files)
        except (OSError, KeyError, TypeError):
            objects = []
        if objects:
            groups.append([bytes.fromhex(digest_of(files[k])) for k in item_kinds(files)])
            report_bytes = objects[1] if len(objects) > 1 else b"{}"
            if groups[-1][0].hex() != m.get("sha256"):
                problems.append(f"{label}: tệp gốc khác với mã băm đã ghi / original does not match its hash")
            try:
                report = json.loads(report_bytes)
            except ValueError:
                problems.append(f"{label}: báo cáo JSON không đọc được / report unreadable")
                report = {}
            if report.get("sha256") and report["sha256"] != m.get("sha256"):
                problems.append(f"{label}: báo cáo không khớp tệp gốc / report is for other bytes")
            if report.get("verdict") != m.get("verdict"):
                problems.append(f"{label}: kết luận trong báo cáo khác danh mục / verdict differs from the index")
        if evidence and "evidence" in files and objects:
            try:
                ers = (folder / files["evidence"]).read_bytes()
                check = verify_evidence(objects, ers)
                result.evidence_checked += 1
                tokens.append((label, evidence_tokens(ers)[0]))
                # Offline, without a TSA trust list, "trusted" cannot be decided; all the
                # rest (the data, the hash tree, each token's signature and EKU) can.
                if not (check.hash_chain_intact and check.signatures_valid and check.eku_ok):
                    problems.append(
                        f"{label}: hồ sơ bằng chứng không khớp / evidence record does not verify: "
                        + ("; ".join(check.reasons) or "chuỗi băm hỏng / broken hash chain"))
            except (EvidenceError, OSError) as exc:
                problems.append(f"{label}: hồ sơ bằng chứng hỏng / evidence record unreadable: {exc}")
        elif evidence and not meta.get("quarantine") and meta.get("timestamp", {}).get("status") == "done":
            problems.append(f"{label}: thiếu hồ sơ bằng chứng / no evidence record")
        if progress:
            progress()
    if evidence and meta.get("timestamp", {}).get("status") == "done" and len(groups) == len(members):
        _check_package_timestamp(folder, meta, groups, tokens, problems)
    if bag is not None:
        for verdict in VERDICT_ORDER:
            try:
                declared = int(bag.info.get(f"Count-{verdict}", "0") or 0)
            except ValueError:
                declared = -1
            if declared != counts[verdict]:
                problems.append(f"{where}: bag-info Count-{verdict}={declared} nhưng có {counts[verdict]} "
                                f"/ count differs")
    return meta


def _check_package_timestamp(folder: Path, meta: dict[str, Any], groups: list[list[bytes]],
                             tokens: list[tuple[str, bytes]], problems: list[str]) -> None:
    """The package's RFC 3161 token covers the hash tree of exactly these members, and
    every evidence record rests on that token, from the TSA package.json names."""
    where = folder.name
    stamp = meta["timestamp"]
    token_path = folder / stamp.get("token", "data/timestamp/package.tst")
    try:
        token = token_path.read_bytes()
        facts = token_facts(token)
    except (OSError, ValueError) as exc:
        problems.append(f"{where}: dấu thời gian của gói không đọc được / package timestamp unreadable: {exc}")
        return
    from .evidence import EvidenceError, hash_tree_root

    try:
        root = hash_tree_root(groups, facts["algorithm"]) if groups else b""
    except (ValueError, EvidenceError):
        root = b""
    if facts["algorithm"] == "sha256" and root != facts["imprint"]:
        problems.append(f"{where}: dấu thời gian của gói không khớp nội dung gói (cây băm khác) / the package "
                        "timestamp does not cover this content")
    root_file = token_path.parent / "root.sha256.txt"
    if stamp.get("root_sha256") != facts["imprint"].hex() or (
            root_file.is_file() and root_file.read_text(encoding="ascii", errors="replace").strip()
            != facts["imprint"].hex()):
        problems.append(f"{where}: gốc cây băm ghi trong gói khác dấu thời gian / the recorded tree root differs "
                        "from the token")
    if stamp.get("tsa") != facts["tsa"] or bool(stamp.get("local")) != facts["local"]:
        problems.append(f"{where}: đơn vị cấp dấu thời gian khác package.json ({facts['tsa']}) / the token's TSA "
                        "differs from the one recorded")
    others = [label for label, first in tokens if first != token]
    if others:
        problems.append(f"{where}: {len(others)} hồ sơ bằng chứng không dựa trên dấu thời gian của gói "
                        f"({', '.join(others[:3])}{'…' if len(others) > 3 else ''}) / evidence records that do "
                        "not rest on the package timestamp")


def _check_index(archive: Path, folders: list[Path], metas: dict[str, dict[str, Any]], result: CheckResult) -> None:
    """``index.json`` (what the site shows) against the packages themselves."""
    problems = result.problems
    index_file = archive / "index.json"
    if not index_file.is_file():
        if result.packages:
            problems.append("index.json: thiếu / missing (chạy lại archiver build để lập lại / rerun build)")
        return
    try:
        with index_file.open(encoding="utf-8") as fh:
            index = load_object(fh)
        if not isinstance(index, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        problems.append(f"index.json: không đọc được, chạy lại archiver build để lập lại / unreadable, rerun "
                        f"build: {exc}")
        return
    current = {p.name for p in published_packages(archive).values()}
    bags = {folder.name for folder in folders}
    gone: set[str] = set()  # said once for the package, not again for each transcript
    for pkg in index.get("packages", []):
        name = pkg.get("path") or pkg.get("id", "")
        if name not in bags:
            gone.add(name)
            problems.append(f"index.json: gói {name} không có trong kho (bị xoá hoặc đổi tên?) / "
                            "package missing from the archive")
            continue
        tag_manifest = archive / name / "tagmanifest-sha256.txt"
        if pkg.get("tag_manifest_sha256") and (not tag_manifest.is_file()
                                               or _sha256(tag_manifest) != pkg["tag_manifest_sha256"]):
            problems.append(f"{name}: tagmanifest-sha256.txt khác mã băm trong index.json và trên nhãn / the tag "
                            "manifest differs from the one recorded in the index and on the label")
        if pkg.get("label") and not (archive / pkg["label"]).is_file():
            problems.append(f"{pkg['label']}: thiếu nhãn in của gói {name} / the package's label is missing")
        meta = metas.get(name)
        if meta is not None and pkg.get("counts") is not None:
            counts = Counter(m.get("verdict") for m in meta.get("members", []))
            if {k: v for k, v in pkg["counts"].items() if v} != {k: v for k, v in counts.items() if v}:
                problems.append(f"index.json: số học bạ theo kết luận của gói {name} khác gói / counts differ "
                                "from the package")
    listed: set[tuple[str, str]] = set()
    for q in index.get("quarantine", []):
        name, rel = q.get("package", ""), q.get("file", "")
        listed.add((name, rel))
        if not (archive / name / rel).is_file():
            problems.append(f"index.json: {name}/{rel} (tệp bị từ chối) không tồn tại / quarantined file missing")
            continue
        if q.get("sha256") and _sha256(archive / name / rel) != q["sha256"]:
            problems.append(f"index.json: {name}/{rel} khác mã băm trong index.json / differs from the index")
    for t in index.get("transcripts", []):
        name, stem = t.get("package", ""), t.get("stem", "")
        listed.add((name, stem))
        if name in gone:
            continue
        if name not in current:
            problems.append(f"index.json: {stem} trỏ tới gói không còn là bản hiện hành / "
                            f"points to a package that is not current: {name}")
            continue
        member = next((m for m in metas.get(name, {}).get("members", []) if m.get("stem") == stem), None)
        if member is None:
            if name in metas:
                problems.append(f"index.json: {name}/{stem} không có trong gói / not in the package")
            elif not (archive / name / t.get("files", {}).get("xml", "")).is_file():
                problems.append(f"index.json: {name}/{t.get('files', {}).get('xml')} không tồn tại / missing")
            continue
        if t.get("verdict") != member.get("verdict"):
            problems.append(f"index.json: {name}/{stem} ghi kết luận {t.get('verdict')}, gói ghi "
                            f"{member.get('verdict')} / the verdict differs from the package")
        for kind, value in (t.get("sha256") or {}).items():
            if member.get("hashes", {}).get(kind) != value:
                problems.append(f"index.json: {name}/{stem} mã băm {kind} khác gói / {kind} hash differs from "
                                "the package")
    for name in sorted(current & set(metas)):
        for m in metas[name].get("members", []):
            rel = m.get("files", {}).get("original")
            key = (name, rel) if metas[name].get("quarantine") and rel else (name, m.get("stem"))
            if key not in listed:
                problems.append(f"index.json: thiếu {name}/{m.get('stem')} (có trong gói) / missing from the index")


def package_problems(folder: Path, *, evidence: bool = True) -> list[str]:
    """Every problem of one package folder (published or waiting in ``.pending``):
    what must be empty before a package is stamped or renewed, so that new checksums
    never vouch for content that changed since it was packaged."""
    result = CheckResult()
    _check_package(folder, result, evidence=evidence, progress=None)
    return result.problems
