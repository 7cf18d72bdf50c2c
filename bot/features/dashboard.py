"""Feature: one issue in the configuration repository that shows the whole fleet.

The issue ("Runner fleet", ``RUNNERS_BOT_DASHBOARD``; ``off`` turns it off) is found
again by its marker, in an issue the App itself opened (``performed_via_github_app``),
or opened when missing. Its body (:mod:`bot.reports.fleet_view`) lists every scale set with its
live state, last rollout and open pull request, what needs attention, and the sets that
open pull requests would add. It is updated after a merge, at the end of a rollout, after
a command or onboarding form that opens or updates a pull request, and every
``RUNNERS_BOT_DASHBOARD_INTERVAL`` seconds when the cluster can be read. An update reads
the cluster's view of the whole fleet (the rollout watches' when they run here: no
request; else one list per kind), calls GitHub only when the text changed, and edits the
issue at most once a minute (later changes wait for the next slot). A table too long for
one body goes on pages, comments of the issue edited in place. A user with write on the
configuration repository who ticks "Refresh now" gets a fresh body at once (the box clears); anyone else's edit is undone: its route
keeps a person's edit of an issue that holds (or held) the dashboard's marker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from bot.capacity.evidence import Observed
from bot.clients import config_source
from bot.clients.github import GitHubError, Installation
from bot.clients.kube import ClusterView, Fleet, Kube, KubeUnavailable
from bot.commands.permissions import WRITE_LEVELS
from bot.fleet.config import Config, ConfigFiles, Effective, parse
from bot.fleet.schedules import ActiveBurst
from bot.fleet.yamlload import YamlError
from bot.reports import fleet_view, rollout, why_waiting
from bot.reports.markers import DASHBOARD_MARKER, dashboard_page_marker
from bot.reports.rollout import PENDING_GRACE
from bot.runtime import offload
from bot.runtime.background import Background, spawn
from bot.services import CONFIG_CHANGED, DASHBOARD, Services, job_evidence
from bot.services.runner_limits import RunnerLimits
from bot.store import keys, records
from bot.store.api import Delivery
from bot.store.records import OpenPull
from bot.webhooks.routing import Handler, Route, by_bot
from bot.webhooks.threads import Issue, publish

log = logging.getLogger(__name__)

LABEL = "runners-bot"


def accepts(payload: Mapping[str, Any]) -> str | None:
    """A person's edit of an issue with the marker in its body now or before the edit (an
    edit may have removed it): someone ticked "Refresh now", or edited the dashboard."""
    issue, changes = payload.get("issue"), payload.get("changes")
    now = issue.get("body") if isinstance(issue, Mapping) else None
    before = (
        changes.get("body", {}).get("from")
        if isinstance(changes, Mapping) and isinstance(changes.get("body"), Mapping)
        else None
    )
    if not any(isinstance(text, str) and DASHBOARD_MARKER in text for text in (now, before)):
        return "not the dashboard"
    if by_bot(payload.get("sender")):
        return "edited by a bot"
    return None


def _unchanged(saved: dict[str, Any], text: fleet_view.DashboardText) -> bool:
    pages = [page for _, page in saved.get("pages", [])]
    shown = pages[: len(text.pages)]
    unused = pages[len(text.pages) :]
    return saved["body"] == text.body and shown == list(text.pages) and all(p == fleet_view.UNUSED_PAGE for p in unused)


ROUTES = (Route("dashboard", "issues", "edited", accepts),)


class Dashboard:
    def __init__(
        self,
        services: Services,
        kube: Kube | None,
        runner_limits: RunnerLimits,
        *,
        interval: float = 600.0,
        min_gap: float = 60.0,
    ) -> None:
        self.services = services
        self.kube = kube
        self.cluster: ClusterView | None = None  # the rollout watches' view, when it runs here
        self.runner_limits = runner_limits
        self.interval = interval
        self.min_gap = min_gap
        self._lock = asyncio.Lock()
        self._loop = Background(
            DASHBOARD, self._step, first_pause=interval, after_failure=interval, relay=services.leadership
        )
        services.leadership.on(CONFIG_CHANGED, self._config_changed_here)

    @property
    def enabled(self) -> bool:
        return self.services.settings.dashboard is not None and self.services.settings.config_owner_repo is not None

    def handlers(self) -> dict[str, Handler]:
        return {"dashboard": self.edited}

    def poke(self) -> None:
        """Something changed (a merge, a pull request, a rollout's end): update soon."""
        self._loop.poke()

    def _config_changed_here(self) -> None:
        self.services.latest.forget_files()
        self._loop.poke_here()

    # --- one update ----------------------------------------------------------------------

    async def update(self, *, force: bool = False) -> bool:
        """Render and, when the text changed (or ``force``), edit the issue; True when edited."""
        if not self.enabled:
            return False
        async with self._lock:
            files = self.services.latest.files or await self._read_config()
            if files is None:
                return False
            looked = await self._look()
            # Parsing, a row per set and the text: seconds of CPU at 50,000 sets, off the
            # event loop so that webhooks and /healthz are answered meanwhile.
            config = await offload.run(parse, files.repositories, files.base)
            effectives = await offload.run(_effectives, config)
            found = await job_evidence.observe(self.services.store, self.services.settings.retention_days, effectives)
            unmatched = why_waiting.unmatched(await job_evidence.unmatched_waiting(self.services.store, config))
            text = await offload.run(self._text, looked, _Evidence(effectives, found, unmatched))
            saved = await self._saved()
            if saved and _unchanged(saved, text) and not force:
                return False  # nothing changed: no GitHub call
            wait = self.min_gap - (time.time() - saved["at"]) if saved else 0.0
            if wait > 0 and not force:
                self._later(wait)
                return False
            await self._publish(saved, text, force=force)
            return True

    async def _publish(
        self, saved: dict[str, Any] | None, text: fleet_view.DashboardText, *, force: bool = False
    ) -> None:
        owner, repo = self._repo()
        inst = self.services.github.installation(await self._installation())
        number = saved["number"] if saved else await inst.find_issue(owner, repo, LABEL, DASHBOARD_MARKER)
        if number is None:
            title = self.services.settings.dashboard or "Runner fleet"
            number = await inst.open_issue(owner, repo, title, text.body, [LABEL])
        elif force or not saved or saved["body"] != text.body:  # a forced refresh clears the ticked box
            await inst.edit_issue(owner, repo, int(number), text.body)
        record = {"number": int(number), "body": text.body, "at": time.time(), "pages": (saved or {}).get("pages", [])}
        await self._publish_pages(inst, int(number), record, text.pages)

    async def _publish_pages(
        self, inst: Installation, number: int, record: dict[str, Any], pages: tuple[str, ...]
    ) -> None:
        """The table's pages as comments on the issue, each edited in place only when its
        text changed; pages no longer needed say so. New pages are looked for among the
        issue's comments first, in one listing (by their markers: a crash after posting
        one, before the record was saved, never posts it twice), and the record is saved
        once at the end."""
        owner, repo = self._repo()
        saved: list[list[Any]] = record["pages"]  # [comment id, text]
        wanted = list(pages) + [fleet_view.UNUSED_PAGE] * max(0, len(saved) - len(pages))
        tags = [dashboard_page_marker(index + 1) for index in range(len(wanted))]
        known = {tags[index]: int(page[0]) for index, page in enumerate(saved)}
        changed = {tags[i]: page for i, page in enumerate(wanted) if i >= len(saved) or saved[i][1] != page}
        posted = await publish(inst, Issue(owner, repo, number), changed, known)
        for index, page in enumerate(wanted):
            if index < len(saved):
                saved[index][1] = page
            else:
                saved.append([posted[tags[index]], page])
        await self._save(record)

    async def _save(self, record: dict[str, Any]) -> None:
        # The loop's writes are the leader's, fenced; a "Refresh now" handled by another
        # replica (a webhook handler, not the singleton) writes as handlers do.
        fence = self.services.leadership.fence() if self._loop.running else None
        await self.services.store.put(self._key(), json.dumps(record), fence)

    def _later(self, delay: float) -> None:
        async def again() -> None:
            await asyncio.sleep(delay)
            self.poke()

        spawn(again())

    async def _fleet(self) -> tuple[Fleet | None, str | None]:
        """The cluster's view of the fleet: the rollout watches' when it is whole (no request
        at all), else one list per kind (six requests, whatever the fleet's size)."""
        if self.kube is None:
            return None, "runners-bot has no cluster access configured"
        if self.cluster is not None and self.cluster.ready and self.cluster.problem is None:
            return self.cluster.fleet(), None
        try:
            return await self.kube.afleet(), None
        except KubeUnavailable as exc:
            return None, str(exc)

    async def _look(self) -> _Looked:
        """What the rows show besides the configuration, read once per update."""
        bursts = await self.runner_limits.bursts()
        fleet, cluster = await self._fleet()
        rollouts = await records.last_rollouts(self.services.store)
        pulls = await records.open_pulls(self.services.store, self._repo())
        return _Looked(bursts, fleet, cluster, rollouts, pulls)

    def _text(self, looked: _Looked, evidence: _Evidence) -> fleet_view.DashboardText:
        views, cluster, waiting = self._views(evidence.effectives, looked)
        views = _with_evidence(views, looked.fleet, evidence)
        return fleet_view.render_text(views, cluster, waiting, evidence.unmatched)

    def _views(
        self, effectives: list[Effective], looked: _Looked
    ) -> tuple[list[fleet_view.SetView], str | None, list[fleet_view.Waiting]]:
        """Every set's row, why live state is missing (None: seen), and the sets open pull
        requests would add (an onboarding form's, an ``add``'s) until they merge."""
        bursts, fleet, cluster, rollouts, pulls = looked
        views = []
        for effective in effectives:
            runners = self.runner_limits.target(effective, bursts)
            live = _live(fleet.of(effective.scale_set, effective.namespace)) if fleet else None
            views.append(
                fleet_view.SetView(
                    repository=f"{effective.org} (organisation pool)"
                    if effective.pool
                    else f"{effective.org}/{effective.name}",
                    scale_set=effective.scale_set,
                    profile=effective.profile,
                    min_runners=runners.min_runners,
                    max_runners=runners.max_runners,
                    source=runners.source,
                    live=live,
                    rollout=_last(rollouts.get(effective.scale_set)),
                    pull=pulls[effective.scale_set].url if effective.scale_set in pulls else None,
                )
            )
        self._count([view.live for view in views if view.live is not None])
        known = {view.scale_set for view in views}
        waiting = [fleet_view.Waiting(s, pull.number, pull.url) for s, pull in pulls.items() if s not in known]
        return views, cluster, waiting

    def _count(self, seen: list[fleet_view.Live]) -> None:
        """Fleet totals for /metrics: a series per set made it megabytes at 20,000 sets
        (the dashboard has each set's row)."""
        metrics = self.services.metrics
        metrics.runners.labels("running").set(sum(live.running for live in seen))
        metrics.runners.labels("pending").set(sum(live.pending for live in seen))
        up = sum(1 for live in seen if live.listener_up)
        metrics.listeners.labels("up").set(up)
        metrics.listeners.labels("down").set(len(seen) - up)

    async def _read_config(self) -> ConfigFiles | None:
        installation = await self.services.installation()
        if installation is None:
            return None  # no delivery yet: the first command or merge brings one
        try:
            snapshot = await config_source.latest(self.services.github.installation(installation), *self._repo())
        except (GitHubError, YamlError) as exc:
            log.warning("dashboard: cannot read the configuration: %s", exc)
            return None
        self.services.latest.note(installation, snapshot.files)
        return snapshot.files

    # --- "Refresh now" -------------------------------------------------------------------

    async def edited(self, delivery: Delivery) -> None:
        """Someone edited the dashboard: a writer's ticked box refreshes it, the rest is undone."""
        payload = delivery.payload
        saved = await self._saved()
        issue, sender = payload["issue"], payload.get("sender") or {}
        where = str((payload.get("repository") or {}).get("full_name") or "").lower()
        ours = "/".join(self._repo()).lower()
        if saved is None or where != ours or int(issue["number"]) != saved["number"] or delivery.installation is None:
            return  # not our dashboard: another repository's issue of that number, or the marker alone
        self.services.latest.learn_installation(delivery.installation)
        inst = self.services.github.installation(delivery.installation)
        owner, repo = self._repo()
        permission = await inst.permission(owner, repo, str(sender.get("login", "")))
        if permission in WRITE_LEVELS and fleet_view.REFRESH_ON in str(issue.get("body") or ""):
            await self.update(force=True)
        elif issue.get("body") != saved["body"]:
            await inst.edit_issue(owner, repo, saved["number"], saved["body"])

    # --- helpers and the loop ------------------------------------------------------------

    def _repo(self) -> tuple[str, str]:
        found = self.services.settings.config_owner_repo
        assert found is not None
        return found

    async def _installation(self) -> int:
        found = await self.services.installation()
        assert found is not None
        return found

    def _key(self) -> str:
        owner, repo = self._repo()
        return keys.dashboard(owner, repo)

    async def _saved(self) -> dict[str, Any] | None:
        text = await self.services.store.get(self._key())
        return dict(json.loads(text)) if text else None

    async def start(self) -> None:
        if self.enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _step(self, poked: bool) -> float:
        if poked or self.kube is not None:  # the timer only where there is live state to show
            await self.update()
        return self.interval


class _Evidence(NamedTuple):
    """The job evidence the rows show: the sets, their window's evidence, labels no set serves."""

    effectives: list[Effective]
    found: dict[str, Observed]
    unmatched: list[str]


def _effectives(config: Config) -> list[Effective]:
    return [config.effective(entry) for entry in config.entries]


def _with_evidence(
    views: list[fleet_view.SetView], fleet: Fleet | None, evidence: _Evidence
) -> list[fleet_view.SetView]:
    """Each row with its job evidence and why its jobs wait."""
    effectives = {e.scale_set: e for e in evidence.effectives}
    rows = []
    for view in views:
        effective, observed = effectives.get(view.scale_set), evidence.found.get(view.scale_set)
        if effective is None or observed is None:
            rows.append(view)
            continue
        summary = observed.summary(effective)
        state = fleet.of(effective.scale_set, effective.namespace) if fleet else None
        why = why_waiting.cause(effective, observed, state)
        rows.append(dataclasses.replace(view, wait_p95=summary.p95, hours_at_max=summary.hours_at_max, why=why))
    return rows


class _Looked(NamedTuple):
    bursts: dict[str, ActiveBurst]
    fleet: Fleet | None
    cluster: str | None
    rollouts: dict[str, records.LastRollout]
    pulls: dict[str, OpenPull]


def _live(state: Any) -> fleet_view.Live:
    phases = [(p.get("status") or {}).get("phase") for p in state.runners]
    now = time.time()
    too_long = sum(
        1
        for p in state.runners
        if (p.get("status") or {}).get("phase") == "Pending" and rollout.age(p, now) >= PENDING_GRACE
    )
    listener_up = any((p.get("status") or {}).get("phase") == "Running" for p in state.listeners)
    return fleet_view.Live(
        state.application is not None, listener_up, phases.count("Running"), phases.count("Pending"), too_long
    )


def _last(found: records.LastRollout | None) -> tuple[str, str] | None:
    return (found.verdict, found.where) if found else None
