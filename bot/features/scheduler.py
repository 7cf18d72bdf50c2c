"""Feature: the clock. Scale sets run by it get the runners their schedules and bursts say.

What a set should have now, and the write to the cluster, are
:class:`bot.services.runner_limits.RunnerLimits`'; this loop decides *when*: on start, at
every window edge and burst end, after every merge, after a burst command (each pokes
it), and every ``interval`` seconds; a failed write is retried on the next pass (sooner
than the interval). It also ends bursts whose time is up, or whose entry no longer
allows them, and edits the reply that started each.

Bursts are kept in the state database, so a restart resumes them and ends them on time.
If the app stops for good, the cluster keeps the last values it set (SCALING.md says how
to hand a set back to Argo CD).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from bot.clients import config_source
from bot.clients.github import GitHubError
from bot.commands import render
from bot.fleet.config import Config, parse
from bot.fleet.schedules import ActiveBurst, next_change
from bot.fleet.yamlload import YamlError
from bot.runtime import offload
from bot.runtime.background import Background
from bot.services import SCHEDULES, Services
from bot.services.runner_limits import RunnerLimits
from bot.store import keys, records

log = logging.getLogger(__name__)

RETRY = 60.0  # seconds before a failed write is tried again


class Scheduler:
    """The clock's loop, on the replica that runs the singletons."""

    def __init__(self, services: Services, runner_limits: RunnerLimits, *, interval: float = 300.0) -> None:
        self.services = services
        self.runner_limits = runner_limits
        self.interval = interval
        self._loop = Background(SCHEDULES, self._step, after_failure=RETRY, relay=services.leadership)

    async def reconcile(self) -> datetime | None:
        """One pass over the configuration; returns when the next one is due."""
        now = self.runner_limits.clock()
        config = await self._config()
        await self._expire(now, config)
        if config is None:
            return now + timedelta(seconds=RETRY)
        failed = await self.runner_limits.enforce(config)
        due = now + timedelta(seconds=RETRY if failed else self.interval)
        bursts = await self.runner_limits.bursts()
        edges = [b.until for b in bursts.values() if b.until > now]
        for entry in config.entries:
            effective = config.effective(entry)
            if effective.schedules:
                edge = next_change(list(effective.schedules), now)
                if edge is not None:
                    edges.append(edge)
        return min([due, *edges])

    async def _expire(self, now: datetime, config: Config | None) -> None:
        """End the bursts whose time is up, and cut the others to their entry's ``burst:``
        as it is now (a tightened allowance, or none)."""
        stored_bursts = await records.stored_bursts(self.services.store)
        if not stored_bursts:
            return
        entries = {e.scale_set: e for e in config.entries} if config is not None else {}
        fence = self.services.leadership.fence()
        store = self.services.store
        for scale_set, stored in stored_bursts.items():
            key = keys.burst(scale_set)
            burst: ActiveBurst | None = stored.burst
            if config is not None:
                entry = entries.get(scale_set)
                burst = stored.burst.within(config.effective(entry).burst if entry is not None else None)
            if burst is None:
                await store.delete(key, fence)
                await self.runner_limits.announce_end(stored, render.sentence("burst_over_disallowed.md"))
            elif now >= burst.until:
                await store.delete(key, fence)
                await self.runner_limits.announce_end(
                    stored, render.sentence("burst_over_at.md", until=render.moment(burst.until))
                )
            elif burst != stored.burst:
                await store.put(key, dataclasses.replace(stored, burst=burst).dump(), fence)
                log.info("%s: burst cut to its entry's allowance: %s", scale_set, burst)

    async def _config(self) -> Config | None:
        owner_repo = self.services.settings.config_owner_repo
        if owner_repo is None:
            return None
        installation = await self.services.installation()
        if installation is None:
            return None  # no delivery yet: nothing can have asked for a burst or merged a schedule
        try:
            snapshot = await config_source.latest(self.services.github.installation(installation), *owner_repo)
            # Off the event loop: the first parse of a new head takes seconds at 50,000 sets.
            return await offload.run(parse, snapshot.files.repositories, snapshot.files.base)
        except (GitHubError, YamlError) as exc:
            log.warning("schedules: cannot read the configuration: %s", exc)
            return None

    # --- the loop ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.runner_limits.kube is None:
            log.info("schedules and bursts are not enforced: runners-bot has no cluster access")
            return
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _step(self, _poked: bool) -> float:
        due = await self.reconcile()
        return max((due - self.runner_limits.clock()).total_seconds(), 1.0) if due else RETRY
