"""Memoisation bounded by bytes: the newest is always kept, older ones go past the budget,
and threads asking for the same key at once compute it once."""

from __future__ import annotations

import threading
from collections import Counter

from bot.fleet.memo import Bounded


def test_the_budget_bounds_what_is_kept_and_the_newest_stays() -> None:
    made: Counter[str] = Counter()

    def upper(text: str) -> str:
        made[text] += 1
        return text.upper()

    memo = Bounded(upper, 10, len)
    assert memo("abcd") == "ABCD" and memo("efgh") == "EFGH" and memo("abcd") == "ABCD"
    assert made == {"abcd": 1, "efgh": 1}
    memo("x" * 50)  # over the budget alone: kept, the others go
    assert list(memo.kept) == [(("x" * 50,), ())] and memo.weight == 50
    memo("abcd")
    assert made["abcd"] == 2 and memo.weight == 4


def test_threads_asking_at_once_compute_once() -> None:
    started, release = threading.Event(), threading.Event()
    made: Counter[str] = Counter()

    def slow(text: str) -> str:
        made[text] += 1
        started.set()
        release.wait(5)
        return text

    memo = Bounded(slow, 100, len)
    threads = [threading.Thread(target=memo, args=("a",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait(5)
    release.set()
    for thread in threads:
        thread.join()
    assert made == {"a": 1}
