"""The webhook server end to end: signed deliveries from GitHub's examples, through the
real ASGI app, against the shared fake GitHub (every request checked against GitHub's
REST description)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.runtime.settings import Settings
from tests.support.app import TEAM_REPO, Harness, github_sleeps_on, serve
from tests.support.waiting import ManualClock, until
from tests.support.webhook_payloads import comment_payload

pytestmark = pytest.mark.anyio


async def test_help_gets_reaction_reply_and_final_reaction(harness: Harness) -> None:
    response = await harness.send("issue_comment", comment_payload("/runners help", user="reader"))
    assert response.status_code == 202
    await harness.settle()
    fake = harness.fake
    assert [r["content"] for r in fake.reactions] == ["eyes", "+1"]
    replies = fake.thread_comments(TEAM_REPO, 7)
    assert len(replies) == 1
    assert "**runners-bot** changes this fleet" in replies[0]["body"]
    # One permission read, on the configuration repository: it decides whether the reply
    # may list the whole fleet (docs/commands.md). "reader" has read there: only their repository's.
    permission_calls = [c for c in fake.calls if c.template.endswith("/collaborators/{username}/permission")]
    assert [c.path.split("/")[3] for c in permission_calls] == ["runners-config"]
    assert "`arc-api-runners` (this repository's only" in replies[0]["body"]
    assert "arc-frontend-runners" not in replies[0]["body"]


async def test_status_replies_with_configuration(harness: Harness) -> None:
    await harness.send("issue_comment", comment_payload("/runners status", user="reader"))
    await harness.settle()
    (reply,) = harness.fake.thread_comments(TEAM_REPO, 7)
    assert "**Matchpoint-AI/project-beta-api**" in reply["body"]
    assert "`arc-api-runners`" in reply["body"]


@pytest.mark.parametrize("user", ["reader", "triager", "stranger"])
async def test_scale_refused_below_write(harness: Harness, user: str) -> None:
    await harness.send("issue_comment", comment_payload("/runners scale max=12", user=user))
    await harness.settle()
    (reply,) = harness.fake.thread_comments(TEAM_REPO, 7)
    expected = {"reader": "read", "triager": "triage", "stranger": "none"}[user]
    assert f"@{user} has {expected} permission" in reply["body"]
    assert [r["content"] for r in harness.fake.reactions] == ["eyes", "-1"]
    assert harness.fake.count("PUT") == 0 and harness.fake.count("POST", "/repos/{owner}/{repo}/pulls") == 0


async def test_maintainer_of_config_repository_may_scale_elsewhere(harness: Harness) -> None:
    # maintainer has no role on the frontend repository but maintains the config repository.
    payload = comment_payload(
        "/runners scale project-beta-frontend max=12", user="maintainer", repo="Matchpoint-AI/project-beta-frontend"
    )
    await harness.send("issue_comment", payload)
    await harness.settle()
    (reply,) = harness.fake.thread_comments("Matchpoint-AI/project-beta-frontend", 7)
    assert "permission" not in reply["body"].split("\n")[0]
    assert reply["body"].startswith("✅")


async def test_redelivery_is_processed_once(harness: Harness) -> None:
    payload = comment_payload("/runners help")
    first = await harness.send("issue_comment", payload, delivery_id="d-1")
    await harness.settle()
    again = await harness.send("issue_comment", payload, delivery_id="d-1")
    await harness.settle()
    assert (first.status_code, again.status_code) == (202, 200)
    assert "duplicate" in again.json()["message"]
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == 1
    assert [r["content"] for r in harness.fake.reactions] == ["eyes", "+1"]


async def test_command_flood_answers_five_and_says_so(harness: Harness) -> None:
    body = "\n".join(["/runners status"] * 40)
    await harness.send("issue_comment", comment_payload(body, user="reader"))
    await harness.settle()
    replies = harness.fake.thread_comments(TEAM_REPO, 7)
    assert len(replies) == 6
    assert "35 more were ignored" in replies[-1]["body"]


async def test_server_errors_and_timeouts_are_retried(harness: Harness) -> None:
    from tests.support.fakegithub import Fault

    harness.fake.inject("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", Fault(502), Fault(503))
    harness.fake.inject("GET", "/repos/{owner}/{repo}/contents/{path}", Fault(status=0, delay=3.0))
    await harness.send("issue_comment", comment_payload("/runners help"))
    await harness.settle()
    assert [r["content"] for r in harness.fake.reactions] == ["eyes", "+1"]
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == 1


async def test_rate_limit_waits_for_retry_after(settings: Settings, fake: Any) -> None:
    from tests.support.fakegithub import Fault

    clock = ManualClock()

    comments = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
    async for harness in serve(settings, fake, github_sleeps_on(clock)):
        limited = Fault(403, {"retry-after": "1", "x-ratelimit-remaining": "0", "content-type": "application/json"})
        harness.fake.inject("POST", comments, limited)
        await harness.send("issue_comment", comment_payload("/runners help"))
        await until(lambda: clock.sleeping == [1.0], "the wait Retry-After asks for")
        assert [c.status for c in harness.fake.calls if c.template == comments] == [403], "not sent again before it"
        clock.advance(1.0)
        await harness.settle()
        assert [c.status for c in harness.fake.calls if c.template == comments] == [403, 201]


async def test_long_rate_limit_reschedules_instead_of_blocking(harness: Harness) -> None:
    from tests.support.fakegithub import Fault

    limited = Fault(429, {"retry-after": "3600"})
    harness.fake.inject("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", limited)
    await harness.send("issue_comment", comment_payload("/runners help"), delivery_id="slow")
    await harness.settle()
    assert harness.fake.thread_comments(TEAM_REPO, 7) == []
    pending = dict(await harness.app.store.pending())
    assert pending["slow"] > __import__("time").time() + 3000


async def test_github_api_url_is_honoured(harness: Harness) -> None:
    # The harness serves the fake under /api/v3 (as GitHub Enterprise Server does) and
    # asserts every request carries that prefix; a working reply proves it.
    await harness.send("issue_comment", comment_payload("/runners help"))
    await harness.settle()
    assert harness.fake.count() > 0 and len(harness.fake.thread_comments(TEAM_REPO, 7)) == 1


async def test_operations_endpoints(harness: Harness) -> None:
    assert (await harness.client.get("/healthz")).json() == {"status": "ok"}
    assert (await harness.client.get("/readyz")).status_code == 200
    await harness.send("issue_comment", comment_payload("/runners help"))
    await harness.send("issue_comment", comment_payload("no command here"))
    await harness.settle()
    text = (await harness.client.get("/metrics")).text
    assert 'runners_bot_deliveries_total{event="issue_comment",outcome="accepted"} 1.0' in text
    assert 'runners_bot_deliveries_total{event="issue_comment",outcome="ignored"} 1.0' in text
    assert "runners_bot_command_latency_seconds_count 1.0" in text
    assert (
        'runners_bot_github_api_calls_total{endpoint="/repos/{owner}/{repo}/issues/{id}/comments",method="POST",status="201"} 1.0'
        in text
    )
    assert "runners_bot_github_rate_limit_remaining" in text
    assert "runners_bot_queue_depth 0.0" in text


def test_the_fake_rejects_endpoints_github_does_not_have() -> None:
    from tests.support.fakegithub import SPEC

    spec = SPEC
    _, problems = spec.check("POST", "/repos/a/b/issues/comment/1/reactions", {}, {"content": "eyes"})
    assert problems and "no such operation" in problems[0]
    _, problems = spec.check("POST", "/repos/a/b/issues/1/comments", {}, {"text": "hi"})
    assert problems == ["POST /repos/{owner}/{repo}/issues/{issue_number}/comments: required body field 'body' missing"]
