"""Read a large JSON object without holding its text in memory.

``index.json`` grows with the archive (a line per transcript). ``json.load`` reads the
whole file into one string first, and a Vietnamese text is stored two bytes per
character: for 100,000 transcripts that is a transient 200 MB. Here the top-level
arrays are decoded item by item from a text stream, so only the decoded objects stay.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, TextIO

CHUNK = 1 << 18
_WS = " \t\n\r"
_SCALAR_END = re.compile(r"[,\]}\s]")


class _Reader:
    def __init__(self, fh: TextIO, decoder: json.JSONDecoder) -> None:
        self.fh, self.decoder = fh, decoder
        self.buf, self.pos, self.eof = "", 0, False

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.fh.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next non-blank character ('' at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, chars: str) -> str:
        found = self.peek()
        if not found or found not in chars:
            raise ValueError(f"expected {' or '.join(repr(c) for c in chars)}, "
                             f"found {found or 'end of file'!r}")
        self.pos += 1
        return found

    def value(self) -> Any:
        if self.peek() not in '"{[':
            # a number or literal ends at a delimiter, not at a closing bracket: have one
            # in the buffer first, or "-1" of "-1.5" would be taken for the whole number
            while not _SCALAR_END.search(self.buf, self.pos) and self._more():
                pass
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self._more():
                    continue
                raise
            self.pos = end
            return value


def load_object(fh: TextIO, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """Parse the JSON object in ``fh`` as ``json.load`` would, reading it chunk by chunk."""
    reader = _Reader(fh, json.JSONDecoder(object_hook=object_hook))
    result: dict[str, Any] = {}
    reader.expect("{")
    if reader.peek() == "}":
        reader.pos += 1
    else:
        while True:
            key = reader.value()
            if not isinstance(key, str):
                raise ValueError("an object key must be a string")
            reader.expect(":")
            if reader.peek() == "[":
                reader.pos += 1
                items: list[Any] = []
                if reader.peek() == "]":
                    reader.pos += 1
                else:
                    while True:
                        items.append(reader.value())
                        if reader.expect(",]") == "]":
                            break
                result[key] = items
            else:
                result[key] = reader.value()
            if reader.expect(",}") == "}":
                break
    if reader.peek():
        raise ValueError("extra data after the JSON object")
    return object_hook(result) if object_hook else result
