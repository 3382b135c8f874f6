"""``archiver check``: re-validate an archive offline and name every problem.

Per package: the bag (every file that archiver writes is there, no other; every file
against both payload manifests and every tag file against both tag manifests: with two
independent manifests, a damaged manifest line is told apart from a damaged file), every
file against the hash ``package.json`` records for it, each record against its transcript's
own content, each report against its original, each evidence record over its three data
objects, the package's RFC 3161 token against the hash tree of its members and the TSA
recorded, the counts in bag-info. Per archive: ``index.json`` against what the packages
say it must hold, field by field; the site against the pages that index gives (made
again, compared byte for byte); every package's printable label.

Nothing in an archive is trusted to be well formed: any byte of any file may be wrong,
and each is named, never met with a traceback.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..fsutil import scratch_folder
from ..jsonstream import load_object
from .bag import Manifest, file_digests, read_manifests
from .index import expected_index, index_bytes
from .layout import (
    INDEX,
    PENDING,
    REPORT_HTML,
    REPORT_JSON,
    SITE,
    TAG_FILES,
    label_name,
)
from .records import (
    VERDICT_ORDER,
    PackageManifest,
    PackageUnreadable,
    TranscriptRecord,
    content_facts,
)
from .store import Archive, data_objects
from .trust import timestamp_problems


@dataclass
class CheckResult:
    packages: int = 0
    items: int = 0
    evidence_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_archive(archive: Path, *, evidence: bool = True, progress: Callable[[], None] | None = None) -> CheckResult:
    result = CheckResult()
    if not archive.is_dir():
        result.problems.append(f"{archive}: không phải thư mục lưu trữ / not an archive folder")
        return result
    store = Archive(archive)
    folders = store.bag_folders()
    if not folders and not (archive / INDEX).is_file() and not (archive / PENDING).is_dir():
        # an unmounted USB stick or a mistyped path must not pass a scheduled fixity check
        result.problems.append(f"{archive}: không phải kho lưu trữ archiver (không có gói nào, không có index.json) "
                               "/ not an archive: no packages and no index.json")
        return result
    unreadable: set[str] = set()
    for folder in folders:
        result.packages += 1
        if not _check_package_guarded(folder, result, evidence=evidence, progress=progress):
            unreadable.add(folder.name)
        if not store.label_path(folder.name).is_file():
            result.problems.append(f"{label_name(folder.name)}: thiếu nhãn in của gói {folder.name} / the package's "
                                   "label is missing")
    pending = archive / PENDING
    for folder in sorted(pending.iterdir()) if pending.is_dir() else []:
        result.problems.append(f"{folder.name}: đang chờ dấu thời gian, chạy `archiver timestamp --pending` "
                               f"/ waiting for its timestamp")
    if _check_index(store, result, unreadable):
        _check_site(store, result)
    _check_media_records(archive, result)
    from ..replication.log import log_problems  # the audit log and PREMIS events beside the packages

    result.problems += log_problems(archive)
    return result


def _check_media_records(archive: Path, result: CheckResult) -> None:
    """The records of the media sets written from the archive (``media/<set>.json``)."""
    from ..media.record import record_problems

    try:
        result.problems.extend(record_problems(archive))
    except Exception as exc:  # noqa: BLE001 - a damaged record is named, never raised
        result.problems.append(f"media: không kiểm tra được bản ghi bộ đĩa ({type(exc).__name__}: {exc}) / the media "
                               "records could not be checked")


def package_problems(folder: Path, *, evidence: bool = True) -> list[str]:
    """Every problem of one package folder (published or waiting in ``.pending``):
    what must be empty before a package is stamped or renewed, so that new checksums
    never vouch for content that changed since it was packaged."""
    result = CheckResult()
    _check_package_guarded(folder, result, evidence=evidence, progress=None)
    return result.problems


# -- the bag ---------------------------------------------------------------------------------
@dataclass
class _Files:
    """What the bag check read: each file's digests (sha256 and sha512) by path."""

    folder: Path
    digests: dict[str, dict[str, str]] = field(default_factory=dict)

    def sha256(self, rel: str) -> str:
        if rel not in self.digests:
            self.digests[rel] = file_digests(self.folder / rel)[0]
        return self.digests[rel]["sha256"]


