"""What a stranger can cost the server before authentication, measured on a real
``runners-bot serve`` process: oversized, chunked, slow and unsigned bodies under
concurrency leave resident memory within a stated bound and ``/healthz`` answering."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.webhooks.endpoint import BODY_TIMEOUT, MAX_BODY
from tests.support.servers import BotProcess

ATTACKERS = 20
# Every unsigned 2 MiB body is in memory at once while its HMAC is computed: one buffer
# each (plus growth slack), and room for the interpreter's own churn.
BOUND = int(ATTACKERS * MAX_BODY * 1.5) + 16 * 1024 * 1024
PATH = "/api/github/webhooks"


def rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def request_head(port: int, length: int | None, extra: str = "") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    size = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: issue_comment\r\n"
        f"X-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256={'0' * 64}\r\n{size}{extra}\r\n"
    )
    sock.sendall(head.encode())
    return sock


def status_of(sock: socket.socket) -> int:
    line = sock.makefile("rb").readline().decode()
    sock.close()
    return int(line.split()[1]) if line else 0


def unsigned_full_body(port: int, results: list[int]) -> None:
    sock = request_head(port, MAX_BODY)
    sock.sendall(b"{" + b" " * (MAX_BODY - 2) + b"}")
    results.append(status_of(sock))


def declared_too_large(port: int, results: list[int]) -> None:
    sock = request_head(port, 24 * 1024 * 1024)  # refused before a byte of it is read
    results.append(status_of(sock))


def chunked_too_large(port: int, results: list[int]) -> None:
    sock = request_head(port, None)
    chunk = b" " * 65536
    try:
        for _ in range(MAX_BODY // len(chunk) + 4):
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    except OSError:
        pass  # the server stopped reading: refused while streaming
    results.append(status_of(sock))


def slow_sender(port: int, results: list[int]) -> None:
    sock = request_head(port, 1000)
    deadline = time.monotonic() + BODY_TIMEOUT + 5
    try:
        while time.monotonic() < deadline:
            sock.sendall(b" ")
            time.sleep(0.5)
    except OSError:
        pass  # cut off
    results.append(status_of(sock))


@pytest.fixture
def server(tmp_path: Path, process_env: dict[str, str]) -> Any:
    bot = BotProcess(process_env, tmp_path).start()  # no request of this test reaches GitHub
    yield bot
    bot.stop()


def test_hostile_bodies_cost_bounded_memory_and_health_stays_up(server: BotProcess) -> None:
    assert server.process is not None
    pid = server.process.pid
    baseline = rss(pid)
    attacks: dict[Callable[[int, list[int]], None], list[int]] = {
        unsigned_full_body: [],
        declared_too_large: [],
        chunked_too_large: [],
        slow_sender: [],
    }
    threads = [
        threading.Thread(target=attack, args=(server.port, results), daemon=True)
        for attack, results in attacks.items()
        for _ in range(ATTACKERS)
    ]
    for thread in threads:
        thread.start()
    health = []
    with httpx.Client(timeout=5) as client:
        while any(t.is_alive() for t in threads):
            health.append(client.get(f"{server.url}/healthz").status_code)
            time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=30)
    grown = rss(pid, "VmHWM") - baseline
    print(f"peak growth {grown / 2**20:.1f} MiB")
    assert grown < BOUND, f"peak resident memory grew {grown / 2**20:.0f} MiB (bound {BOUND / 2**20:.0f} MiB)"
    assert health and set(health) == {200}, "healthz answered throughout"
    assert attacks[unsigned_full_body] == [401] * ATTACKERS
    assert attacks[declared_too_large] == [413] * ATTACKERS
    assert attacks[chunked_too_large] == [413] * ATTACKERS
    assert attacks[slow_sender] == [408] * ATTACKERS
    assert httpx.get(f"{server.url}/metrics").text.count("signature") > 0
