"""Feature: a runners-bot pull request was closed (merged or not).

Either way the scale set has no open pull request any more, so the next command for it
opens a new one. A merged one starts following the rollout (:mod:`bot.features.rollout_watch`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.clients import config_source
from bot.features.pull_requests import PullRequests
from bot.features.rollout_watch import Merged, RolloutWatcher
from bot.features.scheduler import Scheduler
from bot.fleet import names
from bot.services import Services
from bot.store.api import Delivery

if TYPE_CHECKING:
    from bot.features.dashboard import Dashboard

log = logging.getLogger(__name__)


async def handle(
    services: Services,
    pulls: PullRequests,
    delivery: Delivery,
    *,
    watcher: RolloutWatcher,
    scheduler: Scheduler,
    dashboard: Dashboard,
) -> None:
    payload = delivery.payload
    pull = payload["pull_request"]
    repository = payload["repository"]
    owner, repo = repository["owner"]["login"], repository["name"]
    if config_source.repository(services.settings, owner, repo) != (owner, repo):
        return  # a branch of the same name in some other repository
    scale_set = str(pull["head"]["ref"]).removeprefix(names.BRANCH_PREFIX)
    state = await pulls.closed((owner, repo), scale_set, int(pull["number"]))
    if pull.get("merged"):
        dashboard.forget_config()
    dashboard.poke()
    if pull.get("merged") and pull.get("merge_commit_sha") and delivery.installation is not None:
        merged = Merged(
            (owner, repo), int(pull["number"]), str(pull["merge_commit_sha"]), scale_set, delivery.installation
        )
        scheduler.wake()  # the merged values may change what the clock asks for
        await watcher.begin(merged, state)
    log.info("pull request #%s for %s closed (merged: %s)", pull["number"], scale_set, bool(pull.get("merged")))
