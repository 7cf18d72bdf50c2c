"""Feature: ``runners-bot setup``, creating the GitHub App in one click (the manifest flow).

A page on a local port holds one button that posts ``app.yml`` (webhook URL filled in)
to GitHub's new-App page, for a user or an organisation, on github.com or a GitHub
Enterprise Server. GitHub shows the App for confirmation and sends the browser back
with a code, which this exchanges (``POST /app-manifests/{code}/conversions``, within
the hour, no authentication) for the App's id, private key and webhook secret. Those go
into ``.env`` (mode 0600) and a private key file, and the ``kubectl`` command that puts
them into the chart's Secret is printed. The page and its state parameter are only for
this one exchange; the server stops once it is done.

GitHub shows a private key once: once the code is spent, the key is written before
anything else can fail, and never over an existing file (a key already there is another
App's: setup refuses to start, and a file that appears meanwhile is kept and the new key
written beside it). ARC's App has no webhook, so GitHub's answer may carry no webhook
secret (``webhook_secret`` is nullable in GitHub's REST description); it needs none.

Whoever completes the exchange decides which App the files name, so the page trusts
only this machine's browser: it answers only requests addressed to ``127.0.0.1:PORT``
or ``localhost:PORT`` (a DNS-rebound name gets 421 and no state), the state is tied to
a cookie the page set in that browser (SameSite=Lax: the browser sends it on GitHub's
redirect back, a top-level navigation, and on nothing another site embeds or posts),
GitHub is reached over https only (loopback excepted), and files are written without
following a symlink planted in their place.
"""

from __future__ import annotations

import asyncio
import errno
import html
import json
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.commands import render
from bot.runtime.settings import cleartext_problem

CALLBACK = "/callback"
COOKIE = "runners_bot_setup"
EXIT_CREATED, EXIT_STOPPED, EXIT_USAGE = 0, 1, 2
KEY_FILE = Path("runners-bot.private-key.pem")


class SetupError(ValueError):
    """A setting ``runners-bot setup`` cannot work with; the message says what would do."""


def default_key_file(purpose: str, org: str | None) -> Path:
    """Where the private key goes unless ``--key-file`` says: ARC's App is made once per
    organisation, so each organisation's key gets a file of its own."""
    if purpose != "arc":
        return KEY_FILE
    return Path(f"arc-github-app.{org}.private-key.pem" if org else "arc-github-app.private-key.pem")


def check_url(label: str, url: str) -> str:
    """``url`` when it is https, or http on a loopback address (tests, a local proxy)."""
    problem = cleartext_problem(label, url, "the App's private key and webhook secret")
    if problem is not None:
        raise SetupError(problem)
    return url


