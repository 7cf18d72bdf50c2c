"""In-memory caches with a stated bound: the least recently used entries go first.

Every cache the app keeps in memory says what it holds at most (entries, or bytes of
what it holds), so that no stream of new keys (repositories, commits, installations) can
grow a replica's memory without end. An entry larger than the whole bound is not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """A least-recently-used map whose entries' sizes add up to at most ``bound``; each
    entry's size is given when it is put (1 by default: then ``bound`` counts entries)."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.size = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, size: int = 1) -> None:
        self.pop(key)
        if size > self.bound:
            return
        self._entries[key] = (value, size)
        self.size += size
        while self.size > self.bound:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.size -= dropped

    def pop(self, key: K) -> V | None:
        found = self._entries.pop(key, None)
        if found is None:
            return None
        self.size -= found[1]
        return found[0]
