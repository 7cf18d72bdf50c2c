"""A comment's ``/runners`` commands, run in five phases, as Atlantis names its runners:

- **admit** (``admit``, first in ``CommandRunner.run``): the author's and the installation's reply budgets;
- **gather** (``CommandRunner._gather``): a 👀 reaction, the values files from the configuration
  repository, the plan (``bot.commands.pipeline.plan``, pure) and the permissions and
  live state it needs, concurrently;
- **decide** (``bot.commands.pipeline.decide``, pure): each command authorised, then
  executed: one answer per command and the edited file;
- **apply** (``_submit_pull_requests``, ``_apply_burst``): the pull requests, and each
  burst as its reply is written;
- **report** (``_report``): one reply per command, labels, and a final reaction (👍 all
  accepted, 👎 something refused).

Every side effect is recorded as a step of the delivery, so a handler resumed after a
crash never reacts, replies or opens anything twice. Run for comments
(:mod:`bot.features.comment_commands`) and for onboarding forms (:mod:`bot.features.onboarding`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.clients import config_source
from bot.clients.github import Installation, Reaction, Unreadable
from bot.clients.kube import Kube, KubeUnavailable, NotDeployed
from bot.cluster.state import ClusterState
from bot.commands import pipeline, render, reply_limits
from bot.commands.grammar import Command, ParsedComment, parse_comment
from bot.commands.permissions import WRITE_LEVELS, Permission, best
from bot.fleet import names
from bot.fleet.config import ConfigFiles, Effective
from bot.reports import rollout
from bot.reports.markers import reply_marker
from bot.runtime import errors, offload
from bot.services import DASHBOARD, Services, job_evidence
from bot.services.pull_requests import Decided, PullRequests, Submitted, Target
from bot.services.runner_limits import RunnerLimits
from bot.store import keys
from bot.store.api import Delivery
from bot.store.records import Requested
from bot.webhooks.threads import Thread, once, reply

log = logging.getLogger(__name__)


async def permissions(
    inst: Installation,
    request: pipeline.Request,
    planned: pipeline.Plan,
    config: tuple[str, str],
    known: dict[str, Permission] | None = None,
) -> pipeline.Request:
    """The request with the commenter's permissions filled in, asking GitHub only what the
    plan needs and ``known`` lacks, concurrently: each write target's, and the
    configuration repository's when a reply may show the fleet or a target's permission
    is not enough."""
    config_name = f"{config[0]}/{config[1]}".lower()
    found = dict(known or {})
    wanted = [t.lower() for t in planned.write_targets]
    if planned.asks_about_fleet:
        wanted.append(config_name)
    found.update(await _ask_permissions(inst, request.user, [w for w in dict.fromkeys(wanted) if w not in found]))
    if config_name not in found and any(found[t.lower()] not in WRITE_LEVELS for t in planned.write_targets):
        found.update(await _ask_permissions(inst, request.user, [config_name]))
    return dataclasses.replace(request, permission=best(found.get(config_name, "none")), permissions=found)


async def _ask_permissions(inst: Installation, user: str, repos: list[str]) -> dict[str, Permission]:
    """The user's permission on each ``owner/name``, asked concurrently."""

    async def ask(full: str) -> Permission:
        owner, name = full.split("/", 1)
        return await inst.permission(owner, name, user)

    return dict(zip(repos, await asyncio.gather(*(ask(r) for r in repos)), strict=True))


def _permission_worth_asking_now(thread: Thread, parsed: ParsedComment, config: tuple[str, str]) -> str | None:
    """The permission the comment will most likely need, read from the comment alone, so
    it can be asked while the configuration is read: a command that changes something
    in the thread's repository (the common case) needs the one there; a comment of only
    commands anyone may run needs the configuration repository's (what the replies may show)."""
    items = [i for i in parsed.items if isinstance(i, Command)]
    if not items:
        return None
    if not any(i.needs_write for i in items):
        return f"{config[0]}/{config[1]}".lower()
    if all(i.target is None for i in items if i.needs_write):
        return thread.full_name.lower()
    return None


@dataclass(frozen=True)
class Gathered:
    """What deciding a comment needs from outside, fetched once: the configuration, the
    plan, the commenter's permissions and the live state the replies show."""

    config: tuple[str, str]
    snapshot: config_source.Snapshot
    planned: pipeline.Plan
    request: pipeline.Request
    live: dict[str, str]


