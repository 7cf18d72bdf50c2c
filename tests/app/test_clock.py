"""Schedules and bursts at runtime: the app sets minRunners/maxRunners of a set run by the
clock, through the official Kubernetes client against the local fake API server, with
an injected clock; it never writes anything else."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.fleet.config import REPOSITORIES_FILE
from bot.reports.markers import reply_marker
from bot.runtime.settings import Settings
from bot.server import App
from bot.webhooks.threads import Issue, marked, publish
from tests.support.app import APP_ID, CONFIG_REPO, TEAM_REPO, Harness, serve
from tests.support.fakekube import FakeKube, runner_set
from tests.support.webhook_payloads import comment_payload

pytestmark = pytest.mark.anyio

SET, NS = "arc-api-runners", "arc-project-beta-api-runners"
PATH = f"/apis/actions.github.com/v1alpha1/namespaces/{NS}/autoscalingrunnersets/{SET}"
CLOCKED = (
    "    schedules:\n"
    "      - name: business-hours\n"
    "        days: [mon, tue, wed, thu, fri]\n"
    '        from: "08:00"\n'
    '        to: "18:00"\n'
    "        timezone: Europe/Berlin\n"
    "        minRunners: 4\n"
    "    burst:\n"
    "      minRunners: 8\n"
    "      maxRunners: 30\n"
    "      maxDuration: 4h\n"
)
WEDNESDAY_10_BERLIN = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)  # CET: UTC+1


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_10_BERLIN)


def start(settings: Settings, fake: Any, clock: Clock) -> AsyncIterator[Harness]:
    def with_clock(app: App) -> None:
        app.runner_limits.clock = clock

    return serve(settings, fake, with_clock)


@pytest.fixture
async def clocked(settings: Settings, fake: Any, kube: FakeKube, clock: Clock) -> AsyncIterator[Harness]:
    kube.runner_sets[(NS, SET)] = runner_set(SET, NS, low=1, high=10)
    text = fake.file(CONFIG_REPO, REPOSITORIES_FILE)
    anchor = "    labels: [self-hosted, linux, x64, api]\n"
    fake.push(CONFIG_REPO, REPOSITORIES_FILE, text.replace(anchor, anchor + CLOCKED))
    tuned = dataclasses.replace(settings, kube_api=kube.url, clock_interval=300)  # type: ignore[attr-defined]
    async for harness in start(tuned, fake, clock):
        await harness.app.scheduler.stop()  # the tests drive the passes themselves, by the injected clock
        await harness.app.services.read_through(42)
        yield harness
    assert fake.violations == []


def spec(kube: FakeKube) -> tuple[int, int]:
    found = kube.runner_sets[(NS, SET)]["spec"]
    return found["minRunners"], found["maxRunners"]


def no_burst_written(kube: FakeKube) -> bool:
    return kube.writes == []


def only_min_and_max_were_written(kube: FakeKube) -> None:
    for method, path, content_type, body in kube.writes:
        assert (method, path) == ("PATCH", PATH)
        assert content_type.startswith("application/merge-patch+json")
        assert set(body) == {"spec"} and set(body["spec"]) == {"minRunners", "maxRunners"}


async def test_business_hours_open_and_close_the_window(clocked: Harness, kube: FakeKube, clock: Clock) -> None:
    await clocked.app.scheduler.reconcile()
    assert spec(kube) == (4, 10), "inside the window: the schedule's minRunners"
    clock.now = datetime(2026, 1, 7, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
    await clocked.app.scheduler.reconcile()
    assert spec(kube) == (1, 10), "outside it: the declared values"
    await clocked.app.scheduler.reconcile()
    assert len(kube.writes) == 2, "nothing is written when nothing differs"
    only_min_and_max_were_written(kube)
    metrics = (await clocked.client.get("/metrics")).text
    assert f'runners_bot_effective_runners{{bound="min",scale_set="{SET}"}} 1.0' in metrics


async def test_the_next_pass_is_due_at_the_window_edge(clocked: Harness, clock: Clock) -> None:
    clock.now = datetime(2026, 1, 7, 16, 58, tzinfo=UTC)  # 17:58 in Berlin
    due = await clocked.app.scheduler.reconcile()
    assert due == datetime(2026, 1, 7, 17, 0, tzinfo=UTC)


async def test_a_burst_within_bounds_applies_at_once_and_ends_on_time(
    clocked: Harness, kube: FakeKube, clock: Clock
) -> None:
    await clocked.send("issue_comment", comment_payload("/runners burst min=8 for=2h", comment_id=901))
    await clocked.settle()
    (reply,) = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert "bursts to min 8, max 30 until 2026-01-07 11:00 UTC" in reply["body"] and "Applied" in reply["body"]
    assert spec(kube) == (8, 30)
    clock.now += timedelta(hours=2)
    await clocked.app.scheduler.reconcile()
    assert spec(kube) == (4, 10), "back to the schedule, which is still open"
    assert "⏹️ The burst ended at 2026-01-07 11:00 UTC" in clocked.fake.comments[reply["id"]]["body"]
    only_min_and_max_were_written(kube)


async def test_a_burst_outside_the_bounds_is_refused_with_them(clocked: Harness, kube: FakeKube) -> None:
    for n, command in enumerate(
        ["/runners burst min=9 for=2h", "/runners burst min=4 for=5h", "/runners burst max=31 min=2 for=1h"]
    ):
        await clocked.send("issue_comment", comment_payload(command, comment_id=910 + n))
        await clocked.settle()
    replies = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert len(replies) == 3 and all("min ≤ 8, max ≤ 30, for up to 4h" in r["body"] for r in replies)
    assert no_burst_written(kube)


async def test_a_burst_never_lowers_what_is_in_force(clocked: Harness, kube: FakeKube) -> None:
    # Wednesday 10:00 in Berlin: the business-hours schedule holds min 4, max 10.
    for n, command in enumerate(["/runners burst min=0 max=1 for=4h", "/runners burst min=8 max=9 for=1h"]):
        await clocked.send("issue_comment", comment_payload(command, comment_id=940 + n))
        await clocked.settle()
    replies = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert len(replies) == 2
    for reply in replies:
        assert "a burst only raises capacity" in reply["body"] and "min 4, max 10 in force now" in reply["body"]
        assert "min=N with N ≥ 4 and max=M with M ≥ 10" in reply["body"]
    assert no_burst_written(kube)


async def test_the_ended_burst_reply_keeps_its_marker(clocked: Harness, kube: FakeKube, clock: Clock) -> None:
    """Ending a burst edited its reply without the hidden marker: publishing by that marker
    (a redelivery, a restart) no longer found the reply and posted a second one."""
    await clocked.send("issue_comment", comment_payload("/runners burst min=8 for=2h", comment_id=902), "burst-1")
    await clocked.settle()
    tag = reply_marker("burst-1", 0)
    (reply,) = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert reply["body"].rstrip().endswith(tag)
    clock.now += timedelta(hours=2)
    await clocked.app.scheduler.reconcile()
    (ended,) = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert "⏹️ The burst ended at 2026-01-07 11:00 UTC" in ended["body"]
    assert ended["body"].rstrip().endswith(tag), "the note goes before the marker, which stays"
    owner, repo = TEAM_REPO.split("/")
    inst = clocked.app.services.github.installation(42)
    ids = await publish(inst, Issue(owner, repo, 7), {tag: marked("edited again", tag)}, {})
    assert ids == {tag: reply["id"]}
    (again,) = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert again["body"].startswith("edited again")


async def test_a_burst_is_cut_to_a_tightened_allowance_and_ends_by_it(
    clocked: Harness, kube: FakeKube, clock: Clock
) -> None:
    await clocked.send("issue_comment", comment_payload("/runners burst min=8 max=30 for=4h", comment_id=950))
    await clocked.settle()
    assert spec(kube) == (8, 30)
    text = clocked.fake.file(CONFIG_REPO, REPOSITORIES_FILE)
    tightened = text.replace("      minRunners: 8\n      maxRunners: 30\n      maxDuration: 4h\n",
                             "      minRunners: 5\n      maxRunners: 12\n      maxDuration: 1h\n")  # fmt: skip
    assert tightened != text
    clocked.fake.push(CONFIG_REPO, REPOSITORIES_FILE, tightened)  # merged through review
    await clocked.app.scheduler.reconcile()
    assert spec(kube) == (5, 12), "cut to the bounds in force"
    clock.now += timedelta(minutes=61)
    await clocked.app.scheduler.reconcile()
    assert spec(kube) == (4, 10), "ended by the new maxDuration, not the 4h asked"
    (reply,) = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert "⏹️ The burst ended at 2026-01-07 10:00 UTC" in clocked.fake.comments[reply["id"]]["body"]
    assert reply["body"].rstrip().endswith("-->"), "cut, then ended: the reply keeps its marker"


async def test_a_burst_ends_when_its_allowance_is_removed(clocked: Harness, kube: FakeKube) -> None:
    await clocked.send("issue_comment", comment_payload("/runners burst min=8 for=2h", comment_id=960))
    await clocked.settle()
    text = clocked.fake.file(CONFIG_REPO, REPOSITORIES_FILE)
    clocked.fake.push(CONFIG_REPO, REPOSITORIES_FILE, text.replace(CLOCKED, CLOCKED.partition("    burst:")[0]))
    await clocked.app.scheduler.reconcile()
    assert spec(kube) == (4, 10) and await clocked.app.runner_limits.bursts() == {}
    (reply,) = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert "its entry no longer allows a burst" in clocked.fake.comments[reply["id"]]["body"]


async def test_a_burst_needs_write_permission(clocked: Harness, kube: FakeKube) -> None:
    await clocked.send("issue_comment", comment_payload("/runners burst min=8 for=1h", user="reader", comment_id=920))
    await clocked.settle()
    (reply,) = clocked.fake.thread_comments(TEAM_REPO, 7)
    assert "has read permission" in reply["body"] and no_burst_written(kube)


async def test_bursts_are_counted_under_their_own_verb(clocked: Harness, kube: FakeKube) -> None:
    """Every burst was counted as verb="other": the metric's verbs were a list of their own."""
    await clocked.send("issue_comment", comment_payload("/runners burst min=8 for=2h", comment_id=970))
    await clocked.send("issue_comment", comment_payload("/runners burst min=8 for=1h", user="reader", comment_id=971))
    await clocked.settle()
    metrics = (await clocked.client.get("/metrics")).text
    assert 'runners_bot_commands_total{outcome="ok",verb="burst"} 1.0' in metrics
    assert 'runners_bot_commands_total{outcome="refused",verb="burst"} 1.0' in metrics
    assert 'runners_bot_commands_total{outcome="ok",verb="other"} 0.0' in metrics


