"""Workers that take accepted deliveries from the inbox and run their handlers.

At start every unfinished delivery is queued again, so work accepted before a crash or
restart resumes. A :class:`bot.github.TemporaryError` reschedules the delivery with
backoff (bounded attempts); a :class:`bot.github.PermanentError` ends it as failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from bot import logs
from bot.github import PermanentError, TemporaryError
from bot.inbox import Delivery, Inbox
from bot.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Delivery], Awaitable[None]]
MAX_ATTEMPTS = 8
MAX_BACKOFF = 600.0


class Dispatcher:
    """A queue of delivery ids and ``workers`` tasks draining it."""

    def __init__(self, inbox: Inbox, handlers: Mapping[str, Handler], metrics: Metrics, workers: int) -> None:
        self.inbox = inbox
        self.handlers = handlers
        self.metrics = metrics
        self.workers = workers
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []
        self._running: set[str] = set()

    async def start(self) -> None:
        for delivery_id, not_before in await asyncio.to_thread(self.inbox.pending):
            self.schedule(delivery_id, not_before)
        self._tasks = [asyncio.create_task(self._work(), name=f"worker-{n}") for n in range(self.workers)]

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def submit(self, delivery_id: str) -> None:
        self.queue.put_nowait(delivery_id)
        self.metrics.queue_depth.set(self.queue.qsize())

    def schedule(self, delivery_id: str, not_before: float) -> None:
        delay = not_before - time.time()
        if delay <= 0:
            self.submit(delivery_id)
        else:
            self._timers.append(asyncio.get_running_loop().call_later(delay, self.submit, delivery_id))

    async def idle(self) -> None:
        """Wait until the queue is empty and no delivery is being worked on (tests, shutdown)."""
        await self.queue.join()

    async def _work(self) -> None:
        while True:
            delivery_id = await self.queue.get()
            self.metrics.queue_depth.set(self.queue.qsize())
            try:
                if delivery_id not in self._running:
                    self._running.add(delivery_id)
                    try:
                        await self._process(delivery_id)
                    finally:
                        self._running.discard(delivery_id)
            finally:
                self.queue.task_done()

    async def _process(self, delivery_id: str) -> None:
        token = logs.delivery_id.set(delivery_id)
        try:
            delivery = await asyncio.to_thread(self.inbox.load, delivery_id)
            if delivery is None:
                return
            handler = self.handlers.get(delivery.kind)
            if handler is None:
                await asyncio.to_thread(self.inbox.fail, delivery_id, f"no handler for {delivery.kind}")
                return
            try:
                await handler(delivery)
            except PermanentError as exc:
                log.error("delivery failed: %s", exc)
                await asyncio.to_thread(self.inbox.fail, delivery_id, str(exc))
                return
            except TemporaryError as exc:
                await self._retry(delivery, str(exc), exc.retry_after)
                return
            except Exception as exc:  # a bug must not kill the worker; retry a bounded number of times
                log.exception("delivery handler crashed")
                await self._retry(delivery, f"{type(exc).__name__}: {exc}", 5.0)
                return
            await asyncio.to_thread(self.inbox.finish, delivery_id)
        finally:
            logs.delivery_id.reset(token)

    async def _retry(self, delivery: Delivery, error: str, retry_after: float) -> None:
        # Backoff is capped; a rate-limit reset is honoured in full (an earlier try would fail again).
        delay = max(retry_after, min(2.0 ** (delivery.attempts + 1), MAX_BACKOFF))
        attempts = await asyncio.to_thread(self.inbox.retry_later, delivery.id, delay, error)
        if attempts >= MAX_ATTEMPTS:
            log.error("delivery gave up after %d attempts: %s", attempts, error)
            await asyncio.to_thread(self.inbox.fail, delivery.id, error)
            return
        log.warning("delivery will be retried in %.0fs: %s", delay, error, extra={"attempt": attempts})
        self.schedule(delivery.id, time.time() + delay)