@dataclass(frozen=True)
class CommandRunner:
    """Runs a comment's commands with what they need: the services, the pull requests,
    the cluster (live state; None for none) and the runner limits (bursts; None where the
    clock does not run)."""

    services: Services
    pulls: PullRequests
    kube: Kube | None = None
    runner_limits: RunnerLimits | None = None

    async def run(self, delivery: Delivery, thread: Thread, *, closes: str | None = None) -> None:
        """Admit the comment (its budgets), then answer it: gather → decide → apply → report."""
        services = self.services
        if delivery.installation is None:
            raise errors.PermanentError("the delivery names no installation", 0)
        inst = services.github.installation(delivery.installation)
        if not await admit(services, inst, delivery, thread):
            return
        try:
            await self._answer(delivery, thread, inst, closes)
        except Exception:
            # Admitted, then failed: it still costs its author (and the installation) a reply,
            # so a comment that makes the handler fail cannot be repeated for free.
            await spend_once(services, delivery, thread)
            raise

    async def _answer(self, delivery: Delivery, thread: Thread, inst: Installation, closes: str | None) -> None:
        """The phases after admission: gather → decide → apply → report."""
        services, started = self.services, time.monotonic()
        try:
            gathered = await self._gather(delivery, thread, inst, closes)
        except Unreadable as exc:
            # Judged against a file read in part, every target would look unknown and an add
            # would replace the whole fleet: refuse, and say why.
            await _refuse_unreadable(services, inst, delivery, thread, exc)
            return
        live = gathered.live
        # Deciding (checking and editing the file, rendering the replies) and planning are
        # CPU work that grows with the fleet: off the event loop, so that webhooks and
        # /healthz are answered meanwhile.
        outcome = await offload.run(
            pipeline.decide,
            gathered.planned,
            gathered.request,
            lambda e: live.get(e.scale_set, pipeline.OFFLINE_LIVE),
        )
        config, snapshot = gathered.config, gathered.snapshot
        target = Target(inst, delivery.id, config[0], config[1], snapshot, closes)
        results = await _submit_pull_requests(self.pulls, target, outcome, gathered.request)
        assert delivery.installation is not None  # run checked it
        services.latest.note(delivery.installation, snapshot.files)
        if results:
            services.poke(DASHBOARD)  # a pull request opened or changed
        await _report(
            services, delivery, thread, inst=inst, pulls=self.pulls, outcome=outcome, target=target, results=results,
            runner_limits=self.runner_limits,
        )  # fmt: skip
        services.metrics.command_latency.observe(time.monotonic() - started)

    async def _gather(self, delivery: Delivery, thread: Thread, inst: Installation, closes: str | None) -> Gathered:
        """Acknowledge, read the configuration, plan, and fetch what the plan needs."""
        services, runner_limits = self.services, self.runner_limits
        assert delivery.installation is not None  # run checked it
        config = config_source.repository(services.settings)
        parsed = parse_comment(thread.body)
        early = _permission_worth_asking_now(thread, parsed, config)
        # Independent of each other: acknowledge, read the configuration, ask the permission
        # the comment most likely needs (the rest of what the plan needs follows it).
        _, snapshot, known = await asyncio.gather(
            once(services.store, delivery.id, "reaction:eyes", lambda: _react(inst, thread, "eyes")),
            config_source.latest(inst, *config),
            _ask_permissions(inst, thread.user, [early] if early else []),
        )
        await services.read_through(delivery.installation)
        planned = await offload.run(pipeline.plan, thread.body, snapshot.files, thread.full_name, parsed)
        # Only status and burst show or change bursts: other comments do not read them.
        clocked = runner_limits is not None and any(
            isinstance(i, Command) and i.declared.reads_bursts for i in planned.items
        )
        request = pipeline.Request(
            bursts=await runner_limits.bursts() if runner_limits is not None and clocked else {},
            now=runner_limits.clock() if runner_limits else datetime.now(UTC),
            comment=thread.body,
            user=thread.user,
            permission="none",
            is_bot=thread.is_bot,
            repo=thread.full_name,
            source=thread.comment_url,
            closes=closes,
        )
        request = await permissions(inst, request, planned, config, known)
        request = dataclasses.replace(request, applications=await taken_applications(self.kube, planned))
        visible = planned.visible_status_sets(request)
        live, states = await live_states(self.kube, visible)
        found = await job_evidence.observed(services, planned.visible_evidence_sets(request))
        live = job_evidence.with_evidence(live, found, visible, snapshot.files, pipeline.OFFLINE_LIVE, states=states)
        request = dataclasses.replace(request, evidence=found)
        return Gathered(config, snapshot, planned, request, live)


