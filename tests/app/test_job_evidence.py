"""Job evidence end to end: GitHub's ``workflow_job`` deliveries through the real app
into the store's aggregates, and what ``status`` (and ``recommend``) then say."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.capacity import histogram
from bot.commands.evidence_text import duration
from bot.runtime.settings import Settings
from tests.support.app import CONFIG_REPO, TEAM_REPO, Harness, serve
from tests.support.fakekube import FakeKube, application, listener, runner_set
from tests.support.jobdeliveries import last_monday, send_runs
from tests.support.jobtraces import HOUR, daily, every, simulate
from tests.support.webhook_payloads import comment_payload, workflow_job_payload

pytestmark = pytest.mark.anyio

SET = "arc-api-runners"  # project-beta-api's set in the bundled values: max 10


def evidence_cells(text: str) -> list[str]:
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| jobs |"))
    return [cell.strip() for cell in lines[header + 2].strip("|").split("|")]


async def test_a_set_at_its_max_every_weekday_morning_shows_its_p95_in_status(harness: Harness) -> None:
    monday = last_monday()
    # Mon–Fri 09:00–11:00 a 20-minute job every 100 seconds: 12 runners' work on a max of 10.
    arrivals = daily(range(5), lambda day: every(day + 9 * HOUR, day + 11 * HOUR, 100, 1200.0), start=monday)
    runs = simulate(arrivals, 10)
    await send_runs(harness, runs, [SET])
    first = runs[0]
    redelivered = workflow_job_payload(
        "completed",
        job_id=first.id,
        labels=[SET],
        created=first.created,
        started=first.started,
        completed=first.completed,
    )
    await harness.send("workflow_job", redelivered, delivery_id="same-guid")
    await harness.send("workflow_job", redelivered, delivery_id="same-guid")  # GitHub's redelivery keeps the GUID
    await harness.settle()

    await harness.send("issue_comment", comment_payload(f"/runners status {SET}"))
    await harness.settle()
    reply = harness.fake.thread_comments(TEAM_REPO, 7)[-1]["body"]
    cells = evidence_cells(reply)
    waits = sorted(r.started - r.created for r in runs)
    true_p95 = waits[-(-95 * len(waits) // 100) - 1]
    # The p95 is its bucket's upper bound, or the longest wait when that is shorter.
    near = {duration(min(histogram.upper(histogram.bucket_of(true_p95) + k), waits[-1])) for k in (0, 1)}
    assert cells[0] == str(len(runs) + 1), "every job once, the redelivered one once more (its own GUID)"
    assert cells[2] in near, (cells, true_p95)
    assert int(cells[4]) >= 10, "hours at maxRunners: two each weekday morning"
    assert cells[8].endswith(" USD"), "large runners at the configured prices"

    await harness.send("issue_comment", comment_payload(f"/runners recommend {SET}", comment_id=556))
    await harness.settle()
    proposal = harness.fake.thread_comments(TEAM_REPO, 7)[-1]["body"]
    assert evidence_cells(proposal)[2] == cells[2], "the same evidence as status"
    raised = re.search(r"maxRunners 10 → (\d+)", proposal)
    assert raised is not None and int(raised.group(1)) >= 12, proposal
    assert "jobs waited at the max" in proposal

    await harness.send("issue_comment", comment_payload(f"/runners scale {SET} max={raised.group(1)}", comment_id=557))
    await harness.settle()
    (pull,) = harness.fake.pulls[CONFIG_REPO.lower()]
    assert "**Monthly cost of this change**" in pull["body"]
    worst = re.search(r"worst case .*: \+([0-9,.]+) USD", pull["body"])
    assert worst is not None and float(worst.group(1).replace(",", "")) > 0, pull["body"]
    assert re.search(r"expected \(the last window's demand\): [+−][0-9,.]+ USD", pull["body"]), pull["body"]


@pytest.fixture
async def with_cluster(settings: Settings, fake: Any, kube: FakeKube) -> AsyncIterator[Harness]:
    async for harness in serve(dataclasses.replace(settings, kube_api=kube.url), fake):  # type: ignore[attr-defined]
        yield harness
    assert fake.violations == []


async def test_status_names_a_listener_crash_looping_on_401_while_jobs_wait(
    with_cluster: Harness, kube: FakeKube
) -> None:
    """With bad credentials ARC (controllers/actions.github.com/autoscalingrunnerset_controller.go)
    recreates the listener under the same name, each ending in Error on GitHub's 401; jobs
    queue meanwhile. ``status`` judges why from that look at the cluster, as the dashboard does."""
    namespace = "arc-project-beta-api-runners"
    current = runner_set(SET, namespace, low=1, high=10)
    kube.scenario = lambda look: {
        "application": application(SET, sync="Synced", revision="a" * 40, health="Healthy"),
        "runner_set": current,
        "listeners": [
            listener(SET, look, "Failed", exit_message="failed to create session: 401 Unauthorized", of=current)
        ],
    }
    queued = time.time() - 600
    for job in (1, 2):
        payload = workflow_job_payload("queued", job_id=job, labels=[SET], created=queued)
        assert (await with_cluster.send("workflow_job", payload)).status_code == 202
    await with_cluster.settle()
    await with_cluster.send("issue_comment", comment_payload(f"/runners status {SET}"))
    await with_cluster.settle()
    reply = with_cluster.fake.thread_comments(TEAM_REPO, 7)[-1]["body"]
    assert "Why jobs wait: 2 jobs waiting, the oldest for 10 min: the listener is crash-looping" in reply, reply
    assert f"check the GitHub config secret `arc-github-app` in namespace `{namespace}`" in reply, reply
