"""Feature: scale sets run by the clock get the runners their schedules and bursts say.

For every entry with ``schedules`` or a ``burst`` allowance the effective values are
(:mod:`bot.fleet.schedules`): an active burst's, else an open window's, else the declared
ones. Argo CD leaves those two fields of such a set to the app (``ignoreDifferences``);
the app's only write to the cluster is a patch of ``spec.minRunners``/``spec.maxRunners``,
made when they differ from what the set has. It reconciles on start, at every window
edge and burst end, after every merge, after a burst command, and every ``interval``
seconds; a failed write is retried on the next pass (sooner than the interval).

Bursts are kept in the state database, so a restart resumes them and ends them on time;
the reply that started one is edited when it ends. If the app stops for good, the
cluster keeps the last values it set (SCALING.md says how to hand a set back to Argo CD).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.clients import config_source
from bot.clients.github import GitHubError
from bot.clients.kube import Kube, KubeUnavailable, NotDeployed
from bot.commands import render
from bot.commands.pipeline import BurstOrder
from bot.fleet.config import Config, ConfigFiles, Effective, parse
from bot.fleet.schedules import ActiveBurst, Runners, next_change, runners_at
from bot.fleet.yamlload import YamlError
from bot.runtime.background import Background
from bot.services import Services
from bot.store import keys

log = logging.getLogger(__name__)

RETRY = 60.0  # seconds before a failed write is tried again


@dataclass(frozen=True)
class StoredBurst:
    """A burst in force, with the reply to edit when it ends."""

    burst: ActiveBurst
    reply: tuple[str, str, int] | None  # owner, repo, comment id
    text: str

    def dump(self) -> str:
        b = self.burst
        return json.dumps(
            {
                "min": b.min_runners,
                "max": b.max_runners,
                "until": b.until.isoformat(),
                "started": b.started.isoformat() if b.started else None,
                "reply": self.reply,
                "text": self.text,
            }
        )

    @classmethod
    def load(cls, text: str) -> StoredBurst:
        data = json.loads(text)
        started = datetime.fromisoformat(data["started"]) if data.get("started") else None
        burst = ActiveBurst(int(data["min"]), data["max"], datetime.fromisoformat(data["until"]), started)
        reply = tuple(data["reply"]) if data.get("reply") else None
        return cls(burst, reply, str(data.get("text", "")))


class Scheduler:
    """Reconciles the sets run by the clock; ``clock`` is injectable (tests)."""

    def __init__(
        self,
        services: Services,
        kube: Kube | None,
        *,
        interval: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.services = services
        self.kube = kube
        self.interval = interval
        self.clock = clock
        self._loop = Background("schedules", self._step, after_failure=RETRY, relay=services.leadership)

    # --- bursts --------------------------------------------------------------------------

    async def bursts(self) -> dict[str, ActiveBurst]:
        """The bursts in force."""
        return {
            key.removeprefix(keys.BURST): StoredBurst.load(saved).burst
            for key, saved in await self.services.store.items(keys.BURST)
        }

    async def order(self, order: BurstOrder, files: ConfigFiles) -> str:
        """Start or end a burst at once; returns a sentence on how it went."""
        key = keys.burst(order.scale_set)
        if order.until is None:
            saved = await self.services.store.get(key)
            await self.services.store.delete(key)
            if saved is not None:
                await self._announce_end(StoredBurst.load(saved), "ended early")
        else:
            burst = ActiveBurst(order.min_runners, order.max_runners, order.until, self.clock())
            await self.services.store.put(key, StoredBurst(burst, None, "").dump())
        failed = await self._enforce(parse(files.repositories, files.base), only=order.scale_set)
        self.wake()  # the replica that runs the schedules plans this burst's end now, not at its next pass
        return (
            f"The cluster could not be reached right now ({failed}); runners-bot keeps trying."
            if failed
            else "Applied to the scale set."
        )

    async def remember_reply(self, scale_set: str, where: tuple[str, str, int], text: str) -> None:
        key = keys.burst(scale_set)
        saved = await self.services.store.get(key)
        if saved is not None:
            stored = StoredBurst.load(saved)
            await self.services.store.put(key, StoredBurst(stored.burst, where, text).dump())

    async def _expire(self, now: datetime, config: Config | None) -> None:
        """End the bursts whose time is up, and cut the others to their entry's ``burst:``
        as it is now (a tightened allowance, or none)."""
        stored_bursts = await self.services.store.items(keys.BURST)
        if not stored_bursts:
            return
        entries = {e.scale_set: e for e in config.entries} if config is not None else {}
        fence = self.services.leadership.fence()
        for key, saved in stored_bursts:
            stored = StoredBurst.load(saved)
            burst: ActiveBurst | None = stored.burst
            if config is not None:
                entry = entries.get(key.removeprefix(keys.BURST))
                burst = stored.burst.within(config.effective(entry).burst if entry is not None else None)
            if burst is None:
                await self.services.store.delete(key, fence)
                await self._announce_end(stored, "ended: its entry no longer allows a burst")
            elif now >= burst.until:
                await self.services.store.delete(key, fence)
                await self._announce_end(stored, f"ended at {render.moment(burst.until)}")
            elif burst != stored.burst:
                cut = StoredBurst(burst, stored.reply, stored.text)
                await self.services.store.put(key, cut.dump(), fence)
                log.info("%s: burst cut to its entry's allowance: %s", key.removeprefix(keys.BURST), burst)

    async def _announce_end(self, stored: StoredBurst, how: str) -> None:
        if stored.reply is None or self._installation is None:
            return
        owner, repo, comment_id = stored.reply
        inst = self.services.github.installation(self._installation)
        body = f"{stored.text.rstrip()}\n\n⏹️ The burst {how}: the scheduled or declared values are back.\n"
        try:
            await inst.edit_comment(owner, repo, comment_id, body)
        except GitHubError as exc:
            log.warning("could not edit the burst reply on %s/%s: %s", owner, repo, exc)

    # --- reconciling ---------------------------------------------------------------------

    _installation: int | None = None

    async def installation(self) -> int | None:
        """The installation the configuration repository is read through, when known."""
        if self._installation is None:
            remembered = await self.services.store.get(keys.CLOCK_INSTALLATION)
            self._installation = int(remembered) if remembered else None
        return self._installation

    async def known_installation(self, installation: int) -> None:
        """The installation through which the configuration repository was read (remembered
        across restarts: the loop starts reading the configuration once it knows one)."""
        if self._installation != installation:
            self._installation = installation
            await self.services.store.put(keys.CLOCK_INSTALLATION, str(installation))
            self.wake()

    def wake(self) -> None:
        """Reconcile now (a merge, a burst), on the replica that runs the schedules."""
        self._loop.poke()

    async def reconcile(self) -> datetime | None:
        """One pass over the configuration; returns when the next one is due."""
        now = self.clock()
        config = await self._config()
        await self._expire(now, config)
        if config is None:
            return now + timedelta(seconds=RETRY)
        failed = await self._enforce(config)
        due = now + timedelta(seconds=RETRY if failed else self.interval)
        bursts = await self.bursts()
        edges = [b.until for b in bursts.values() if b.until > now]
        for entry in config.entries:
            effective = config.effective(entry)
            if effective.schedules:
                edge = next_change(list(effective.schedules), now)
                if edge is not None:
                    edges.append(edge)
        return min([due, *edges])

    async def _config(self) -> Config | None:
        owner_repo = self.services.settings.config_owner_repo
        if owner_repo is None:
            return None
        if self._installation is None:
            remembered = await self.services.store.get(keys.CLOCK_INSTALLATION)
            if remembered is None:
                return None  # no delivery yet: nothing can have asked for a burst or merged a schedule
            self._installation = int(remembered)
        try:
            snapshot = await config_source.latest(self.services.github.installation(self._installation), *owner_repo)
            return parse(snapshot.files.repositories, snapshot.files.base)
        except (GitHubError, YamlError) as exc:
            log.warning("schedules: cannot read the configuration: %s", exc)
            return None

    def target(self, effective: Effective, bursts: dict[str, ActiveBurst]) -> Runners:
        """What ``effective`` should have now, given the bursts in force."""
        return runners_at(
            effective.min_runners,
            effective.max_runners,
            list(effective.schedules),
            bursts.get(effective.scale_set),
            self.clock(),
        )

    async def _enforce(self, config: Config, only: str | None = None) -> str | None:
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

    # --- the loop ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.kube is None:
            log.info("schedules and bursts are not enforced: runners-bot has no cluster access")
            return
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _step(self, _poked: bool) -> float:
        due = await self.reconcile()
        return max((due - self.clock()).total_seconds(), 1.0) if due else RETRY
