"""Text helpers shared by the page generator and the search index.

Every function here has a twin in ``templates/site/assets/site.js`` (``fold``,
``codeKey``, ``fnv1a``): the index is built in Python and queried in the browser, so
both sides must turn a name or a code into exactly the same key. The tests pin both.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from ..vn import VN

# Vietnamese tone and vowel marks all decompose (NFD) into U+0300..U+036F; the
# JavaScript side strips the same range, so the two folds agree character for character.
_MARKS = re.compile("[\u0300-\u036f]")
_NOT_WORD = re.compile("[^a-z0-9]+")
_NOT_CODE = re.compile("[^a-z0-9]")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")
# Device names Windows refuses as a file's base name, whatever the extension.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def fold(text: str) -> str:
    """A name as typed on any keyboard: no diacritics, đ → d, lower case, single spaces.

    NFC and NFD inputs fold alike because the marks are stripped after decomposition.
    """
    text = _MARKS.sub("", unicodedata.normalize("NFD", text or "")).lower().replace("đ", "d")
    return _NOT_WORD.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """The distinct words of a folded name, in order."""
    seen: dict[str, None] = {}
    for word in fold(text).split():
        seen.setdefault(word, None)
    return list(seen)


def code_key(text: str) -> str:
    """A code (lookup code, student code, citizen ID) as searched: lower case, no separators."""
    return _NOT_CODE.sub("", (text or "").lower())


def fnv1a(text: str) -> int:
    """32-bit FNV-1a over the UTF-8 bytes: a stable, cheap bucket for code shards."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def mask_citizen_id(value: str) -> str:
    """``001211068539`` → ``001******539``: enough to tell two students apart, not to reuse."""
    value = (value or "").strip()
    if len(value) <= 6:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 6) + value[-3:]


def vn_date(value: str) -> str:
    """ISO date (or date-time) → dd/mm/yyyy; anything else is shown as it is."""
    value = (value or "").strip()
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)(?:[T ].*)?", value)
    if not m:
        return value
    return f"{m.group(3)}/{m.group(2)}/{m.group(1)}"


def vn_datetime(value: str) -> str:
    """ISO date-time → ``dd/mm/yyyy HH:MM:SS`` in Vietnam time (UTC+7), the clock clerks read."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if when.tzinfo is None:
        return when.strftime("%d/%m/%Y %H:%M:%S")
    return when.astimezone(VN).strftime("%d/%m/%Y %H:%M:%S")


def safe_name(text: str, fallback: str = "x", limit: int = 64) -> str:
    """A file or folder name that FAT32, exFAT, NTFS and ISO 9660 (Joliet) all accept.

    ASCII letters, digits, ``.``, ``_``, ``-`` only; no leading/trailing dot, no device
    names; short enough that nested paths stay well under Windows' 260 characters.
    """
    text = _MARKS.sub("", unicodedata.normalize("NFD", text or "")).replace("đ", "d").replace("Đ", "D")
    text = _UNSAFE_FILE.sub("_", text).strip("._-")[:limit].rstrip("._-")
    if not text:
        text = fallback
    if text.split(".")[0].lower() in _RESERVED:
        text = "_" + text
    return text
