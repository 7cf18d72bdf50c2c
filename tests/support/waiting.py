"""Waiting for a condition instead of for a while: a test polls what it waits for and
fails, naming it, only when it has not come within a generous limit (the machine running
the suite may be slow; a fixed sleep is either too short there or wasted everywhere)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL = 0.02


def _late(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise AssertionError(f"timed out waiting for {what}")


async def until(condition: Callable[[], object], what: str = "the condition", timeout: float = 30) -> None:
    """Return once ``condition()`` holds, letting the event loop run in between."""
    deadline = time.monotonic() + timeout
    while not condition():
        _late(deadline, what)
        await asyncio.sleep(POLL)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Return once ``condition()`` holds, for tests driving threads or processes."""
    deadline = time.monotonic() + timeout
    while not condition():
        _late(deadline, what)
        time.sleep(POLL)


class ManualClock:
    """An injectable ``sleep`` whose time passes only when the test says: :meth:`advance`
    wakes every sleeper whose time has come, so a backoff or a pause costs no wall time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def sleeping(self) -> list[float]:
        """What each sleeper still waits for, in seconds."""
        return sorted(due - self.now for due, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (self.now + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    def time(self) -> float:
        """The clock's time, for what reads a wall clock (``Services.wall.time``)."""
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for due, future in list(self._sleepers):
            if due <= self.now and not future.done():
                future.set_result(None)
