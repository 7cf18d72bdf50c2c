"""The suite's fixtures: the bundled values files, the fake GitHub and Kubernetes, the
store under test, the app harness; and the markers by audience and by store."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles
from bot.runtime.settings import Settings
from tests.support.app import APP_ID, CONFIG_REPO, ROLES, ROOT, SECRET, STORE, TEAM_REPO, Harness, serve


@pytest.fixture
def bundled() -> ConfigFiles:
    return ConfigFiles.read(ROOT)


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
    from tests.support.fakegithub import FakeGitHub

    github = FakeGitHub(APP_ID, rsa_keys[1])
    files = {REPOSITORIES_FILE: bundled.repositories, BASE_CONFIG_FILE: bundled.base}
    github.add_repo(CONFIG_REPO, files, {"maintainer": "maintain", "admin": "admin"})
    github.add_repo(TEAM_REPO, {"README.md": "# api\n"}, ROLES)
    github.add_repo("Matchpoint-AI/project-beta-frontend", {"README.md": "# frontend\n"}, {"octocat": "read"})
    return github


# --- the store: SQLite, or PostgreSQL from the machine's binaries ------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One PostgreSQL server for the session (a Unix socket in a temporary directory)."""
    from tests.support.postgres import PostgresServer, binaries

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
        dashboard=None,  # the dashboard's own issue and edits: tests/app/test_dashboard.py turns it on
    )


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
    from tests.support.fakekube import FakeKube
    from tests.support.kube_rbac import rendered
    from tests.support.servers import ThreadedServer

    fake = FakeKube(rbac=rendered())  # runners-bot may do only what its charts grant it
    with ThreadedServer(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake
        fake.closing = True  # open watches end, so the server stops at once
    # A call the charts' RBAC does not grant would fail on a real cluster: it fails here.
    assert fake.allow_forbidden or fake.forbidden == [], fake.forbidden


# The fixtures through which a test gets the store RUNNERS_BOT_TEST_STORE names.
STORE_FIXTURES = {"settings", "process_env"}


PROCESS_TESTS = ROOT / "tests" / "process"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs the app on its store (``store``): `make test` runs those
    again on PostgreSQL, found by what they use rather than from a list kept by hand. The
    tests of whole processes are ``slow``."""
    for item in items:
        if STORE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.store)
        if item.path.is_relative_to(PROCESS_TESTS):
            item.add_marker(pytest.mark.slow)
