"""Real processes and sockets for end-to-end tests: the fake GitHub on a port, and
``runners-bot serve`` as a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.support.waiting import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        wait_for(lambda: self.server.started, "the server to start")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class BotProcess:
    """``runners-bot serve`` in a child process with the given environment."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.env = {"PATH": os.environ.get("PATH", ""), **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.log = cwd / f"bot-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BotProcess:
        exe = Path(sys.executable).parent / "runners-bot"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(exe), "serve"], cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"runners-bot exited: {self.log.read_text()}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        # A deadline, not a measure: a process starting on a busy 2-core machine can take long.
        wait_for(ready, f"runners-bot to become ready (its log: {self.log})", timeout=120)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
