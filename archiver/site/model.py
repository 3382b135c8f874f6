"""What the site shows, worked out from ``index.json`` alone (docs/archive-layout.md).

The model is plain dicts and lists so that it crosses process boundaries cheaply when
student pages are rendered in parallel, and so that templates read it directly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..jsonstream import load_object
from .text import fold, mask_citizen_id, safe_name, vn_date

INDEX_SCHEMA = "archiver.index/1"
VERDICTS = ("VALID", "INVALID", "INDETERMINATE", "REJECTED")
# One letter per verdict in the search shards: they are repeated 100,000 times.
VERDICT_CODE = {"VALID": "V", "INVALID": "I", "INDETERMINATE": "D", "REJECTED": "R"}


class SiteError(Exception):
    """The archive cannot be turned into a site (no or unreadable index.json)."""


@dataclass
class SiteModel:
    index: dict[str, Any]
    schools: list[dict[str, Any]]
    years: list[dict[str, Any]]  # one per (school, school year), sorted
    classes: list[dict[str, Any]]  # one per (school, school year, class), sorted
    transcripts: list[dict[str, Any]]  # the entries the site shows, one page each
    quarantine: list[dict[str, Any]]
    packages: dict[str, dict[str, Any]]
    by_lookup: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)


def load_index(archive: Path, path: Path | None = None) -> dict[str, Any]:
    path = path or archive / "index.json"
    try:
        with path.open(encoding="utf-8") as fh:
            index = load_object(fh, object_hook=_Sharing())
    except FileNotFoundError:
        raise SiteError(f"Không có {path} / no index.json in {archive}: run `archiver build` first") from None
    except (OSError, ValueError) as exc:
        raise SiteError(f"Không đọc được {path} / cannot read index.json: {exc}") from None
    if not isinstance(index, dict) or index.get("schema") != INDEX_SCHEMA:
        raise SiteError(f"{path}: không phải {INDEX_SCHEMA} / not an {INDEX_SCHEMA} document")
    return index


_REPEATED = frozenset({"package", "school_code", "school_year", "class_name", "verdict", "gender",
                       "time", "tsa", "birth_date"})


class _Sharing:
    """A JSON object hook that keeps one copy of each repeated short value: package names,
    classes, years, timestamp facts recur across thousands of entries, and the site holds
    the whole index in memory while it writes."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.facts: dict[tuple, dict[str, Any]] = {}

    def __call__(self, obj: dict[str, Any]) -> dict[str, Any]:
        strings = self.strings
        # keys too: the index is decoded entry by entry (archiver.jsonstream), and the
        # decoder shares keys only within one entry
        obj = {strings.setdefault(key, key): value for key, value in obj.items()}
        for key in _REPEATED.intersection(obj):
            value = obj[key]
            if type(value) is str:
                obj[key] = strings.setdefault(value, value)
        if obj.keys() == {"time", "tsa", "local"}:  # an entry's timestamp: read, never changed
            return self.facts.setdefault(tuple(obj.values()), obj)
        return obj


def package_href(package: dict[str, Any] | None, file: str | None) -> str:
    """A file of a package, relative to the archive root, URL-quoted ('' when unknown)."""
    if not package or not file:
        return ""
    return quote(f"{package.get('path') or package.get('id')}/{file}")


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name.lower() in taken:  # FAT32 is case-insensitive
        name = f"{base}-{n}"
        n += 1
    taken.add(name.lower())
    return name


def _version_rank(package: dict[str, Any] | None) -> tuple[int, int]:
    if not package:
        return (0, 0)
    return (1 if package.get("current") else 0, int(package.get("version") or 0))


def _code(value: Any) -> str:
    """A replaces/superseded_by value: a lookup code, or an object carrying one."""
    if isinstance(value, dict):
        value = value.get("lookup_code") or value.get("stem") or ""
    return str(value or "").strip().lower()


