"""Settings of `serve`: environment and .env, read once, every problem named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.settings import Settings, SettingsError


def test_defaults_and_types(tmp_path: Path) -> None:
    settings = Settings.load({"GITHUB_WEBHOOK_SECRET": "s", "PORT": "8080", "RUNNERS_CONFIG_REPO": "a/b"}, dotenv=None)
    assert (
        settings.port == 8080 and settings.api_url == "https://api.github.com" and settings.argocd_namespace == "argocd"
    )
    assert "webhook_secret" not in repr(settings)


def test_an_unset_variable_means_the_documented_default() -> None:
    """Every setting left unset is the dataclass's default (written once, in Settings)."""
    settings = Settings.load({"GITHUB_WEBHOOK_SECRET": "s", "RUNNERS_CONFIG_REPO": "a/b"}, dotenv=None)
    assert settings == Settings(webhook_secret="s", config_repo="a/b")


def test_every_problem_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(
            {"PORT": "eighty", "GITHUB_APP_ID": "abc", "RUNNERS_CONFIG_REPO": "no-slash", "LOG_LEVEL": "loud"},
            dotenv=None,
        )
    text = str(info.value)
    for name in (
        "GITHUB_WEBHOOK_SECRET is required",
        "PORT must be",
        "GITHUB_APP_ID must be",
        "RUNNERS_CONFIG_REPO must be",
        "LOG_LEVEL must be",
    ):
        assert name in text


def test_dotenv_is_read_and_environment_wins(tmp_path: Path, rsa_keys: tuple[str, str]) -> None:
    dotenv = tmp_path / ".env"
    key = rsa_keys[0].replace("\n", "\\n")
    dotenv.write_text(
        f'GITHUB_WEBHOOK_SECRET=from-file\nGITHUB_APP_ID=12\nGITHUB_APP_PRIVATE_KEY="{key}"\nPORT=4000\nRUNNERS_CONFIG_REPO=a/b\n',
        encoding="utf-8",
    )
    settings = Settings.load({"PORT": "5000"}, dotenv=dotenv)
    assert settings.webhook_secret == "from-file" and settings.port == 5000 and settings.app_id == 12
    assert settings.private_key is not None and settings.private_key.startswith("-----BEGIN PRIVATE KEY-----\n")


def test_private_key_path(tmp_path: Path, rsa_keys: tuple[str, str]) -> None:
    path = tmp_path / "app.pem"
    path.write_text(rsa_keys[0], encoding="utf-8")
    settings = Settings.load(
        {
            "GITHUB_WEBHOOK_SECRET": "s",
            "GITHUB_APP_ID": "1",
            "GITHUB_APP_PRIVATE_KEY_PATH": str(path),
            "RUNNERS_CONFIG_REPO": "a/b",
        },
        dotenv=None,
    )
    assert settings.private_key == rsa_keys[0]
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.load(
            {"GITHUB_WEBHOOK_SECRET": "s", "GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_PATH": str(tmp_path / "nope")},
            dotenv=None,
        )


