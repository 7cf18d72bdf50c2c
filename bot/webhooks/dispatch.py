"""Workers that take accepted deliveries from the store and run their handlers.

A delivery is worked on only under this replica's claim (:mod:`bot.store`): the one
that accepted it holds it from the start; a heartbeat renews the claims of running
work; a handler whose claim was lost (this replica stalled past the lease and another
took over) is cancelled. A poll claims what nobody holds: work accepted before a crash
or restart, work of a replica that died, and retries whose time has come. A
:class:`bot.runtime.errors.TemporaryError` reschedules the delivery with backoff (bounded
attempts) and lets its claim go, so any replica may run it next; a
:class:`bot.runtime.errors.PermanentError` ends it as failed. Every wait goes through
``sleep`` (``asyncio.sleep`` unless a test injects a clock it advances).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from bot.runtime import logs
from bot.runtime.errors import PermanentError, TemporaryError
from bot.runtime.metrics import Metrics
from bot.store.api import Delivery, LeaseLost, Store
from bot.webhooks.routing import Handler

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = 600.0
POLL_BATCH = 50


class Dispatcher:
    """A queue of delivery ids, ``workers`` tasks draining it, a heartbeat and a poll."""

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        metrics: Metrics,
        workers: int,
        *,
        lease: float = 30.0,
        poll: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.metrics = metrics
        self.workers = workers
        self.lease = lease
        self.poll = poll
        self.sleep = sleep
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._later: set[asyncio.Task[None]] = set()  # retries waiting for their time
        # Deliveries this replica works on: their task, or None while the claim is being made.
        self._running: dict[str, asyncio.Task[None] | None] = {}

    async def start(self) -> None:
        await self._claim_ready()
        self._tasks = [asyncio.create_task(self._work(), name=f"worker-{n}") for n in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="claims-heartbeat"))
        self._tasks.append(asyncio.create_task(self._poll(), name="claims-poll"))

    async def stop(self) -> None:
        # What this replica holds goes back at once, for another replica (or the next start):
        # noted before the workers stop, as a stopped worker forgets what it was doing.
        held = list(self._running)
        for task in [*self._later, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._later, *self._tasks, return_exceptions=True)
        while not self.queue.empty():
            held.append(self.queue.get_nowait())
            self.queue.task_done()
        with contextlib.suppress(Exception):
            await self.store.release(held)

    def submit(self, delivery_id: str) -> None:
        self.queue.put_nowait(delivery_id)
        self.metrics.queue_depth.set(self.queue.qsize())

    def schedule(self, delivery_id: str, delay: float) -> None:
        """Submit ``delivery_id`` once ``delay`` seconds have passed."""
        if delay <= 0:
            self.submit(delivery_id)
            return

        async def later() -> None:
            await self.sleep(delay)
            self.submit(delivery_id)

        task = asyncio.create_task(later(), name=f"retry-{delivery_id}")
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    @property
    def timers(self) -> int:
        """Retries waiting for their time: one that ran is let go."""
        return len(self._later)

    async def idle(self) -> None:
        """Wait until the queue is empty and no delivery is being worked on (tests, shutdown)."""
        await self.queue.join()

    async def _claim_ready(self) -> None:
        while True:
            found = await self.store.claim_ready(POLL_BATCH)
            for delivery_id in found:
                self.submit(delivery_id)
            if len(found) < POLL_BATCH:
                return

    async def _poll(self) -> None:
        while True:
            await self.sleep(self.poll)
            try:
                await self._claim_ready()
            except Exception:
                log.exception("could not look for unclaimed deliveries")

    async def _heartbeat(self) -> None:
        while True:
            await self.sleep(self.lease / 3)
            running = dict(self._running)
            try:
                ours = await self.store.renew(running)
            except Exception:
                log.exception("could not renew this replica's claims")
                continue
            for delivery_id, task in running.items():
                if delivery_id not in ours and task is not None and not task.done():
                    log.warning("lost the claim on delivery %s to another replica: stopping", delivery_id)
                    self.metrics.claims_lost.inc()
                    task.cancel()

    async def _work(self) -> None:
        while True:
            delivery_id = await self.queue.get()
            self.metrics.queue_depth.set(self.queue.qsize())
            # The same id may be queued twice (accepted here, then found by the poll when its
            # claim ran out in the queue): one worker at a time, marked before any await.
            if delivery_id in self._running:
                self.queue.task_done()
                continue
            self._running[delivery_id] = None
            try:
                await self._claimed(delivery_id)
            finally:
                self._running.pop(delivery_id, None)
                self.queue.task_done()

    async def _claimed(self, delivery_id: str) -> None:
        token = logs.delivery_id.set(delivery_id)
        try:
            delivery = await self.store.claim(delivery_id)
            if delivery is None:
                log.debug("delivery %s is done or another replica's", delivery_id)
                return  # done already, or another replica's claim holds
            log.debug("working on delivery %s (attempt %d)", delivery_id, delivery.attempts + 1)
            task = asyncio.create_task(self._process(delivery), name=f"delivery-{delivery_id}")
            self._running[delivery_id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.cancelled():  # the worker is stopping: stop the delivery's work too
                    task.cancel()
                    raise
        except LeaseLost as exc:
            log.info("another replica carries on with delivery %s: %s", delivery_id, exc)
        finally:
            logs.delivery_id.reset(token)

    async def _process(self, delivery: Delivery) -> None:
        handler = self.handlers.get(delivery.kind)
        if handler is None:
            await self.store.fail(delivery.id, f"no handler for {delivery.kind}")
            return
        try:
            await handler(delivery)
        except PermanentError as exc:
            log.error("delivery failed: %s", exc)
            await self.store.fail(delivery.id, str(exc))
            return
        except TemporaryError as exc:
            await self._retry(delivery, str(exc), exc.retry_after)
            return
        except LeaseLost:
            raise
        except Exception as exc:  # a bug must not kill the worker; retry a bounded number of times
            log.exception("delivery handler crashed")
            await self._retry(delivery, f"{type(exc).__name__}: {exc}", 5.0)
            return
        await self.store.finish(delivery.id)

    async def _retry(self, delivery: Delivery, error: str, retry_after: float) -> None:
        if delivery.attempts + 1 >= MAX_ATTEMPTS:
            log.error("delivery gave up after %d attempts: %s", delivery.attempts + 1, error)
            await self.store.fail(delivery.id, error)
            return
        # Backoff is capped; a rate-limit reset is honoured in full (an earlier try would fail again).
        delay = max(retry_after, min(2.0 ** (delivery.attempts + 1), MAX_BACKOFF))
        attempts = await self.store.retry_later(delivery.id, delay, error)
        log.warning("delivery will be retried in %.0fs: %s", delay, error, extra={"attempt": attempts})
        self.schedule(delivery.id, delay)
