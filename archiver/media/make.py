"""``archiver media``: the archive's published packages written as a set of volumes.

Stages, in order (the archive's lock is held throughout, so nothing is published under
the run's feet):

1. check: the archive must pass ``archiver check`` (``--force``: go on, and record it);
2. select: the published packages (every version), less those waiting in ``.pending``
   (said), those of other years (``--year``), and those an earlier set holds (unless
   ``--all``); grouped by class, every version of a class in one group;
3. plan: groups onto volumes (:mod:`archiver.media.plan`), from their sizes on the medium;
4. stage: each volume's index and site, made in ``OUT/<set>/.staging``; a volume that
   turns out larger than the medium gives its last classes to the next volumes;
5. finish: the set's catalogue, each volume's README, media.json, check script, SHA256SUMS;
6. write: each volume as an image (or a USB folder), under a temporary name, renamed
   when complete; the disc labels (they print each image's SHA-256);
7. record: ``ARCHIVE/media/<set>.json``, through the lock and an atomic write, last: a run
   killed before it wrote nothing that a next run would skip.

The same archive and options give the same set, with the same id and byte-identical
images: every date comes from the archive, every list is sorted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..archive.layout import INDEX, MEDIA, PENDING, SITE, safe_name
from ..archive.records import PackageManifest, PackageUnreadable
from ..archive.store import Archive, Package
from ..errors import ArchiveWriteError, InternalError, UsageError
from ..fsutil import atomic_write, fsync_tree, write_error
from ..site import StudentPages, student_pages
from ..vn import VN, megabytes, thousands
from .catalogue import CatalogueEntry, make_catalogue
from .iso import ImageLabels, file_sha256, temporary_name, write_image
from .isofs import check_names, data_sectors, fat_bytes, fat_overhead, iso_bytes
from .medium import SECTOR, USB_CLUSTER, Medium
from .plan import Group, GroupTooLarge, Plan, Volume, plan_volumes
from .record import SCHEMA, on_media, record_bytes, record_path, set_fingerprint
from .volume import (
    CHECK_SCRIPT,
    README,
    SUMS,
    VOLUME_JSON,
    VolumeFiles,
    finish_volume,
    known_digests,
    media_template,
    package_files,
    staged_files,
    sums_size,
    write_volume_site,
)

STAGING = ".staging"
#: What a volume's generated files are first reckoned at, per transcript on it, before a
#: site is made: its student page (~22 kB in whole sectors), and its share of index.json,
#: the search shards and SHA256SUMS. Made good from the archive's own site when it has one.
SITE_PER_TRANSCRIPT = 28 * 1024
#: Per volume, before its site is made: site assets and list pages, hash shards, README,
#: media.json, the check script, the file system's own sectors.
FIXED_PER_VOLUME = 512 * 1024
RECORD_PER_FILE = 320  # ISO 9660 + Rock Ridge and Joliet directory records of a file, and their slack


class MediaRefused(ArchiveWriteError):
    """The archive does not check: media would carry its damage on."""


class NothingToWrite(Exception):
    """Every package selected is already on media (or there is none): not an error."""


@dataclass
class MediaRequest:
    archive: Path
    out: Path
    medium: Medium
    years: tuple[str, ...] = ()
    include_all: bool = False
    force: bool = False
    jobs: int | None = None
    check: bool = True  # False only for benchmarks: the archive is not checked first


@dataclass
class VolumeResult:
    number: int
    count: int
    name: str
    path: Path
    bytes: int
    sha256: str
    fill: float
    packages: list[str]
    classes: list[str]
    years: list[str]
    label: Path | None = None


@dataclass
class MediaResult:
    set_id: str
    folder: Path
    medium: Medium
    volumes: list[VolumeResult] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    forced_problems: list[str] = field(default_factory=list)
    record: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)


Say = Callable[[str], None]


# -- 2. selecting -------------------------------------------------------------------------------
@dataclass
class Selection:
    packages: list[Package]
    pending: list[str]
    already: list[str]


def select_packages(store: Archive, years: tuple[str, ...], include_all: bool) -> Selection:
    held = {} if include_all else on_media(store.root)
    packages, already = [], []
    for folder in store.bag_folders():
        try:
            info = PackageManifest.read_info(folder)
        except PackageUnreadable:
            continue  # `archiver check` named it; with --force it stays off the media
        if years and info.school_year not in years:
            continue
        if folder.name in held:
            already.append(folder.name)
            continue
        packages.append(Package(folder, info))
    pending = [p.name for p in store.waiting_folders()]
    return Selection(packages, pending, already)


def _grade(class_name: str) -> int:
    digits = ""
    for ch in class_name:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 99


def group_order(package: Package) -> tuple:
    info = package.info
    return (info.school_year, info.school_code, bool(info.quarantine), _grade(info.class_name), info.class_name,
            package.base_name)


# -- naming the set --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetNames:
    set_id: str
    scope: str  # school code, or "<n>-truong"
    years: str  # "2025-2026", or "2023-2026" for several
    date: dt.datetime
    school_title: str

    def volume_name(self, number: int, count: int, usb: bool) -> str:
        width = max(2, len(str(count)))
        letter = "U" if usb else "D"
        return f"{self.scope}_{self.years}_{letter}{number:0{width}d}-{count:0{width}d}"

    def volume_id(self, number: int, count: int) -> str:
        width = max(2, len(str(count)))
        tail = f"_D{number:0{width}d}_{count:0{width}d}"
        head = safe_name(f"{self.scope}_{self.years}").upper().replace("-", "_")
        return head[:32 - len(tail)] + tail

    def joliet_label(self, number: int, count: int) -> str:
        width = max(2, len(str(count)))
        tail = f"_D{number:0{width}d}-{count:0{width}d}"
        return self.scope.upper()[:16 - len(tail)] + tail


def set_date(packages: list[Package]) -> dt.datetime:
    """The set's date: when its newest package was sealed (its timestamp, else created)."""
    latest = dt.datetime(2000, 1, 1, tzinfo=VN)
    for package in packages:
        for text in (package.info.created, str(package.info.timestamp.get("time") or "")):
            try:
                when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=VN)
            latest = max(latest, when)
    return latest.astimezone(VN).replace(microsecond=0)


