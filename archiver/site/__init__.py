"""Stage 6, site: the static lookup site inside an archive (``ARCHIVE/site/``).

Library use::

    from archiver.site import build_site
    summary = build_site(Path("ARCHIVE"))          # writes ARCHIVE/site/
    summary.pages, summary.bytes_per_transcript

The site reads only ``ARCHIVE/index.json`` and the files it points to
(docs/archive-layout.md). It opens by double-clicking ``site/index.html``: every page is
plain HTML and CSS, all links are relative, nothing is fetched from a network; the
search and the file check are small scripts that load sharded index files on demand.
The output is deterministic: the same archive gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from .model import SiteError, SiteModel, build_model, load_index
from .pages import class_results, copy_assets, render, render_students, verdict_chart
from .scans import is_scan
from .shards import hash_prefix_length, write_hashes, write_search

__all__ = ["MARKER", "SiteError", "SiteSummary", "StudentPages", "build_site", "marker_text", "site_is_current",
           "student_pages"]

MARKER = ".archiver-site"  # written into every site folder; only such folders are replaced
SITE_SCHEMA = "archiver.site/1"
BATCH = 64  # student pages per worker task: big enough to amortise pickling


@dataclass(frozen=True)
class SiteSummary:
    out: Path
    transcripts: int
    pages: int
    files: int
    bytes: int
    seconds: float
    search_bytes: int = 0
    hash_bytes: int = 0

    @property
    def bytes_per_transcript(self) -> float:
        return self.bytes / self.transcripts if self.transcripts else 0.0


def _link(model: SiteModel, code: str) -> dict[str, str] | None:
    if not code:
        return None
    target = model.by_lookup.get(code)
    return {"code": code, "url": target["url"] if target else "", "name": target.get("name", "") if target else "",
            "verdict": target.get("verdict", "") if target else ""}


def _prepare_output(out: Path) -> Path:
    """A fresh sibling folder to build into; the old site is swapped out at the end."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(f"{out} đã có nội dung khác, không ghi đè / exists and is not an archiver site; "
                        "choose another --out")
    tmp = out.parent / f".{out.name}.new"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _swap(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old"
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _folder_size(folder: Path) -> tuple[int, int]:
    files = size = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return files, size


def marker_text(index_sha256: str) -> str:
    """What a site records of where it came from: this version, the index it was made from."""
    return f"{SITE_SCHEMA}\narchiver {__version__}\nindex {index_sha256}\n" if index_sha256 else f"{SITE_SCHEMA}\n"


def site_is_current(out: Path, index_sha256: str) -> bool:
    """Whether ``out`` is a complete site made by this version from an index with this
    ``index.json`` (its SHA-256): an unchanged re-run then leaves it be."""
    try:
        return bool(index_sha256) and (out / MARKER).read_text(encoding="utf-8") == marker_text(index_sha256)
    except (OSError, UnicodeDecodeError):
        return False


def build_site(archive: Path, out: Path | None = None, *, jobs: int | None = None,
               profiles_dirs: Sequence[str] = (), kept_folder: Path | None = None,
               index_file: Path | None = None, extra_scripts: Sequence[str] = (),
               reuse: StudentPages | None = None) -> SiteSummary:
    """Build the lookup site of ``archive`` into ``out`` (default ``archive/site``).

    ``jobs`` worker processes render the student pages (default: one per CPU; small
    archives are rendered in this process). Raises :class:`SiteError` when the archive
    has no readable index.json or ``out`` holds something that is not a site.
    The SHA-256 of the index.json it is made from is kept in the marker file, so that
    :func:`site_is_current` (and ``archiver check``) can tell it later.
    ``kept_folder``: the folder where a build kept what it has just read from each
    transcript (archiver.pipeline.kept), so that their XML is not parsed again.
    ``index_file``: the index to read instead of ``archive/index.json`` (a disc's own,
    archiver.media). ``extra_scripts``: scripts (relative to the site) that the pages made
    for this index load (home, years, classes, quarantine, check); student pages never
    do, so that a student page is the same bytes in every site that shows it.
    ``reuse``: the student pages of a site already made (:func:`student_pages`); a page
    whose inputs are the same there is linked or copied instead of rendered again.
    """
    started = time.perf_counter()
    archive = Path(archive)
    out = Path(out) if out is not None else archive / "site"
    model = build_model(load_index(archive, index_file))
    fingerprint = _sha256(index_file or archive / "index.json")
    tmp = _prepare_output(out)
    jobs = jobs or os.cpu_count() or 1
    profiles_dirs = tuple(str(d) for d in profiles_dirs)
    kept = str(kept_folder) if kept_folder else None

    students = _student_shared(model)
    # The pages made for this index: also when it was made, and any extra scripts.
    shared = {**students, "generated": model.index.get("generated", ""), "extra_scripts": list(extra_scripts)}

    try:
        pages = _write_pages(model, archive, tmp, shared, students, profiles_dirs, kept, jobs, reuse)
        search = write_search(model, tmp)
        hashes = write_hashes(model, tmp)
        copy_assets(tmp)
        (tmp / MARKER).write_text(marker_text(fingerprint), encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk, say: no half site left behind
        raise
    _swap(tmp, out)
    files, size = _folder_size(out)
    return SiteSummary(out=out, transcripts=len(model.transcripts), pages=pages, files=files, bytes=size,
                       seconds=time.perf_counter() - started, search_bytes=search["bytes"],
                       hash_bytes=hashes["bytes"])


def _write_pages(model: SiteModel, archive: Path, out: Path, shared: dict[str, Any], students: dict[str, Any],
                 profiles_dirs: tuple[str, ...], kept: str | None, jobs: int, reuse: StudentPages | None) -> int:
    """Every page; student pages first: they are most of the work, and the workers start at once.
    A student page that ``reuse`` holds, made from the same inputs, is taken from there."""
    from ..pipeline.pool import WorkerPool
    from .pages import _profiles

    in_place: set[str] = set()
    if reuse is not None:
        for entry in model.transcripts:
            if not is_scan(entry) and reuse.keys.get(entry["url"]) == page_key(entry, model, students) and \
                    reuse.take(entry["url"], out / entry["url"]):  # a scan's page has its previews beside it
                in_place.add(entry["url"])
    batches = [[(e, model.packages.get(e.get("package", ""))) for e in model.transcripts[i:i + BATCH]]
               for i in range(0, len(model.transcripts), BATCH)]
    remaining = {klass["key"]: len(klass["students"]) for klass in model.classes}
    by_key = {klass["key"]: klass for klass in model.classes}
    profiles = _profiles(profiles_dirs)
    with WorkerPool(jobs if len(batches) > 2 else 1) as pool:
        futures = [pool.submit(render_students, b, str(archive), str(out), students, profiles_dirs, kept,
                               in_place & {e["url"] for e, _p in b})
                   for b in batches]
        shared = {**shared, "schools": model.schools}
        pages = _render_lists(model, out, shared) + len(in_place)
        rows: dict[str, Any] = {}
        for batch, future in zip(batches, futures):
            done, _size, found = future.result()
            pages += done
            rows.update(found)
            for entry, _package in batch:
                remaining[entry["class_key"]] -= 1
                if not remaining[entry["class_key"]]:
                    pages += _render_class(out, shared, model, by_key[entry["class_key"]], rows, profiles)
        for key, left in remaining.items():  # a class without pupils (none in practice)
            if left or not by_key[key]["students"]:
                pages += _render_class(out, shared, model, by_key[key], rows, profiles)
    return pages


def _render_class(out: Path, shared: dict[str, Any], model: SiteModel, klass: dict[str, Any],
                  rows: dict[str, Any], profiles: dict[str, Any]) -> int:
    """One class page, with its pupils' year results (their lines are then dropped)."""
    render("class.html", out / klass["url"], root="../", page="class", title=klass["class_name"], **shared,
           klass=klass, year=next(y for y in model.years if y["key"] == klass["year_key"]),
           results=class_results(klass, rows, profiles))
    for student in klass["students"]:
        rows.pop(student["url"], None)
    return 1


# -- student pages made once, shown in several sites -------------------------------------------------
def _student_shared(model: SiteModel) -> dict[str, Any]:
    """What every student page is rendered with besides its own entry and package; kept
    small (it is pickled once per batch). Nothing of the index as a whole (when it was
    made, which scripts its pages load): a student page depends only on its transcript,
    so a disc's site (archiver.media) can take the archive's own pages as they are.
    Each entry gets the links to the transcript it replaces or is replaced by."""
    for entry in model.transcripts:
        entry["replaces_link"] = _link(model, entry["replaces"])
        entry["superseded_link"] = _link(model, entry["superseded_by"])
    return {"software": model.index.get("software", ""), "site_schema": SITE_SCHEMA,
            "schools": [{k: s.get(k, "") for k in ("code", "name", "province")} for s in model.schools]}


def page_key(entry: dict[str, Any], model: SiteModel, students: dict[str, Any]) -> str:
    """A digest of everything a student page is made from (its entry with its page's
    address and links, its package's index entry, its school, the software): two pages
    with the same key are the same bytes."""
    import json

    package = model.packages.get(entry.get("package", ""))
    school = next((s for s in students["schools"] if s["code"] == entry.get("school_code")), None)
    facts = [entry, package, school, students["software"], students["site_schema"], __version__]
    return hashlib.sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StudentPages:
    """The student pages of a site already made, each with the key of what it was made
    from (:func:`page_key`)."""

    folder: Path
    keys: dict[str, str]  # page address (hs/<class>/<stem>.html) -> key

    def take(self, url: str, target: Path) -> bool:
        """Put the page at ``target`` (a hard link, else a copy); False if it is gone."""
        source = self.folder / url
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
            return True
        except FileNotFoundError:
            return False
        except OSError:
            pass  # another drive, a file system without links: copy
        try:
            shutil.copyfile(source, target)
            return True
        except FileNotFoundError:
            return False


def student_pages(archive: Path, site: Path | None = None) -> StudentPages | None:
    """The student pages of ``archive``'s site (default ``archive/site``) when it is a
    complete site made by this version from the archive's index.json as it is now
    (:func:`site_is_current`), else None. ``archiver check`` compares such a site with
    the one the index gives; whoever reuses its pages should have checked it first."""
    site = Path(site) if site is not None else Path(archive) / "site"
    index = Path(archive) / "index.json"
    try:
        if not site_is_current(site, _sha256(index)):
            return None
        model = build_model(load_index(Path(archive)))
    except (OSError, SiteError):
        return None
    students = _student_shared(model)
    return StudentPages(site, {e["url"]: page_key(e, model, students) for e in model.transcripts})


def _render_lists(model: SiteModel, out: Path, shared: dict[str, Any]) -> int:
    """Home, year, quarantine and check pages (written in the main process)."""
    pages = 0
    n_hashes = sum(len(e.get("sha256") or {}) for e in model.transcripts) + len(model.quarantine)
    home_classes = model.classes if len(model.classes) <= 60 else []
    render("home.html", out / "index.html", root="", page="home", title="", **shared,
           years=model.years, classes=home_classes, counts=dict(model.counts),
           chart=verdict_chart(model.counts), total=len(model.transcripts),
           n_quarantine=len(model.quarantine), n_classes=len(model.classes))
    pages += 1
    for year in model.years:
        render("year.html", out / year["url"], root="../", page="year", title=year["school_year"], **shared,
               year=year, chart=verdict_chart(year["counts"]))
        pages += 1
    render("quarantine.html", out / "kiem-duyet.html", root="", page="quarantine", title="Kiểm duyệt",
           title_en="Quarantine", **shared,
           items=model.quarantine)
    render("check.html", out / "kiem-tra.html", root="", page="check", title="Kiểm tra tệp",
           title_en="Check a file", **shared,
           hash_prefix=hash_prefix_length(n_hashes))
    return pages + 2
