"""The webhook server end to end: signed deliveries from GitHub's examples, through the
real ASGI app, against the shared fake GitHub (every request checked against GitHub's
REST description)."""

from __future__ import annotations

import pytest
from conftest import TEAM_REPO, Harness
from webhook_payloads import comment_payload

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
    assert fake.count("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission") == 0
