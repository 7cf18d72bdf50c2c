"""The fleet dashboard: one issue in the configuration repository, kept current, against
the fake GitHub and the fake Kubernetes API."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.fleet.config import ConfigFiles
from bot.reports import fleet_view
from bot.reports.markers import DASHBOARD_MARKER
from bot.runtime.settings import Settings
from tests.support import golden as support
from tests.support.app import CONFIG_REPO, TEAM_REPO, Harness, serve
from tests.support.fakekube import FakeKube, application, listener, runner, runner_set, stamp
from tests.support.waiting import until
from tests.support.webhook_payloads import _owner, example

pytestmark = pytest.mark.anyio

GOLDEN = Path(__file__).parent.parent / "golden" / "dashboard"
SETS = {
    "arc-frontend-runners": "arc-project-beta-frontend-runners",
    "arc-api-runners": "arc-project-beta-api-runners",
    "arc-beta-runners": "arc-project-beta-runners",
}


def healthy_fleet(_look: int) -> dict[str, Any]:
    return {
        "applications": [application(name, sync="Synced", revision="a" * 40, health="Healthy") for name in SETS],
        "runner_sets": [runner_set(name, ns, low=1, high=10, current=1) for name, ns in SETS.items()],
        "listeners": [listener(name) for name in SETS],
        "runners": [runner(name, ns, 1) for name, ns in SETS.items()],
    }


def fleet_with_problems(look: int) -> dict[str, Any]:
    state = healthy_fleet(look)
    state["listeners"] = [listener("arc-frontend-runners"), listener("arc-beta-runners")]  # api: none
    stuck = runner("arc-beta-runners", "arc-project-beta-runners", 2, "Pending", age=600,
                   unschedulable="0/3 nodes are available")  # fmt: skip
    state["runners"].append(stuck)
    return state


async def start(settings: Settings, fake: Any) -> AsyncIterator[Harness]:
    async for harness in serve(settings, fake):
        await harness.app.dashboard.stop()  # the tests drive the updates themselves
        yield harness


@pytest.fixture
async def board(settings: Settings, fake: Any, kube: FakeKube, bundled: ConfigFiles) -> AsyncIterator[Harness]:
    tuned = dataclasses.replace(settings, dashboard="Runner fleet", kube_api=kube.url)  # type: ignore[attr-defined]
    async for harness in start(tuned, fake):
        harness.app.services.latest.note(42, bundled)
        harness.app.dashboard.min_gap = 0.3
        yield harness
    assert fake.violations == []


@pytest.fixture
async def board_without_cluster(settings: Settings, fake: Any, bundled: ConfigFiles) -> AsyncIterator[Harness]:
    tuned = dataclasses.replace(settings, dashboard="Runner fleet", kube_enabled=False)
    async for harness in start(tuned, fake):
        harness.app.services.latest.note(42, bundled)
        yield harness


async def shown(board: Harness, kube: FakeKube) -> None:
    """Wait until the app's view of the cluster (the watches' the dashboard reads) holds
    the objects the scenario shows."""
    assert kube.scenario is not None
    want = kube.scenario(0)
    cluster = board.app.watcher.cluster
    assert cluster is not None

    def names(objects: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted((o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects)

    def holds() -> bool:
        if not cluster.ready or cluster.problem is not None:
            return False
        fleet = cluster.fleet()
        seen = {kind: fleet.objects(kind) for kind in ("applications", "runner_sets", "listeners", "runners")}
        return all(names(objects) == names(want.get(kind, [])) for kind, objects in seen.items())

    await until(holds, "the cluster's change to reach the app")


def the_issue(harness: Harness) -> dict[str, Any]:
    ours = [i for i in harness.fake.issues.values() if i["performed_via_github_app"]]
    assert len(ours) == 1, "one dashboard issue"
    found: dict[str, Any] = ours[0]
    return found


def golden(name: str, body: str) -> None:
    support.golden(GOLDEN / f"{name}.md", body)


async def test_a_healthy_fleet(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    assert await board.app.dashboard.update()
    issue = the_issue(board)
    assert issue["title"] == "Runner fleet" and {label["name"] for label in issue["labels"]} == {"runners-bot"}
    golden("healthy", issue["body"])
    metrics = (await board.client.get("/metrics")).text
    assert 'runners_bot_listeners{state="up"} 3.0' in metrics and 'runners_bot_listeners{state="down"} 0.0' in metrics
    assert 'runners_bot_runners{phase="running"} 3.0' in metrics and "scale_set=" not in metrics


async def test_a_fleet_with_problems(board: Harness, kube: FakeKube) -> None:
    kube.scenario = fleet_with_problems
    await shown(board, kube)
    await board.app.store.put(
        "rollout:last:arc-frontend-runners", json.dumps({"verdict": "failed", "where": f"{CONFIG_REPO}#100"})
    )
    await board.app.dashboard.update()
    golden("problems", the_issue(board)["body"])


async def test_without_a_cluster_it_shows_the_configuration(board_without_cluster: Harness) -> None:
    await board_without_cluster.app.dashboard.update()
    golden("no-cluster", the_issue(board_without_cluster)["body"])


async def test_no_github_call_when_nothing_changed(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    before = len(board.fake.calls)
    assert not await board.app.dashboard.update()
    assert len(board.fake.calls) == before


async def test_at_most_one_edit_a_minute(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    kube.scenario = fleet_with_problems
    await shown(board, kube)
    assert not await board.app.dashboard.update(), "too soon after the last edit: it waits"
    assert len(the_issue(board)["_history"]) == 1
    await board.app.dashboard.start()  # the deferred update comes through the loop
    await until(lambda: len(the_issue(board)["_history"]) == 2, "the deferred update")
    assert len(the_issue(board)["_history"]) == 2 and "listener is not running" in the_issue(board)["body"]


def edited(issue: dict[str, Any], body: str, user: str, at: str | None = None) -> dict[str, Any]:
    payload = example("issues", "edited")
    payload["issue"].update(
        number=issue["number"], body=body, labels=[{"name": "runners-bot"}], updated_at=at or stamp()
    )
    payload["sender"].update(login=user, type="User")
    _owner(payload["repository"], CONFIG_REPO)
    payload["installation"] = {"id": 42}
    return payload


async def test_a_writer_ticks_refresh_now(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    issue = the_issue(board)
    ticked = issue["body"].replace(fleet_view.REFRESH_OFF, fleet_view.REFRESH_ON)
    issue["body"] = ticked  # what the user's edit did on GitHub
    await board.send("issues", edited(issue, ticked, "maintainer"))
    await board.settle()
    assert fleet_view.REFRESH_OFF in the_issue(board)["body"] and len(the_issue(board)["_history"]) == 2


async def test_refresh_now_works_every_time_it_is_ticked(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    for n, at in enumerate([stamp(120), stamp(60), stamp()]):
        issue = the_issue(board)
        ticked = issue["body"].replace(fleet_view.REFRESH_OFF, fleet_view.REFRESH_ON)
        issue["body"] = ticked  # the same text each time: only the moment of the edit differs
        await board.send("issues", edited(issue, ticked, "maintainer", at))
        await board.settle()
        assert len(the_issue(board)["_history"]) == n + 2, "each tick refreshes and clears the box"
        assert fleet_view.REFRESH_OFF in the_issue(board)["body"]


async def test_anyone_elses_edit_is_undone(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    issue = the_issue(board)
    original = issue["body"]
    vandalised = original.replace(fleet_view.REFRESH_OFF, fleet_view.REFRESH_ON).replace("Needs attention", "lol")
    issue["body"] = vandalised
    await board.send("issues", edited(issue, vandalised, "reader"))
    await board.settle()
    assert the_issue(board)["body"] == original


async def test_the_same_issue_number_in_another_repository_is_not_the_dashboard(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    issue = dict(the_issue(board))
    ticked = issue["body"].replace(fleet_view.REFRESH_OFF, fleet_view.REFRESH_ON)
    payload = edited(issue, ticked, "maintainer")  # a writer here, ticking a box in a repository of their own
    _owner(payload["repository"], TEAM_REPO)
    calls = len(board.fake.calls)
    await board.send("issues", payload)
    await board.settle()
    assert len(board.fake.calls) == calls, "no refresh, no permission lookup, no edit"
    assert len(the_issue(board)["_history"]) == 1


async def test_the_marker_counts_only_in_the_apps_own_issue(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    planted = board.fake.add_issue(CONFIG_REPO, "Runner fleet", f"fake\n{DASHBOARD_MARKER}", "mallory", ["runners-bot"])
    await board.app.dashboard.update()
    assert board.fake.issues[planted]["body"].startswith("fake"), "the stranger's issue is left alone"
    assert the_issue(board)["number"] != planted
    payload = edited(board.fake.issues[planted], f"- [x] Refresh now\n{DASHBOARD_MARKER}", "maintainer")
    before = len(board.fake.calls)
    await board.send("issues", payload)
    await board.settle()
    assert len(board.fake.calls) == before, "an edit of some other issue with the marker does nothing"


def test_bodies_are_stable_for_the_same_fleet() -> None:
    view = fleet_view.SetView("acme/app", "app-runners", "small", 1, 5, "declared", None, None, None)
    assert fleet_view.body([view], "no cluster") == fleet_view.body([view], "no cluster")
    assert re.search(r"Live state unavailable", fleet_view.body([view], "no cluster"))
    assert stamp()


async def test_a_merge_makes_the_next_update_read_the_configuration_again(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    board.app.services.latest.forget_files()  # as a merge leaves it
    graphql = [c for c in board.fake.calls if c.template == "/graphql"]
    await board.app.dashboard.update()
    assert len([c for c in board.fake.calls if c.template == "/graphql"]) == len(graphql) + 1
    before = len(board.fake.calls)
    await board.app.dashboard.update()
    assert len(board.fake.calls) == before, "read once, then kept"


async def test_an_edit_that_removes_the_marker_is_undone_too(board: Harness, kube: FakeKube) -> None:
    kube.scenario = healthy_fleet
    await shown(board, kube)
    await board.app.dashboard.update()
    issue = the_issue(board)
    original = issue["body"]
    issue["body"] = "gone"
    payload = edited(issue, "gone", "reader")
    payload["changes"] = {"body": {"from": original}}
    await board.send("issues", payload)
    await board.settle()
    assert the_issue(board)["body"] == original


async def test_an_onboarding_pull_request_refreshes_the_dashboard(settings: Settings, fake: Any) -> None:
    """The pull request an onboarding form opens pokes the dashboard through the signal
    relay, as a comment's does: the loop (whose timer is an hour away) updates at once,
    and lists the set the pull request adds as waiting for review."""
    from tests.support.webhook_payloads import issue_opened_payload, rendered_form

    tuned = dataclasses.replace(settings, dashboard="Runner fleet", kube_enabled=False, dashboard_interval=3600)
    form = {"Repository": "payments-service", "Organisation": "Matchpoint-AI", "Category": "backend",
            "Resource profile": "large", "Minimum runners": "1", "Maximum runners": "6", "Needs Docker": "Yes",
            "Justification": "Integration tests."}  # fmt: skip
    async for harness in serve(tuned, fake):
        fake.add_repo("Matchpoint-AI/payments-service", {"README.md": "# payments\n"}, {"octocat": "maintain"})
        assert not [i for i in fake.issues.values() if i["performed_via_github_app"]]
        await harness.send("issues", issue_opened_payload(TEAM_REPO, 31, rendered_form(form)))
        await harness.settle()
        await until(lambda: [i for i in fake.issues.values() if i["performed_via_github_app"]], "the dashboard")
        ref = "runners-bot/payments-service-runners"
        (pull,) = [p for p in fake.pulls[CONFIG_REPO.lower()] if p["head"]["ref"] == ref]
        body = the_issue(harness)["body"]
        assert "arc-api-runners" in body, "the dashboard, published on the poke"
        waiting = body.split("## Waiting for review (1)\n", 1)[1]
        url = f"https://github.com/{CONFIG_REPO}/pull/{pull['number']}"
        assert f"- `payments-service-runners`: [pull request #{pull['number']}]({url})" in waiting
        golden("waiting", body)


def crash_looping_api_listener(look: int) -> dict[str, Any]:
    """arc-api-runners' listener fails and is recreated (new uid) on every look: ARC with
    credentials GitHub refuses (FACTS: pods end in Error, never CrashLoopBackOff)."""
    state = healthy_fleet(look)
    state["listeners"] = [listener(name) for name in SETS if name != "arc-api-runners"] + [
        listener("arc-api-runners", generation=look, phase="Failed", exit_message="401 Unauthorized")
    ]
    return state


async def test_why_jobs_wait_and_labels_no_set_serves(board: Harness, kube: FakeKube) -> None:
    from tests.support.webhook_payloads import workflow_job_payload

    kube.scenario = crash_looping_api_listener
    await shown(board, kube)
    queued = time.time() - 900
    for number, labels in ((1, ["arc-api-runners"]), (2, ["arc-api-runners"]), (3, ["arc-api-runner"])):
        payload = workflow_job_payload("queued", job_id=number, labels=labels, created=queued)
        assert (await board.send("workflow_job", payload)).status_code == 202
    await board.settle()
    await board.app.dashboard.update()
    body = the_issue(board)["body"]
    attention = body.split("## Needs attention", 1)[1].split("## Scale sets", 1)[0]
    assert "`arc-api-runners`: 2 jobs waiting, the oldest for 15 min: the listener is crash-looping" in attention
    assert "check the GitHub config secret `arc-github-app`" in attention
    assert (
        "1 job for `runs-on: arc-api-runner`, which no scale set serves; the closest set is `arc-api-runners`"
        in attention
    )