async def test_a_restart_resumes_the_burst(settings: Settings, clocked: Harness, kube: FakeKube, clock: Clock) -> None:
    await clocked.send("issue_comment", comment_payload("/runners burst min=6 for=3h", comment_id=930))
    await clocked.settle()
    assert spec(kube) == (6, 30)
    kube.runner_sets[(NS, SET)]["spec"].update(minRunners=1, maxRunners=10)  # drift while the app is away
    clock.now += timedelta(hours=1)
    await clocked.app.leadership.stop()  # the first server goes away, and its hold on the singletons
    tuned = dataclasses.replace(settings, kube_api=kube.url)  # type: ignore[attr-defined]
    async for again in start(tuned, clocked.fake, clock):
        for _ in range(200):  # the new server's own first pass, at start
            if spec(kube) == (6, 30):
                break
            await asyncio.sleep(0.025)
        assert await again.app.runner_limits.bursts()
    assert spec(kube) == (6, 30), "the same state database: the burst goes on after the restart"


async def test_a_failed_write_is_retried_soon(clocked: Harness, kube: FakeKube, clock: Clock) -> None:
    kube.fail_patches = 1
    due = await clocked.app.scheduler.reconcile()
    assert spec(kube) == (1, 10) and due is not None and due - clock.now == timedelta(seconds=60)
    assert 'runners_bot_scale_writes_total{outcome="failed"} 1.0' in (await clocked.client.get("/metrics")).text
    await clocked.app.scheduler.reconcile()
    assert spec(kube) == (4, 10)


async def test_sets_not_run_by_the_clock_are_left_to_argo_cd(clocked: Harness, kube: FakeKube) -> None:
    other = "arc-frontend-runners", "arc-project-beta-frontend-runners"
    kube.runner_sets[(other[1], other[0])] = runner_set(other[0], other[1], low=1, high=15)
    await clocked.app.scheduler.reconcile()
    assert all(path == PATH for _, path, _, _ in kube.writes)
    assert APP_ID