def _check_bag(folder: Path, where: str, problems: list[str]) -> _Files:
    files = _Files(folder)
    payload, tags = read_manifests(folder)
    for name in TAG_FILES:
        if not (folder / name).is_file():  # archiver writes all six; the label prints one's hash
            problems.append(f"{where}: thiếu {name} / {name} missing")
    for manifest in (*payload, *tags):
        for problem in manifest.problems:
            problems.append(f"{where}: {manifest.name} hỏng, {problem} / the manifest is damaged")
    on_disk = sorted(p.relative_to(folder).as_posix() for p in (folder / "data").rglob("*") if p.is_file()) \
        if (folder / "data").is_dir() else []
    at_root = sorted(p.name for p in folder.iterdir() if p.is_file())
    for path in at_root:
        if path not in TAG_FILES:
            problems.append(f"{where}: tệp lạ {path} (không có trong danh sách mã băm) / unexpected file in the bag")
    for rel in on_disk + [n for n in at_root if n in TAG_FILES]:
        files.digests[rel] = file_digests(folder / rel)[0]
    _against(files, payload, on_disk, where, problems)
    _against(files, tags, [n for n in at_root if n in TAG_FILES and not n.startswith("tagmanifest-")], where,
             problems)
    oxum = _bag_info(folder).get("Payload-Oxum", "")
    actual = f"{sum((folder / rel).stat().st_size for rel in on_disk)}.{len(on_disk)}"
    named = {rel for m in payload if m.present for rel in m.entries}
    if oxum and oxum != actual and named == set(on_disk):  # else the files are named instead of a count
        problems.append(f"{where}: Payload-Oxum {oxum} khác thực tế {actual} / payload size or count differs")
    return files


def _against(files: _Files, manifests: list[Manifest], present: list[str], where: str, problems: list[str]) -> None:
    """Files against the manifests that list them. A file that matches one manifest but not
    the other is intact: the other manifest's line is what is wrong."""
    usable = [m for m in manifests if m.present]
    listed = sorted({rel for m in usable for rel in m.entries})
    for rel in listed:
        if rel not in files.digests:
            if not (files.folder / rel).exists():
                problems.append(f"{where}: thiếu tệp {rel} (có trong danh sách mã băm) / file missing")
            continue
        held = [m for m in usable if rel in m.entries]
        wrong = [m for m in held if files.digests[rel][m.algorithm] != m.entries[rel]]
        if wrong and len(wrong) == len(held):
            problems.append(f"{where}: {rel} đã bị thay đổi (mã băm khác danh sách) / checksum mismatch")
        for m in wrong if len(wrong) < len(held) else ():
            problems.append(f"{where}: {m.name} ghi sai mã băm của {rel} (tệp khớp với danh sách kia) / the "
                            f"manifest line is wrong, the file matches the other manifest")
        for m in usable:
            if rel not in m.entries and held:
                problems.append(f"{where}: {m.name} thiếu dòng của {rel} / the manifest lacks {rel}")
    for rel in present:
        if rel not in listed and usable:
            problems.append(f"{where}: tệp lạ {rel} (không có trong danh sách mã băm) / file not in the manifest")


def _bag_info(folder: Path) -> dict[str, str]:
    try:
        text = (folder / "bag-info.txt").read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if sep:
            found[label.strip()] = value.strip()
    return found


# -- the package -------------------------------------------------------------------------------
def _check_package_guarded(folder: Path, result: CheckResult, *, evidence: bool, progress) -> bool:
    """:func:`_check_package`, which names what it finds; whatever else goes wrong while
    reading the package is named too, never a traceback. False when package.json could
    not be read."""
    try:
        return _check_package(folder, result, evidence=evidence, progress=progress)
    except Exception as exc:  # noqa: BLE001 - a damaged archive must never stop the check
        result.problems.append(f"{folder.name}: không kiểm tra hết được gói ({type(exc).__name__}: {exc}) / the "
                               "package could not be checked to the end")
        return True


