"""Feature: a runners-bot pull request closed; once merged, follow the rollout and report it.

Its route keeps the closing of a pull request from a ``runners-bot/`` branch. Merged or
not, the scale set has no open pull request any more, so the next command for it opens
a new one; the dashboard and the clock are poked (a merge may change what they show and
do). A merged bot pull request starts a *watch*, stored in the state database so that a
restarted server resumes every unfinished watch (and never starts one twice). Every
watch in flight reads one shared view of the cluster, :class:`bot.clients.kube.ClusterView`
(one Kubernetes watch per kind, whatever the number of rollouts), and looks again as
soon as the cluster changes (and at least every ``max_interval`` seconds, for the stages
judged by time). It judges the stages with :mod:`bot.reports.rollout` and edits its comments in
place: one on the merged pull request and one on each thread where the change was asked
for. It ends when the change is live, when a stage fails, or at the time limit with a
report of what is stuck.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.clients import config_source
from bot.clients.github import GitHubError
from bot.clients.kube import ClusterView, Kube
from bot.fleet import names
from bot.fleet.config import parse
from bot.reports import rollout
from bot.reports.markers import rollout_marker
from bot.reports.rollout import Expected, Report, RolloutMemory
from bot.runtime import offload
from bot.runtime.leadership import run_soon
from bot.services import CONFIG_CHANGED, DASHBOARD, SCHEDULES, Services
from bot.services.pull_requests import PullRequests
from bot.services.runner_groups import missing_group
from bot.services.runner_limits import RunnerLimits
from bot.store import keys, records
from bot.store.api import Delivery, LeaseLost
from bot.store.records import OpenPull
from bot.webhooks.routing import Handler, Route
from bot.webhooks.threads import Issue, marked, publish

log = logging.getLogger(__name__)

ADOPT = "watches"  # the signal that asks the lead replica to follow new watches
DEBOUNCE = 0.2  # seconds a look waits after a change, so one burst of watch events makes one look
_THREAD_URL = re.compile(r"https://[^/]+/([^/]+)/([^/]+)/(?:issues|pull)/(\d+)")


@dataclass
class RolloutWatch:
    """One rollout being followed (persisted as JSON)."""

    key: str
    installation: int
    expected: Expected
    started: float
    title: str
    threads: list[Issue]
    memory: RolloutMemory = field(default_factory=RolloutMemory)
    last_body: str = ""
    runner_group: list[str] = field(default_factory=list)  # a pool's [org, runnerGroup]: asked when stuck
    comments: list[int | None] = field(default_factory=list)  # the report's comment on each thread, once known

    def __post_init__(self) -> None:
        self.comments += [None] * (len(self.threads) - len(self.comments))

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, text: str) -> RolloutWatch:
        data = json.loads(text)
        data["expected"] = Expected(**data["expected"])
        data["memory"] = RolloutMemory(**data["memory"])
        threads = data["threads"]
        if threads and isinstance(threads[0], list):  # stored as [owner, repo, number, comment id] before
            data["comments"] = [thread[3] for thread in threads]
            data["threads"] = [Issue(*thread[:3]) for thread in threads]
        else:
            data["threads"] = [Issue(**thread) for thread in threads]
        return cls(**data)


@dataclass(frozen=True)
class Merged:
    """A merged runners-bot pull request: where, which, at what commit, for which scale set."""

    config: tuple[str, str]
    number: int
    merge_sha: str
    scale_set: str
    installation: int


def threads_of(pull: OpenPull | None, config: tuple[str, str], number: int) -> list[Issue]:
    """The merged pull request itself, then every thread a command came from (once each)."""
    found = [Issue(config[0], config[1], number)]
    for command in pull.commands if pull else []:
        match = _THREAD_URL.match(command.source)
        if match:
            thread = Issue(match.group(1), match.group(2), int(match.group(3)))
            if thread not in found:
                found.append(thread)
    return found


def accepts(payload: Mapping[str, Any]) -> str | None:
    pull = payload.get("pull_request")
    head = pull.get("head", {}) if isinstance(pull, Mapping) else {}
    ref = head.get("ref", "") if isinstance(head, Mapping) else ""
    if isinstance(ref, str) and ref.startswith(names.BRANCH_PREFIX):
        return None
    return "not a runners-bot pull request"


ROUTES = (Route("bot_pull_closed", "pull_request", "closed", accepts),)


class RolloutWatcher:
    """Runs every watch as a task; the cluster is read through one :class:`ClusterView`."""

    def __init__(
        self,
        services: Services,
        kube: Kube | None,
        *,
        interval: float,
        limit: float,
        max_interval: float = 30.0,
        settle: float = rollout.LISTENER_SETTLE,
        runner_limits: RunnerLimits | None = None,
    ) -> None:
        self.services = services
        self.runner_limits = runner_limits
        self.cluster = ClusterView(kube) if kube is not None else None
        self.interval = interval
        self.limit = limit
        self.settle = settle
        self.max_interval = max(max_interval, interval)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.running = False
        services.leadership.on(ADOPT, run_soon(self.adopt))

    # --- the route: a bot pull request closed ------------------------------------------------

    def handlers(self, pulls: PullRequests) -> dict[str, Handler]:
        return {"bot_pull_closed": functools.partial(self.closed, pulls)}

    async def closed(self, pulls: PullRequests, delivery: Delivery) -> None:
        """Forget the set's open pull request; if it merged, follow the rollout."""
        payload = delivery.payload
        pull, repository = payload["pull_request"], payload["repository"]
        owner, repo = repository["owner"]["login"], repository["name"]
        if config_source.repository(self.services.settings) != (owner, repo):
            return  # a branch of the same name in some other repository
        scale_set = str(pull["head"]["ref"]).removeprefix(names.BRANCH_PREFIX)
        state = await pulls.closed((owner, repo), scale_set, int(pull["number"]))
        if pull.get("merged"):
            self.services.latest.forget_files()  # here too: a "Refresh now" may be handled on this replica
        # After a merge the dashboard reads the configuration again; that signal pokes it too.
        self.services.poke(CONFIG_CHANGED if pull.get("merged") else DASHBOARD)
        if pull.get("merged") and pull.get("merge_commit_sha") and delivery.installation is not None:
            number, sha = int(pull["number"]), str(pull["merge_commit_sha"])
            self.services.poke(SCHEDULES)  # the merged values may change what the clock asks for
            await self.begin(Merged((owner, repo), number, sha, scale_set, delivery.installation), state)
        log.info("pull request #%s for %s closed (merged: %s)", pull["number"], scale_set, bool(pull.get("merged")))

    # --- the watches ------------------------------------------------------------------------

    async def start(self) -> None:
        """Follow every stored watch (and, from now on, every new one) on this replica."""
        self.running = True
        if self.cluster is not None:
            self.cluster.start()
        await self.adopt()

    async def adopt(self) -> None:
        """Follow the stored watches this replica does not follow yet (begun elsewhere)."""
        if self.running:
            for key in await self.services.store.keys(keys.WATCH):
                self._spawn(key)

    async def stop(self) -> None:
        self.running = False
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)

    async def idle(self) -> None:
        """Wait for every running watch to end (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def begin(self, merged: Merged, pull: OpenPull | None) -> None:
        """Start following a merged change, unless it is followed already."""
        config, pull_number, merge_sha, scale_set = merged.config, merged.number, merged.merge_sha, merged.scale_set
        if self.cluster is None:  # RUNNERS_BOT_KUBE=off: nothing to look at, so no report that the cluster is down
            log.info("no cluster access configured: the rollout of %s is not followed", scale_set)
            return
        key = keys.watch(scale_set, merge_sha)
        if await self.services.store.get(key) is not None:
            return
        inst = self.services.github.installation(merged.installation)
        base = await inst.default_branch(*config)
        snapshot = await config_source.read(inst, config[0], config[1], merge_sha, base)
        parsed = await offload.run(parse, snapshot.files.repositories, snapshot.files.base)  # seconds when large
        entry = next((e for e in parsed.entries if e.scale_set == scale_set), None)
        if entry is None:
            log.info("merged pull request #%s removes %s: nothing to follow", pull_number, scale_set)
            return
        effective = parsed.effective(entry)
        low, high = effective.min_runners, effective.max_runners
        if effective.runs_by_the_clock and self.runner_limits is not None:
            # Schedules and bursts decide min/max of this set: expect what they say now.
            now = self.runner_limits.target(effective, await self.runner_limits.bursts())
            low, high = now.min_runners, now.max_runners
        expected = Expected(scale_set, effective.namespace, merge_sha, low, high)
        title = f"Rollout of `{scale_set}` (pull request #{pull_number}, merged at `{merge_sha[:7]}`)"
        watch = RolloutWatch(
            key, merged.installation, expected, time.time(), title, threads_of(pull, config, pull_number)
        )
        if effective.pool and effective.runner_group and effective.org:
            watch.runner_group = [effective.org, effective.runner_group]
        await self.services.store.put(key, watch.dump())
        if self.running:
            self._spawn(key)
        else:
            self.services.leadership.signal(ADOPT)

    def _spawn(self, key: str) -> None:
        if key not in self._tasks:
            task = asyncio.create_task(self._follow_while_leading(key), name=key)
            self._tasks[key] = task
            task.add_done_callback(lambda _: self._tasks.pop(key, None))

    async def _follow_while_leading(self, key: str) -> None:
        try:
            await self._follow(key)
        except LeaseLost as exc:
            log.info("another replica follows %s now: %s", key, exc)

    async def _follow(self, key: str) -> None:
        saved = await self.services.store.get(key)
        if saved is None:
            return
        watch = RolloutWatch.load(saved)
        wait = self.interval
        report = rollout.initial(watch.expected)
        while True:
            elapsed = time.time() - watch.started
            seen = self.cluster.version if self.cluster is not None else 0
            report = await self._look(watch, elapsed, report)
            final = report.done or report.failed or elapsed >= self.limit
            if elapsed >= self.limit and not (report.done or report.failed):
                report = rollout.timed_out(report)
            changed = await self._publish(watch, report, final)
            if final:
                await self._remember_verdict(watch, report)
                await self.services.store.delete(key, self.services.leadership.fence())
                self.services.poke(DASHBOARD)
                return
            wait = self.interval if changed else min(wait * 2, self.max_interval)
            left = max(self.limit - elapsed, 0.0)
            if self.cluster is None:
                await asyncio.sleep(min(wait, left))
            else:
                # Wake at least once per settle time: a Ready listener counts by time, not by a change.
                await self.cluster.changed(seen, min(self.max_interval, left, self.settle or self.max_interval) + 0.01)
                await asyncio.sleep(min(self.interval, DEBOUNCE))  # changes come in bursts: one look each

    async def _remember_verdict(self, watch: RolloutWatch, report: Report) -> None:
        """The last rollout of each set, for the fleet dashboard."""
        verdict = "live" if report.done else "failed" if report.failed and not report.unreachable else "stuck"
        pull = watch.threads[0]
        last = records.LastRollout(verdict, f"{pull.owner}/{pull.repo}#{pull.number}")
        await records.remember_rollout(
            self.services.store, watch.expected.scale_set, last, self.services.leadership.fence()
        )

    async def _look(self, watch: RolloutWatch, elapsed: float, previous: Report) -> Report:
        if self.cluster is None:
            return Report(previous.stages, unreachable="runners-bot has no cluster access configured")
        if self.cluster.problem is not None:
            return Report(previous.stages, unreachable=self.cluster.problem)
        if not self.cluster.ready:
            return previous  # the first lists are on their way
        state = self.cluster.fleet().of(watch.expected.scale_set, watch.expected.namespace)
        await self._learn_revision(watch, rollout.synced_revision(state.application))
        report = rollout.assess(watch.expected, state, watch.memory, elapsed, time.time(), settle=self.settle)
        if watch.runner_group and rollout.listener_overdue(state, watch.memory, elapsed, time_up=elapsed >= self.limit):
            await self._ask_runner_group(watch)
            if watch.memory.missing_group:
                report = rollout.assess(watch.expected, state, watch.memory, elapsed, time.time(), settle=self.settle)
        return report

    async def _ask_runner_group(self, watch: RolloutWatch) -> None:
        """Once per rollout: does the pool's runner group exist? ARC says it only in its
        controller's logs, so the report asks GitHub (needs the App's organisation
        permission "Self-hosted runners: read"; without it the report says what the cluster shows)."""
        org, group = watch.runner_group
        watch.memory.asked_group = True
        said = await missing_group(self.services.github.installation(watch.installation), org, group)
        if said is not None:
            watch.memory.missing_group = {"group": group, "org": org, "said": said}
        else:
            log.info("runner group %r of %s exists, or GitHub could not tell", group, org)
        await self.services.store.put(watch.key, watch.dump(), self.services.leadership.fence())

    async def _learn_revision(self, watch: RolloutWatch, revision: str | None) -> None:
        """Argo CD may sync a later commit than the merge (a second merge came after it):
        ask GitHub once per revision whether it includes the merge commit."""
        if revision is None or revision == watch.expected.merge_sha or revision in watch.memory.contains:
            return
        owner, repo = watch.threads[0].owner, watch.threads[0].repo
        inst = self.services.github.installation(watch.installation)
        try:
            watch.memory.contains[revision] = await inst.contains(owner, repo, watch.expected.merge_sha, revision)
        except GitHubError as exc:
            log.warning("could not compare %s with %s: %s", watch.expected.merge_sha[:7], revision[:7], exc)

    async def _publish(self, watch: RolloutWatch, report: Report, final: bool) -> bool:
        body = rollout.render_report(report, watch.expected, watch.title, final)
        if body == watch.last_body:
            return False
        inst = self.services.github.installation(watch.installation)
        for index, thread in enumerate(watch.threads):
            tag, comment_id = rollout_marker(watch.key, index), watch.comments[index]
            try:
                posted = await publish(
                    inst, thread, {tag: marked(body, tag)}, {} if comment_id is None else {tag: comment_id}
                )
                watch.comments[index] = posted[tag]
            except GitHubError as exc:
                log.warning("could not update the rollout report on %s#%s: %s", thread.full_name, thread.number, exc)
        watch.last_body = body
        await self.services.store.put(watch.key, watch.dump(), self.services.leadership.fence())
        return True
