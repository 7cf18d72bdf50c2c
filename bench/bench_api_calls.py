"""GitHub API calls per command, counted against the shared fake GitHub.

Each scenario runs through the real ASGI app with a signed delivery; the fake records
every request (and checks it against GitHub's REST description). "cold" is the first
command after the server starts (default branch name and files not yet known); "warm"
follows another command, as in steady use. Conditional reads answered 304 Not Modified
are counted as calls but cost no rate limit. The installation token is not counted.

Run: make bench-api
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakegithub import FakeGitHub  # noqa: E402
from webhook_payloads import comment_payload, delivery  # noqa: E402

from bot.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles  # noqa: E402
from bot.server import build  # noqa: E402
from bot.settings import Settings  # noqa: E402

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


async def measure(key: tuple[str, str], before: list[str], command: str, user: str) -> tuple[int, int, Counter[str]]:
    fake = FakeGitHub(1, key[1])
    files = ConfigFiles.read(ROOT)
    fake.add_repo(CONFIG, {REPOSITORIES_FILE: files.repositories, BASE_CONFIG_FILE: files.base}, {"admin": "admin"})
    fake.add_repo(TEAM, {"README.md": "x"}, {"octocat": "write", "reader": "read"})
    fake.add_repo("Matchpoint-AI/project-beta-api-v2", {"README.md": "x"}, {"octocat": "write"})
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            webhook_secret=SECRET, app_id=1, private_key=key[0], api_url="http://github.test", config_repo=CONFIG,
            state_path=Path(tmp) / "state.sqlite3", workers=1, recovery_interval=0, retry_base_delay=0.01, kube_enabled=False,
        )  # fmt: skip
        app = build(settings, transport=httpx.ASGITransport(app=fake.app))
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
    print(
        f"\nfloor: a scale by an authorised user costs at most {FLOOR} calls (warm): {warm} {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