def _check_package(folder: Path, result: CheckResult, *, evidence: bool, progress) -> bool:
    where = folder.name
    problems = result.problems
    files = _check_bag(folder, where, problems)
    try:
        manifest = PackageManifest.read(folder)
    except PackageUnreadable as exc:
        problems.append(f"{where}: data/package.json không đọc được / unreadable: {exc}")
        return False
    info = manifest.info
    if info.package_id != folder.name:
        problems.append(f"{where}: thư mục gói mang tên khác mã gói {info.package_id} (bị đổi tên?) / "
                        "the folder name differs from the package id")
    tokens: list[tuple[str, list[bytes]]] = []  # (member, the tokens of its record)
    complete = True  # every member's data objects could be read (the tree can be made again)
    for record in manifest.members:
        result.items += 1
        label = f"{where}/{record.stem}"
        readable = _check_member(folder, record, info.quarantine, files, label, problems)
        complete &= readable
        if evidence and "evidence" in record.files and readable:
            found = _check_evidence(folder, record, label, problems)
            result.evidence_checked += found is not None
            if found is not None:
                tokens.append((label, found))
        elif evidence and not info.quarantine and info.stamped and "evidence" not in record.files:
            problems.append(f"{label}: thiếu hồ sơ bằng chứng / no evidence record")
        if progress:
            progress()
    if evidence and info.stamped and complete:
        _check_package_timestamp(folder, manifest, files, tokens, problems)
    counts = Counter(r.verdict for r in manifest.members)
    declared = _bag_info(folder)
    for verdict in VERDICT_ORDER:
        try:
            number = int(declared.get(f"Count-{verdict}", "0") or 0)
        except ValueError:
            number = -1
        if number != counts[verdict]:
            problems.append(f"{where}: bag-info Count-{verdict}={number} nhưng có {counts[verdict]} / count differs")
    return True


