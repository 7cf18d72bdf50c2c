"""The features' routes, assembled as the server assembles them: which deliveries each
feature keeps, and why everything else is dropped (GitHub's own payload examples)."""

from __future__ import annotations

import pytest

from bot.server import ROUTER
from bot.store.api import Delivery
from bot.webhooks.routing import Route, Router
from tests.support.app import CONFIG_REPO, TEAM_REPO
from tests.support.webhook_payloads import comment_payload, example, issue_opened_payload, pull_closed_payload


def test_each_feature_keeps_its_own_deliveries() -> None:
    assert ROUTER.classify("issue_comment", comment_payload("/runners help")).work == "command"
    assert ROUTER.classify("issues", issue_opened_payload(TEAM_REPO, 3, "### Repository\n\nx")).work == "onboarding"
    closed = pull_closed_payload(CONFIG_REPO, 5, "runners-bot/arc-api-runners", merged=True)
    assert ROUTER.classify("pull_request", closed).work == "bot_pull_closed"


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        ("issue_comment", comment_payload("no command here"), "no /runners command"),
        ("issue_comment", comment_payload("/runners help", user="dependabot[bot]"), "comment by a bot"),
        ("issues", issue_opened_payload(TEAM_REPO, 3, "x", label="bug"), "not an onboarding request"),
        ("push", example("push"), "push is not acted on"),
    ],
)
def test_everything_else_is_dropped_with_the_reason(event: str, payload: dict[str, object], reason: str) -> None:
    verdict = ROUTER.classify(event, payload)
    assert verdict.work is None and verdict.reason == reason


def test_an_action_no_route_takes_is_named() -> None:
    edited = comment_payload("/runners help")
    edited["action"] = "edited"
    assert ROUTER.classify("issue_comment", edited).reason == "issue_comment.edited is not acted on"


def test_two_routes_of_one_kind_are_refused() -> None:
    route = Route("command", "issue_comment", "created", lambda _: None)
    with pytest.raises(ValueError, match="share a kind"):
        Router([route, route])


def test_each_route_is_bound_to_exactly_one_handler() -> None:
    async def handler(_: Delivery) -> None: ...

    router = Router([Route("command", "issue_comment", "created", lambda _: None)])
    assert router.bind({"command": handler}) == {"command": handler}
    with pytest.raises(ValueError, match=r"routes without a handler: \['command'\]"):
        router.bind({})
    with pytest.raises(ValueError, match=r"handlers without a route: \['other'\]"):
        router.bind({"command": handler, "other": handler})
