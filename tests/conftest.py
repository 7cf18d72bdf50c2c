"""Shared test setup: the repository root and the bundled values files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(Path(__file__).parent))

from bot.fleet.config import ConfigFiles  # noqa: E402


@pytest.fixture
def bundled() -> ConfigFiles:
    return ConfigFiles.read(ROOT)


# --- the GitHub App harness: the real ASGI app against the shared fake GitHub ---------

import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import os  # noqa: E402
from collections.abc import AsyncIterator, Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bot.features import comment_commands, dashboard, onboarding, rollout_watch  # noqa: E402
from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE  # noqa: E402
from bot.runtime.settings import Settings  # noqa: E402
from bot.server import App, build  # noqa: E402
from bot.store.api import Delivery  # noqa: E402
from bot.webhooks.routing import Route, Router  # noqa: E402

SECRET = "It's a Secret to Everybody"
APP_ID = 4242
CONFIG_REPO = "Matchpoint-AI/runners-config"
TEAM_REPO = "Matchpoint-AI/project-beta-api"
ROLES = {"octocat": "write", "maintainer": "maintain", "admin": "admin", "reader": "read", "triager": "triage"}


@pytest.fixture(scope="session")
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake(rsa_keys: tuple[str, str], bundled: ConfigFiles) -> Any:
    from fakegithub import FakeGitHub

    github = FakeGitHub(APP_ID, rsa_keys[1])
    files = {REPOSITORIES_FILE: bundled.repositories, BASE_CONFIG_FILE: bundled.base}
    github.add_repo(CONFIG_REPO, files, {"maintainer": "maintain", "admin": "admin"})
    github.add_repo(TEAM_REPO, {"README.md": "# api\n"}, ROLES)
    github.add_repo("Matchpoint-AI/project-beta-frontend", {"README.md": "# frontend\n"}, {"octocat": "read"})
    return github


# --- the store: SQLite, or PostgreSQL from the machine's binaries ------------------------

# The whole suite runs on SQLite; `make test` runs it again with RUNNERS_BOT_TEST_STORE=postgresql.
STORE = os.environ.get("RUNNERS_BOT_TEST_STORE", "sqlite")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One PostgreSQL server for the session (a Unix socket in a temporary directory)."""
    from postgres import PostgresServer, binaries

    found = binaries()
    if found is None:
        message = "PostgreSQL (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(found).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres: Any) -> str:
    """A fresh database on the session's server."""
    return str(postgres.new_database())


@pytest.fixture
def settings(tmp_path: Path, rsa_keys: tuple[str, str], request: pytest.FixtureRequest) -> Settings:
    database = request.getfixturevalue("database_url") if STORE == "postgresql" else None
    return Settings(
        webhook_secret=SECRET,
        app_id=APP_ID,
        private_key=rsa_keys[0],
        api_url="http://github.test/api/v3",
        config_repo=CONFIG_REPO,
        state_path=tmp_path / "state.sqlite3",
        database_url=database,
        workers=2,
        recovery_interval=0,
        github_timeout=2,
        max_rate_limit_wait=2,
        retry_base_delay=0.01,
        dashboard=None,  # the dashboard's own issue and edits: tests/test_dashboard.py turns it on
    )


@dataclasses.dataclass
class Harness:
    app: App
    fake: Any
    client: httpx.AsyncClient

    async def send(self, event: str, payload: dict[str, Any] | bytes, delivery_id: str | None = None) -> httpx.Response:
        from webhook_payloads import delivery

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


async def serve(settings: Settings, fake: Any, prepare: Callable[[App], None] | None = None) -> AsyncIterator[Harness]:
    """The real ASGI app against ``fake``, started (lifespan) and stopped around the ``yield``;
    ``prepare`` adjusts it before it starts (an injected clock, say)."""
    app = build(settings, transport=_Network(httpx.ASGITransport(app=fake.app), "/api/v3"))
    if prepare is not None:
        prepare(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.asgi), base_url="http://bot.test")
    async with app.starlette.router.lifespan_context(app.starlette), client:
        yield Harness(app, fake, client)


@pytest.fixture
async def harness(settings: Settings, fake: Any) -> AsyncIterator[Harness]:
    async for running in serve(settings, fake):
        yield running
    assert fake.violations == [], fake.violations


@pytest.fixture
def process_env(tmp_path: Path, rsa_keys: tuple[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of a `runners-bot serve` child process (tests/servers.BotProcess), on
    the suite's store; GITHUB_API_URL is the test's to set."""
    env = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_APP_PRIVATE_KEY": rsa_keys[0],
        "GITHUB_API_URL": "http://127.0.0.1:9",  # nothing listens: set it where GitHub is reached
        "RUNNERS_CONFIG_REPO": CONFIG_REPO,
        "RUNNERS_BOT_STATE": str(tmp_path / "state.sqlite3"),
        "RUNNERS_BOT_RECOVERY_INTERVAL": "0",
        "RUNNERS_BOT_RETRY_BASE_DELAY": "0.05",
        "RUNNERS_BOT_KUBE": "off",
        "RUNNERS_BOT_DASHBOARD": "off",
    }
    if STORE == "postgresql":
        # A replica killed mid-command keeps its claims for the lease time: wait seconds, not 30.
        env.update(RUNNERS_BOT_DATABASE_URL=request.getfixturevalue("database_url"), RUNNERS_BOT_LEASE_SECONDS="2")
    return env


@pytest.fixture
def kube() -> Iterator[Any]:
    """The fake Kubernetes API on a real port (the official client needs one)."""
    from fakekube import FakeKube
    from kube_rbac import rendered
    from servers import ThreadedServer

    fake = FakeKube(rbac=rendered())  # runners-bot may do only what its charts grant it
    with ThreadedServer(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake
        fake.closing = True  # open watches end, so the server stops at once
    # A call the charts' RBAC does not grant would fail on a real cluster: it fails here.
    assert fake.allow_forbidden or fake.forbidden == [], fake.forbidden


def golden(path: Path, body: str) -> None:
    """``body`` must equal the golden file at ``path``; ``UPDATE_GOLDEN=1`` rewrites it."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    assert body == path.read_text(encoding="utf-8")


async def _unused(_: Delivery) -> None:
    raise AssertionError("classification runs no handler")


# The features' own accept checks, as the server assembles them.
ROUTER = Router(
    [
        Route("command", "issue_comment", "created", comment_commands.accepts, _unused),
        Route("onboarding", "issues", "opened", onboarding.accepts, _unused),
        Route("dashboard", "issues", "edited", dashboard.accepts, _unused),
        Route("bot_pull_closed", "pull_request", "closed", rollout_watch.accepts, _unused),
    ]
)


# The fixtures through which a test gets the store RUNNERS_BOT_TEST_STORE names.
STORE_FIXTURES = {"settings", "process_env"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs the app on its store (``store``): `make test` runs those
    again on PostgreSQL, found by what they use rather than from a list kept by hand."""
    for item in items:
        if STORE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.store)
