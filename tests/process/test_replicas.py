"""Two `runners-bot serve` replicas on one PostgreSQL database, one of them SIGKILLed in the
middle of a stream of commands: every command is answered exactly once, one pull request
per scale set holds them all, and the rollout watch the dead replica ran goes on, on the
survivor, in the same comments."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.reports.markers import reply_marker
from tests.support.app import CONFIG_REPO, SECRET, TEAM_REPO
from tests.support.fakekube import FakeKube, application, listener, runner, runner_set
from tests.support.servers import BotProcess, ThreadedServer
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import comment_payload, delivery, pull_closed_payload

PULLS = "/repos/{owner}/{repo}/pulls"
SET, NS = "arc-api-runners", "arc-project-beta-api-runners"
LEASE = "3"


def send(bot: BotProcess, event: str, payload: dict[str, Any], delivery_id: str) -> None:
    body, headers = delivery(SECRET, event, payload, delivery_id)
    response = httpx.post(f"{bot.url}/api/github/webhooks", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text


def leads(bot: BotProcess) -> bool:
    metrics = httpx.get(f"{bot.url}/metrics", timeout=5).text
    return bool(re.search(r"^runners_bot_leader 1\.0$", metrics, re.M))


def replies(fake: Any, delivery_id: str) -> list[dict[str, Any]]:
    return [c for c in fake.comments.values() if reply_marker(delivery_id, 0) in c["body"]]


def rollout_reports(fake: Any, repo: str, number: int) -> list[dict[str, Any]]:
    return [c for c in fake.thread_comments(repo, number) if c["body"].startswith("🚀")]


def cluster(live: threading.Event, sha: str) -> Any:
    """Argo CD has not synced the merge until ``live`` is set; then all is well."""

    def look(_: int) -> dict[str, Any]:
        if not live.is_set():
            return {"application": application(SET, sync="OutOfSync", revision="0" * 40, health="Healthy")}
        current = runner_set(SET, NS, low=1, high=12, current=1)
        return {
            "application": application(SET, sync="Synced", revision=sha, health="Healthy"),
            "runner_set": current,
            "listeners": [listener(SET, of=current)],
            "runners": [runner(SET, NS, 1, "Running")],
        }

    return look


def test_two_replicas_one_killed_mid_stream(
    fake: Any, kube: FakeKube, process_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = request.getfixturevalue("database_url")
    live = threading.Event()
    with ThreadedServer(fake.app) as github:
        env = {
            **process_env,
            "GITHUB_API_URL": github.url,
            "RUNNERS_BOT_DATABASE_URL": database,
            "RUNNERS_BOT_LEASE_SECONDS": LEASE,
            "RUNNERS_BOT_KUBE": "on",
            "RUNNERS_BOT_KUBE_API": kube.url,  # type: ignore[attr-defined]
            "RUNNERS_BOT_ROLLOUT_INTERVAL": "0.2",
            "RUNNERS_BOT_ROLLOUT_TIMEOUT": "600",
            "RUNNERS_BOT_ROLLOUT_SETTLE": "0.5",
        }
        a = BotProcess(env, tmp_path).start()
        b = BotProcess(env, tmp_path).start()
        try:
            wait_for(lambda: leads(a) and not leads(b), "the first replica to run the singletons")

            # A merged change, its merge delivered to the replica that does not watch rollouts.
            send(b, "issue_comment", comment_payload("/runners scale max=12", comment_id=900), "first")
            wait_for(lambda: len(replies(fake, "first")) == 1, "the first command's reply")
            sha = fake.merge(CONFIG_REPO, 100)["merge_commit_sha"]
            kube.scenario = cluster(live, sha)
            merged = pull_closed_payload(CONFIG_REPO, 100, f"runners-bot/{SET}", merged=True, merge_sha=sha)
            send(b, "pull_request", merged, "merge")
            wait_for(lambda: len(rollout_reports(fake, CONFIG_REPO, 100)) == 1, "the watch, on the first replica")
            report = rollout_reports(fake, CONFIG_REPO, 100)[0]
            assert "⏳" in report["body"]

            # A stream of commands to both; the first replica is stopped mid-way through one.
            release = fake.hold("POST", PULLS)
            send(a, "issue_comment", comment_payload("/runners scale max=13", comment_id=1001), "c-1001")
            wait_for(fake.reached[("POST", PULLS)].is_set, "the first replica to open the pull request")
            stream = {}
            for n in range(1002, 1014):
                command = f"/runners scale max={n - 990}" if n % 3 else "/runners help"
                stream[f"c-{n}"] = command
                send(a if n % 2 else b, "issue_comment", comment_payload(command, comment_id=n), f"c-{n}")
            wait_for(
                lambda: all(
                    replies(fake, d) for d, c in stream.items() if c == "/runners help" and int(d[2:]) % 2 == 0
                ),
                "the second replica to answer its share",
            )
            a.kill()
            release.set()  # GitHub finishes opening the pull request; the replica that asked is gone

            stream["c-1001"] = "/runners scale max=13"
            wait_for(lambda: all(replies(fake, d) for d in stream), "every command to be answered", timeout=90)
            wait_for(lambda: leads(b), "the survivor to run the singletons")
            live.set()
            wait_for(
                lambda: "✅ Live" in rollout_reports(fake, CONFIG_REPO, 100)[0]["body"],
                "the survivor to finish the rollout report",
            )
            time.sleep(1)  # anything late would show now
        finally:
            a.stop()
            b.stop()

    for delivery_id in [*stream, "first"]:
        assert len(replies(fake, delivery_id)) == 1, f"{delivery_id} answered exactly once"
    pulls = fake.pulls[CONFIG_REPO.lower()]
    assert [p["number"] for p in pulls] == [100, 101], "one pull request for the set after the merge"
    body = pulls[1]["body"]
    for delivery_id, command in stream.items():
        if command != "/runners help":
            assert body.count(f"#issuecomment-{delivery_id[2:]})") == 1, f"{delivery_id} is in the pull request once"
            assert "pull request [#101]" in replies(fake, delivery_id)[0]["body"]
    assert [c["id"] for c in rollout_reports(fake, CONFIG_REPO, 100)] == [report["id"]], "the same report, edited"
    assert len(rollout_reports(fake, TEAM_REPO, 7)) == 1
    assert fake.violations == []
