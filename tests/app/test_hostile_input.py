"""Hostile and malformed deliveries: refused or ignored, with nothing stored and no GitHub call."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.app import SECRET, TEAM_REPO, Harness
from tests.support.webhook_payloads import (
    comment_payload,
    example,
    issue_opened_payload,
    rendered_form,
    sign,
    stamp,
)

pytestmark = pytest.mark.anyio

URL = "/api/github/webhooks"


async def post(harness: Harness, body: bytes, headers: dict[str, str]) -> int:
    response = await harness.client.post(URL, content=body, headers=headers)
    await harness.settle()
    return response.status_code


def headers_for(body: bytes, event: str = "issue_comment", secret: str = SECRET) -> dict[str, str]:
    return {
        "x-github-event": event,
        "x-github-delivery": "hostile-1",
        "x-hub-signature-256": sign(secret, body),
        "content-type": "application/json",
    }


async def nothing_happened(harness: Harness) -> None:
    assert harness.fake.calls == []
    assert await harness.app.store.pending() == []
    assert await harness.app.store.seen(["hostile-1"]) == set()


BODY = json.dumps(comment_payload("/runners remove project-beta", user="admin")).encode()


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda h: h.pop("x-hub-signature-256"), 401),
        (lambda h: h.update({"x-hub-signature-256": "sha256=" + "0" * 64}), 401),
        (lambda h: h.update({"x-hub-signature-256": h["x-hub-signature-256"][:-2]}), 401),
        (lambda h: h.update({"x-hub-signature-256": h["x-hub-signature-256"].replace("sha256=", "sha1=")}), 401),
        (lambda h: h.update({"x-hub-signature-256": sign("wrong secret", BODY)}), 401),
        (lambda h: h.update({"x-hub-signature-256": ""}), 401),
        (lambda h: h.pop("x-github-event"), 400),
        (lambda h: h.pop("x-github-delivery"), 400),
    ],
)
async def test_bad_signatures_and_headers(harness: Harness, mutate: object, status: int) -> None:
    headers = headers_for(BODY)
    mutate(headers)  # type: ignore[operator]
    assert await post(harness, BODY, headers) == status
    await nothing_happened(harness)


async def test_signature_of_another_body_is_refused(harness: Harness) -> None:
    tampered = BODY.replace(b"project-beta", b"project-beta-api")
    assert await post(harness, tampered, headers_for(BODY)) == 401
    await nothing_happened(harness)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b"", b"\xff\xfe", b'"string"'])
async def test_malformed_json_is_400(harness: Harness, body: bytes) -> None:
    assert await post(harness, body, headers_for(body)) == 400
    await nothing_happened(harness)


async def test_oversized_body_is_413(harness: Harness) -> None:
    body = b'{"pad": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    assert await post(harness, body, headers_for(body)) == 413
    await nothing_happened(harness)


async def test_github_test_vector(harness: Harness) -> None:
    # GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
    assert sign(SECRET, b"Hello, World!") == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert await post(harness, b"Hello, World!", headers_for(b"Hello, World!")) == 400  # signed, but not JSON


async def test_ping_is_answered(harness: Harness) -> None:
    body = json.dumps(example("ping")).encode()
    response = await harness.client.post(URL, content=body, headers=headers_for(body, "ping"))
    assert response.status_code == 200
    await nothing_happened(harness)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("issue_comment", comment_payload("just chatting, no command")),
        ("issue_comment", comment_payload("```\n/runners remove project-beta\n```")),
        ("issue_comment", comment_payload("/runners remove project-beta", user="runners-bot[bot]", user_type="Bot")),
        ("issue_comment", comment_payload("/runners remove project-beta", user="dependabot[bot]", user_type="Bot")),
        ("issue_comment", comment_payload("/runners remove project-beta", action="edited")),
        # Another App posting on a user's behalf: the user did not type it.
        (
            "issue_comment",
            {
                **comment_payload("/runners remove project-beta"),
                "comment": {
                    **comment_payload("/runners remove project-beta")["comment"],
                    "performed_via_github_app": {"id": 1, "slug": "other-app"},
                },
            },
        ),
        ("issue_comment", comment_payload("/runners remove project-beta", action="deleted")),
        ("issues", example("issues", "opened")),
        ("pull_request", example("pull_request", "opened")),
        ("star", example("star")),
        ("workflow_run", example("workflow_run")),
        ("made_up_event", {"action": "exploded"}),
    ],
)
async def test_events_not_acted_on_are_acknowledged_and_dropped(
    harness: Harness, event: str, payload: dict[str, object]
) -> None:
    body = json.dumps(payload).encode()
    assert await post(harness, body, headers_for(body, event)) == 200
    await nothing_happened(harness)


async def test_huge_comment_without_command_is_dropped(harness: Harness) -> None:
    body = json.dumps(comment_payload(("lorem ipsum " * 6000)[:65536])).encode()  # GitHub's longest comment
    assert await post(harness, body, headers_for(body)) == 200
    await nothing_happened(harness)


async def test_huge_comment_with_command_is_bounded(harness: Harness) -> None:
    text = "/runners help\n" + ("/runners status\n" * 50_000)
    body = json.dumps(comment_payload(text, user="reader")).encode()
    assert await post(harness, body, headers_for(body)) == 202
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == 6


async def test_a_replayed_payload_under_a_new_delivery_id_is_the_same_comment(harness: Harness) -> None:
    """The signature covers the body, not X-GitHub-Delivery: a captured, still validly
    signed payload sent again under a fresh id must not run its command again."""
    body = json.dumps(comment_payload("/runners help", user="reader")).encode()
    first = {**headers_for(body), "x-github-delivery": "original"}
    replay = {**headers_for(body), "x-github-delivery": "replayed-with-a-new-id"}
    assert await post(harness, body, first) == 202
    response = await harness.client.post(URL, content=body, headers=replay)
    await harness.settle()
    assert response.status_code == 200 and "duplicate" in response.json()["message"]
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == 1


async def test_a_payload_replayed_after_retention_is_refused(harness: Harness) -> None:
    """A signed comment captured earlier and replayed once its delivery record was purged
    (RUNNERS_BOT_RETENTION_DAYS) would count as new: its own time says it is too old."""
    payload = comment_payload("/runners scale max=12", user="maintainer")
    payload["comment"]["created_at"] = stamp(harness.app.settings.retention_days * 86_400 - 3_600)
    answer = await harness.send("issue_comment", payload)
    await harness.settle()
    assert answer.status_code == 200 and "older than runners-bot remembers" in answer.text
    assert harness.fake.calls == [] and await harness.app.store.keys("") == []


async def test_unknown_event_names_leave_metrics_and_memory_flat(harness: Harness) -> None:
    """X-GitHub-Event is not signed: one captured signed body replayed under 10,000 new
    event names adds no metric series and keeps no memory (each name is counted as
    ``other``); the events the app acts on keep their own label."""
    import gc
    import tracemalloc

    body = json.dumps({"action": "exploded"}).encode()
    headers = headers_for(body)

    async def replay(start: int, count: int) -> None:
        for n in range(start, start + count):
            response = await harness.client.post(URL, content=body, headers={**headers, "x-github-event": f"e{n}"})
            assert response.status_code == 200
            await asyncio.sleep(0)  # the loop turns between requests, as a server's does

    await replay(0, 500)  # everything warmed up: connections, the metric children
    metrics = (await harness.client.get("/metrics")).text
    tracemalloc.start()
    try:
        gc.collect()  # what is kept, not garbage the collector has yet to reach
        before = tracemalloc.take_snapshot()
        await replay(500, 10_000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # What the app and its metrics keep (other tests' threads may allocate meanwhile).
    kept = [tracemalloc.Filter(True, "*/bot/*"), tracemalloc.Filter(True, "*/prometheus_client/*")]
    stats = after.filter_traces(kept).compare_to(before.filter_traces(kept), "lineno")
    grown = sum(stat.size_diff for stat in stats)
    assert grown < 256 * 1024, f"10,000 event names kept {grown:,} bytes: {stats[:5]}"
    assert (await harness.client.get("/metrics")).text == metrics.replace(
        'runners_bot_deliveries_total{event="other",outcome="ignored"} 500.0',
        'runners_bot_deliveries_total{event="other",outcome="ignored"} 10500.0',
    )
    assert 'event="e1"' not in metrics
    await post(harness, BODY, {**headers_for(BODY), "x-github-delivery": "known-1"})
    assert (
        'runners_bot_deliveries_total{event="issue_comment",outcome="accepted"} 1.0'
        in (await harness.client.get("/metrics")).text
    )


@pytest.mark.parametrize(
    "delivery_id",
    [
        "x --> [a link](https://attacker.example) <!--",
        "<script>",
        "a\nb",
        "a" * 101,
        "-->",
        "../../etc",
        "id with spaces",
    ],
)
async def test_a_delivery_id_github_never_sends_is_refused(harness: Harness, delivery_id: str) -> None:
    body = json.dumps(comment_payload("/runners help", user="reader")).encode()
    response = await harness.client.post(
        URL, content=body, headers={**headers_for(body), "x-github-delivery": delivery_id}
    )
    await harness.settle()
    assert response.status_code == 400
    assert harness.fake.calls == [] and await harness.app.store.pending() == []


async def test_no_header_text_reaches_a_reply(harness: Harness) -> None:
    """The reply's hidden marker holds a hash of X-GitHub-Delivery (unsigned), not the id."""
    delivery_id = "72d3162e-cc78-11e3-81ab-4c9367dc0958"  # GitHub's shape
    answer = await harness.send("issue_comment", comment_payload("/runners help", user="reader"), delivery_id)
    await harness.settle()
    assert answer.status_code == 202
    (reply,) = harness.fake.thread_comments(TEAM_REPO, 7)
    assert "<!-- runners-bot:" in reply["body"]
    assert delivery_id not in reply["body"] and "issue_comment" not in reply["body"]


async def test_an_onboarding_issue_another_app_opened_is_not_obeyed(harness: Harness) -> None:
    """As for comments: an issue an App opened on a user's behalf was not written by the user."""
    payload = issue_opened_payload(TEAM_REPO, 31, rendered_form({"Repository": "payments-service"}))
    payload["issue"]["performed_via_github_app"] = {"id": 1, "slug": "other-app", "name": "Other App"}
    answer = await harness.send("issues", payload)
    await harness.settle()
    assert answer.status_code == 200 and "App" in answer.json()["message"]
    assert harness.fake.calls == [] and await harness.app.store.pending() == []
