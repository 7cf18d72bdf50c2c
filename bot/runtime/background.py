"""A background task that runs one step when poked or when its pause runs out, and stops
promptly. Used by the features that act on their own (schedules, the dashboard,
housekeeping). Such a feature runs on one replica (:mod:`bot.runtime.leadership`): a poke on
another is relayed to it. The pause is waited out through ``sleep`` (``asyncio.sleep``
unless a test injects a clock it advances)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

log = logging.getLogger(__name__)

# step(poked) -> seconds until the next step
Step = Callable[[bool], Awaitable[float]]


_started: set[asyncio.Task[None]] = set()


def spawn(work: Coroutine[Any, Any, None]) -> None:
    """Start ``work`` without waiting for it. The task is kept referenced until it ends:
    the event loop holds only a weak reference, and a collected task stops mid-way."""
    task = asyncio.get_running_loop().create_task(work)
    _started.add(task)
    task.add_done_callback(_started.discard)


class Relay(Protocol):
    """Carries a named poke to the replica that runs the loop (bot.runtime.leadership.Leadership)."""

    def signal(self, name: str) -> None: ...

    def on(self, name: str, action: Callable[[], None]) -> None: ...


class Background:
    def __init__(
        self,
        name: str,
        step: Step,
        *,
        first_pause: float = 0.0,
        after_failure: float = 60.0,
        relay: Relay | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.step = step
        self.first_pause = first_pause
        self.after_failure = after_failure
        self.sleep = sleep
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.relay = relay  # where a poke goes when the loop does not run on this replica
        if relay is not None:
            relay.on(name, self.poke_here)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def poke(self) -> None:
        """Run a step soon, whatever the pause left (on the replica that runs the loop)."""
        if self.running or self.relay is None:
            self._poked.set()
        else:
            self.relay.signal(self.name)

    def poke_here(self) -> None:
        """A relayed poke, arriving on the replica that runs the loop."""
        if self.running:
            self._poked.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            # A cancellation lost in an in-flight request must not hold up shutdown.
            await asyncio.wait({self._task}, timeout=5)
            self._task = None

    async def _run(self) -> None:
        pause = self.first_pause
        while not self._stopping:
            poked = await self._pause(pause)
            self._poked.clear()
            try:
                pause = await self.step(poked)
            except Exception:
                log.exception("%s: a step failed", self.name)
                pause = self.after_failure

    async def _pause(self, seconds: float) -> bool:
        """Wait until poked or ``seconds`` have passed; whether it was poked."""
        waits = [asyncio.ensure_future(self._poked.wait()), asyncio.ensure_future(self.sleep(max(seconds, 0.0)))]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return self._poked.is_set()