def build_model(index: dict[str, Any]) -> SiteModel:
    packages = {p["id"]: p for p in index.get("packages", []) if isinstance(p, dict) and p.get("id")}
    for p in list(packages.values()):
        packages.setdefault(p.get("path") or p["id"], p)
    schools = {s["code"]: dict(s) for s in index.get("schools", []) if s.get("code")}

    # One page per (class, stem). A later package version may carry a transcript again:
    # the copy in the current (else highest) version is shown, the others are listed.
    chosen: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    others: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for entry in index.get("transcripts", []):  # completed in place: never copied
        package = packages.get(entry.get("package", ""))
        school = entry.get("school_code") or (package or {}).get("school_code", "")
        year = entry.get("school_year") or (package or {}).get("school_year", "")
        klass = entry.get("class_name") or (package or {}).get("class_name", "")
        entry.update(school_code=school, school_year=year, class_name=klass)
        key = (school, year, klass, entry.get("stem") or entry.get("lookup_code", ""))
        previous = chosen.get(key)
        if previous is None:
            chosen[key] = entry
        elif _version_rank(package) > _version_rank(packages.get(previous["package"])):
            others[key].append(previous["package"])
            chosen[key] = entry
        else:
            others[key].append(entry["package"])
        schools.setdefault(school, {"code": school, "name": school, "province": ""})

    # Folder and file names: sanitised, then made unique in a stable (sorted) order.
    class_groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for key in sorted(chosen):
        entry = chosen[key]
        entry["also_in"] = sorted(others.get(key, []))
        class_groups[key[:3]].append(entry)

    taken_classes: set[str] = set()
    taken_years: set[str] = set()
    year_keys: dict[tuple[str, str], str] = {}
    classes: list[dict[str, Any]] = []
    transcripts: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for (school, year, klass), members in sorted(class_groups.items()):
        if (school, year) not in year_keys:
            year_keys[(school, year)] = _unique(safe_name(f"{school}_{year}"), taken_years)
        class_key = _unique(safe_name(f"{school}_{year}_{klass}"), taken_classes)
        members.sort(key=lambda e: (fold(e.get("name", "")), e.get("birth_date", ""), e.get("stem", "")))
        taken_stems: set[str] = set()
        class_counts: Counter[str] = Counter()
        class_packages: dict[str, dict[str, Any]] = {}
        for entry in members:
            stem = _unique(safe_name(entry.get("stem") or entry.get("lookup_code", ""), "hs"), taken_stems)
            entry["url"] = f"hs/{class_key}/{stem}.html"
            entry["class_key"] = class_key
            entry["year_key"] = year_keys[(school, year)]
            entry["masked_citizen_id"] = mask_citizen_id(entry.get("citizen_id", ""))
            entry["birth"] = vn_date(entry.get("birth_date", ""))
            entry["lookup_code"] = str(entry.get("lookup_code", "")).lower()
            entry["replaces"] = _code(entry.get("replaces"))
            entry["superseded_by"] = _code(entry.get("superseded_by"))
            verdict = entry.get("verdict", "")
            class_counts[verdict] += 1
            package = packages.get(entry.get("package", ""))
            if package:
                class_packages[package["id"]] = package
            transcripts.append(entry)
        counts.update(class_counts)
        classes.append({
            "school_code": school, "school_year": year, "class_name": klass, "key": class_key,
            "year_key": year_keys[(school, year)], "url": f"lop/{class_key}.html",
            "counts": dict(class_counts), "total": len(members), "students": members,
            "grade": next((p.get("grade", "") for p in class_packages.values() if p.get("grade")), ""),
            "level": next((p.get("level", "") for p in class_packages.values() if p.get("level")), ""),
            "packages": sorted(class_packages.values(), key=lambda p: (int(p.get("version") or 0), p["id"])),
        })

    # Rejected inputs per year: the quarantine package of that year (for this school, or
    # for no particular school when the archive mixes schools).
    rejected: Counter[tuple[str, str]] = Counter()
    for q in index.get("quarantine", []):
        name = q.get("package", "")
        package = packages.get(name) or {}
        # the year is in the package's facts, else in its name (_KiemDuyet_<NamHoc>)
        year = package.get("school_year") or (name.rsplit("_", 1)[-1] if name.startswith("_KiemDuyet_") else "")
        rejected[(package.get("school_code", ""), year)] += 1
    years: list[dict[str, Any]] = []
    for (school, year), key in sorted(year_keys.items()):
        members = [c for c in classes if c["school_code"] == school and c["school_year"] == year]
        year_counts: Counter[str] = Counter()
        for c in members:
            year_counts.update(c["counts"])
        year_counts["REJECTED"] += rejected[(school, year)] + rejected[("", year)]
        years.append({"school_code": school, "school_year": year, "key": key, "url": f"nam/{key}.html",
                      "classes": members, "counts": dict(year_counts),
                      "total": sum(c["total"] for c in members),
                      "school": schools.get(school, {"code": school, "name": school})})

    quarantine = sorted((dict(q) for q in index.get("quarantine", [])),
                        key=lambda q: (q.get("package", ""), q.get("file", "")))
    for q in quarantine:
        q["href"] = package_href(packages.get(q.get("package", "")) or {"id": q.get("package", "")},
                                 q.get("file"))
    counts["REJECTED"] += len(quarantine)

    by_lookup = {e["lookup_code"]: e for e in transcripts if e["lookup_code"]}
    school_list = sorted(schools.values(), key=lambda s: s["code"])
    for s in school_list:
        s["years"] = [y for y in years if y["school_code"] == s["code"]]
    return SiteModel(index=index, schools=school_list, years=years, classes=classes,
                     transcripts=transcripts, quarantine=quarantine, packages=packages,
                     by_lookup=by_lookup, counts=counts)
