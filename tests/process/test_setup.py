"""``runners-bot setup``: the GitHub App manifest flow, end to end in a real browser
(Debian's Chromium, driven by Playwright) against the fake GitHub's new-App page and
its REST API, the way GitHub Enterprise Server lays them out (API under /api/v3)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.types import Receive, Scope, Send

from bot.app_setup import SetupOptions, SetupServer
from bot.runtime.settings import Settings
from tests.support.app import ROOT
from tests.support.fakegithub import FakeGitHub
from tests.support.servers import ThreadedServer, free_port
from tests.support.waiting import wait_for

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
        pytest.skip("Chromium is not installed (apt-get install chromium): the setup page was not driven")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def wait_for_page(url: str, process: subprocess.Popen[str]) -> None:
    def up() -> bool:
        assert process.poll() is None, process.communicate()
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, "the setup page")


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


async def through_github(server: SetupServer, url: str, org: str | None) -> httpx.Response:
    """A browser walking the manifest flow: the setup page, GitHub's new-App page and its
    confirmation, and back to the setup page's callback, whose answer is returned."""
    import html
    import re

    local = httpx.ASGITransport(app=server.app())
    async with (
        httpx.AsyncClient(transport=local, base_url="http://127.0.0.1:3333") as browser,
        httpx.AsyncClient(base_url=url) as github_web,
    ):
        page = await browser.get("/")
        form = html.unescape(re.search(r'name="manifest" value="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]
        new_app = f"/organizations/{org}/settings/apps/new" if org else "/settings/apps/new"
        confirm = await github_web.post(f"{new_app}?state={server.state}", data={"manifest": form})
        ticket = re.search(r'name="ticket" value="([^"]+)"', confirm.text).group(1)  # type: ignore[union-attr]
        back = await github_web.post("/settings/apps/new/confirm", data={"ticket": ticket})
        return await browser.get(back.headers["location"].replace("http://127.0.0.1:3333", ""))


def local_setup(url: str, tmp_path: Path, **options: Any) -> SetupServer:
    """A setup page for the fake GitHub at ``url``, writing into ``tmp_path``."""
    files: dict[str, Any] = {"env_file": tmp_path / ".env", "key_file": tmp_path / "k.pem"}
    return SetupServer(SetupOptions(webhook_url=WEBHOOK, github_url=url, **{**files, **options}))


def page_client(server: SetupServer, host: str = "127.0.0.1:3333") -> httpx.AsyncClient:
    """A browser on this machine, talking to the setup page."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app()), base_url=f"http://{host}")


@pytest.mark.anyio
async def test_a_callback_this_setup_did_not_start_writes_nothing(
    github: tuple[FakeGitHub, str], tmp_path: Path
) -> None:
    server = local_setup(github[1], tmp_path)
    async with page_client(server) as client:
        forged = await client.get("/callback", params={"code": "code-1", "state": "guessed"})
        page = await client.get("/")
    assert forged.status_code == 400 and "was not set up" in forged.text
    assert not (tmp_path / ".env").exists()
    assert f'action="{github[1]}/settings/apps/new?state={server.state}"' in page.text
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


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["attacker.example:3333", "127.0.0.1.nip.io:3333", "127.0.0.1:80", "localhost"])
async def test_a_foreign_host_gets_nothing(github: tuple[FakeGitHub, str], tmp_path: Path, host: str) -> None:
    """DNS rebinding: a page of another site whose name now points here gets no state and
    cannot complete an exchange."""
    server = local_setup(github[1], tmp_path)
    async with page_client(server, host) as client:
        page = await client.get("/")
        callback = await client.get("/callback", params={"code": "code-1", "state": server.state})
    assert page.status_code == callback.status_code == 421
    assert server.state not in page.text and "set-cookie" not in page.headers
    assert not (tmp_path / ".env").exists()


@pytest.mark.anyio
async def test_the_state_alone_is_not_enough_without_the_pages_cookie(
    github: tuple[FakeGitHub, str], tmp_path: Path
) -> None:
    server = local_setup(github[1], tmp_path)
    async with page_client(server) as client:
        stolen = await client.get("/callback", params={"code": "code-1", "state": server.state})
        page = await client.get("/")
    assert stolen.status_code == 400 and not (tmp_path / ".env").exists()
    cookie = page.headers["set-cookie"]
    assert server.state in cookie and "samesite=lax" in cookie.lower() and "httponly" in cookie.lower()


@pytest.mark.anyio
async def test_a_failed_exchange_is_told_in_the_terminal_too(
    github: tuple[FakeGitHub, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = local_setup(github[1], tmp_path, api_url=f"{github[1]}/api/v3")
    async with page_client(server) as client:
        await client.get("/")
        answer = await client.get("/callback", params={"code": "expired", "state": server.state})
    assert answer.status_code == 502
    assert "the code exchange failed: GitHub answered 404" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--github-url", "--api-url"])
def test_github_is_reached_over_https_only(tmp_path: Path, flag: str) -> None:
    value = "http://ghe.acme.com"
    command = [str(Path(sys.executable).parent / "runners-bot"), "setup", "--webhook-url", WEBHOOK, flag, value]
    done = subprocess.run(command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "must be an https:// URL" in done.stderr


def test_files_are_never_written_through_a_symlink(tmp_path: Path) -> None:
    from bot.app_setup import _write_private, keep_previous

    target = tmp_path / "elsewhere"
    target.write_text("untouched\n")
    link = tmp_path / ".env"
    link.symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic links|Too many levels"):
        _write_private(link, "GITHUB_APP_ID=1\n")
    with pytest.raises(ValueError, match="symbolic link"):
        keep_previous(link)
    assert target.read_text() == "untouched\n"


def test_an_existing_env_is_kept_aside_not_lost(tmp_path: Path) -> None:
    from bot.app_setup import keep_previous

    env = tmp_path / ".env"
    env.write_text("GITHUB_APP_ID=7\n")
    kept = keep_previous(env)
    assert kept == tmp_path / ".env.bak" and kept.read_text() == "GITHUB_APP_ID=7\n"
    assert kept.stat().st_mode & 0o777 == 0o600


@pytest.mark.anyio
async def test_arcs_own_app_gets_runner_permissions_a_key_and_no_env(
    github: tuple[FakeGitHub, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`setup --for arc`: ARC's App (arc-app.yml), through GitHub's manifest flow as a
    browser walks it: the key is written, no .env, and the terminal says where the
    installation id is and which Secret ARC's chart reads."""
    fake, url = github
    options = SetupOptions(
        webhook_url="", github_url=url, api_url=f"{url}/api/v3", org="acme", purpose="arc", name="arc-runners",
        env_file=tmp_path / ".env", key_file=tmp_path / "arc.pem",
    )  # fmt: skip
    server = SetupServer(options)
    done = await through_github(server, url, "acme")
    assert done.status_code == 200, done.text
    (created,) = fake.apps_created
    assert created["manifest"]["default_permissions"] == {
        "actions": "read", "administration": "write", "metadata": "read", "organization_self_hosted_runners": "write"
    }  # fmt: skip
    assert created["manifest"]["hook_attributes"]["active"] is False and created["manifest"]["default_events"] == []
    assert (tmp_path / "arc.pem").read_text() == created["pem"] and not (tmp_path / ".env").exists()
    assert created["webhook_secret"] is None, "no webhook, no secret: GitHub's answer may hold null"
    from bot.app_setup import arc_secret_command, installation_hint

    hint = installation_hint(created, options)
    assert f"{url}/organizations/acme/settings/installations" in hint and "github_app_installation_id" in hint
    assert f"--from-literal=github_app_id={created['id']}" in arc_secret_command(created, options)


def setup_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "runners-bot"), "setup", *args]