async def _report(
    services: Services,
    delivery: Delivery,
    thread: Thread,
    *,
    inst: Installation,
    pulls: PullRequests,
    outcome: pipeline.Outcome,
    target: Target,
    results: dict[str, Submitted],
    runner_limits: RunnerLimits | None,
) -> None:
    """One reply per command (a burst applied as its reply is written), then the labels,
    the final reaction and, when nothing changed, the reply budget."""
    all_ok = outcome.ok
    for index, answer in enumerate(outcome.replies):
        if answer.change is None:
            text = answer.text
        else:
            result = results[answer.change.scale_set]
            all_ok = all_ok and result.number is not None
            text = answer.text_with(result.next_step)
        if answer.burst is not None:
            text = await _apply_burst(
                services, runner_limits, delivery=delivery, index=index, order=answer.burst,
                files=target.snapshot.files, text=text,
            )  # fmt: skip
        comment_id = await reply(services.store, inst, delivery, thread, index=index, text=text)
        if answer.burst is not None and answer.burst.until is not None and runner_limits is not None:
            where = (thread.owner, thread.repo, comment_id)
            await runner_limits.remember_reply(answer.burst.scale_set, where, text, reply_marker(delivery.id, index))
        services.metrics.count_command(answer.command, ok=answer.ok)
    for scale_set, result in results.items():
        await once(services.store, delivery.id, f"label:{scale_set}", functools.partial(pulls.label, target, result))
    final: Reaction = "+1" if all_ok else "-1"
    await once(services.store, delivery.id, "reaction:final", lambda: _react(inst, thread, final))
    if not any(answer.change is not None for answer in outcome.replies):
        await spend_once(services, delivery, thread)


async def _refuse_unreadable(
    services: Services, inst: Installation, delivery: Delivery, thread: Thread, exc: Unreadable
) -> None:
    log.warning("refusing a comment: %s", exc)
    text = render.fill("reply_unreadable.md", path=exc.path, reason=exc.reason)
    await reply(services.store, inst, delivery, thread, index=0, text=text)
    await once(services.store, delivery.id, "reaction:final", lambda: _react(inst, thread, "-1"))
    await spend_once(services, delivery, thread)
    services.metrics.count_command("", ok=False)


async def _apply_burst(
    services: Services,
    runner_limits: RunnerLimits | None,
    *,
    delivery: Delivery,
    index: int,
    order: pipeline.BurstOrder,
    files: ConfigFiles,
    text: str,
) -> str:
    """Start or end the burst once per delivery (a resumed handler does not do it twice)."""
    step = f"burst:{index}"
    done = await services.store.step(delivery.id, step)
    if done is None:
        done = await runner_limits.order(order, files) if runner_limits else render.sentence("burst_no_clock.md")
        await services.store.record(delivery.id, step, done)
    return f"{text.rstrip()}\n\n{done}\n"


async def admit(services: Services, inst: Installation, delivery: Delivery, thread: Thread) -> bool:
    """False when the author's reply budget, or the installation's, is spent
    (bot.commands.reply_limits): one notice, then nothing. The installation's bounds what many
    throwaway accounts cost together on a public repository. Comments and onboarding forms
    pass here alike: what a stranger can make the app write does not depend on the way in."""
    if await services.store.step(delivery.id, "reaction:eyes") is not None:
        return True  # resumed after a crash: this comment was admitted already
    settings = services.settings
    budgets = [(keys.user_replies(thread.user), settings.reply_limit, "reply_rate_limited.md")]
    if delivery.installation is not None:
        key = keys.installation_replies(delivery.installation)
        budgets.append((key, settings.installation_reply_limit, "reply_installation_limited.md"))
    for key, limit, template in budgets:

        def admission_of(
            saved: reply_limits.Budget | None,
        ) -> tuple[reply_limits.Admission, reply_limits.Budget | None]:
            admitted, budget = reply_limits.admission(saved, services.wall.time(), limit)  # noqa: B023 (called at once)
            return admitted, budget if admitted == "notice" else None  # only a notice is written now

        admitted, budget = await _update_budget(services, key, admission_of)
        if admitted == "answer":
            continue
        if budget is not None:  # the notice
            until = time.strftime("%H:%M", time.gmtime(reply_limits.until(budget)))
            text = render.fill(template, limit=limit, until=until)
            await reply(services.store, inst, delivery, thread, index=0, text=text)
        services.metrics.rate_limited.labels("notice" if admitted == "notice" else "silenced").inc()
        return False
    return True


