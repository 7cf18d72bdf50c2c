"""Periodic right-sizing end to end: a week of ``workflow_job`` deliveries through the
real app, then the right-sizing pass on the lead replica opening (or not) a pull request
in the fake GitHub."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.features.rightsizing import LOOP
from bot.fleet.config import REPOSITORIES_FILE
from bot.runtime.settings import Settings
from tests.support.app import CONFIG_REPO, Harness, serve
from tests.support.jobdeliveries import last_monday, send_runs
from tests.support.jobtraces import DAY, HOUR, daily, every, simulate
from tests.support.waiting import until
from tests.support.webhook_payloads import pull_closed_payload

pytestmark = pytest.mark.anyio

SET = "arc-api-runners"  # project-beta-api's set in the bundled values: min 1, max 10


@pytest.fixture
async def sizing(settings: Settings, fake: Any) -> AsyncIterator[Harness]:
    on = dataclasses.replace(settings, rightsizing_interval=86_400.0)
    async for harness in serve(on, fake):
        leadership = harness.app.leadership
        await until(lambda: leadership.leading, "this replica leads")  # noqa: B023 (awaited at once)
        yield harness
    assert fake.violations == [], fake.violations


def open_pulls(fake: Any) -> list[dict[str, Any]]:
    return [p for p in fake.pulls.get(CONFIG_REPO.lower(), []) if p["state"] == "open"]


async def test_a_set_at_its_max_every_weekday_morning_gets_one_pull_request_raising_its_max(
    sizing: Harness,
) -> None:
    # Mon–Fri 09:00–11:00 a 20-minute job every 100 seconds: 12 runners' work on a max of 10.
    arrivals = daily(range(5), lambda day: every(day + 9 * HOUR, day + 11 * HOUR, 100, 1200.0), start=last_monday())
    await send_runs(sizing, simulate(arrivals, 10), [SET])

    sizing.app.services.poke(LOOP)  # the pass, now rather than when its interval comes
    await until(lambda: open_pulls(sizing.fake), "a right-sizing pull request")
    await sizing.settle()
    (pull,) = open_pulls(sizing.fake)
    body = pull["body"]
    assert pull["head"]["ref"] == f"runners-bot/{SET}"
    raised = re.search(r"\| Max runners \| 10 \| \*\*(\d+)\*\* \|", body)
    assert raised is not None and int(raised.group(1)) >= 15, body
    assert "| Min runners | 1 | 1 |" in body, "the min stays: the warm windows it leans on are not written"
    assert "jobs waited at the max" in body, "the reason"
    assert "| jobs | wait p50 | wait p95 |" in body, "the evidence table"
    assert re.search(r"worst case .*: \+[0-9,.]+ USD", body), body
    assert re.search(r"expected \(the last window's demand\): [+−][0-9,.]+ USD", body), body
    assert "runners-bot (right-sizing) (http://github.test/" in body and "docs/capacity.md" in body
    assert "@runners-bot" not in body, "no mention of a GitHub user of that name"
    assert "runners-bot" in pull["labels"][0]["name"]
    branch = sizing.fake.file(CONFIG_REPO, REPOSITORIES_FILE, pull["head"]["ref"])
    assert f"maxRunners: {raised.group(1)}" in branch

    # The loop's next passes: the set has its open pull request, so nothing more.
    sizing.app.services.poke(LOOP)
    assert await sizing.app.rightsizing.propose() == []
    await sizing.settle()
    assert len(sizing.fake.pulls[CONFIG_REPO.lower()]) == 1


async def test_the_same_window_is_proposed_once_across_replicas(sizing: Harness, fake: Any) -> None:
    arrivals = daily(range(5), lambda day: every(day + 9 * HOUR, day + 11 * HOUR, 100, 1200.0), start=last_monday())
    await send_runs(sizing, simulate(arrivals, 10), [SET])
    await sizing.app.rightsizing.stop()  # the test drives the passes
    async for other in serve(sizing.app.settings, fake):  # a second replica on the same store
        found = await asyncio.gather(sizing.app.rightsizing.propose(), other.app.rightsizing.propose())
        assert len(found[0] + found[1]) == 1, "one proposal stored for the set and window"
        await sizing.settle()
        await other.settle()
    assert len(open_pulls(fake)) == 1
    # Declined (closed without merge): the same window is not proposed again.
    (pull,) = open_pulls(fake)
    pull["state"] = "closed"  # a maintainer closes it
    await sizing.send(
        "pull_request", pull_closed_payload(CONFIG_REPO, pull["number"], pull["head"]["ref"], merged=False)
    )
    await sizing.settle()
    assert await sizing.app.rightsizing.propose() == []
    assert len(fake.pulls[CONFIG_REPO.lower()]) == 1


async def test_a_set_whose_evidence_fits_gets_no_pull_request(sizing: Harness) -> None:
    # One runner busy all week and six at once on Wednesday afternoon, on a min of 1 and a
    # max of 10: nothing waited, the max is under twice the peak, the min is what is busy.
    monday = last_monday()
    arrivals = every(monday, monday + 7 * DAY, 3600, 3500.0) + [(monday + 2 * DAY + 14 * HOUR, 600.0)] * 5
    await send_runs(sizing, simulate(arrivals, 10), [SET])
    await sizing.app.rightsizing.stop()
    assert await sizing.app.store.job_hours(None, 0), "the evidence is there"
    assert await sizing.app.rightsizing.propose() == []
    await sizing.settle()
    assert open_pulls(sizing.fake) == []


async def test_right_sizing_is_off_by_default(harness: Harness) -> None:
    assert (
        Settings.load({"GITHUB_WEBHOOK_SECRET": "s", "RUNNERS_CONFIG_REPO": "o/r"}, None).rightsizing_interval is None
    )
    arrivals = daily(range(5), lambda day: every(day + 9 * HOUR, day + 11 * HOUR, 100, 1200.0), start=last_monday())
    await send_runs(harness, simulate(arrivals, 10), [SET])
    await until(lambda: harness.app.leadership.leading, "this replica leads")
    assert not harness.app.rightsizing.running
    harness.app.services.poke(LOOP)
    await harness.settle()
    assert open_pulls(harness.fake) == []
