"""GitHub API calls per command, and the latency they make, against the shared fake GitHub.

Each scenario runs through the real ASGI app with a signed delivery; the fake records
every request (and checks it against GitHub's REST description and GraphQL schema).
"cold" is the first command after the server starts, with a new state database (nothing
known); "warm" follows another command, as in steady use. Conditional reads answered
304 Not Modified are counted as calls but cost no rate limit. The installation token is
not counted.

Latency: with every GitHub call taking 100 ms (a transport that waits before each
request), the time from posting a `scale` comment to its reply carrying the pull
request link, for the app as it is (independent calls concurrent) and, in the same
run, for the same app with its calls forced one at a time (the sequential baseline).

Run: make bench-api
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent

from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles  # noqa: E402
from bot.runtime.settings import Settings  # noqa: E402
from bot.server import build  # noqa: E402
from tests.support.fakegithub import FakeGitHub  # noqa: E402
from tests.support.webhook_payloads import comment_payload, delivery  # noqa: E402

SECRET = "bench"
CONFIG = "Matchpoint-AI/runners-config"
TEAM = "Matchpoint-AI/project-beta-api"
FLOOR = 10
TOKEN = "/app/installations/{installation_id}/access_tokens"

# (name, commands run first, the measured command, who writes it)
SCENARIOS: list[tuple[str, list[str], str, str]] = [
    ("help (cold)", [], "/runners help", "reader"),
    ("status (warm)", ["/runners help"], "/runners status", "reader"),
    ("scale by a writer (cold)", [], "/runners scale max=12", "octocat"),
    ("scale by a writer (warm)", ["/runners status"], "/runners scale max=12", "octocat"),
    ("scale updating its open PR (warm)", ["/runners scale max=12"], "/runners scale profile=xlarge", "octocat"),
    ("add (warm)", ["/runners status"], "/runners add Matchpoint-AI/project-beta-api-v2 category=backend", "octocat"),
    ("remove (warm)", ["/runners status"], "/runners remove project-beta-api", "octocat"),
    ("scale refused: read permission (warm)", ["/runners status"], "/runners scale max=12", "reader"),
]


class Slow(httpx.AsyncBaseTransport):
    """Every call takes ``delay`` seconds; with ``one_at_a_time`` calls queue behind each other."""

    def __init__(self, inner: httpx.AsyncBaseTransport, delay: float, one_at_a_time: bool) -> None:
        self.inner, self.delay = inner, delay
        self.lock = asyncio.Lock() if one_at_a_time else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.lock is None:
            await asyncio.sleep(self.delay)
            return await self.inner.handle_async_request(request)
        async with self.lock:
            await asyncio.sleep(self.delay)
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response


def world(key: tuple[str, str]) -> FakeGitHub:
    fake = FakeGitHub(1, key[1])
    files = ConfigFiles.read(ROOT)
    fake.add_repo(CONFIG, {REPOSITORIES_FILE: files.repositories, BASE_CONFIG_FILE: files.base}, {"admin": "admin"})
    fake.add_repo(TEAM, {"README.md": "x"}, {"octocat": "write", "reader": "read"})
    fake.add_repo("Matchpoint-AI/project-beta-api-v2", {"README.md": "x"}, {"octocat": "write"})
    return fake


def settings_in(tmp: str, key: tuple[str, str]) -> Settings:
    return Settings(
        webhook_secret=SECRET, app_id=1, private_key=key[0], api_url="http://github.test", config_repo=CONFIG,
        state_path=Path(tmp) / "state.sqlite3", workers=1, recovery_interval=0, retry_base_delay=0.01, kube_enabled=False,
        dashboard=None,  # its issue is edited at most once a minute, apart from the commands measured here
    )  # fmt: skip


async def measure(key: tuple[str, str], before: list[str], command: str, user: str) -> tuple[int, int, Counter[str]]:
    fake = world(key)
    with tempfile.TemporaryDirectory() as tmp:
        app = build(settings_in(tmp, key), transport=httpx.ASGITransport(app=fake.app))
        async with app.starlette.router.lifespan_context(app.starlette):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.asgi), base_url="http://bot")
            for number, text in enumerate([*before, command]):
                if number == len(before):
                    start = len(fake.calls)
                body, headers = delivery(
                    SECRET,
                    "issue_comment",
                    comment_payload(text, user=user if number == len(before) else "octocat", comment_id=900 + number),
                )
                await client.post("/api/github/webhooks", content=body, headers=headers)
                await app.dispatcher.idle()
            await client.aclose()
    calls = [c for c in fake.calls[start:] if c.template != TOKEN]
    assert not fake.violations, fake.violations
    return len(calls), sum(1 for c in calls if c.status == 304), Counter(f"{c.method} {c.template}" for c in calls)


async def latency(key: tuple[str, str], one_at_a_time: bool, delay: float = 0.1) -> tuple[float, int]:
    """Seconds from posting a cold `scale` to its reply with the pull request link, and calls made."""
    fake = world(key)
    with tempfile.TemporaryDirectory() as tmp:
        transport = Slow(httpx.ASGITransport(app=fake.app), delay, one_at_a_time)
        app = build(settings_in(tmp, key), transport=transport)
        async with app.starlette.router.lifespan_context(app.starlette):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.asgi), base_url="http://bot")
            body, headers = delivery(SECRET, "issue_comment", comment_payload("/runners scale max=12", comment_id=1))
            start = time.perf_counter()
            await client.post("/api/github/webhooks", content=body, headers=headers)
            while not any("/pull/" in c["body"] for c in fake.thread_comments(TEAM, 7)):
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - start
            await app.dispatcher.idle()
            await client.aclose()
    return elapsed, len([c for c in fake.calls if c.template != TOKEN])


async def main() -> int:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = (
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )
    header = f"{'scenario':<40} {'calls':>5} {'of which 304':>12}"
    print(header)
    print("-" * len(header))
    details = {}
    ok = True
    warm = 0
    for name, before, command, user in SCENARIOS:
        total, not_modified, by_endpoint = await measure(key, before, command, user)
        details[name] = by_endpoint
        print(f"{name:<40} {total:>5} {not_modified:>12}")
        if name == "scale by a writer (warm)":
            ok = total <= FLOOR
            warm = total
    print("\ncalls of a warm scale:")
    for endpoint, count in details["scale by a writer (warm)"].items():
        print(f"  {count} × {endpoint}")
    cold = sum(details["scale by a writer (cold)"].values())
    print(
        f"\nfloor: a scale by an authorised user costs at most {FLOOR} calls: cold {cold}, warm {warm}",
        "PASS" if ok and cold <= FLOOR else "FAIL",
    )
    ok = ok and cold <= FLOOR
    concurrent, calls = await latency(key, one_at_a_time=False)
    sequential, _ = await latency(key, one_at_a_time=True)
    print("\ncomment → reply with the pull request link, every GitHub call taking 100 ms (cold scale):")
    print(f"  {'as built (independent calls concurrent)':<44} {concurrent * 1e3:>7.0f} ms   ({calls} calls)")
    print(f"  {'baseline: the same calls one at a time':<44} {sequential * 1e3:>7.0f} ms")
    print(f"  {'saved':<44} {(sequential - concurrent) * 1e3:>7.0f} ms   ({sequential / concurrent:.2f}x faster)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
