"""A real PostgreSQL server for the tests, from the machine's own binaries.

``initdb`` and ``pg_ctl`` make a throwaway cluster that listens only on a Unix socket in
a temporary directory (no TCP port, nothing shared with the machine). PostgreSQL refuses
to run as root, so under root (CI machines) the cluster belongs to the ``postgres``
user that Debian's package creates. Each test gets a database of its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg


def binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="runners-bot-pg-"))
        self.data = self.root / "data"
        self.socket = self.root / "socket"
        self.user = "runners"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def start(self, *, durable: bool = False) -> PostgresServer:
        """Tests skip fsync (a throwaway cluster); benchmarks keep PostgreSQL's defaults."""
        self.socket.mkdir()
        if os.geteuid() == 0:
            self.root.chmod(0o755)
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket, "postgres")
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8"]
        subprocess.run(self._as_owner(initdb), check=True, capture_output=True)
        options = f"-k {self.socket} -c listen_addresses='' -c max_connections=300"
        if not durable:
            options += " -c fsync=off"
        start = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w"]
        subprocess.run(self._as_owner([*start, "start"]), check=True, capture_output=True)
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        stop = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        subprocess.run(self._as_owner(stop), check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
