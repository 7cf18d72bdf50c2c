"""The GitHub App harness: the real ASGI app against the shared fake GitHub, and the
constants the tests share (the repositories, the webhook secret, the store under test)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.runtime.settings import Settings
from bot.server import App, build
from tests.support.waiting import ManualClock

ROOT = Path(__file__).resolve().parent.parent.parent

SECRET = "It's a Secret to Everybody"
APP_ID = 4242
CONFIG_REPO = "Matchpoint-AI/runners-config"
TEAM_REPO = "Matchpoint-AI/project-beta-api"
ROLES = {"octocat": "write", "maintainer": "maintain", "admin": "admin", "reader": "read", "triager": "triage"}

# The whole suite runs on SQLite; `make test` runs it again with RUNNERS_BOT_TEST_STORE=postgresql.
STORE = os.environ.get("RUNNERS_BOT_TEST_STORE", "sqlite")


@dataclasses.dataclass
class Harness:
    app: App
    fake: Any
    client: httpx.AsyncClient

    async def send(self, event: str, payload: dict[str, Any] | bytes, delivery_id: str | None = None) -> httpx.Response:
        from tests.support.webhook_payloads import delivery

        body, headers = delivery(SECRET, event, payload, delivery_id)
        return await self.client.post("/api/github/webhooks", content=body, headers=headers)

    async def settle(self) -> None:
        await self.app.dispatcher.idle()


class _Network(httpx.AsyncBaseTransport):
    """What the network would add to the in-process fake: GITHUB_API_URL's path prefix
    (GitHub Enterprise Server serves under /api/v3) and read timeouts, which
    httpx.ASGITransport does not enforce."""

    def __init__(self, inner: httpx.AsyncBaseTransport, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if self.prefix.endswith("/api/v3") and path == self.prefix[: -len("/v3")] + "/graphql":
            path = self.prefix + "/graphql"  # Enterprise Server serves GraphQL at /api/graphql
        assert path.startswith(self.prefix), f"{request.url} ignores GITHUB_API_URL"
        request.url = request.url.copy_with(path=path[len(self.prefix) :] or "/")
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("read timed out", request=request) from None


def github_sleeps_on(clock: ManualClock) -> Callable[[App], None]:
    """For :func:`serve`: the GitHub client's retries wait on ``clock`` (Retry-After
    passes when the test advances it, not on the wall clock)."""

    def prepare(app: App) -> None:
        app.github.sleep = clock.sleep

    return prepare


async def serve(settings: Settings, fake: Any, prepare: Callable[[App], None] | None = None) -> AsyncIterator[Harness]:
    """The real ASGI app against ``fake``, started (lifespan) and stopped around the ``yield``;
    ``prepare`` adjusts it before it starts (an injected clock, say)."""
    app = build(settings, transport=_Network(httpx.ASGITransport(app=fake.app), "/api/v3"))
    if prepare is not None:
        prepare(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.asgi), base_url="http://bot.test")
    async with app.starlette.router.lifespan_context(app.starlette), client:
        yield Harness(app, fake, client)
