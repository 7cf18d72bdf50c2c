"""Memoisation bounded by the bytes of what it keeps, not by a count of entries.

A count bounds nothing when one entry can be a 15 MB values file and its model: the
parse caches kept eight models and thirty-two file loads, which at 10,000 sets was
hundreds of MiB. Here each entry weighs what ``size`` says of its arguments; the least
recently used go first, before a new value is computed, when it would take the total
past ``budget``; the newest is always kept (the configuration in use, however large). Safe to call from several threads (the app
parses off its event loop): the table is guarded, the computation is not.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from bot.fleet import release

P = ParamSpec("P")
R = TypeVar("R")


class Bounded(Generic[P, R]):
    """``function`` memoised within ``budget`` bytes, each call weighing ``size(*args)``."""

    def __init__(self, function: Callable[P, R], budget: int, size: Callable[P, int]) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self.budget = budget
        self.size = size
        self.kept: OrderedDict[Any, tuple[int, R]] = OrderedDict()
        self.weight = 0
        self.lock = threading.Lock()
        self.computing: dict[Any, threading.Lock] = {}

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        key = (args, tuple(sorted(kwargs.items())))
        with self.lock:
            found = self._hit(key)
            if found is not None:
                return found[1]
            computing = self.computing.setdefault(key, threading.Lock())
        # One computation per key at a time: two threads asking for the same large model
        # wait for one parse instead of holding two.
        with computing:
            with self.lock:
                found = self._hit(key)
            if found is not None:
                return found[1]
            weight = self.size(*args, **kwargs)
            evicted: list[Any] = []
            with self.lock:
                # Room is made before computing: the old values go before the new one is
                # built, so the two are never held together (the peak is one, not two).
                while self.kept and self.weight + weight > self.budget:
                    evicted.append(self.kept.popitem(last=False)[1])  # no variable keeps it
                    self.weight -= evicted[-1][0]
            # Freed a slice at a time, outside the lock: one ``del`` of a model of
            # 50,000 sets held the GIL (the event loop's too) for 41-44 ms.
            release.in_slices(evicted)
            try:
                value = self.function(*args, **kwargs)
                with self.lock:
                    self.kept[key] = (weight, value)
                    self.weight += weight
            finally:
                with self.lock:
                    self.computing.pop(key, None)
            return value

    def _hit(self, key: Any) -> tuple[int, R] | None:
        found = self.kept.get(key)
        if found is not None:
            self.kept.move_to_end(key)
        return found

    def cache_clear(self) -> None:
        with self.lock:
            self.kept.clear()
            self.weight = 0


def bounded(budget: int, size: Callable[P, int]) -> Callable[[Callable[P, R]], Bounded[P, R]]:
    """Decorator form of :class:`Bounded`."""

    def wrap(function: Callable[P, R]) -> Bounded[P, R]:
        return Bounded(function, budget, size)

    return wrap
