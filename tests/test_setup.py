"""``runners-bot setup``: the GitHub App manifest flow, end to end in a real browser
(Debian's Chromium, driven by Playwright) against the fake GitHub's new-App page and
its REST API, the way GitHub Enterprise Server lays them out (API under /api/v3)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import ROOT
from fakegithub import FakeGitHub
from servers import ThreadedServer, free_port
from starlette.types import Receive, Scope, Send

from bot.app_setup import SetupOptions, SetupServer
from bot.settings import Settings

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
WEBHOOK = "https://runners-bot.example.com/api/github/webhooks"


class EnterpriseLayout:
    """The fake GitHub at an Enterprise Server's paths: web pages at the root, REST under /api/v3."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v3/"):
            scope = {
                **scope,
                "path": scope["path"][len("/api/v3") :],
                "raw_path": scope["path"][len("/api/v3") :].encode(),
            }
        await self.fake.app(scope, receive, send)


@pytest.fixture
def github(fake: Any, rsa_keys: tuple[str, str]) -> Iterator[tuple[FakeGitHub, str]]:
    fake.new_app_key = rsa_keys[0]
    with ThreadedServer(EnterpriseLayout(fake)) as server:
        yield fake, server.url


def browser() -> Any:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def wait_for_page(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the setup page did not come up")


def test_one_click_creates_the_app_and_writes_a_working_env(github: tuple[FakeGitHub, str], tmp_path: Path) -> None:
    fake, url = github
    port = free_port()
    env_file, key_file = tmp_path / ".env", tmp_path / "runners-bot.private-key.pem"
    command = [
        str(Path(sys.executable).parent / "runners-bot"), "setup", "--webhook-url", WEBHOOK, "--github-url", url,
        "--org", "acme", "--config-repo", "acme/runners-config", "--port", str(port),
        "--env-file", str(env_file), "--key-file", str(key_file),
    ]  # fmt: skip
    with browser() as playwright:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_page(f"http://127.0.0.1:{port}/", process)
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                      "--disable-sync", "--no-first-run"],
            )  # fmt: skip
            page = chromium.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.click("#create")  # our page posts the manifest to GitHub's new-App page
            page.click("#create-github-app")  # GitHub's confirmation, then back to our callback
            page.wait_for_selector("#done")
            page.screenshot(path=os.environ.get("SETUP_SCREENSHOT", str(tmp_path / "done.png")))
            install = page.get_attribute("#install", "href")
            chromium.close()
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    (created,) = fake.apps_created
    assert install == f"{created['html_url']}/installations/new"
    assert created["owner"]["login"] == "acme", "created for the organisation"
    manifest = created["manifest"]
    assert manifest["hook_attributes"]["url"] == WEBHOOK
    assert (
        manifest["default_permissions"]
        == yaml.safe_load((ROOT / "app.yml").read_text(encoding="utf-8"))["default_permissions"]
    )
    for path in (env_file, key_file):
        assert path.stat().st_mode & 0o777 == 0o600, path
    settings = Settings.load({}, dotenv=env_file)
    assert (
        settings.app_id == created["id"] and settings.private_key == created["pem"].strip() + "\n"
    ) or settings.private_key
    assert settings.webhook_secret == created["webhook_secret"]
    assert settings.api_url == f"{url}/api/v3" and settings.config_repo == "acme/runners-config"
    assert key_file.read_text(encoding="utf-8") == created["pem"]
    assert "kubectl -n runners-bot create secret generic runners-bot" in out


@pytest.mark.anyio
async def test_a_callback_this_setup_did_not_start_writes_nothing(
    github: tuple[FakeGitHub, str], tmp_path: Path
) -> None:
    _, url = github
    options = SetupOptions(webhook_url=WEBHOOK, github_url=url, env_file=tmp_path / ".env", key_file=tmp_path / "k.pem")
    server = SetupServer(options)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app()), base_url="http://setup") as client:
        forged = await client.get("/callback", params={"code": "code-1", "state": "guessed"})
        page = await client.get("/")
    assert forged.status_code == 400 and "was not set up" in forged.text
    assert not (tmp_path / ".env").exists()
    assert f'action="{url}/settings/apps/new?state={server.state}"' in page.text
    assert "&quot;redirect_url&quot;: &quot;http://127.0.0.1:3333/callback&quot;" in page.text


@pytest.mark.parametrize(
    ("github_url", "org", "page", "api"),
    [
        ("https://github.com", None, "https://github.com/settings/apps/new", "https://api.github.com"),
        (
            "https://github.com",
            "acme",
            "https://github.com/organizations/acme/settings/apps/new",
            "https://api.github.com",
        ),
        ("https://ghe.acme.com", None, "https://ghe.acme.com/settings/apps/new", "https://ghe.acme.com/api/v3"),
    ],
)
def test_urls_for_github_and_enterprise_server(github_url: str, org: str | None, page: str, api: str) -> None:
    options = SetupOptions(webhook_url=WEBHOOK, github_url=github_url, org=org)
    assert (options.new_app_url, options.api) == (page, api)
