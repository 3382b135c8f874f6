"""Stage 5 after the fact: completing pending timestamps, renewing evidence records.

Both keep the archive's rule that a published package is never rewritten:

- a package whose TSA was down waits, complete but for its evidence, in
  ``ARCHIVE/.pending/``; :func:`complete_pending` timestamps it and publishes it;
- :func:`renew_archive` performs RFC 4998 timestamp renewal (section 5.2) for every
  current package, one TSA request per package, and publishes the result as the next
  version of the package (everything else carried bit-exact).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .check import package_problems
from .fsutil import ArchiveWriteError, describe_os_error, new_staging_dir, publish_dir, write_file
from .package import (
    _write_timestamp,
    item_kinds,
    premis_event,
    published_packages,
    write_package_readme,
    write_tree_root_script,
)

PENDING = ".pending"


@dataclass
class StampResult:
    packages: list[str] = field(default_factory=list)
    tsa_requests: int = 0
    still_pending: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _premis_event(data: Path, kind: str, detail: str, when: dt.datetime) -> None:
    from lxml import etree

    path = data / "premis.xml"
    root = etree.parse(str(path)).getroot()
    premis_event(root, f"{kind}-{when:%Y%m%dT%H%M%S}", kind, detail, "success", when, [])
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _rebag(folder: Path, updates: dict[str, str]) -> None:
    import bagit

    bag = bagit.Bag(str(folder))
    bag.info.update(updates)
    bag.save(manifests=True)


def complete_pending(archive: Path, timestamper, tsa_cert: Path | None = None,
                     now: dt.datetime | None = None) -> StampResult:
    from .evidence import build_evidence, evidence_tokens
    from .label import write_label
    from .tsa import TimestampError

    result = StampResult()
    now = now or dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    pending = archive / PENDING
    for folder in sorted(p for p in pending.iterdir() if p.is_dir()) if pending.is_dir() else []:
        data = folder / "data"
        damaged = package_problems(folder, evidence=False)
        if damaged:  # stamping would give new checksums to content changed while it waited
            result.still_pending.append(folder.name)
            result.problems.append(f"{folder.name}: chưa đóng dấu thời gian vì nội dung gói đang chờ đã bị thay đổi / not "
                                   f"stamped, the waiting package changed: {_first_of(damaged)}")
            continue
        meta = json.loads((data / "package.json").read_text(encoding="utf-8"))
        members = meta["members"]
        wanted = meta.get("timestamp", {}).get("tsa_url")
        if wanted and getattr(timestamper, "url", None) is None:  # the local TSA has no URL
            result.still_pending.append(folder.name)
            result.problems.append(f"{folder.name}: gói đang chờ dấu thời gian của TSA {wanted} nên không đóng bằng TSA "
                                   f"cục bộ; hãy chạy lại với --tsa-url {wanted} (hoặc ARCHIVER_TSA_URL) / waits for the TSA at "
                                   f"{wanted}: not stamped with the local one; give --tsa-url")
            continue
        items = [[bytes.fromhex(m["hashes"][k]) for k in item_kinds(m["hashes"])] for m in members]
        try:
            records = build_evidence(items, timestamper, prehashed=True)
        except TimestampError as exc:
            result.still_pending.append(folder.name)
            result.problems.append(f"{folder.name}: {exc}")
            continue
        result.tsa_requests += 1
        try:
            (data / "evidence").mkdir(exist_ok=True)
            for m, record in zip(members, records):
                rel = f"evidence/{m['stem']}.ers"
                write_file(data / rel, record)
                m["files"]["evidence"] = f"data/{rel}"
                import hashlib

                m["hashes"]["evidence"] = hashlib.sha256(record).hexdigest()
            meta["timestamp"] = _write_timestamp(data, evidence_tokens(records[0])[0], str(tsa_cert) if tsa_cert else None)
            write_file(data / "package.json", json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
            write_package_readme(data / "README.txt", meta, len(members))
            write_tree_root_script(data)
            _premis_event(data, "message digest calculation",
                          "Dấu thời gian RFC 3161 bổ sung cho gói đang chờ / pending timestamp completed", now)
            _rebag(folder, {"Timestamp-Status": "local" if meta["timestamp"].get("local") else "tsa"})
            final = archive / folder.name
            publish_dir(folder, final)
            write_label(archive, final, meta)
        except OSError as exc:
            raise ArchiveWriteError(describe_os_error(exc, folder)) from None
        result.packages.append(folder.name)
    return result


def _first_of(problems: list[str]) -> str:
    """The first problem, and how many more (all of them: `archiver check`)."""
    return problems[0] + (f" (+{len(problems) - 1})" if len(problems) > 1 else "")


def renew_archive(archive: Path, timestamper, tsa_cert: Path | None = None,
                  now: dt.datetime | None = None, hash_tree: str | None = None) -> StampResult:
    """Renewal of every current package's evidence records, as new versions: timestamp
    renewal, or with ``hash_tree`` (an algorithm name) hash-tree renewal over the data."""
    from .evidence import evidence_tokens, renew, renew_hash_tree
    from .package import item_objects
    from .label import write_label
    from .tsa import TimestampError

    result = StampResult()
    now = now or dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    for pkg in sorted(published_packages(archive).values(), key=lambda p: p.name):
        with_evidence = [m for m in pkg.members if "evidence" in m.files]
        if not with_evidence:
            continue
        old = [(pkg.path / m.files["evidence"]).read_bytes() for m in with_evidence]
        damaged = package_problems(pkg.path)
        if damaged:  # renewing would vouch for content or records that no longer prove anything
            result.problems.append(f"{pkg.name}: không gia hạn, gói có vấn đề / not renewed, the package has "
                                   f"problems: {_first_of(damaged)}; chạy / run `archiver check`")
            continue
        try:
            if hash_tree:
                renewed = renew_hash_tree([(item_objects(pkg.path, m.files), record)
                                           for m, record in zip(with_evidence, old)], timestamper,
                                          algorithm=hash_tree)
            else:
                renewed = renew(old, timestamper)
        except TimestampError as exc:
            result.problems.append(f"{pkg.name}: {exc}")
            continue
        result.tsa_requests += 1
        name = f"{pkg.base_name}_v{pkg.version + 1}"
        try:
            staging = new_staging_dir(archive, name)
            shutil.rmtree(staging)
            shutil.copytree(pkg.path, staging)
            data = staging / "data"
            import hashlib

            for m, record in zip(with_evidence, renewed):
                write_file(staging / m.files["evidence"], record)
                m.hashes["evidence"] = hashlib.sha256(record).hexdigest()
            meta = json.loads((data / "package.json").read_text(encoding="utf-8"))
            by_stem = {m.stem: m for m in with_evidence}
            for entry in meta["members"]:
                if entry["stem"] in by_stem:
                    entry["hashes"]["evidence"] = by_stem[entry["stem"]].hashes["evidence"]
            renewal = _write_timestamp(data, evidence_tokens(renewed[0])[-1], str(tsa_cert) if tsa_cert else None,
                                       name=f"renewal-{len(meta.get('renewals', [])) + 1}")
            renewal["status"] = "done"
            renewal["kind"] = f"hash-tree {hash_tree}" if hash_tree else "timestamp"
            meta["renewals"] = [*meta.get("renewals", []), renewal]
            meta.update(package_id=name, version=pkg.version + 1, previous_version=pkg.name,
                        created=now.isoformat(timespec="seconds"))
            write_file(data / "package.json", json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
            write_package_readme(data / "README.txt", meta, len(meta["members"]))
            write_tree_root_script(data)
            kind = (f"gia hạn cây băm bằng {hash_tree} / hash-tree renewal under {hash_tree}" if hash_tree
                    else "gia hạn dấu thời gian / timestamp renewal")
            _premis_event(data, "message digest calculation",
                          f"Hồ sơ bằng chứng được gia hạn (RFC 4998 mục 5.2): {kind}; previous version {pkg.name}",
                          now)
            _rebag(staging, {"External-Identifier": name, "Package-Id": name,
                             "Package-Version": str(pkg.version + 1),
                             "Created": now.isoformat(timespec="seconds")})
            publish_dir(staging, archive / name)
            write_label(archive, archive / name, meta)
        except OSError as exc:
            raise ArchiveWriteError(describe_os_error(exc, archive / name)) from None
        result.packages.append(name)
    return result
