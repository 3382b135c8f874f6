"""A bounded, least-recently-used cache for per-certificate work.

A school signs with about fifty certificates, so a hundred-odd entries are hits almost
always; a district run meets thousands of certificates class by class, and a bound keeps
each worker's memory flat however many there are.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

CERTIFICATE_CACHE_SIZE = 128


class LruCache(Generic[K, V]):
    def __init__(self, size: int = CERTIFICATE_CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def __setitem__(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
