"""Bounded storage: what the state database keeps is forgotten after the retention period.

Finished deliveries (their bodies) and their step records, the memory of asked-for
redeliveries and of reply budgets go once older than ``RUNNERS_BOT_RETENTION_DAYS``
(default 14; at least 4, as GitHub redelivers up to 3 days back and a forgotten id
would run twice), and so do the job evidence's hours (bot.capacity). Unfinished deliveries, open pull requests and rollout watches stay.
Runs on start and then hourly, on one replica at a time (:mod:`bot.runtime.leadership`); what it
removed and what is kept show in ``/metrics``.
"""

from __future__ import annotations

import logging
import time

from bot.runtime.background import Background
from bot.runtime.metrics import Metrics
from bot.store import keys
from bot.store.api import Store

log = logging.getLogger(__name__)

INTERVAL = 3600.0


class Housekeeping:
    def __init__(self, store: Store, metrics: Metrics, retention_days: float) -> None:
        self.store = store
        self.metrics = metrics
        self.retention = retention_days * 86400
        self._loop = Background("housekeeping", self._step, after_failure=INTERVAL)

    async def sweep(self, now: float | None = None) -> dict[str, int]:
        """One pass; returns what was removed, by kind."""
        before = (now or time.time()) - self.retention
        removed = await self.store.purge(before, keys.EXPIRING)
        removed["job hours"] = await self.store.forget_jobs(int(before // 3600))
        for kind, count in removed.items():
            self.metrics.purged.labels(kind).inc(count)
        self.metrics.stored_deliveries.set(await self.store.stored())
        if removed["deliveries"]:
            log.info("forgot %d deliveries older than the retention period", removed["deliveries"])
        return removed

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _step(self, _poked: bool) -> float:
        await self.sweep()
        return INTERVAL