async def spend_once(services: Services, delivery: Delivery, thread: Thread) -> None:
    """The comment's reply from its author's and its installation's budgets, once."""
    await once(
        services.store, delivery.id, "budget:spent", lambda: _spend(services, thread.user, delivery.installation)
    )


async def _spend(services: Services, user: str, installation: int | None) -> None:
    budgets = [keys.user_replies(user)] + (
        [keys.installation_replies(installation)] if installation is not None else []
    )
    for key in budgets:
        await _update_budget(services, key, lambda saved: ("answer", reply_limits.spend(saved, services.wall.time())))


BudgetChange = Callable[[reply_limits.Budget | None], tuple[reply_limits.Admission, reply_limits.Budget | None]]


async def _update_budget(
    services: Services, key: str, change: BudgetChange
) -> tuple[reply_limits.Admission, reply_limits.Budget | None]:
    """Read, change and write back (unless the change is None) a budget as one step:
    comments handled at once, by other workers or replicas, each count, and only one of
    them gets the notice."""
    store = services.store
    while True:
        text = await store.get(key)
        decision, budget = change(reply_limits.Budget.load(text))
        if budget is None or await store.swap(key, text, budget.dump()):
            return decision, budget


async def _submit_pull_requests(
    pulls: PullRequests, target: Target, outcome: pipeline.Outcome, request: pipeline.Request
) -> dict[str, Submitted]:
    """One pull request per scale set the accepted commands touch."""
    by_set: dict[str, list[Requested]] = {}
    for answer in outcome.replies:
        if answer.change is not None:
            by_set.setdefault(answer.change.scale_set, []).append(
                Requested(answer.command, request.user, request.source, request.repo, answer.change.full_name)
            )
    texts = {pull.scale_set: pull for pull in outcome.pull_requests}
    decided = {s: Decided(text, texts[s]) for s, text in outcome.texts.items() if s in texts}
    return {s: await pulls.submit(target, s, requested, decided.get(s)) for s, requested in by_set.items()}


async def taken_applications(kube: Kube | None, planned: pipeline.Plan) -> frozenset[str]:
    """Which of the names the comment's adds would give their Applications are taken, in
    Argo CD's namespace, by an Application the fleet does not own: one read of each name
    (a list of the namespace would grow with the fleet). A cluster that cannot be read
    leaves the names reserved in the repository (bot.fleet.names)."""
    wanted = {
        pipeline.add_scale_set(i)
        for i in planned.items
        if isinstance(i, Command) and i.declared.target == "new repository"
    }
    if kube is None or not wanted:
        return frozenset()
    try:
        found = await asyncio.gather(*(kube.application(name) for name in sorted(wanted)))
    except KubeUnavailable as exc:
        log.warning("reading Argo CD's Applications for an add: %s", exc)
        return frozenset()
    return names.foreign_applications(a for a in found if a is not None)


async def live_states(kube: Kube | None, targets: list[Effective]) -> tuple[dict[str, str], dict[str, ClusterState]]:
    """The live state of the given scale sets, as reply text, and what the cluster showed
    of each it could be read for (why its jobs wait is judged from that: one read a set)."""
    if not targets:
        return {}, {}
    if kube is None:
        return {t.scale_set: render.sentence("live_no_cluster.md") for t in targets}, {}
    found, states = {}, {}
    for target in targets:
        try:
            state = await kube.aread(target.scale_set, target.namespace)
        except NotDeployed:
            found[target.scale_set] = render.sentence("live_not_deployed.md", namespace=target.namespace)
            continue
        except KubeUnavailable as exc:
            found[target.scale_set] = render.sentence("live_unreachable.md", problem=rollout.inert_quote(exc))
            continue
        found[target.scale_set] = rollout.live_summary(state)
        states[target.scale_set] = state
    return found, states


async def _react(inst: Installation, thread: Thread, content: Reaction) -> None:
    if thread.comment_id is None:
        await inst.react_to_issue(thread.owner, thread.repo, thread.number, content)
    else:
        await inst.react(thread.owner, thread.repo, thread.comment_id, content)
