"""Configuration of ``runners-bot serve``, read once at start from the environment and ``.env``.

Like Probot, a ``.env`` file in the working directory is read too; real environment
variables win over it. Every missing or malformed setting is reported by name, all at
once, and the server does not start.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

_REPO = re.compile(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def database_problem(dsn: str) -> str | None:
    """What is wrong with a PostgreSQL connection string, naming none of it: it holds a
    password, and this text goes to the terminal and the logs."""
    accepted = "postgresql://user:password@host:5432/db, or key=value pairs such as host=… dbname=… user=…"
    if not re.match(r"postgres(ql)?://", dsn) and "=" not in dsn:
        return f"RUNNERS_BOT_DATABASE_URL must be a PostgreSQL connection string ({accepted})"
    from psycopg import conninfo  # only where a database is configured

    try:
        conninfo.conninfo_to_dict(dsn)
    except Exception:  # psycopg's message quotes the string: say only that it did not parse
        return f"RUNNERS_BOT_DATABASE_URL does not parse as a PostgreSQL connection string ({accepted})"
    return None


def cleartext_problem(name: str, url: str, carries: str) -> str | None:
    """What is wrong with ``url`` when ``carries`` (credentials) travel over it: https, or
    http only to this machine's loopback (a local proxy, the tests' fake GitHub)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return f"{name} must be an https:// URL, not {url!r}"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and (host == "localhost" or _loopback(host)):
        return None
    return f"{name} must be an https:// URL (http only on loopback): {carries} travel over it, not {url!r}"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(Exception):
    """One or more settings are missing or malformed; ``problems`` names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    """Typed settings; docs/operating.md lists each variable."""

    webhook_secret: str = field(repr=False)
    app_id: int | None = None
    private_key: str | None = field(default=None, repr=False)
    api_url: str = "https://api.github.com"
    config_repo: str | None = None
    state_path: Path = Path("runners-bot.sqlite3")
    database_url: str | None = field(default=None, repr=False)  # PostgreSQL, shared by replicas
    lease_seconds: float = 30.0
    argocd_namespace: str = "argocd"
    host: str = "0.0.0.0"
    port: int = 3000
    log_level: str = "INFO"
    workers: int = 4
    recovery_interval: float = 600.0
    github_timeout: float = 10.0
    max_rate_limit_wait: float = 60.0
    retry_base_delay: float = 1.0
    controller_namespace: str = "arc-systems"
    kube_api: str | None = None
    kube_enabled: bool = True
    rollout_interval: float = 5.0
    reply_limit: int = 10
    installation_reply_limit: int = 100
    retention_days: float = 14.0
    clock_interval: float = 300.0
    dashboard: str | None = "Runner fleet"  # the title; None: no dashboard
    dashboard_interval: float = 600.0
    rollout_timeout: float = 900.0
    rollout_settle: float = 30.0
    rightsizing_interval: float | None = None  # seconds between right-sizing passes; None: off
    rightsizing_limit: int = 5  # pull requests a pass opens at most

    @property
    def config_owner_repo(self) -> tuple[str, str] | None:
        if self.config_repo is None:
            return None
        owner, name = self.config_repo.split("/", 1)
        return owner, name

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        """Settings from ``dotenv`` (if it exists) overlaid with ``environ`` (default: ``os.environ``)."""
        values: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return _parse(values)


# What an unset variable means: the dataclass's defaults, written once.
_DEFAULT = Settings(webhook_secret="")


def _parse(env: Mapping[str, str]) -> Settings:
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    def number(name: str, default: float, *, minimum: float = 0, integer: bool = False) -> float:
        raw = get(name)
        if raw is None:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            problems.append(f"{name} must be a {'whole ' if integer else ''}number, not {raw!r}")
            return default
        if value < minimum:
            problems.append(f"{name} must be at least {minimum}, not {raw!r}")
        return value

    secret = get("GITHUB_WEBHOOK_SECRET")
    if secret is None:
        problems.append("GITHUB_WEBHOOK_SECRET is required: the secret set on the GitHub App's webhook")
    app_id_raw = get("GITHUB_APP_ID")
    app_id = None
    if app_id_raw is not None:
        if app_id_raw.isdigit():
            app_id = int(app_id_raw)
        else:
            problems.append(f"GITHUB_APP_ID must be the App's numeric id, not {app_id_raw!r}")
    private_key = _private_key(env, problems)
    if (app_id is None) != (private_key is None):
        problems.append("GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_PATH) go together")
    api_url = (get("GITHUB_API_URL") or _DEFAULT.api_url).rstrip("/")
    problems.extend(filter(None, [cleartext_problem("GITHUB_API_URL", api_url, "installation tokens")]))
    config_repo = get("RUNNERS_CONFIG_REPO")
    if config_repo is None:
        problems.append("RUNNERS_CONFIG_REPO is required: owner/name of the GitOps repository holding values/")
    elif not _REPO.fullmatch(config_repo):
        problems.append(f"RUNNERS_CONFIG_REPO must be owner/name, not {config_repo!r}")
    level = (get("LOG_LEVEL") or _DEFAULT.log_level).upper()
    if level not in LOG_LEVELS:
        problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    database_url = get("RUNNERS_BOT_DATABASE_URL")
    problems.extend(filter(None, [database_problem(database_url) if database_url is not None else None]))
    port = int(number("PORT", _DEFAULT.port, minimum=1, integer=True))
    if port > 65535:
        problems.append(f"PORT must be at most 65535, not {port}")
    settings = Settings(
        webhook_secret=secret or "",
        app_id=app_id,
        private_key=private_key,
        api_url=api_url,
        config_repo=config_repo,
        state_path=Path(get("RUNNERS_BOT_STATE") or _DEFAULT.state_path),
        database_url=database_url,
        lease_seconds=number("RUNNERS_BOT_LEASE_SECONDS", _DEFAULT.lease_seconds, minimum=1),
        argocd_namespace=get("ARGOCD_NAMESPACE") or _DEFAULT.argocd_namespace,
        host=get("HOST") or _DEFAULT.host,
        port=port,
        log_level=level,
        workers=int(number("RUNNERS_BOT_WORKERS", _DEFAULT.workers, minimum=0, integer=True)),
        recovery_interval=number("RUNNERS_BOT_RECOVERY_INTERVAL", _DEFAULT.recovery_interval),
        github_timeout=number("RUNNERS_BOT_GITHUB_TIMEOUT", _DEFAULT.github_timeout, minimum=0.1),
        max_rate_limit_wait=number("RUNNERS_BOT_MAX_RATE_LIMIT_WAIT", _DEFAULT.max_rate_limit_wait),
        retry_base_delay=number("RUNNERS_BOT_RETRY_BASE_DELAY", _DEFAULT.retry_base_delay),
        controller_namespace=get("ARC_CONTROLLER_NAMESPACE") or _DEFAULT.controller_namespace,
        kube_api=get("RUNNERS_BOT_KUBE_API"),
        kube_enabled=(get("RUNNERS_BOT_KUBE") or "on").lower() not in ("off", "false", "0", "no"),
        rollout_interval=number("RUNNERS_BOT_ROLLOUT_INTERVAL", _DEFAULT.rollout_interval, minimum=0.01),
        rollout_timeout=number("RUNNERS_BOT_ROLLOUT_TIMEOUT", _DEFAULT.rollout_timeout, minimum=1),
        rollout_settle=number("RUNNERS_BOT_ROLLOUT_SETTLE", _DEFAULT.rollout_settle, minimum=0),
        reply_limit=int(number("RUNNERS_BOT_REPLY_LIMIT", _DEFAULT.reply_limit, minimum=0, integer=True)),
        installation_reply_limit=int(
            number("RUNNERS_BOT_INSTALLATION_REPLY_LIMIT", _DEFAULT.installation_reply_limit, minimum=0, integer=True)
        ),
        # GitHub redelivers up to 3 days back: a shorter memory would run a redelivery twice.
        retention_days=number("RUNNERS_BOT_RETENTION_DAYS", _DEFAULT.retention_days, minimum=4),
        clock_interval=number("RUNNERS_BOT_CLOCK_INTERVAL", _DEFAULT.clock_interval, minimum=10),
        dashboard=None
        if (get("RUNNERS_BOT_DASHBOARD") or "").lower() in ("off", "false", "0", "no")
        else (get("RUNNERS_BOT_DASHBOARD") or _DEFAULT.dashboard),
        dashboard_interval=number("RUNNERS_BOT_DASHBOARD_INTERVAL", _DEFAULT.dashboard_interval, minimum=60),
        rightsizing_interval=None
        if (get("RUNNERS_BOT_RIGHTSIZING_INTERVAL") or "off").lower() in ("off", "false", "0", "no")
        else number("RUNNERS_BOT_RIGHTSIZING_INTERVAL", 0, minimum=3600),
        rightsizing_limit=int(
            number("RUNNERS_BOT_RIGHTSIZING_LIMIT", _DEFAULT.rightsizing_limit, minimum=1, integer=True)
        ),
    )
    if problems:
        raise SettingsError(problems)
    return settings


def _private_key(env: Mapping[str, str], problems: list[str]) -> str | None:
    inline = env.get("GITHUB_APP_PRIVATE_KEY", "").strip()
    path = env.get("GITHUB_APP_PRIVATE_KEY_PATH", "").strip()
    if inline:
        # Deployment systems often flatten the PEM into one line with literal "\n".
        key = inline.replace("\\n", "\n")
    elif path:
        try:
            key = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"GITHUB_APP_PRIVATE_KEY_PATH {path!r} cannot be read: {exc.strerror}")
            return None
    else:
        return None
    if "PRIVATE KEY-----" not in key:
        problems.append("GITHUB_APP_PRIVATE_KEY is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        return None
    return key
