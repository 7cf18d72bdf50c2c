"""The runners of sets run by the clock: what schedules and bursts say now, written to the cluster.

For every entry with ``schedules`` or a ``burst`` allowance the effective values are
(:mod:`bot.fleet.schedules`): an active burst's, else an open window's, else the declared
ones. Argo CD leaves those two fields of such a set to the app (``ignoreDifferences``);
the app's only write to the cluster is a patch of ``spec.minRunners``/``spec.maxRunners``,
made when they differ from what the set has. Used by the clock (its passes), by burst
commands (at once) and by rollout reports (what to expect of a clocked set).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.clients.github import GitHubError
from bot.clients.kube import Kube, KubeUnavailable, NotDeployed
from bot.commands import render
from bot.commands.pipeline import BurstOrder
from bot.fleet.config import Config, ConfigFiles, Effective, parse
from bot.fleet.schedules import ActiveBurst, Runners, runners_at
from bot.runtime import offload
from bot.services import SCHEDULES, Services
from bot.store import keys, records
from bot.store.records import StoredBurst
from bot.webhooks.threads import marked

log = logging.getLogger(__name__)


class RunnerLimits:
    """Bursts and the min/max writes of clocked sets; ``clock`` is injectable (tests)."""

    def __init__(
        self, services: Services, kube: Kube | None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.services = services
        self.kube = kube
        self.clock = clock

    async def bursts(self) -> dict[str, ActiveBurst]:
        """The bursts in force."""
        return await records.bursts(self.services.store)

    def target(self, effective: Effective, bursts: dict[str, ActiveBurst]) -> Runners:
        """What ``effective`` should have now, given the bursts in force."""
        return runners_at(
            effective.min_runners,
            effective.max_runners,
            list(effective.schedules),
            bursts.get(effective.scale_set),
            self.clock(),
        )

    async def order(self, order: BurstOrder, files: ConfigFiles) -> str:
        """Start or end a burst at once; returns a sentence on how it went."""
        store, key = self.services.store, keys.burst(order.scale_set)
        if order.until is None:
            stored = await records.stored_burst(store, order.scale_set)
            await store.delete(key)
            if stored is not None:
                await self.announce_end(stored, render.sentence("burst_over_early.md"))
        else:
            burst = ActiveBurst(order.min_runners, order.max_runners, order.until, self.clock())
            await store.put(key, StoredBurst(burst, None, "").dump())
        failed = await self.enforce(await offload.run(parse, files.repositories, files.base), only=order.scale_set)
        self.services.poke(SCHEDULES)  # the replica that runs the clock plans this burst's end now
        return render.sentence("burst_unapplied.md", problem=failed) if failed else render.sentence("burst_applied.md")

    async def remember_reply(self, scale_set: str, where: tuple[str, str, int], text: str, tag: str) -> None:
        """The reply that started a burst (its text and hidden marker), to edit when the burst ends."""
        stored = await records.stored_burst(self.services.store, scale_set)
        if stored is not None:
            await self.services.store.put(keys.burst(scale_set), StoredBurst(stored.burst, where, text, tag).dump())

    async def announce_end(self, stored: StoredBurst, note: str) -> None:
        """Add ``note`` (how the burst ended, templates/burst_over_*.md) to the reply that started it."""
        installation = await self.services.installation()
        if stored.reply is None or installation is None:
            return
        owner, repo, comment_id = stored.reply
        inst = self.services.github.installation(installation)
        body = f"{stored.text.rstrip()}\n\n{note}"
        # The marker stays: a redelivery or a later report finds the reply by it and edits it.
        body = marked(body, stored.marker) if stored.marker else body + "\n"
        try:
            await inst.edit_comment(owner, repo, comment_id, body)
        except GitHubError as exc:
            log.warning("could not edit the burst reply on %s/%s: %s", owner, repo, exc)

    async def enforce(self, config: Config, only: str | None = None) -> str | None:
        """Patch every set run by the clock whose min/max differ; returns the last failure."""
        # One pass at a time, across replicas: a burst ordered on one and the loop on the one
        # that runs the schedules never race, and the last to write read the latest bursts.
        async with self.services.store.lock(keys.CLOCK_WRITES):
            return await self._enforce_now(config, only)

    async def _enforce_now(self, config: Config, only: str | None) -> str | None:
        bursts = await self.bursts()
        failure = None
        for entry in config.entries:
            effective = config.effective(entry)
            if not effective.runs_by_the_clock or (only is not None and effective.scale_set != only):
                continue
            runners = self.target(effective, bursts)
            metrics = self.services.metrics.effective_runners
            metrics.labels(effective.scale_set, "min").set(runners.min_runners)
            metrics.labels(effective.scale_set, "max").set(runners.max_runners)
            try:
                await self._set(effective, runners)
            except NotDeployed:
                continue  # Argo CD creates it with the declared values; the next pass follows
            except KubeUnavailable as exc:
                self.services.metrics.scale_writes.labels("failed").inc()
                log.warning("could not set %s to %s: %s", effective.scale_set, runners, exc)
                failure = str(exc)
        return failure

    async def _set(self, effective: Effective, runners: Runners) -> None:
        if self.kube is None:
            raise KubeUnavailable("runners-bot has no cluster access configured")
        current = await self.kube.runner_set(effective.scale_set, effective.namespace)
        if current is None:
            return  # not deployed yet: Argo CD creates it with the declared values, the next pass follows
        spec = current.get("spec", {})
        if (spec.get("minRunners"), spec.get("maxRunners")) == (runners.min_runners, runners.max_runners):
            return
        await self.kube.set_runners(effective.scale_set, effective.namespace, runners.min_runners, runners.max_runners)
        self.services.metrics.scale_writes.labels("written").inc()
        log.info(
            "%s: min %s, max %s (%s)", effective.scale_set, runners.min_runners, runners.max_runners, runners.source
        )
