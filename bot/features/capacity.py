"""Feature: capacity from evidence (SPEC §8). Its routes keep GitHub's ``workflow_job``
deliveries (queued, waiting, in_progress, completed) of jobs meant for self-hosted
runners; each is attributed to the scale set that serves it (:mod:`bot.capacity.jobs`,
as ARC matches ``runs-on``) or to its labels when none does ("unmatched"), and only
aggregates are kept: the store adds each delivery's tally to its set's hour exactly
once (:meth:`bot.store.api.Store.count_job`), and a queued job is remembered until a
runner takes it. The sets come from the configuration this replica last read (read
once when there is none), so a job costs no GitHub call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from bot.capacity import evidence
from bot.capacity.jobs import ACTIONS, SetRef, hosted, job_of, serving, unmatched_key
from bot.clients import config_source
from bot.clients.github import GitHubError
from bot.fleet.config import ConfigFiles, parse
from bot.fleet.yamlload import YamlError
from bot.runtime import offload
from bot.services import Services, job_evidence
from bot.store import keys
from bot.store.api import Delivery
from bot.webhooks.routing import Handler, Route

log = logging.getLogger(__name__)

RETRY_READ = 60.0


def accepts(payload: Mapping[str, Any]) -> str | None:
    job = job_of(payload)
    if job is None:
        return "not a workflow job the evidence can read"
    if hosted(job.labels):
        return "a job for GitHub-hosted runners"
    return None


ROUTES = tuple(Route(f"job_{action}", "workflow_job", action, accepts) for action in ACTIONS)


class JobEvidence:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._sets: tuple[ConfigFiles, list[SetRef]] | None = None
        self._failed_at = -RETRY_READ  # a failed read is not retried for every job

    def handlers(self) -> dict[str, Handler]:
        return {route.kind: self.handle for route in ROUTES}

    async def handle(self, delivery: Delivery) -> None:
        job = job_of(delivery.payload)
        if job is None:
            return
        if delivery.installation is not None:
            # The right-sizing pass reads the configuration through it, even with no comment yet.
            await self.services.read_through(delivery.installation)
        found = serving(job, await self._set_refs(delivery.installation))
        key = found.key if found is not None else unmatched_key(job.repository_url, job.labels)
        store = self.services.store
        waiting = keys.job_waiting(key, job.id)
        if job.action in ("queued", "waiting"):
            await store.put(waiting, repr(job.created))
        else:
            await store.delete(waiting)
        tallied = evidence.tally(job)
        if tallied is not None:
            await store.count_job(delivery.id, key, tallied)

    async def _set_refs(self, installation: int | None) -> list[SetRef]:
        files = self.services.latest.files or await self._read(installation)
        if files is None:
            return []
        if self._sets is None or self._sets[0] is not files:
            # Seconds at 50,000 sets: on the fleet's worker, off the event loop.
            self._sets = (files, await offload.run(_set_refs, files))
        return self._sets[1]

    async def _read(self, installation: int | None) -> ConfigFiles | None:
        repo = self.services.settings.config_owner_repo
        installation = installation or await self.services.installation()
        if repo is None or installation is None or time.monotonic() - self._failed_at < RETRY_READ:
            return None
        try:
            snapshot = await config_source.latest(self.services.github.installation(installation), *repo)
        except (GitHubError, YamlError) as exc:
            log.warning("job evidence: cannot read the configuration: %s", exc)
            self._failed_at = time.monotonic()
            return None
        self.services.latest.note(installation, snapshot.files)
        return snapshot.files


def _set_refs(files: ConfigFiles) -> list[SetRef]:
    try:
        return job_evidence.set_refs(parse(files.repositories, files.base))
    except YamlError:
        return []
