"""Missed-delivery recovery: GitHub does not redeliver failed deliveries by itself.

On start and then every ``recovery_interval`` seconds, the App's recent deliveries are
listed (JWT), grouped by ``guid``; a guid with no successful attempt that the store has
never seen is redelivered once, through GitHub, so it arrives signed like any other.
A singleton (:mod:`bot.runtime.leadership`): one replica scans at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.clients.github import GitHubApp, GitHubError
from bot.runtime.metrics import Metrics
from bot.store import keys
from bot.store.api import Fence, LeaseLost, Store

log = logging.getLogger(__name__)


def to_redeliver(deliveries: Iterable[Mapping[str, Any]], seen: set[str], asked: set[str]) -> list[tuple[str, int]]:
    """``(guid, delivery id)`` to redeliver: one per guid never delivered OK, not in the
    store, and not already asked for. Pure."""
    attempts: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in deliveries:
        guid = item.get("guid")
        if isinstance(guid, str) and isinstance(item.get("id"), int):
            attempts[guid].append(item)
    chosen = []
    for guid, items in attempts.items():
        if guid in seen or guid in asked:
            continue
        if any(str(i.get("status", "")).upper() == "OK" or 200 <= int(i.get("status_code") or 0) < 300 for i in items):
            continue
        newest = max(items, key=lambda i: str(i.get("delivered_at", "")))
        chosen.append((guid, int(newest["id"])))
    return chosen


class Recovery:
    """The periodic scan; redelivery requests are remembered so each guid is asked once."""

    def __init__(
        self,
        github: GitHubApp,
        store: Store,
        metrics: Metrics,
        interval: float,
        fence: Callable[[], Fence | None] = lambda: None,  # the leader's term (Leadership.fence)
    ) -> None:
        self.github = github
        self.store = store
        self.metrics = metrics
        self.interval = interval
        self.fence = fence
        self._task: asyncio.Task[None] | None = None

    async def scan(self) -> int:
        """One pass; returns how many deliveries were asked for again."""
        deliveries = await self.github.failed_deliveries()
        guids = [str(d.get("guid")) for d in deliveries if d.get("guid")]
        seen = await self.store.seen(guids)
        count = 0
        for guid, delivery_id in to_redeliver(deliveries, seen, set()):
            if await self.store.get(keys.redelivered(guid)):
                continue
            await self.github.redeliver(delivery_id)
            await self.store.put(keys.redelivered(guid), str(delivery_id), self.fence())
            self.metrics.redeliveries.inc()
            count += 1
        if count:
            log.info("asked GitHub to redeliver %d missed deliveries", count)
        return count

    async def start(self) -> None:
        """Scan now, then every ``interval`` seconds; an interval of 0 disables the scan."""
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.scan()
            except GitHubError as exc:
                log.warning("missed-delivery scan failed: %s", exc)
            except LeaseLost:
                return  # another replica scans now
            await asyncio.sleep(self.interval)
