"""Feature: periodic right-sizing (SPEC §8, opt-in). Every ``RUNNERS_BOT_RIGHTSIZING_INTERVAL``
seconds the replica that runs the singletons reads the configuration, computes each set's
recommendation from its job evidence (:mod:`bot.capacity.recommend`) and, for each set
whose ``minRunners`` or ``maxRunners`` should change materially and that has no open bot
pull request, proposes the change as a pull request on the set's branch, through the
same :class:`bot.services.pull_requests.PullRequests` the commands use: a later command
for the set updates it.

Each proposal is a delivery of its own, named by the set and the evidence window
(:func:`bot.store.keys.rightsizing`): the store refuses an id it has seen, so neither a
second replica nor a restart proposes the same window twice, and the dispatcher runs it
under a claim like any delivery, resuming one cut short without committing or opening
twice. A pass opens at most ``RUNNERS_BOT_RIGHTSIZING_LIMIT`` of them.

What is proposed stays within ``scaling.limits`` (the fleet's), as the recommendation
caps it; the cluster's free capacity is not consulted. A proposal below what is in force
carries the recommendation's reason in its body, and none is opened without one.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.capacity.evidence import HOUR
from bot.clients import config_source
from bot.clients.github import GitHubError
from bot.commands import rightsizing
from bot.fleet.config import parse
from bot.fleet.yamlload import YamlError
from bot.runtime import offload
from bot.runtime.background import Background
from bot.services import DASHBOARD, Services, job_evidence
from bot.services.pull_requests import Decided, PullRequests, Target
from bot.store import keys, records
from bot.store.api import Delivery
from bot.store.records import Requested
from bot.webhooks.routing import Handler, Route
from bot.webhooks.threads import once

log = logging.getLogger(__name__)

LOOP = "rightsizing"
KIND = "rightsizing"
# Not a GitHub event: proposals are stored by the loop, never accepted from a webhook.
EVENT = "runners_bot_rightsizing"
ACTION = "propose"
USER = "runners-bot (right-sizing)"
RETRY = 600.0


def accepts(_payload: Mapping[str, Any]) -> str | None:
    return "made by runners-bot's right-sizing pass, never received"


def web_root(api_url: str) -> str:
    """GitHub's web address for its API's (github.com, or an Enterprise Server's host)."""
    return "https://github.com" if api_url.rstrip("/") == "https://api.github.com" else api_url.split("/api/", 1)[0]


ROUTES = (Route(KIND, EVENT, ACTION, accepts),)


class RightSizing:
    """The right-sizing loop (on the replica that runs the singletons) and the handler of
    the proposals it stores."""

    def __init__(self, services: Services, pulls: PullRequests) -> None:
        self.services = services
        self.pulls = pulls
        self.interval = services.settings.rightsizing_interval
        self.limit = services.settings.rightsizing_limit
        self.submit: Callable[[str], None] | None = None  # the dispatcher's, once it is built
        self.clock: Callable[[], float] = time.time
        self._loop = Background(LOOP, self._step, first_pause=60.0, after_failure=RETRY, relay=services.leadership)

    def handlers(self) -> dict[str, Handler]:
        return {KIND: self.handle}

    # --- the loop ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.interval is not None:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    @property
    def running(self) -> bool:
        return self._loop.running

    async def _step(self, _poked: bool) -> float:
        await self.propose()
        return self.interval or RETRY

    async def propose(self) -> list[str]:
        """One pass: store (and hand to the dispatcher) a proposal for each set whose
        evidence calls for a material change and that has no open bot pull request, at
        most ``limit``; returns the ids stored now."""
        repo = self.services.settings.config_owner_repo
        installation = await self.services.installation()
        if repo is None or installation is None:
            return []
        try:
            snapshot = await config_source.latest(self.services.github.installation(installation), *repo)
            config = await offload.run(parse, snapshot.files.repositories, snapshot.files.base)
        except (GitHubError, YamlError) as exc:
            log.warning("right-sizing: cannot read the configuration: %s", exc)
            return []
        now = self.clock()
        busy = await records.open_pulls(self.services.store, repo)
        effectives = [config.effective(e) for e in config.entries if e.scale_set.lower() not in busy]
        observed = await job_evidence.observed(self.services, effectives, now)
        wanted = await offload.run(rightsizing.material, effectives, observed, config.base_config)
        # Each proposal's window of evidence is its own: within it, a set gets one proposal
        # (merged, declined or updated by commands), as later passes would read mostly the same hours.
        window = int(now // (self.services.settings.retention_days * 24 * HOUR))
        stored: list[str] = []
        for scale_set in wanted:
            if len(stored) >= self.limit:
                break
            delivery_id = keys.rightsizing(*repo, scale_set, window)
            body = json.dumps({"action": ACTION, "scale_set": scale_set, "now": now}).encode()
            delivery = Delivery(delivery_id, EVENT, ACTION, KIND, installation, body, received_at=now)
            if await self.services.store.add(delivery):
                stored.append(delivery_id)
                if self.submit is not None:
                    self.submit(delivery_id)
        if stored:
            log.info("right-sizing: %d proposals (%s)", len(stored), ", ".join(stored))
        return stored

    # --- one proposal ----------------------------------------------------------------------

    async def handle(self, delivery: Delivery) -> None:
        """Open the pull request a stored proposal names, if the evidence still calls for it."""
        services, repo = self.services, self.services.settings.config_owner_repo
        scale_set, now = str(delivery.payload["scale_set"]), float(delivery.payload["now"])
        if repo is None or delivery.installation is None:
            return
        inst = services.github.installation(delivery.installation)
        snapshot = await config_source.latest(inst, *repo)
        config = await offload.run(parse, snapshot.files.repositories, snapshot.files.base)
        entry = next((e for e in config.entries if e.scale_set == scale_set), None)
        if entry is None:
            return
        resumed = await services.store.step(delivery.id, f"pull:{scale_set}") is not None
        if not resumed and scale_set.lower() in await records.open_pulls(services.store, repo):
            return  # a command opened one meanwhile: it is the reviewers' now
        effective = config.effective(entry)
        found = (await job_evidence.observed(services, [effective], now))[scale_set]
        source = f"{web_root(services.settings.api_url)}/{repo[0]}/{repo[1]}/blob/HEAD/docs/capacity.md"
        proposal = await offload.run(
            rightsizing.propose, snapshot.files, config.base_config, effective, found, (USER, source)
        )
        if proposal is None:
            return  # no longer material, or no longer applies to the configuration
        requested = Requested(proposal.line, USER, source, None, proposal.change.full_name)
        target = Target(inst, delivery.id, repo[0], repo[1], snapshot)
        result = await self.pulls.submit(target, scale_set, [requested], Decided(proposal.text, proposal.pull))
        await once(
            services.store, delivery.id, f"label:{scale_set}", functools.partial(self.pulls.label, target, result)
        )
        if result.number is not None:
            services.poke(DASHBOARD)