def test_serve_refuses_to_start_without_secret(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "runners-bot"
    result = subprocess.run(
        [str(exe), "serve"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "GITHUB_WEBHOOK_SECRET is required" in result.stderr


def test_config_repository_is_required() -> None:
    """Fail closed: without it the app would not know whose triage permission guards the fleet."""
    with pytest.raises(SettingsError, match="RUNNERS_CONFIG_REPO is required"):
        Settings.load({"GITHUB_WEBHOOK_SECRET": "s"}, dotenv=None)


def test_state_database_is_owner_only(tmp_path: Path) -> None:
    from bot.store.sqlite import SQLiteStore

    path = tmp_path / "state" / "state.sqlite3"
    store = SQLiteStore(path)
    try:
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        store.close()


def test_a_database_url_selects_postgresql_and_stays_out_of_logs() -> None:
    base = {"GITHUB_WEBHOOK_SECRET": "s", "RUNNERS_CONFIG_REPO": "a/b"}
    url = "postgresql://bot:hunter2@db:5432/runners"
    settings = Settings.load({**base, "RUNNERS_BOT_DATABASE_URL": url, "RUNNERS_BOT_LEASE_SECONDS": "12"}, dotenv=None)
    assert settings.database_url == url and settings.lease_seconds == 12
    assert "hunter2" not in repr(settings), "the URL holds a password"
    assert Settings.load(base, dotenv=None).database_url is None, "SQLite stays the default"
    with pytest.raises(SettingsError) as info:
        Settings.load({**base, "RUNNERS_BOT_DATABASE_URL": "mysql://bot@db/runners"}, dotenv=None)
    assert "RUNNERS_BOT_DATABASE_URL must be a PostgreSQL connection string (postgresql://" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://bot:hunter2@db:notaport/runners",  # a URL that does not parse
        "host=db password=hunter2 dbname",  # a key=value DSN missing its '='
        "password=hunter2",  # no scheme and nothing else: still a DSN, and valid
        "hunter2@db/runners",  # neither
    ],
)
def test_no_dsn_text_reaches_the_terminal(tmp_path: Path, dsn: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "GITHUB_WEBHOOK_SECRET": "s", "RUNNERS_CONFIG_REPO": "a/b",
           "RUNNERS_BOT_DATABASE_URL": dsn, "PGCONNECT_TIMEOUT": "2"}  # fmt: skip
    exe = Path(sys.executable).parent / "runners-bot"
    done = subprocess.run(
        [str(exe), "serve"], check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "RUNNERS_BOT_DATABASE_URL" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout, done.stderr


def test_serve_names_an_unreachable_database(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_WEBHOOK_SECRET": "s",
        "RUNNERS_CONFIG_REPO": "a/b",
        "RUNNERS_BOT_DATABASE_URL": "postgresql://bot:hunter2@127.0.0.1:9/runners",
    }
    exe = Path(sys.executable).parent / "runners-bot"
    done = subprocess.run(
        [str(exe), "serve"], check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "RUNNERS_BOT_DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:9/runners" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path: Path, process_env: dict[str, str]) -> None:
    from tests.support.app import STORE
    from tests.support.servers import BotProcess

    if STORE != "sqlite":
        pytest.skip("about the SQLite store")
    first = BotProcess(process_env, tmp_path).start()
    try:
        exe = Path(sys.executable).parent / "runners-bot"
        env = {**first.env, "PORT": str(first.port + 1)}
        done = subprocess.run([str(exe), "serve"], check=False, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 2
        assert "is in use by another runners-bot process: SQLite serves one replica" in done.stderr
        assert "RUNNERS_BOT_DATABASE_URL" in done.stderr
    finally:
        first.stop()
    again = BotProcess(process_env, tmp_path).start()  # the first one gone, its file is free
    again.stop()


def test_a_taken_port_ends_serve_with_one_error_and_exit_3(tmp_path: Path, process_env: dict[str, str]) -> None:
    """docs/commands.md: serve exits 3 when it cannot listen, the reason logged once."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        env = {**process_env, "HOST": "127.0.0.1", "PORT": str(taken.getsockname()[1]), "PATH": ""}
        exe = Path(sys.executable).parent / "runners-bot"
        done = subprocess.run([str(exe), "serve"], check=False, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1 and "address already in use" in errors[0]


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://ghe.acme.com/api/v3", True),  # installation tokens would travel in clear text
        ("http://10.0.0.5/api/v3", True),
        ("http://127.0.0.1.nip.io/api/v3", True),
        ("ftp://ghe.acme.com", True),
        ("https://ghe.acme.com/api/v3", False),
        ("http://127.0.0.1:8080", False),  # this machine: a local proxy, the tests' fake GitHub
        ("http://localhost:8080", False),
        ("http://[::1]:8080", False),
    ],
)
def test_github_is_reached_over_https_except_on_loopback(url: str, refused: bool) -> None:
    env = {"GITHUB_WEBHOOK_SECRET": "s", "RUNNERS_CONFIG_REPO": "a/b", "GITHUB_API_URL": url}
    if refused:
        with pytest.raises(SettingsError, match="GITHUB_API_URL must be an https:// URL"):
            Settings.load(env, dotenv=None)
    else:
        assert Settings.load(env, dotenv=None).api_url == url
