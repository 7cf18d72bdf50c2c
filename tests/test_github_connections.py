"""The GitHub adapter over real sockets: calls that overlap share one connection pool,
and one call ending must not cut another one short (githubkit closes a client after
each call; the pool is the app's, closed only when the app stops)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import TEAM_REPO
from servers import ThreadedServer

from bot.github import GitHubApp
from bot.metrics import Metrics
from bot.settings import Settings

pytestmark = pytest.mark.anyio

COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"


async def test_a_call_in_flight_survives_others_ending(fake: Any, settings: Settings) -> None:
    with ThreadedServer(fake.app) as github:
        app = GitHubApp(Settings(**{**settings.__dict__, "api_url": github.url}), Metrics())
        inst = app.installation(42)
        owner, repo = TEAM_REPO.split("/")
        release = fake.hold("POST", COMMENTS)
        held = asyncio.create_task(inst.comment(owner, repo, 7, "posted once"))
        await asyncio.to_thread(fake.reached[("POST", COMMENTS)].wait, 10)
        for _ in range(3):  # other calls start and end while the first one waits for GitHub
            assert await inst.permission(owner, repo, "octocat") == "write"
        release.set()
        comment_id = await held
        await app.close()
    assert [c["id"] for c in fake.thread_comments(TEAM_REPO, 7)] == [comment_id], "posted once, answered once"
    assert fake.violations == []