def test_each_organisations_arc_key_has_a_file_and_none_is_overwritten(tmp_path: Path) -> None:
    """A second `setup --for arc` (another organisation, or the same one again) never
    replaces the first App's key: the default file is per organisation, and a file already
    there stops setup before GitHub is asked for anything."""
    from bot.app_setup import default_key_file

    assert default_key_file("arc", "acme") != default_key_file("arc", "beta") != default_key_file("arc", None)
    first = tmp_path / default_key_file("arc", "acme")
    first.write_text("the first App's key\n")
    done = subprocess.run(
        setup_command("--for", "arc", "--org", "acme", "--port", str(free_port())),
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert done.stderr.count("\n") == 1 and "never overwritten" in done.stderr and "--key-file" in done.stderr
    assert first.read_text() == "the first App's key\n"


@pytest.mark.anyio
async def test_a_key_file_that_appears_meanwhile_is_kept_and_the_new_key_written_beside(
    github: tuple[FakeGitHub, str], tmp_path: Path
) -> None:
    fake, url = github
    key_file = tmp_path / "arc-github-app.acme.private-key.pem"
    options = SetupOptions(
        webhook_url="", github_url=url, api_url=f"{url}/api/v3", org="acme", purpose="arc",
        env_file=tmp_path / ".env", key_file=key_file,
    )  # fmt: skip
    server = SetupServer(options)
    key_file.write_text("another App's key\n")  # after the page was opened
    assert (await through_github(server, url, "acme")).status_code == 200
    (created,) = fake.apps_created
    assert key_file.read_text() == "another App's key\n"
    assert server.key_file == tmp_path / f"{created['id']}.{key_file.name}"
    assert server.key_file.read_text() == created["pem"] and server.key_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.anyio
async def test_the_key_is_written_before_anything_that_can_fail(
    github: tuple[FakeGitHub, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once the code is spent GitHub never shows the key again: a .env that cannot be
    written afterwards costs the .env, not the key."""
    fake, url = github
    server = local_setup(url, tmp_path, api_url=f"{url}/api/v3", env_file=tmp_path / "gone" / ".env")
    answer = await through_github(server, url, None)
    assert answer.status_code == 500
    (created,) = fake.apps_created
    assert (tmp_path / "k.pem").read_text() == created["pem"]
    err = capsys.readouterr().err
    assert f"its private key written to {tmp_path / 'k.pem'}" in err and err.count("\n") == 1


def test_a_taken_port_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            setup_command("--webhook-url", WEBHOOK, "--port", str(port)),
            check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2 and done.stdout == "", "no URL of another program's page"
    assert (
        done.stderr
        == f"runners-bot setup: port {port} on 127.0.0.1 is taken by another program: choose a free one with --port\n"
    )


def test_earlier_copies_of_env_are_never_replaced(tmp_path: Path) -> None:
    from bot.app_setup import keep_previous

    env = tmp_path / ".env"
    env.write_text("GITHUB_APP_ID=1\n")
    first = keep_previous(env)
    env.write_text("GITHUB_APP_ID=2\n")
    second = keep_previous(env)
    assert (first, second) == (tmp_path / ".env.bak", tmp_path / ".env.2.bak")
    assert first is not None and second is not None
    assert first.read_text() == "GITHUB_APP_ID=1\n" and second.read_text() == "GITHUB_APP_ID=2\n"


def test_what_setup_and_serve_write_is_ignored_by_git(tmp_path: Path) -> None:
    """`git add .` in the GitOps repository never picks up a key, a copy of .env (secrets
    included) or the state database's files, under the names setup and serve use by default."""
    from bot.app_setup import KEY_FILE, default_key_file
    from bot.runtime.settings import Settings

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    state = Settings(webhook_secret="s").state_path.name
    written = [
        KEY_FILE.name, default_key_file("arc", None).name, default_key_file("arc", "acme").name,
        f"1234.{default_key_file('arc', 'acme').name}", ".env", ".env.bak", ".env.2.bak",
        state, f"{state}.lock", f"{state}-wal", f"{state}-shm",
    ]  # fmt: skip
    for name in written:
        (tmp_path / name).write_text("secret\n")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout.splitlines() == ["?? .gitignore"]
