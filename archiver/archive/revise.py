"""New versions of packages that already exist: a completed timestamp, a renewal.

Both keep the archive's rule that a finished package is never rewritten. The package is
checked, copied into ``.staging``, changed there, and sealed under its new name
(:func:`.writer.seal`); a kill at any moment leaves the package as it was:

- a package whose TSA was down waits, complete but for its evidence, in
  ``ARCHIVE/.pending/``; :func:`complete_pending` timestamps it and publishes it (its
  waiting copy is removed only once it is published);
- :func:`renew_archive` performs RFC 4998 renewal (section 5.2) for every current
  package, one TSA request per package, and publishes the result as the package's next
  version (everything else carried bit-exact).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .. import vn
from ..fsutil import write_error
from ..timestamps.package import renewal, stamp_package
from ..timestamps.tsa import Timestamper, TimestampError
from .check import package_problems
from .layout import folder_name
from .premis import append_event
from .records import PackageManifest
from .store import Archive, Package
from .writer import seal, write_stamp


@dataclass
class StampResult:
    packages: list[str] = field(default_factory=list)
    tsa_requests: int = 0
    still_pending: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def complete_pending(archive: Archive, timestamper: Timestamper, tsa_cert: Path | None = None,
                     now: dt.datetime | None = None) -> StampResult:
    """Timestamp and publish every package waiting in ``.pending``, oldest version first."""
    result = StampResult()
    now = now or vn.now()
    for folder in archive.waiting_folders():
        damaged = package_problems(folder, evidence=False)
        if damaged:  # stamping would give new checksums to content changed while it waited
            result.still_pending.append(folder.name)
            result.problems.append(f"{folder.name}: chưa đóng dấu thời gian vì nội dung gói đang chờ đã bị thay đổi "
                                   f"/ not stamped, the waiting package changed: {_first_of(damaged)}")
            continue
        manifest = PackageManifest.read(folder)
        package = Package(folder, manifest.info)
        wanted = manifest.info.timestamp.get("tsa_url")
        if wanted and getattr(timestamper, "url", None) is None:  # the local TSA has no URL
            result.still_pending.append(package.name)
            result.problems.append(f"{package.name}: gói đang chờ dấu thời gian của TSA {wanted} nên không đóng bằng "
                                   f"TSA cục bộ; hãy chạy lại với --tsa-url {wanted} (hoặc ARCHIVER_TSA_URL) / waits "
                                   f"for the TSA at {wanted}: not stamped with the local one; give --tsa-url")
            continue
        try:
            stamp = stamp_package([r.item_digests() for r in manifest.members], timestamper, tsa_cert)
        except TimestampError as exc:
            result.still_pending.append(package.name)
            result.problems.append(f"{package.name}: {exc}")
            continue
        result.tsa_requests += 1
        try:
            staging = archive.copy_to_staging(package)
            write_stamp(staging, manifest.members, stamp)
            manifest.info.timestamp = stamp.info
            append_event(staging / "data" / "premis.xml", "message digest calculation",
                         "Dấu thời gian RFC 3161 bổ sung cho gói đang chờ / pending timestamp completed", now)
            seal(archive, staging, manifest, replaces_waiting=True)
        except OSError as exc:
            raise write_error(exc, archive.root / package.name) from None
        result.packages.append(package.name)
    return result


def renew_archive(archive: Archive, timestamper: Timestamper, tsa_cert: Path | None = None,
                  now: dt.datetime | None = None, hash_tree: str | None = None) -> StampResult:
    """Renewal of every current package's evidence records, as new versions: timestamp
    renewal, or with ``hash_tree`` (an algorithm name) hash-tree renewal over the data."""
    result = StampResult()
    now = now or vn.now()
    for package in sorted(archive.packages().values(), key=lambda p: p.name):
        manifest = package.manifest()
        with_evidence = [r for r in manifest.members if "evidence" in r.files]
        if not with_evidence:
            continue
        damaged = package_problems(package.path)
        if damaged:  # renewing would vouch for content or records that no longer prove anything
            result.problems.append(f"{package.name}: không gia hạn, gói có vấn đề / not renewed, the package has "
                                   f"problems: {_first_of(damaged)}; chạy / run `archiver check`")
            continue
        try:
            old = [(package.path / r.files["evidence"]).read_bytes() for r in with_evidence]
            data = [package.data_objects(r) for r in with_evidence] if hash_tree else None
            stamp = renewal(old, timestamper, len(manifest.info.renewals) + 1, tsa_cert=tsa_cert, data=data,
                            hash_tree=hash_tree)
        except TimestampError as exc:
            result.problems.append(f"{package.name}: {exc}")
            continue
        except OSError as exc:
            raise write_error(exc, package.path) from None
        result.tsa_requests += 1
        name = folder_name(package.base_name, package.version + 1)
        try:
            staging = archive.copy_to_staging(package)
            write_stamp(staging, with_evidence, stamp)
            info = manifest.info
            info.renewals.append(stamp.info)
            info.package_id, info.version, info.previous_version = name, package.version + 1, package.name
            info.created = now.isoformat(timespec="seconds")
            kind = (f"gia hạn cây băm bằng {hash_tree} / hash-tree renewal under {hash_tree}" if hash_tree
                    else "gia hạn dấu thời gian / timestamp renewal")
            append_event(staging / "data" / "premis.xml", "message digest calculation",
                         f"Hồ sơ bằng chứng được gia hạn (RFC 4998 mục 5.2): {kind}; previous version {package.name}",
                         now)
            seal(archive, staging, manifest)
        except OSError as exc:
            raise write_error(exc, archive.root / name) from None
        result.packages.append(name)
    return result


def _first_of(problems: list[str]) -> str:
    """The first problem, and how many more (all of them: `archiver check`)."""
    return problems[0] + (f" (+{len(problems) - 1})" if len(problems) > 1 else "")


__all__ = ["Package", "StampResult", "complete_pending", "renew_archive"]