@dataclass(frozen=True)
class SetupOptions:
    """What ``runners-bot setup`` was told."""

    webhook_url: str
    github_url: str = "https://github.com"
    api_url: str | None = None  # default: api.github.com, or <github_url>/api/v3 for Enterprise Server
    org: str | None = None
    config_repo: str | None = None
    name: str = "runners-bot"
    host: str = "127.0.0.1"
    port: int = 3333
    env_file: Path = Path(".env")
    key_file: Path = KEY_FILE
    purpose: str = "runners-bot"  # or "arc": ARC's own App (arc-app.yml), a key file and no .env

    @property
    def for_arc(self) -> bool:
        return self.purpose == "arc"

    @property
    def api(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        base = self.github_url.rstrip("/")
        return "https://api.github.com" if base == "https://github.com" else f"{base}/api/v3"

    @property
    def new_app_url(self) -> str:
        base = self.github_url.rstrip("/")
        return f"{base}/organizations/{self.org}/settings/apps/new" if self.org else f"{base}/settings/apps/new"

    @property
    def local_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def manifest(options: SetupOptions) -> dict[str, Any]:
    """``app.yml`` with this installation's webhook URL, name and way back."""
    source = _manifest_path("arc-app.yml" if options.for_arc else "app.yml")
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["name"] = options.name
    if not options.for_arc:  # ARC's App takes no webhook
        data["hook_attributes"] = {**data.get("hook_attributes", {}), "url": options.webhook_url}
    data["redirect_url"] = options.local_url + CALLBACK
    return data


def _manifest_path(name: str = "app.yml") -> Path:
    packaged = render.TEMPLATE_DIR / name
    return packaged if packaged.exists() else render.TEMPLATE_DIR.parent / name


def env_text(app: dict[str, Any], options: SetupOptions) -> str:
    """The ``.env`` for ``runners-bot serve`` (the key inline, as Probot writes it)."""
    key = str(app["pem"]).strip().replace("\n", "\\n")
    lines = [
        f"GITHUB_APP_ID={app['id']}",
        f'GITHUB_APP_PRIVATE_KEY="{key}"',
        f"GITHUB_WEBHOOK_SECRET={app['webhook_secret']}",
    ]
    if options.api != "https://api.github.com":
        lines.append(f"GITHUB_API_URL={options.api}")
    if options.config_repo:
        lines.append(f"RUNNERS_CONFIG_REPO={options.config_repo}")
    return "\n".join(lines) + "\n"


def arc_secret_command(app: dict[str, Any], options: SetupOptions) -> str:
    """The Secret ARC's chart names (``githubConfigSecret``), in a runner namespace."""
    return (
        "kubectl -n <runner namespace> create secret generic arc-github-app \\\n"
        f"  --from-literal=github_app_id={app['id']} \\\n"
        "  --from-literal=github_app_installation_id=<installation id> \\\n"
        f"  --from-file=github_app_private_key={options.key_file}"
    )


def installation_hint(app: dict[str, Any], options: SetupOptions) -> str:
    """Where the installation id is: GitHub shows it in the URL of the installation's page."""
    base = options.github_url.rstrip("/")
    settings = (
        f"{base}/organizations/{options.org}/settings/installations"
        if options.org
        else f"{base}/settings/installations"
    )
    return (
        f"After installing it, open {settings}, choose {app.get('name') or options.name} (Configure): the number "
        "at the end of that page's URL (…/settings/installations/<installation id>) is github_app_installation_id."
    )


def kubectl_command(options: SetupOptions) -> str:
    """How the chart's Secret gets the same values (DEPLOYMENT.md, step 3)."""
    return (
        "kubectl -n runners-bot create secret generic runners-bot \\\n"
        "  --from-literal=GITHUB_WEBHOOK_SECRET=\"$(grep '^GITHUB_WEBHOOK_SECRET=' "
        f'{options.env_file} | cut -d= -f2-)" \\\n'
        f"  --from-file=GITHUB_APP_PRIVATE_KEY={options.key_file}"
    )


def _write_private(path: Path, text: str, *, new: bool = False) -> None:
    """Created owner-only before a byte is written (secrets), never through a symlink;
    ``new``: only if no file is there (FileExistsError otherwise)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_EXCL if new else os.O_TRUNC)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def keep_previous(path: Path) -> Path | None:
    """Copy an existing file to ``<name>.bak`` (owner-only) before it is replaced; the copy.
    An earlier copy is never replaced (it holds an older App's key): the next free
    ``<name>.N.bak`` is taken instead."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink():
        raise SetupError(f"{path} is a symbolic link: remove it, or pass --env-file/--key-file")
    text = path.read_text(encoding="utf-8")
    for n in range(1, 1000):
        backup = path.with_name(f"{path.name}.bak" if n == 1 else f"{path.name}.{n}.bak")
        try:
            _write_private(backup, text, new=True)
        except FileExistsError:
            continue
        return backup
    raise SetupError(f"{path}.bak and 998 more copies exist: clear some away")


def write_key(path: Path, app: dict[str, Any]) -> Path:
    """The App's private key in a new file: ``path``, or, when a file appeared there since
    setup started (another App's key), ``<app id>.<name>`` beside it. Never over a file."""
    try:
        _write_private(path, str(app["pem"]), new=True)
        return path
    except FileExistsError:
        beside = path.with_name(f"{app.get('id', 'new')}.{path.name}")
        _write_private(beside, str(app["pem"]), new=True)
        return beside


def listen(host: str, port: int) -> socket.socket:
    """The page's socket, bound before anything is printed; SetupError when it cannot be."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SetupError(
                f"port {port} on {host} is taken by another program: choose a free one with --port"
            ) from None
        raise SetupError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another with --port") from None


def preflight(options: SetupOptions) -> None:
    """Everything that would lose the App's key after GitHub gave it, refused before the
    page is shown: a key file already there, a directory that cannot be written."""
    check_url("--github-url", options.github_url)
    check_url("--api-url", options.api)
    files = [options.key_file] if options.for_arc else [options.key_file, options.env_file]
    for path in files:
        if path.is_symlink():
            raise SetupError(f"{path} is a symbolic link: remove it, or pass --env-file/--key-file")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise SetupError(f"{folder} is not a directory setup can write {path.name} into")
    if options.key_file.exists():
        raise SetupError(
            f"{options.key_file} exists (another App's private key?) and is never overwritten: "
            "move it, or pass --key-file"
        )


@dataclass
class SetupServer:
    """The local page and the callback, for one exchange."""

    options: SetupOptions
    transport: httpx.AsyncBaseTransport | None = None
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    created: dict[str, Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    replaced: list[Path] = field(default_factory=list)  # earlier files kept aside before writing
    key_file: Path | None = None  # where the key went (beside --key-file if a file appeared there)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self.page), Route(CALLBACK, self.callback)])

    def _foreign(self, request: Request) -> Response | None:
        """421 for a request not addressed to this machine's page (DNS rebinding)."""
        wanted = {f"{host}:{self.options.port}" for host in ("127.0.0.1", "localhost", "[::1]")}
        if request.headers.get("host", "").lower() in wanted:
            return None
        return HTMLResponse(
            render.fill("setup_failed.html", reason="this page answers only at " + html.escape(self.options.local_url)),
            421,
        )

    async def page(self, request: Request) -> Response:
        refused = self._foreign(request)
        if refused is not None:
            return refused
        body = render.fill(
            "setup_page.html",
            action=html.escape(f"{self.options.new_app_url}?state={self.state}", quote=True),
            manifest=html.escape(json.dumps(manifest(self.options)), quote=True),
            owner=html.escape(self.options.org or "your account"),
            webhook=html.escape(self.options.webhook_url),
            github=html.escape(self.options.github_url),
        )
        response = HTMLResponse(body)
        response.set_cookie(COOKIE, self.state, httponly=True, samesite="lax", path="/")
        return response

    async def callback(self, request: Request) -> Response:
        refused = self._foreign(request)
        if refused is not None:
            return refused
        code, state = request.query_params.get("code", ""), request.query_params.get("state", "")
        cookie = request.cookies.get(COOKIE, "")
        if (
            not secrets.compare_digest(state.encode(), self.state.encode())
            or not secrets.compare_digest(cookie.encode(), self.state.encode())
            or not code.isascii()
            or not code
        ):
            return HTMLResponse(render.fill("setup_failed.html", reason="this page was not opened by this setup"), 400)
        try:
            app = await self._convert(code)
        except (httpx.HTTPError, ValueError) as exc:
            return self._failed(f"the code exchange failed: {exc}", 502)
        # The code is spent and GitHub shows the key only once: it is written first.
        try:
            key = write_key(self.options.key_file, app)
        except OSError as exc:
            return self._failed(f"the App was created, but its private key could not be written: {exc}", 500)
        try:
            self._check(app)
            if not self.options.for_arc:  # ARC's App: its key is all it needs (a Secret, not a .env)
                self.replaced = [kept for kept in (keep_previous(self.options.env_file),) if kept is not None]
                _write_private(self.options.env_file, env_text(app, self.options))
        except (OSError, ValueError) as exc:
            return self._failed(f"the App was created and its private key written to {key}, but: {exc}", 500)
        self.key_file = key
        self.created = app
        self.done.set()
        install = f"{str(app.get('html_url', '')).rstrip('/')}/installations/new"
        return HTMLResponse(
            render.fill(
                "setup_done.html",
                name=html.escape(str(app.get("name") or app.get("slug") or self.options.name)),
                install=html.escape(install, quote=True),
                env_file=html.escape(str(key if self.options.for_arc else self.options.env_file)),
            )
        )

    def _failed(self, reason: str, status: int) -> Response:
        """Told in the terminal and on the page."""
        print(f"runners-bot setup: {reason}", file=sys.stderr, flush=True)
        return HTMLResponse(render.fill("setup_failed.html", reason=html.escape(reason)), status)

    async def _convert(self, code: str) -> dict[str, Any]:
        """GitHub's answer to the code: at least the App's private key, or ValueError."""
        url = f"{self.options.api}/app-manifests/{code}/conversions"
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "runners-bot-setup"}
        async with httpx.AsyncClient(transport=self.transport, timeout=30) as client:
            response = await client.post(url, headers=headers)
        if response.status_code != 201:
            raise ValueError(f"GitHub answered {response.status_code} to the code exchange: {response.text[:200]}")
        app = response.json()
        if not isinstance(app, dict) or not isinstance(app.get("pem"), str) or not app["pem"]:
            raise ValueError("GitHub's answer holds no private key")
        return app

    def _check(self, app: dict[str, Any]) -> None:
        """What the files need besides the key: the App's id, and (runners-bot's App, which
        has a webhook) its webhook secret. ARC's has no webhook: GitHub may send null."""
        wanted = ("id",) if self.options.for_arc else ("id", "webhook_secret")
        missing = [name for name in wanted if not app.get(name)]
        if missing:
            raise ValueError(f"GitHub's answer lacks {' and '.join(missing)}")


async def serve_until_done(server: SetupServer, sock: socket.socket | None = None) -> dict[str, Any]:
    """Serve the page (on ``sock`` when given) until the App is created; returns what
    GitHub said of it."""
    config = uvicorn.Config(server.app(), host=server.options.host, port=server.options.port, log_level="warning")
    web = uvicorn.Server(config)
    task = asyncio.create_task(web.serve(sockets=[sock] if sock is not None else None))
    try:
        await server.done.wait()
        await asyncio.sleep(0.5)  # let the browser receive the last page
    finally:
        web.should_exit = True
        await task
    assert server.created is not None
    return server.created


def run_setup(options: SetupOptions) -> int:
    """``runners-bot setup``: print where to click, wait, write the files, say what next.
    Exit 0 created, 1 stopped before that, 2 a setting it cannot work with (one line)."""
    try:
        preflight(options)
        sock = listen(options.host, options.port)
    except SetupError as exc:
        print(f"runners-bot setup: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if options.env_file.exists() and not options.for_arc:
        print(f"Note: {options.env_file} exists; it is kept as a .bak copy when the App is created.")
    server = SetupServer(options)
    print(f"Open {options.local_url}/ in a browser and press the button to create the App on {options.github_url}.")
    print("Waiting for GitHub to send you back (Ctrl-C to stop)...", flush=True)
    try:
        app = asyncio.run(serve_until_done(server, sock))
    except KeyboardInterrupt:
        print("runners-bot setup: stopped; nothing was written", file=sys.stderr)
        return EXIT_STOPPED
    key = server.key_file or options.key_file
    print(f"\nCreated the GitHub App {app.get('name') or app.get('slug')} (id {app['id']}).")
    if options.for_arc:
        print(f"Wrote {key} (mode 0600): ARC's private key.")
        print(
            f"Install it on the repositories (or the organisation) whose runners ARC registers: "
            f"{str(app.get('html_url', '')).rstrip('/')}/installations/new"
        )
        print(installation_hint(app, options))
        print("\nThen give every runner namespace the Secret ARC's chart names (DEPLOYMENT.md step 1):\n")
        print(arc_secret_command(app, replace(options, key_file=key)))
        return EXIT_CREATED
    print(f"Wrote {options.env_file} and {key} (mode 0600): `runners-bot serve` reads .env.")
    for kept in server.replaced:
        print(f"The previous {options.env_file} is kept as {kept}.")
    print(f"Install it: {str(app.get('html_url', '')).rstrip('/')}/installations/new")
    print("\nFor the Helm chart (charts/runners-bot), create its Secret:\n")
    print(kubectl_command(replace(options, key_file=key)))
    return EXIT_CREATED
