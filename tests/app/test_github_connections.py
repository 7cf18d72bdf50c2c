"""The GitHub adapter over real sockets: calls that overlap share one connection pool,
and one call ending must not cut another one short (githubkit closes a client after
each call; the pool is the app's, closed only when the app stops)."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest

from bot.clients.github import GitHubApp
from bot.runtime.metrics import Metrics
from bot.runtime.settings import Settings
from tests.support.app import TEAM_REPO
from tests.support.servers import ThreadedServer

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


async def test_the_apps_own_comment_is_found_past_the_first_page(fake: Any, settings: Settings) -> None:
    """Recovery on a busy thread: the reply it looks for is past GitHub's first 100."""
    owner, repo = TEAM_REPO.split("/")
    for n in range(150):
        fake.add_comment(TEAM_REPO, 7, f"chatter {n}", "someone")
    with ThreadedServer(fake.app) as github:
        app = GitHubApp(Settings(**{**settings.__dict__, "api_url": github.url}), Metrics())
        inst = app.installation(42)
        posted = await inst.comment(owner, repo, 7, "a reply <!-- runners-bot:d1:0 -->")
        for n in range(120):
            fake.add_comment(TEAM_REPO, 7, f"more chatter {n}", "someone")
        found = await inst.find_comments(owner, repo, 7, ["<!-- runners-bot:d1:0 -->"])
        await app.close()
    assert found == {"<!-- runners-bot:d1:0 -->": posted}
    pages = [c for c in fake.calls if c.method == "GET" and c.template == COMMENTS]
    assert len(pages) == 3 and all(c.query.get("per_page") == "100" for c in pages)


async def test_a_cold_start_asks_for_one_installation_token(fake: Any, settings: Settings) -> None:
    """Calls made together before any token exists share the first one's token request."""
    owner, repo = TEAM_REPO.split("/")
    with ThreadedServer(fake.app) as github:
        app = GitHubApp(Settings(**{**settings.__dict__, "api_url": github.url}), Metrics())
        inst = app.installation(42)
        answers = await asyncio.gather(*(inst.permission(owner, repo, user) for user in ("octocat", "reader", "admin")))
        await app.close()
    assert answers == ["write", "read", "admin"]
    assert fake.count("POST", "/app/installations/{installation_id}/access_tokens") == 1


async def test_the_apps_key_is_read_once_before_any_call(
    fake: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading the PEM (and checking the RSA key) for each JWT held the event loop's GIL
    # for 80-110 ms: /healthz waited. The fake still verifies every signature.
    reads: list[bytes] = []
    read = jwt.algorithms.load_pem_private_key  # type: ignore[attr-defined]

    def counted(data: bytes, *args: Any, **kwargs: Any) -> Any:
        if b"PRIVATE KEY" in data:  # the fake GitHub reads the public key to verify
            reads.append(data)
        return read(data, *args, **kwargs)

    monkeypatch.setattr(jwt.algorithms, "load_pem_private_key", counted)
    owner, repo = TEAM_REPO.split("/")
    with ThreadedServer(fake.app) as github:
        app = GitHubApp(Settings(**{**settings.__dict__, "api_url": github.url}), Metrics())
        assert len(reads) == 1
        assert await app.installation(42).permission(owner, repo, "octocat") == "write"
        await app.close()
    assert len(reads) == 1
    assert fake.count("POST", "/app/installations/{installation_id}/access_tokens") == 1
