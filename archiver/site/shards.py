"""The search and file-check indexes, as sharded script files.

Pages opened from ``file://`` cannot ``fetch`` JSON (the origin is opaque), but they can
add ``<script src>`` tags. Each shard is therefore a script calling the global
``HB_REG(kind, key, data)`` defined in ``assets/site.js``; a page loads only the shards
a query needs, so the home page stays light at any archive size.

- ``search/index.js``: the manifest (name tokens with their counts, code bucket count).
- ``search/n-<token>.js``: every transcript whose folded name has that word (more
  than NAME_CHUNK are split into ``n-<token>-1.js``, ...). A query loads the shard of
  its rarest complete word (counts from the manifest) and filters.
- ``search/c-<bucket>.js``: lookup codes, student codes and citizen IDs, bucketed by
  FNV-1a so that codes sharing a province or school prefix still spread evenly.
- ``hash/h-<prefix>.js``: SHA-256 of every archived XML, PDF and quarantined file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from .model import VERDICT_CODE, SiteModel
from .text import code_key, fnv1a, fold, tokens

# A token shard file name keeps at most this many characters of the word (the JS side
# truncates the same way); matching is always on the whole folded name.
TOKEN_FILE_CHARS = 24
NAME_CHUNK = 4000  # names per shard file (a file of ~0.6 MB loads in a few tens of ms)
CODES_PER_BUCKET = 128  # aim: small files, a few thousand at most for 100,000 transcripts


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _script(kind: str, key: str, data: Any) -> bytes:
    return f"HB_REG({_dump(kind)},{_dump(key)},{_dump(data)});\n".encode("utf-8")


def search_record(entry: dict[str, Any]) -> list[str]:
    """What a search result shows: masked citizen ID only (the student page has it in full).

    The folded name comes first: name shards are matched with one regular expression
    anchored at the start of each line (see ``name_shard``)."""
    return [
        fold(entry.get("name", "")), entry.get("name", ""), entry.get("birth", ""),
        entry.get("class_name", ""), entry.get("school_year", ""), entry.get("school_code", ""),
        VERDICT_CODE.get(entry.get("verdict", ""), "?"), entry.get("masked_citizen_id", ""),
        entry.get("student_code", ""), entry.get("lookup_code", ""), entry["url"],
        _flags(entry),
    ]


def _flags(entry: dict[str, Any]) -> str:
    """``s``: revoked and superseded by another transcript; ``r``: replaces one; ``q``: a
    scanned paper transcript (a signed PDF)."""
    return ("s" if entry.get("superseded_by") else "") + ("r" if entry.get("replaces") else "") + \
        ("q" if "pdf_signed" in (entry.get("files") or {}) else "")


_LINE_BREAKS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def search_line(entry: dict[str, Any]) -> str:
    """A search record as one line, fields tab-separated: held as one string per
    transcript (not a list of twelve) while the shards are sorted out."""
    return "\t".join(field.translate(_LINE_BREAKS) for field in search_record(entry))


def name_shard(lines: list[str]) -> str:
    """A name shard is one string, a record per line, fields tab-separated.

    A 40,000-name shard ("nguyen" in a district archive) loads and is searched an
    order of magnitude faster this way than as nested arrays: the browser parses one
    string literal instead of allocating 500,000 objects, and one anchored regular
    expression finds the matching lines (assets/site.js).
    """
    return "\n".join(lines)


def code_buckets(n_codes: int) -> int:
    """A power of two, so that the JS side can take ``hash & (n - 1)``."""
    buckets = 1
    while buckets * CODES_PER_BUCKET < n_codes and buckets < 4096:
        buckets *= 2
    return buckets


def hash_prefix_length(n_hashes: int) -> int:
    return 1 if n_hashes <= 4096 else 2 if n_hashes <= 262144 else 3


def _write(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    return len(data)


def write_search(model: SiteModel, out: Path) -> dict[str, int]:
    """Writes ``out/search/``; returns the number of files and bytes written."""
    folder = out / "search"
    folder.mkdir(parents=True, exist_ok=True)
    by_token: dict[str, list[str]] = defaultdict(list)
    codes: dict[str, list[str]] = defaultdict(list)
    for entry in model.transcripts:
        record = search_line(entry)
        for word in tokens(entry.get("name", "")):
            by_token[word[:TOKEN_FILE_CHARS]].append(record)
        for field in ("lookup_code", "student_code", "citizen_id"):
            key = code_key(entry.get(field, ""))
            if key and record not in codes[key]:
                codes[key].append(record)

    n_buckets = code_buckets(len(codes))
    bucketed: list[dict[str, list[str]]] = [{} for _ in range(n_buckets)]
    for key, records in codes.items():
        bucketed[fnv1a(key) & (n_buckets - 1)][key] = records

    files = size = 0
    chunks: dict[str, int] = {}
    for word, records in sorted(by_token.items()):
        records.sort()  # the order the browser gets by sorting lines
        # A word as common as "nguyen" (38 % of names) is split, so that a one-word query
        # can show its first page of names after loading a single chunk.
        parts = [records[i:i + NAME_CHUNK] for i in range(0, len(records), NAME_CHUNK)]
        if len(parts) > 1:
            chunks[word] = len(parts)
        for i, part in enumerate(parts):
            key = word if i == 0 else f"{word}-{i}"
            size += _write(folder / f"n-{key}.js", _script("n", key, name_shard(part)))
            files += 1
    for i, bucket in enumerate(bucketed):
        data = {key: [line.split("\t") for line in lines] for key, lines in bucket.items()}
        size += _write(folder / f"c-{i:03x}.js", _script("c", f"{i:03x}", data))
        files += 1
    manifest = {"buckets": n_buckets, "tokens": {w: len(r) for w, r in sorted(by_token.items())},
                "chunks": chunks, "total": len(model.transcripts), "token_chars": TOKEN_FILE_CHARS}
    size += _write(folder / "index.js", _script("m", "index", manifest))
    return {"files": files + 1, "bytes": size}


def _hash_rows(model: SiteModel) -> Iterable[tuple[str, list[str]]]:
    for entry in model.transcripts:
        for kind, digest in sorted((entry.get("sha256") or {}).items()):
            if isinstance(digest, str) and len(digest) == 64:
                yield digest.lower(), [kind, entry.get("name", ""), entry.get("class_name", ""),
                                       entry.get("school_year", ""), entry.get("school_code", ""),
                                       VERDICT_CODE.get(entry.get("verdict", ""), "?"),
                                       entry.get("package", ""), entry["url"],
                                       _flags(entry)]
    for q in model.quarantine:
        digest = str(q.get("sha256") or "").lower()
        if len(digest) == 64:
            yield digest, ["rejected", q.get("file", ""), q.get("reason_code", ""), q.get("reason", ""),
                           "", "R", q.get("package", ""), "kiem-duyet.html", ""]


def write_hashes(model: SiteModel, out: Path) -> dict[str, int]:
    folder = out / "hash"
    folder.mkdir(parents=True, exist_ok=True)
    rows = sorted(_hash_rows(model))
    length = hash_prefix_length(len(rows))
    shards: dict[str, dict[str, list[list[str]]]] = {f"{i:0{length}x}": {} for i in range(16 ** length)}
    for digest, row in rows:
        shards[digest[:length]].setdefault(digest, []).append(row)
    size = 0
    for prefix, data in shards.items():
        size += _write(folder / f"h-{prefix}.js", _script("h", prefix, data))
    return {"files": len(shards), "bytes": size, "prefix": length}
