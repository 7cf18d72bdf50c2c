"""Feature: a runners-bot pull request was closed (merged or not).

Either way the scale set has no open pull request any more, so the next command for it
opens a new one. (Following the rollout of a merged change is the rollout feature's.)
"""

from __future__ import annotations

import json
import logging

from bot import config_source
from bot.comment_commands import Services
from bot.events import BOT_BRANCH_PREFIX
from bot.inbox import Delivery
from bot.pull_requests import PullRequests

log = logging.getLogger(__name__)


async def handle(services: Services, pulls: PullRequests, delivery: Delivery) -> None:
    payload = json.loads(delivery.body)
    pull = payload["pull_request"]
    repository = payload["repository"]
    owner, repo = repository["owner"]["login"], repository["name"]
    if config_source.repository(services.settings, owner, repo) != (owner, repo):
        return  # a branch of the same name in some other repository
    scale_set = str(pull["head"]["ref"]).removeprefix(BOT_BRANCH_PREFIX)
    await pulls.closed((owner, repo), scale_set, int(pull["number"]))
    log.info("pull request #%s for %s closed (merged: %s)", pull["number"], scale_set, bool(pull.get("merged")))
