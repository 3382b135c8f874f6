"""``archiver check``: re-validate an archive offline and name every problem.

Per package: the bag (bagit-python: completeness and every checksum), the package's
index against its files, each report against its original, each evidence record over
its three data objects, the counts in bag-info. Per archive: every package, label,
transcript and quarantined file that ``index.json`` lists is there.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .jsonstream import load_object
from .package import VERDICT_ORDER, published_packages


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
    import bagit

    from .evidence import EvidenceError, verify_evidence

    result = CheckResult()
    if not archive.is_dir():
        result.problems.append(f"{archive}: không phải thư mục lưu trữ / not an archive folder")
        return result
    folders = [p for p in sorted(archive.iterdir()) if p.is_dir() and not p.name.startswith(".")
               and (p / "bagit.txt").is_file()]
    for folder in folders:
        result.packages += 1
        where = folder.name
        try:
            bag = bagit.Bag(str(folder))
            bag.validate(processes=1)
        except bagit.BagValidationError as exc:
            details = "; ".join(str(d) for d in getattr(exc, "details", [])[:5]) or str(exc)
            result.problems.append(f"{where}: gói BagIt không hợp lệ / invalid bag: {details}")
            continue
        except bagit.BagError as exc:
            result.problems.append(f"{where}: không đọc được gói / unreadable bag: {exc}")
            continue
        index_path = folder / "data" / "package.json"
        try:
            meta = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            result.problems.append(f"{where}: data/package.json không đọc được / unreadable: {exc}")
            continue
        counts = Counter()
        for m in meta.get("members", []):
            result.items += 1
            counts[m["verdict"]] += 1
            label = f"{where}/{m['stem']}"
            for kind, rel in m.get("files", {}).items():
                if not (folder / rel).is_file():
                    result.problems.append(f"{label}: thiếu tệp {rel} / missing file")
            original_rel = m["files"].get("xml") or m["files"].get("original")
            try:
                original = (folder / original_rel).read_bytes()
                report_bytes = (folder / m["files"]["report_json"]).read_bytes()
                validation = (folder / m["files"]["validation"]).read_bytes()
            except (OSError, KeyError, TypeError):
                continue
            import hashlib

            if hashlib.sha256(original).hexdigest() != m["sha256"]:
                result.problems.append(f"{label}: tệp gốc khác với mã băm đã ghi / original does not match its hash")
            report = json.loads(report_bytes)
            if report.get("sha256") and report["sha256"] != m["sha256"]:
                result.problems.append(f"{label}: báo cáo không khớp tệp gốc / report is for other bytes")
            if report.get("verdict") != m["verdict"]:
                result.problems.append(f"{label}: kết luận trong báo cáo khác danh mục / verdict differs from the index")
            if evidence and "evidence" in m["files"]:
                try:
                    check = verify_evidence([original, report_bytes, validation],
                                            (folder / m["files"]["evidence"]).read_bytes())
                    result.evidence_checked += 1
                    # Offline, without a TSA trust list, "trusted" cannot be decided; all the
                    # rest (the data, the hash tree, each token's signature and EKU) can.
                    if not (check.hash_chain_intact and check.signatures_valid and check.eku_ok):
                        result.problems.append(
                            f"{label}: hồ sơ bằng chứng không khớp / evidence record does not verify: "
                            + ("; ".join(check.reasons) or "chuỗi băm hỏng / broken hash chain"))
                except (EvidenceError, OSError) as exc:
                    result.problems.append(f"{label}: hồ sơ bằng chứng hỏng / evidence record unreadable: {exc}")
            elif evidence and not meta.get("quarantine") and meta.get("timestamp", {}).get("status") == "done":
                result.problems.append(f"{label}: thiếu hồ sơ bằng chứng / no evidence record")
            if progress:
                progress()
        info = bag.info
        for verdict in VERDICT_ORDER:
            declared = int(info.get(f"Count-{verdict}", "0") or 0)
            if declared != counts[verdict]:
                result.problems.append(f"{where}: bag-info Count-{verdict}={declared} nhưng có {counts[verdict]} "
                                       f"/ count differs")
    pending = archive / ".pending"
    for folder in sorted(pending.iterdir()) if pending.is_dir() else []:
        result.problems.append(f"{folder.name}: đang chờ dấu thời gian, chạy `archiver timestamp --pending` "
                               f"/ waiting for its timestamp")
    index_file = archive / "index.json"
    if index_file.is_file():
        with index_file.open(encoding="utf-8") as fh:
            index = load_object(fh)
        current = {p.name for p in published_packages(archive).values()}
        bags = {folder.name for folder in folders}
        for pkg in index.get("packages", []):
            name = pkg.get("path") or pkg.get("id", "")
            if name not in bags:
                result.problems.append(f"index.json: gói {name} không có trong kho (bị xoá hoặc đổi tên?) / "
                                       "package missing from the archive")
            if pkg.get("label") and not (archive / pkg["label"]).is_file():
                result.problems.append(f"{pkg['label']}: thiếu nhãn in của gói {name} / the package's label is missing")
        for q in index.get("quarantine", []):
            if not (archive / q.get("package", "") / q.get("file", "")).is_file():
                result.problems.append(f"index.json: {q.get('package')}/{q.get('file')} (tệp bị từ chối) không tồn "
                                       "tại / quarantined file missing")
        for t in index.get("transcripts", []):
            if t["package"] not in current:
                result.problems.append(f"index.json: {t['stem']} trỏ tới gói không còn là bản hiện hành / "
                                       f"points to a package that is not current: {t['package']}")
            elif not (archive / t["package"] / t["files"].get("xml", "")).is_file():
                result.problems.append(f"index.json: {t['package']}/{t['files'].get('xml')} không tồn tại / missing")
    elif result.packages:
        result.problems.append("index.json: thiếu / missing (chạy lại archiver build để lập lại / rerun build)")
    return result