def name_set(packages: list[Package], medium: Medium, known: dict[str, str]) -> SetNames:
    schools = sorted({p.info.school_code for p in packages if p.info.school_code})
    names = sorted({p.info.school_name for p in packages if p.info.school_name})
    years = sorted({p.info.school_year for p in packages if p.info.school_year})
    scope = schools[0] if len(schools) == 1 else f"{len(schools)}-truong"
    if len(years) == 1:
        span = years[0]
    elif years:
        span = f"{years[0].split('-')[0]}-{years[-1].split('-')[-1]}"
    else:
        span = "khong-ro"
    span = safe_name(span)
    date = set_date(packages)
    fingerprint = set_fingerprint([f"archiver {__version__}", medium.name, str(medium.capacity), date.isoformat()]
                                  + sorted(f"{p.name} {known.get(p.name, '')}" for p in packages))
    title = names[0] if len(names) == 1 else f"{len(schools)} trường / schools"
    return SetNames(f"{safe_name(scope)}_{span}_{fingerprint}", safe_name(scope), span, date, title)


# -- 3. sizes -----------------------------------------------------------------------------------
def _allocation(size: int, medium: Medium) -> int:
    if medium.is_image:
        return data_sectors(size) * SECTOR + RECORD_PER_FILE
    return -(-size // USB_CLUSTER) * USB_CLUSTER + 96


def site_bytes_per_transcript(archive: Path, medium: Medium) -> int:
    """What a transcript brings to its volume besides its package: measured from the
    archive's own site when it has one (student pages are the bulk), else a default."""
    pages = archive / "site" / "hs"
    sizes = []
    if pages.is_dir():
        for folder in pages.iterdir():
            if folder.is_dir():
                sizes += [entry.stat().st_size for entry in os.scandir(folder) if entry.is_file()]
    if not sizes:
        return SITE_PER_TRANSCRIPT
    page = sum(_allocation(s, medium) for s in sizes) // len(sizes)
    return page + 4 * 1024  # index.json entry, search and hash shards, SHA256SUMS lines


def make_groups(archive: Path, packages: list[Package], medium: Medium) -> tuple[list[Group], dict[str, list[Package]]]:
    per_transcript = site_bytes_per_transcript(archive, medium)
    by_class: dict[str, list[Package]] = defaultdict(list)
    for package in packages:
        by_class[package.base_name].append(package)
    groups = []
    for base, versions in by_class.items():
        versions.sort(key=lambda p: p.version)
        files = package_files(archive, versions)
        size = sum(_allocation(path.stat().st_size, medium) for path in files.values())
        size += sums_size(files)
        transcripts = sum(v.info.counts.get(k, 0) for k in ("VALID", "INVALID", "INDETERMINATE")
                          for v in versions[-1:])
        size += transcripts * per_transcript + 4 * SECTOR  # and its class page, folders
        groups.append(Group(base, size, group_order(versions[-1]), versions[-1].info.school_year,
                            tuple(v.name for v in versions)))
    return groups, dict(by_class)


def exact_size(files: dict[str, int], medium: Medium) -> int:
    return iso_bytes(files) if medium.is_image else fat_bytes(files)


def usable(medium: Medium) -> int:
    if medium.is_image or not medium.capacity:
        return medium.usable
    return medium.usable - fat_overhead(medium.capacity)


# -- the run ----------------------------------------------------------------------------------
def make_media(request: MediaRequest, say: Say = lambda line: None) -> MediaResult:
    import time

    archive = request.archive.resolve()
    out = request.out.resolve()
    if not archive.is_dir() or not ((archive / INDEX).is_file() or (archive / PENDING).is_dir()):
        raise UsageError(f"{request.archive}: không phải kho lưu trữ archiver (không có index.json) / not an archive")
    if out == archive or archive in out.parents:
        raise UsageError(f"--out {request.out} nằm trong kho {request.archive}; hãy chọn thư mục ngoài kho / the "
                         "output folder is inside the archive: choose one outside it")
    store = Archive(archive)
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        seconds[name] = round(now - started, 2)
        started = now

    with store.writing():
        forced: list[str] = []
        if request.check:
            from ..archive.check import check_archive

            say("Kiểm tra kho trước khi ghi / checking the archive first…")
            checked = check_archive(archive)
            # a package waiting for its TSA is no damage: it is left out, and said so
            waiting = {p.name for p in store.waiting_folders()}
            damage = [p for p in checked.problems if p.split(":", 1)[0] not in waiting]
            if damage and not request.force:
                raise MediaRefused(_refusal(damage, request.archive))
            forced = damage
            lap("check")
        selection = select_packages(store, tuple(request.years), request.include_all)
        if not selection.packages:
            _clear_recorded_leftovers(archive, out)
            raise NothingToWrite(_nothing(selection, request))
        result = _make_set(store, out, request, selection, forced, say, seconds, lap)
    return result


def _is_site_problem(problem: str) -> bool:
    return problem.startswith((f"{SITE}/", f"{SITE}:", f"{INDEX}, {SITE}/"))


def _refusal(problems: list[str], archive: Path) -> str:
    """Why media are not written, and what to do: a site that is not what this version
    makes from the index (an archive built by an earlier version, or a page changed by
    hand) is made again with ``archiver site``; damage to a package is named."""
    shown = "\n  ".join(problems[:10]) + (f"\n  … (+{len(problems) - 10})" if len(problems) > 10 else "")
    site = [p for p in problems if _is_site_problem(p)]
    damaged = sorted({p.split(":", 1)[0].split("/", 1)[0] for p in problems if not _is_site_problem(p)})
    lines = []
    if damaged:
        lines.append(f"Kho không qua kiểm tra (archiver check), hỏng: {', '.join(damaged[:10])}. Không ghi đĩa để không "
                     f"mang hư hỏng sang đĩa; sửa kho (hoặc dùng --force nếu chấp nhận) / the archive does not check: "
                     f"damaged {', '.join(damaged[:10])}; media not written (--force to write anyway).")
    if site:
        lines.append(f"Trang tra cứu của kho (site/) khác với trang phiên bản này tạo từ index.json ({len(site)} tệp; kho "
                     f"lập bằng phiên bản cũ, hoặc trang bị sửa). Chạy `archiver site {archive}` rồi chạy lại lệnh này "
                     f"/ the archive's site is not the one this version makes from its index.json ({len(site)} files: "
                     f"made by an earlier version, or changed): run `archiver site {archive}`, then this command "
                     "again.")
    return "\n".join(lines) + f"\n  {shown}"


def _nothing(selection: Selection, request: MediaRequest) -> str:
    parts = []
    if selection.already:
        parts.append(f"{len(selection.already)} gói đã có trên bộ đĩa trước (dùng --all để ghi lại tất cả) / "
                     f"{len(selection.already)} packages are on an earlier media set (--all writes everything)")
    if selection.pending:
        parts.append(f"{len(selection.pending)} gói còn chờ dấu thời gian / waiting for their timestamp: "
                     + ", ".join(selection.pending))
    if request.years:
        parts.append(f"năm học / school years: {', '.join(request.years)}")
    return "Không có gói nào cần ghi / nothing to write" + (": " + "; ".join(parts) if parts else "")


def _make_set(store: Archive, out: Path, request: MediaRequest, selection: Selection, forced: list[str], say: Say,
              seconds: dict[str, float], lap: Callable[[str], None]) -> MediaResult:
    archive = store.root
    medium = request.medium
    tags = {p.name: _tag_sha(p) for p in selection.packages}
    names = name_set(selection.packages, medium, tags)
    folder = out / names.set_id
    result = MediaResult(names.set_id, folder, medium, pending=selection.pending, already=selection.already,
                         forced_problems=forced, seconds=seconds)
    problems = check_names(package_files(archive, selection.packages))
    if problems:
        raise UsageError("Tên tệp không ghi được lên đĩa/USB / names no medium can hold:\n  " + "\n  ".join(problems[:20]))

    groups, by_class = make_groups(archive, selection.packages, medium)
    limit = usable(medium)
    own_files = _own_files_bound(groups, by_class, names, medium)
    fixed = FIXED_PER_VOLUME + exact_size(own_files, medium)
    if limit and limit <= fixed:
        raise UsageError(f"--medium {medium.name}: quá nhỏ để chứa cả trang tra cứu của đĩa / too small for a volume's "
                         f"own files ({thousands(fixed)} B)")
    try:
        plan = plan_volumes(groups, limit - fixed if limit else 0, max(0, medium.fill_target - fixed))
    except GroupTooLarge as exc:
        raise UsageError(_too_large(exc.groups, medium, exc.capacity)) from None
    lap("plan")

    staging = folder / STAGING
    _clear_leftovers(folder)
    reuse = _archive_pages(archive, forced)
    try:
        volumes = _stage_volumes(store, plan, by_class, staging, names, medium, limit, own_files, request.jobs, say,
                                 reuse)
        lap("sites")
        files = _finish_volumes(store, volumes, by_class, staging, names, medium, tags)
        lap("finish")
        result.volumes = _write_volumes(volumes, files, by_class, folder, names, medium, request.jobs, say)
        lap("write")
        _write_labels(result, names, medium)
        _write_set_files(result, names, medium, selection)
        result.record = _record(store, result, names, medium, request, tags, selection)
        lap("labels+record")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _archive_pages(archive: Path, forced: list[str]) -> StudentPages | None:
    """The archive's own student pages, for the volumes' sites to take as they are: only
    from a site that ``archiver check`` found equal to what the index gives (a site it
    named, written over with --force, is made again page by page instead)."""
    if any(_is_site_problem(problem) or problem.startswith(INDEX) for problem in forced):
        return None
    return student_pages(archive)


def _tag_sha(package: Package) -> str:
    import hashlib

    try:
        return hashlib.sha256((package.path / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    except OSError:
        return ""


def _too_large(groups, medium: Medium, capacity: int) -> str:
    listed = ", ".join(f"{g.key} ({megabytes(g.size)})" for g in groups)
    return (f"Gói lớn hơn một đĩa {medium.name} ({megabytes(capacity)} dùng được cho các lớp), không tách gói: "
            f"{listed}. Chọn đĩa lớn hơn (--medium) / larger than one {medium.name} volume: a package is never split: "
            f"choose a larger --medium")


def _own_files_bound(groups: list[Group], by_class: dict[str, list[Package]], names: SetNames,
                     medium: Medium) -> dict[str, int]:
    """The files every volume gets whatever its classes, at sizes none of them can exceed:
    the set's catalogue made as if every class were on a volume of its own with the
    widest number, README, media.json and the check script."""
    widest = 10 ** len(str(len(groups))) - 1
    alone = [Volume(widest, (g,)) for g in groups]
    descriptions = [_volume_description(v, widest, names, medium, by_class) for v in alone]
    catalogue = make_catalogue(_catalogue_entries(alone, by_class),
                               [{k: d[k] for k in ("number", "name", "label", "years", "classes")}
                                for d in descriptions], names.set_id)
    files = {f"site/{rel}": size for rel, size in catalogue.files(widest, media_template("catalogue.js")).items()}
    files.update({README: 16 * 1024, CHECK_SCRIPT: media_template(CHECK_SCRIPT).stat().st_size,
                  VOLUME_JSON: 64 * 1024 + 400 * len(groups)})
    return files


def _clear_recorded_leftovers(archive: Path, out: Path) -> None:
    """A run killed after its set was recorded (while clearing its staging area) leaves
    that area in the set's folder; the next run has nothing to write, and clears it."""
    from .record import read_records

    for record in read_records(archive)[0]:
        _clear_leftovers(out / record.set_id)


def _clear_leftovers(folder: Path) -> None:
    """What a killed run left in the set's folder: its staging area, temporary images and labels."""
    if folder.is_dir():
        shutil.rmtree(folder / STAGING, ignore_errors=True)
        for path in folder.iterdir():
            if path.name.startswith(".") and path.name.endswith((".part", ".tmp")):  # an image, a label (fsutil)
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


# -- 4. staging ----------------------------------------------------------------------------------
def _volume_packages(volume: Volume, by_class: dict[str, list[Package]]) -> list[Package]:
    return [p for g in volume.groups for p in by_class[g.key]]


def _stage_volumes(store: Archive, plan: Plan, by_class: dict[str, list[Package]], staging: Path, names: SetNames,
                   medium: Medium, limit: int, own_files: dict[str, int], jobs: int | None, say: Say,
                   reuse: StudentPages | None = None) -> list[Volume]:
    """Each volume's index and site, made in staging; a volume that is then larger than the
    medium keeps fewer classes and the rest are planned again. ``own_files``: the files
    made at the end (catalogue, README…), at sizes they cannot exceed."""
    volumes = list(plan.volumes)
    k = 0
    while k < len(volumes):
        volume = volumes[k]
        packages = _volume_packages(volume, by_class)
        stage = staging / f"v{k + 1:03d}"
        shutil.rmtree(stage, ignore_errors=True)
        say(f"Dựng trang tra cứu đĩa {k + 1}/{len(volumes)} / making the site of volume {k + 1} of {len(volumes)}…")
        try:
            write_volume_site(store, packages, stage, names.date, jobs, reuse)
        except OSError as exc:
            raise write_error(exc, staging) from None
        if not limit:
            k += 1
            continue
        sizes = {rel: path.stat().st_size for rel, path in package_files(store.root, packages).items()}
        sizes.update({rel: path.stat().st_size for rel, path in staged_files(stage).items()})
        sizes.update(own_files)
        sizes[SUMS] = sums_size(sizes)
        total = exact_size(sizes, medium)
        if total <= limit:
            k += 1
            continue
        if len(volume.groups) == 1:
            raise UsageError(_too_large(volume.groups, medium, limit))
        over, keep = total - limit, list(volume.groups)
        dropped = []
        while keep and (over > 0 or not dropped) and len(keep) > 1:
            dropped.insert(0, keep.pop())
            over -= dropped[0].size
        say(f"Đĩa {k + 1} vượt sức chứa {thousands(total - limit)} B: chuyển {len(dropped)} lớp sang đĩa sau / volume "
            f"{k + 1} over by {thousands(total - limit)} B: {len(dropped)} classes move on")
        rest = [g for v in volumes[k + 1:] for g in v.groups] + dropped
        replanned = plan_volumes(rest, plan.capacity, 0) if rest else Plan((), plan.capacity)
        volumes = volumes[:k] + [Volume(k + 1, tuple(keep))] + [
            Volume(k + 2 + i, v.groups) for i, v in enumerate(replanned.volumes)]
    return volumes


# -- 5. finishing ----------------------------------------------------------------------------------
def _volume_description(volume: Volume, count: int, names: SetNames, medium: Medium,
                        by_class: dict[str, list[Package]]) -> dict[str, Any]:
    packages = _volume_packages(volume, by_class)
    usb = not medium.is_image
    return {
        "number": volume.number, "count": count, "name": names.volume_name(volume.number, count, usb),
        "label": names.volume_name(volume.number, count, usb),
        "years": sorted({p.info.school_year for p in packages}),
        "classes": [_class_label(by_class[g.key][-1]) for g in volume.groups],
        "packages": [p.name for p in packages],
    }


def _class_label(package: Package) -> str:
    info = package.info
    return f"{info.class_name} ({info.school_year})" if info.class_name else f"kiểm duyệt ({info.school_year})"


def _catalogue_entries(volumes: list[Volume], by_class: dict[str, list[Package]]):
    for volume in volumes:
        for group in volume.groups:
            current = by_class[group.key][-1]
            if current.info.quarantine:
                continue
            for record in current.records():
                yield CatalogueEntry(record.name, record.birth_date, record.class_name or current.info.class_name,
                                     record.school_year or current.info.school_year,
                                     record.school_code or current.info.school_code, record.verdict, volume.number,
                                     current.name, record.student_code, record.lookup_code, record.citizen_id)


def _finish_volumes(store: Archive, volumes: list[Volume], by_class: dict[str, list[Package]], staging: Path,
                    names: SetNames, medium: Medium, tags: dict[str, str]) -> list[VolumeFiles]:
    count = len(volumes)
    descriptions = [_volume_description(v, count, names, medium, by_class) for v in volumes]
    catalogue = make_catalogue(_catalogue_entries(volumes, by_class),
                               [{k: d[k] for k in ("number", "name", "label", "years", "classes")}
                                for d in descriptions], names.set_id)
    results = []
    for volume, description in zip(volumes, descriptions):
        packages = _volume_packages(volume, by_class)
        stage = staging / f"v{volume.number:03d}"
        full = {
            **description, "set": names.set_id, "date": names.date.isoformat(), "medium": medium.to_json(),
            "package_details": [{"name": p.name, "tag_manifest_sha256": tags.get(p.name, "")} for p in packages],
            "set_volumes": [{k: d[k] for k in ("number", "name", "years", "classes")} for d in descriptions],
        }
        context = {"v": {**description, "scope_title": names.school_title}, "usb": not medium.is_image,
                   "set_id": names.set_id, "date": names.date.strftime("%d/%m/%Y"), "software": f"archiver {__version__}"}
        try:
            files = finish_volume(stage, full, catalogue, context, package_files(store.root, packages),
                                  known_digests(store.root, packages))
        except OSError as exc:
            raise write_error(exc, staging) from None
        if medium.capacity:
            size = exact_size(files.sizes(), medium)
            if size > usable(medium):
                raise InternalError(f"đĩa {volume.number}: {thousands(size)} B > {thousands(usable(medium))} B sau khi hoàn tất / volume "
                                    f"{volume.number} outgrew the medium once finished (a bug in the size count)")
        results.append(files)
    return results


# -- 6. writing -------------------------------------------------------------------------------------
def _write_one(files: dict[str, str], target: str, labels: ImageLabels | None, capacity: int) -> tuple[int, str]:
    """Write one volume (runs in a worker process): an image, or a USB folder tree."""
    sources = {rel: Path(p) for rel, p in files.items()}
    if labels is not None:
        result = write_image(sources, Path(target), labels, capacity)
        return result.size, result.sha256
    return write_folder(sources, Path(target))


def write_folder(sources: dict[str, Path], target: Path) -> tuple[int, str]:
    """A volume as a folder tree for a USB stick: copied under a temporary name, flushed to
    disk, renamed. Returns its size and the SHA-256 of its SHA256SUMS (what fixes it)."""
    temporary = temporary_name(target)
    shutil.rmtree(temporary, ignore_errors=True)
    size = 0
    try:
        for rel in sorted(sources):
            path = temporary / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sources[rel], path)
            size += path.stat().st_size
        fsync_tree(temporary)
        if target.exists():
            shutil.rmtree(target)
        os.rename(temporary, target)
    except BaseException as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(exc, OSError):
            raise write_error(exc, target.parent, sum(p.stat().st_size for p in sources.values())) from None
        raise
    return size, file_sha256(target / SUMS)


def _write_volumes(volumes: list[Volume], files: list[VolumeFiles], by_class: dict[str, list[Package]], folder: Path,
                   names: SetNames, medium: Medium, jobs: int | None, say: Say) -> list[VolumeResult]:
    from ..pipeline.pool import WorkerPool

    count = len(volumes)
    usb = not medium.is_image
    folder.mkdir(parents=True, exist_ok=True)
    results: list[VolumeResult] = []
    workers = min(jobs or os.cpu_count() or 1, count, 2)  # writing is I/O: two at a time at most
    with WorkerPool(workers) as pool:
        futures = []
        for volume, volume_files in zip(volumes, files):
            name = names.volume_name(volume.number, count, usb)
            target = folder / (name if usb else f"{name}.iso")
            labels = None if usb else ImageLabels(
                names.volume_id(volume.number, count), names.joliet_label(volume.number, count), names.set_id,
                safe_name(names.scope).upper(), names.date)
            say(f"Ghi {'thư mục' if usb else 'ảnh đĩa'} {volume.number}/{count} / writing volume {volume.number} of "
                f"{count}: {target}")
            sources = {rel: str(p) for rel, p in volume_files.sources.items()}
            futures.append((volume, target, pool.submit(_write_one, sources, str(target), labels, medium.usable)))
        for volume, target, future in futures:
            size, digest = future.result()
            packages = _volume_packages(volume, by_class)
            results.append(VolumeResult(
                volume.number, count, target.name.removesuffix(".iso"), target, size, digest,
                size / medium.capacity if medium.capacity else 1.0, [p.name for p in packages],
                [_class_label(by_class[g.key][-1]) for g in volume.groups],
                sorted({p.info.school_year for p in packages})))
    return results


# -- 7. labels and records ---------------------------------------------------------------------------
def _write_labels(result: MediaResult, names: SetNames, medium: Medium) -> None:
    from .label import volume_label_pdf

    for volume in result.volumes:
        target = result.folder / f"{volume.name}.label.pdf"
        atomic_write(target, volume_label_pdf(volume, names, medium))
        volume.label = target


def _write_set_files(result: MediaResult, names: SetNames, medium: Medium, selection: Selection) -> None:
    """Beside the volumes: SHA256SUMS of the images (``sha256sum -c``), and how to burn
    and check them."""
    if medium.is_image:
        lines = "".join(f"{v.sha256}  {v.path.name}\n" for v in result.volumes)
        atomic_write(result.folder / SUMS, lines.encode("utf-8"))
    from ..templating import render_template

    text = render_template("media/HUONG_DAN.txt.j2", result=result, names=names, medium=medium,
                           usb=not medium.is_image, date=names.date.strftime("%d/%m/%Y"))
    atomic_write(result.folder / "HUONG_DAN.txt", text.replace("\n", "\r\n").encode("utf-8"))


def set_record(result: MediaResult, names: SetNames, medium: Medium, request: MediaRequest, tags: dict[str, str],
               selection: Selection) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "set": names.set_id, "date": names.date.isoformat(),
        "made": dt.datetime.now(VN).isoformat(timespec="seconds"), "software": f"archiver {__version__}",
        "medium": medium.to_json(),
        "options": {"years": sorted(request.years), "all": request.include_all, "force": request.force},
        "forced_over": result.forced_problems[:50],
        "pending_left_out": selection.pending,
        "volumes": [{
            "number": v.number, "count": v.count, "name": v.name,
            "file": v.path.name, "bytes": v.bytes, "sha256": v.sha256, "fill": round(v.fill, 4),
            "kind": "usb-folder" if not medium.is_image else "iso9660",
            "sha256_of": "SHA256SUMS" if not medium.is_image else "image",
            "years": v.years, "classes": v.classes,
            "packages": [{"name": p, "tag_manifest_sha256": tags.get(p, "")} for p in v.packages],
        } for v in result.volumes],
    }


def _record(store: Archive, result: MediaResult, names: SetNames, medium: Medium, request: MediaRequest,
            tags: dict[str, str], selection: Selection) -> Path:
    """The set's record: beside the volumes, and in the archive (``media/<set>.json``). A
    set already recorded (the same packages made again, ``--all``) keeps its record: its
    images are compared with it instead."""
    data = set_record(result, names, medium, request, tags, selection)
    atomic_write(result.folder / f"{names.set_id}.json", record_bytes(data))
    target = record_path(store.root, names.set_id)
    if target.is_file():
        try:
            recorded = json.loads(target.read_text(encoding="utf-8"))
            before = [(v["name"], v["sha256"]) for v in recorded["volumes"]]
        except (OSError, ValueError, KeyError, TypeError):
            before = None
        now = [(v.name, v.sha256) for v in result.volumes]
        if before != now:
            raise InternalError(f"{MEDIA}/{target.name}: bộ đĩa này đã ghi trước đây với ảnh khác / this set was "
                                "recorded with other images: they should be the same bytes")
        return target
    try:
        atomic_write(target, record_bytes(data))
    except OSError as exc:
        raise write_error(exc, target.parent) from None
    return target
