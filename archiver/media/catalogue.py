"""The catalogue of a whole media set, on every volume of it.

A disc's own site shows and searches the transcripts on that disc. The catalogue lets it
also answer for the rest of the set: a search for a student whose transcript is on
another disc says "trên đĩa 3/7 (nhãn …)". It is laid out as the site's own search
index (``archiver/site/shards.py``: name shards holding one line per student, the folded
name first, and code buckets), under ``site/catalogue/``, so that the site's search code
reads it unchanged (``HB.search(q, {dir: 'catalogue/', kind: 'k'})``); its records carry
the disc instead of a page. ``catalogue.js`` (``templates/media/``) shows the answer.

The shards are the same bytes on every volume; only ``index.js`` (which says which
volume this is) differs.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..site.model import VERDICT_CODE
from ..site.shards import NAME_CHUNK, TOKEN_FILE_CHARS, code_buckets, name_shard
from ..site.text import code_key, fnv1a, fold, tokens, vn_date

FOLDER = "catalogue"  # inside the volume's site/
SCRIPT = f"{FOLDER}/catalogue.js"
KIND = "k"  # prefix of the catalogue's shard kinds (the site's own are m, n, c)


@dataclass(frozen=True)
class CatalogueEntry:
    """One student of the set, and the volume that holds their transcript."""

    name: str
    birth_date: str
    class_name: str
    school_year: str
    school_code: str
    verdict: str
    volume: int
    package: str
    student_code: str
    lookup_code: str
    citizen_id: str

    def line(self) -> str:
        fields = [fold(self.name), self.name, vn_date(self.birth_date), self.class_name, self.school_year,
                  self.school_code, VERDICT_CODE.get(self.verdict, "?"), str(self.volume), self.package,
                  self.student_code]
        return "\t".join(f.replace("\t", " ").replace("\n", " ").replace("\r", " ") for f in fields)


def _script(kind: str, key: str, data: Any) -> bytes:
    dump = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return f"HB_REG({json.dumps(KIND + kind)},{json.dumps(key)},{dump});\n".encode("utf-8")


@dataclass(frozen=True)
class Catalogue:
    """The shards (path under ``site/catalogue/`` -> bytes, the same on every volume) and
    the manifest's common part."""

    shards: dict[str, bytes]
    manifest: dict[str, Any]

    def index_js(self, volume: int) -> bytes:
        return _script("m", "index", {**self.manifest, "volume": volume})

    def size_upper_bound(self) -> int:
        return sum(len(b) for b in self.shards.values()) + len(self.index_js(10 ** 6))

    def write(self, site: Path, volume: int, script: Path) -> None:
        folder = site / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(self.shards.items()):
            (folder / name).write_bytes(data)
        (folder / "index.js").write_bytes(self.index_js(volume))
        shutil.copyfile(script, site / SCRIPT)

    def files(self, volume: int, script: Path) -> dict[str, int]:
        """What :meth:`write` writes, relative to the site, with sizes."""
        sizes = {f"{FOLDER}/{name}": len(data) for name, data in self.shards.items()}
        sizes[f"{FOLDER}/index.js"] = len(self.index_js(volume))
        sizes[SCRIPT] = script.stat().st_size
        return sizes


def make_catalogue(entries: Iterable[CatalogueEntry], volumes: list[dict[str, Any]], set_id: str) -> Catalogue:
    """The catalogue of every student of the set. ``volumes``: one description per
    volume (number, name, label, years, classes), shown on every disc's home page."""
    by_token: dict[str, list[str]] = defaultdict(list)
    codes: dict[str, list[str]] = defaultdict(list)
    total = 0
    for entry in entries:
        total += 1
        line = entry.line()
        for word in tokens(entry.name):
            by_token[word[:TOKEN_FILE_CHARS]].append(line)
        for code in (entry.lookup_code, entry.student_code, entry.citizen_id):
            key = code_key(code)
            if key and line not in codes[key]:
                codes[key].append(line)
    shards: dict[str, bytes] = {}
    chunks: dict[str, int] = {}
    for word, lines in sorted(by_token.items()):
        lines.sort()
        parts = [lines[i:i + NAME_CHUNK] for i in range(0, len(lines), NAME_CHUNK)]
        if len(parts) > 1:
            chunks[word] = len(parts)
        for i, part in enumerate(parts):
            key = word if i == 0 else f"{word}-{i}"
            shards[f"n-{key}.js"] = _script("n", key, name_shard(part))
    n_buckets = code_buckets(len(codes))
    bucketed: list[dict[str, list[list[str]]]] = [{} for _ in range(n_buckets)]
    for key, lines in codes.items():
        bucketed[fnv1a(key) & (n_buckets - 1)][key] = [line.split("\t") for line in lines]
    for i, bucket in enumerate(bucketed):
        shards[f"c-{i:03x}.js"] = _script("c", f"{i:03x}", bucket)
    manifest = {"buckets": n_buckets, "tokens": {w: len(v) for w, v in sorted(by_token.items())},
                "chunks": chunks, "total": total, "token_chars": TOKEN_FILE_CHARS, "set": set_id,
                "count": len(volumes), "volumes": volumes}
    return Catalogue(shards, manifest)
