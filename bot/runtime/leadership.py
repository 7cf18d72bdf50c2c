"""One owner for the singletons: the replica that holds the ``singletons`` lease runs them.

The singletons are the jobs that must not run twice at once: missed-delivery recovery,
rollout watches, the schedules' reconciler, the dashboard and housekeeping. Every
replica tries to take the lease; the holder renews it every third of the lease time and
starts the jobs when it gains a term, and stops them when it cannot renew before the
term would run out (so an old owner has stopped before a new one may begin). A new term
has a new fencing token; the jobs' writes to the store carry it (:meth:`fence`), so a
write from a term that is over is refused by the store itself (:class:`bot.store.api.LeaseLost`).

Features on any replica ask the jobs for work through :meth:`signal`: on the holder it
runs at once; elsewhere it is left in the store, where the holder picks it up within
``tick`` seconds. A replica that shuts down lets its lease go, so the next takes over at
its next try instead of after the lease time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from bot.runtime.background import spawn
from bot.runtime.metrics import Metrics
from bot.store import keys
from bot.store.api import Fence, LeaseLost, Store

log = logging.getLogger(__name__)

NAME = "singletons"
MARGIN = 0.2  # of the lease time: stop this early, for clocks and slow stops


class Job(Protocol):
    """A singleton: started when this replica gains the lease, stopped when it loses it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Leadership:
    def __init__(self, store: Store, metrics: Metrics, *, seconds: float = 30.0, tick: float = 1.0) -> None:
        self.store = store
        self.metrics = metrics
        self.seconds = seconds
        self.tick = min(tick, seconds / 3)
        self.jobs: list[Job] = []
        self.signals: dict[str, Callable[[], None]] = {}
        self._token: int | None = None
        self._deadline = 0.0  # monotonic time by which the term must be renewed
        self._renewed = 0.0
        self._task: asyncio.Task[None] | None = None
        self._changing = asyncio.Lock()

    # --- for the features --------------------------------------------------------------------

    @property
    def leading(self) -> bool:
        return self._token is not None

    def fence(self) -> Fence:
        """The current term, for a singleton's writes; :class:`LeaseLost` when this replica
        does not lead (a fenced write never falls back to an unchecked one)."""
        if self._token is None:
            raise LeaseLost(f"this replica does not hold the {NAME} lease: the write is the leader's to make")
        return Fence(NAME, self._token)

    def on(self, name: str, action: Callable[[], None]) -> None:
        """Register what signal ``name`` does on the replica that leads."""
        self.signals[name] = action

    def signal(self, name: str) -> None:
        """Ask the singletons' holder to run the action registered as ``name``."""
        if self.leading and name in self.signals:
            self.signals[name]()
            return
        spawn(self._leave(name))  # called by code that does not wait for the write

    async def _leave(self, name: str) -> None:
        try:
            await self.store.put(keys.signal(name), str(time.time()))
        except Exception:  # the job's own timer will get there
            log.exception("could not leave signal %s for the lead replica", name)

    # --- the loop ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Try once before returning (a lone replica leads from its first moment), then keep trying."""
        await self._try()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.leading:
            await self._lose("shutting down", logging.INFO)
            with contextlib.suppress(Exception):
                await self.store.unlease(NAME)

    async def _run(self) -> None:
        while True:
            pause = self.tick
            if self.leading:  # wake up by the deadline at the latest, to stop in time
                pause = max(min(pause, self._deadline - time.monotonic()), 0.0)
            await asyncio.sleep(pause)
            if time.monotonic() - self._renewed >= self.seconds / 3 or not self.leading:
                await self._try()
            if self.leading:
                await self._take_signals()

    async def _try(self) -> None:
        asked = time.monotonic()
        # A holder waits for the database no longer than its term lasts.
        budget = max(self._deadline - asked, 0.05) if self.leading else self.seconds / 3
        try:
            async with asyncio.timeout(budget):
                token = await self.store.lease(NAME, self.seconds)
        except Exception as exc:
            if self.leading and time.monotonic() >= self._deadline:
                await self._lose(f"the lease could not be renewed in time ({type(exc).__name__}: {exc})")
            elif not self.leading:
                log.warning("could not try for the singletons lease: %s", exc)
            return
        if token is None:
            if self.leading:
                await self._lose("another replica holds the lease")
            return
        self._renewed = time.monotonic()
        self._deadline = deadline(asked, self.seconds)
        if token != self._token:
            if self.leading:
                await self._lose("a new term began")
            await self._gain(token)

    async def _gain(self, token: int) -> None:
        async with self._changing:
            self._token = token
            self.metrics.leader.set(1)
            log.info("this replica runs the singletons (term %d)", token)
            for job in self.jobs:
                try:
                    await job.start()
                except Exception:  # one job that cannot start must not keep the others from running
                    log.exception("could not start %s", type(job).__name__)

    async def _lose(self, why: str, level: int = logging.WARNING) -> None:
        async with self._changing:
            self._token = None
            self.metrics.leader.set(0)
            log.log(level, "this replica stops running the singletons: %s", why)
            for job in reversed(self.jobs):
                with contextlib.suppress(Exception):
                    await job.stop()

    async def _take_signals(self) -> None:
        try:
            names = await self.store.keys(keys.SIGNAL)
            for key in names:
                await self.store.delete(key)
                action = self.signals.get(key.removeprefix(keys.SIGNAL))
                if action is not None:
                    action()
        except Exception:
            log.exception("could not take the other replicas' signals")


def deadline(asked: float, seconds: float) -> float:
    """The monotonic time by which a term taken or renewed at ``asked`` must be renewed:
    the database counted the lease from a moment after ``asked``, so this is early."""
    return asked + seconds * (1 - MARGIN)


def run_soon(action: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """A signal action that starts ``action`` as a task."""

    def start() -> None:
        spawn(action())

    return start