def _check_member(folder: Path, record: TranscriptRecord, quarantine: bool, files: _Files, label: str,
                  problems: list[str]) -> bool:
    """A member's files against its record; its record against its report and its XML.
    True when its data objects (original, report, validation data) can be read."""
    intact = True
    for kind, rel in sorted(record.files.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{label}: thiếu tệp {rel} / missing file")
            intact = False
        elif kind in record.hashes and files.sha256(rel) != record.hashes[kind]:
            problems.append(f"{label}: {rel} khác mã băm ghi trong package.json / differs from its recorded hash")
            intact = False
    kinds = record.evidence_kinds
    if not kinds or any(not (folder / record.files[k]).is_file() for k in kinds):
        return False
    if files.sha256(record.files[record.original]) != record.sha256:
        problems.append(f"{label}: tệp gốc khác với mã băm đã ghi / original does not match its hash")
    report: Any = {}
    if "report_json" in record.files:
        try:
            report = json.loads((folder / record.files["report_json"]).read_bytes().decode("utf-8"))
        except ValueError:  # UnicodeDecodeError included
            problems.append(f"{label}: báo cáo JSON không đọc được / report unreadable")
    if not isinstance(report, dict):
        problems.append(f"{label}: báo cáo JSON không phải đối tượng / report is not a JSON object")
        report = {}
    if report.get("sha256") and report["sha256"] != record.sha256:
        problems.append(f"{label}: báo cáo không khớp tệp gốc / report is for other bytes")
    if report.get("verdict") != record.verdict:
        problems.append(f"{label}: kết luận trong báo cáo khác danh mục / verdict differs from the index")
    if record.profile and report.get("profile") != record.profile:
        problems.append(f"{label}: hồ sơ định dạng trong báo cáo ({report.get('profile')!r}) khác danh mục "
                        f"({record.profile!r}) / the report's profile differs from the record")
    if not quarantine:
        if "pdf" not in record.files and record.original != "pdf_signed":  # a signed PDF is its own rendering
            problems.append(f"{label}: không có bản PDF/A ({record.render_error or 'không rõ lý do / no reason'}) "
                            "/ no rendering")
        if intact:
            _check_content(folder, record, report, label, problems)
    return True


def _check_content(folder: Path, record: TranscriptRecord, report: dict, label: str, problems: list[str]) -> None:
    """What package.json says of a transcript (name, citizen ID, lookup code…) against
    the transcript's own XML, which the package's timestamp covers."""
    from ..profiles import ProfileError, get_profile
    from ..safexml import UnsafeXml, parse_bytes
    from ..transcript import read_transcript

    if record.original == "pdf_signed":
        _check_pdf_content(folder, record, report, label, problems)
        return
    try:
        profile = get_profile(str(report.get("profile") or ""))
    except ProfileError:
        return  # a profile not installed here: nothing to read the content with
    try:
        transcript = read_transcript(parse_bytes((folder / record.files["xml"]).read_bytes()), profile)
    except (UnsafeXml, ValueError, TypeError):
        problems.append(f"{label}: không đọc được nội dung tệp XML / the transcript's content cannot be read")
        return
    for key, value in content_facts(transcript).items():
        if getattr(record, key) != value:
            problems.append(f"{label}: package.json ghi {_FIELD_VI.get(key, key)} {getattr(record, key)!r}, tệp XML "
                            f"ghi {value!r} / the record's {key} differs from the transcript")


def _check_pdf_content(folder: Path, record: TranscriptRecord, report: dict, label: str, problems: list[str]) -> None:
    """What package.json says of a signed PDF transcript against the digitisation record
    inside the PDF (read through its signed-PDF profile)."""
    from ..scans.profile import get_pdf_profile, record_facts
    from ..scans.record import read_pdf_record

    profile = get_pdf_profile(str(report.get("profile") or ""))
    if profile is None:
        return  # a profile not installed here: nothing to read the content with
    content = read_pdf_record((folder / record.files["pdf_signed"]).read_bytes())
    if content is None:
        problems.append(f"{label}: không đọc được bản ghi số hóa trong tệp PDF / the signed PDF's digitisation record "
                        "cannot be read")
        return
    for key, value in record_facts(content, profile).items():
        if getattr(record, key) != value:
            problems.append(f"{label}: package.json ghi {_FIELD_VI.get(key, key)} {getattr(record, key)!r}, tệp PDF "
                            f"ghi {value!r} / the record's {key} differs from the signed PDF")


def _check_evidence(folder: Path, record: TranscriptRecord, label: str, problems: list[str]) -> list[bytes] | None:
    """The member's evidence record over its data objects; the tokens it rests on."""
    from ..timestamps.evidence import evidence_tokens, verify_evidence

    rel = record.files["evidence"]
    try:
        ers = (folder / rel).read_bytes()
        check = verify_evidence(data_objects(folder, record), ers)
        found = evidence_tokens(ers)
    except Exception as exc:  # noqa: BLE001 - EvidenceError, and whatever else damaged DER raises
        problems.append(f"{label}: hồ sơ bằng chứng hỏng / evidence record unreadable: {rel}: {exc}")
        return None
    # Offline, without a TSA trust list, "trusted" cannot be decided; all the rest (the
    # data, the hash tree, each token's signature and EKU) can.
    if not (check.hash_chain_intact and check.signatures_valid and check.eku_ok):
        problems.append(f"{label}: hồ sơ bằng chứng không khớp / evidence record does not verify: "
                        + ("; ".join(check.reasons) or "chuỗi băm hỏng / broken hash chain"))
    return found


def _check_package_timestamp(folder: Path, manifest: PackageManifest, files: _Files,
                             tokens: list[tuple[str, list[bytes]]], problems: list[str]) -> None:
    """The package's RFC 3161 token against the hash tree of the files as they are
    (:func:`archiver.archive.trust.timestamp_problems`, which ``archiver audit`` runs over
    the manifests' digests instead)."""
    problems += timestamp_problems(folder.name, manifest, lambda rel: (folder / rel).read_bytes(),
                                   lambda record, kind, algorithm: _digest(folder, record, kind, algorithm, files),
                                   tokens)


def _digest(folder: Path, record: TranscriptRecord, kind: str, algorithm: str, files: _Files) -> str:
    rel = record.files[kind]
    if algorithm in ("sha256", "sha512"):
        if rel not in files.digests:
            files.sha256(rel)
        return files.digests[rel][algorithm]
    return file_digests(folder / rel, (algorithm,))[0][algorithm]


# -- the index ----------------------------------------------------------------------------------
_FIELD_VI = {
    "verdict": "kết luận", "name": "họ tên", "citizen_id": "số định danh", "birth_date": "ngày sinh",
    "gender": "giới tính", "lookup_code": "mã tra cứu", "student_code": "mã học sinh", "class_name": "lớp",
    "school_year": "năm học", "school_code": "mã trường", "input_paths": "đường dẫn đầu vào",
    "replaces": "thay thế", "superseded_by": "bị thay thế bởi", "files": "tệp", "sha256": "mã băm",
    "timestamp": "dấu thời gian", "counts": "số học bạ theo kết luận", "reason": "lý do",
    "reason_code": "mã lý do", "province": "tỉnh", "created": "ngày lập", "label": "nhãn",
}


def _check_index(store: Archive, result: CheckResult, unreadable: set[str]) -> bool:
    """``index.json`` (what the site shows) against what the packages say it must hold.
    True when the index could be read (the site is then compared with it)."""
    problems = result.problems
    index_file = store.root / INDEX
    if not index_file.is_file():
        if result.packages:
            problems.append("index.json: thiếu / missing (chạy lại archiver build để lập lại / rerun build)")
        return False
    for name in (REPORT_JSON, REPORT_HTML):
        if not (store.root / name).is_file():
            problems.append(f"{name}: thiếu báo cáo lần lập kho / the build report is missing (rerun build)")
    try:
        with index_file.open(encoding="utf-8") as fh:
            index = load_object(fh)
        if not isinstance(index, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:  # UnicodeDecodeError included
        problems.append(f"index.json: không đọc được, chạy lại archiver build để lập lại / unreadable, rerun "
                        f"build: {exc}")
        return False
    expected = expected_index(store)
    said = len(problems)
    if index.get("schema") != expected["schema"]:
        problems.append(f"index.json: schema {index.get('schema')!r} khác {expected['schema']} / wrong schema")
    _compare(problems, "trường / school", _listed(index, "schools", ("code",)),
             {(s["code"],): s for s in expected["schools"]}, set())
    packages = _listed(index, "packages", ("path",))
    current = {p["path"]: p for p in expected["packages"]}
    gone = {key[0] for key in packages if key[0] not in current}
    for name in sorted(gone):
        if name not in unreadable:
            problems.append(f"index.json: gói {name} không có trong kho (bị xoá hoặc đổi tên?) / package missing "
                            "from the archive")
    for (name,), entry in packages.items():
        if name in current and entry.get("tag_manifest_sha256") != current[name]["tag_manifest_sha256"]:
            problems.append(f"{name}: tagmanifest-sha256.txt khác mã băm trong index.json và trên nhãn / the tag "
                            "manifest differs from the one recorded in the index and on the label")
    skip = gone | unreadable
    _compare(problems, "gói / package", {k: v for k, v in packages.items() if k[0] in current},
             {(k,): v for k, v in current.items()}, {"tag_manifest_sha256"}, missing_said="thiếu gói")
    missing_packages = {name for name in current if (name,) not in packages}
    skip |= missing_packages
    _compare(problems, "học bạ / transcript", _listed(index, "transcripts", ("package", "stem")),
             {(t["package"], t["stem"]): t for t in expected["transcripts"]}, set(), skip=skip)
    _compare(problems, "tệp bị từ chối / rejected file", _listed(index, "quarantine", ("package", "file")),
             {(q["package"], q["file"]): q for q in expected["quarantine"]}, set(), skip=skip)
    generated, software = index.get("generated"), index.get("software")
    if not (isinstance(generated, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", generated)):
        problems.append(f"index.json: thời điểm lập {generated!r} hỏng / the time it was made is damaged")
    elif not (isinstance(software, str) and re.fullmatch(r"archiver \d+(\.\d+)*\S*", software)):
        problems.append(f"index.json: tên phần mềm {software!r} hỏng / the software name is damaged")
    elif len(problems) == said:  # every field is right: then every byte must be as archiver writes them
        written = index_file.read_bytes()
        wanted = index_bytes(expected, generated, software)
        if written != wanted:
            at = next((i for i, (a, b) in enumerate(zip(written, wanted)) if a != b), min(len(written), len(wanted)))
            problems.append(f"index.json: khác với tệp archiver ghi từ byte {at} (định dạng bị sửa?) / differs from "
                            f"what archiver writes from byte {at} on")
    return True


def _listed(index: dict, key: str, id_fields: tuple[str, ...]) -> dict[tuple, dict]:
    items = index.get(key)
    out: dict[tuple, dict] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            out[tuple(str(item.get(f, "")) for f in id_fields)] = item
    return out


def _compare(problems: list[str], what: str, found: dict[tuple, dict], expected: dict[tuple, dict],
             ignore: set[str], skip: set[str] = frozenset(), missing_said: str = "thiếu") -> None:
    for key in sorted(set(found) | set(expected)):
        name = "/".join(key)
        if key[0] in skip:
            continue
        if key not in found:
            problems.append(f"index.json: {missing_said} {name} (có trong gói) / {what} missing from the index")
            continue
        if key not in expected:
            problems.append(f"index.json: {name} không có trong gói / {what} listed but not in the archive")
            continue
        a, b = found[key], expected[key]
        for field_name in sorted((set(a) | set(b)) - ignore):
            if a.get(field_name) != b.get(field_name):
                if field_name == "verdict":
                    problems.append(f"index.json: {name} ghi kết luận {a.get(field_name)}, gói ghi "
                                    f"{b.get(field_name)} / the verdict differs from the package")
                else:
                    problems.append(f"index.json: {name} ghi {_FIELD_VI.get(field_name, field_name)} "
                                    f"{_shown(a.get(field_name))}, gói ghi {_shown(b.get(field_name))} / "
                                    f"{field_name} differs from the package")


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


# -- the site ---------------------------------------------------------------------------------
def _check_site(store: Archive, result: CheckResult) -> None:
    """The site's every file against the site that ``index.json`` gives now (the pages are
    deterministic), so a page changed by hand, or left from another index, is named. An
    archive built without a site (``--no-site``) has none to compare."""
    from .. import __version__
    from ..site import MARKER, build_site, marker_text

    site = store.root / SITE
    if not site.exists():
        return
    problems = result.problems
    marker = site / MARKER
    try:
        made = marker.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        problems.append(f"{SITE}/{MARKER}: thiếu hoặc hỏng, không biết trang do đâu tạo ra; chạy `archiver site` "
                        "để tạo lại / missing or damaged: run `archiver site` to make the site again")
        return
    version = next((line for line in made.splitlines() if line.startswith("archiver ")), "")
    if version and version != f"archiver {__version__}":
        problems.append(f"{SITE}/{MARKER}: trang tra cứu do {version} tạo, phiên bản này không đối chiếu được; chạy "
                        f"`archiver site` để tạo lại / the site was made by {version}: run `archiver site` to make it "
                        "again")
        return
    fingerprint = hashlib.sha256((store.root / INDEX).read_bytes()).hexdigest()
    if made != marker_text(fingerprint):
        problems.append(f"{INDEX}, {SITE}/{MARKER}: trang tra cứu được tạo từ một index.json khác (một trong hai tệp "
                        "đã bị sửa); chạy `archiver site` để tạo lại nếu index.json đúng / the site was made from "
                        "another index.json (one of the two files changed)")
    scratch = scratch_folder("check-site")
    try:
        try:
            build_site(store.root, scratch / SITE)
        except Exception as exc:  # noqa: BLE001 - SiteError, or a damaged file: named, never raised
            problems.append(f"{SITE}: không tạo lại được trang tra cứu để đối chiếu ({type(exc).__name__}: {exc}) / "
                            "the site could not be made again from index.json to compare")
            return
        _compare_trees(site, scratch / SITE, problems)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _compare_trees(found: Path, expected: Path, problems: list[str]) -> None:
    from ..site import MARKER

    def files(root: Path) -> dict[str, Path]:
        return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}

    have, want = files(found), files(expected)
    for rel in sorted(set(have) | set(want)):
        shown = f"{SITE}/{rel}"
        if rel not in have:
            problems.append(f"{shown}: thiếu trang / missing from the site")
        elif rel not in want:
            problems.append(f"{shown}: tệp lạ trong trang tra cứu / not a page of this archive's site")
        elif _sha(have[rel]) != _sha(want[rel]) and rel != MARKER:
            problems.append(f"{shown}: khác với trang mà index.json cho ra (bị sửa?) / differs from the page the "
                            "index gives")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
