"""Webhook ingest benchmark: runners-bot against a minimal Probot app, same machine, same run.

wrk drives each server with 32 connections and signed copies of GitHub's own
issue_comment example (npm @octokit/webhooks-examples): once with a comment holding no
command (verified, parsed, dropped) and once with `/runners help` (verified, parsed,
stored durably in SQLite before the 2xx; every request has its own X-GitHub-Delivery).
Deliveries are deduplicated by what they are about (the comment id), so the command
requests are distinct comments: the body is the same but for the comment id, and each
variant is signed beforehand (wrk's Lua has no HMAC). Each one is a new durable store.
runners-bot runs with RUNNERS_BOT_WORKERS=0 (accept and store only), so the figures are
ingest alone. Probot's app verifies and filters in memory. Printed: requests/s, latency
percentiles, and the ratio to Probot; then the floors.

Run: make bench-ingest  (needs wrk and node; `make bench-ingest` installs wrk)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent

from tests.support.webhook_payloads import comment_payload, sign  # noqa: E402

SECRET = "bench-secret"
# Each request a distinct comment: the body's parts around the comment id, and a signature per id.
LUA = """
local parts = {{}}
for i = 1, 3 do
  local f = io.open(string.format("{parts}.%d", i), "rb")
  parts[i] = f:read("*a")
  f:close()
end
local signatures = {{}}
for line in io.lines("{signatures}") do
  signatures[#signatures + 1] = line
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "issue_comment"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
function request()
  counter = counter + 1
  local n = ({offset} + (tid - 1) * {per_thread} + counter) % #signatures
  local id = string.format("%d", {first_id} + n)
  wrk.headers["X-GitHub-Delivery"] = string.format("{run}-%d-%d", tid, counter)
  wrk.headers["X-Hub-Signature-256"] = signatures[n + 1]
  return wrk.format(nil, nil, nil, parts[1] .. id .. parts[2] .. id .. parts[3])
end
"""
FIRST_ID = 100_000_000_000  # 12 digits, like the sentinel, so every variant has the same length
VARIANTS = 110_000  # a warm-up run and a measured one never share a comment
PER_THREAD = 25_000
MEASURED_OFFSET = 60_000


def distinct_comments(work: Path, stem: str, payload: dict[str, object]) -> dict[str, object]:
    """The comment cut around its id, and a signature for each of VARIANTS ids."""
    sentinel = "987654321012"
    comment = payload["comment"]
    assert isinstance(comment, dict)
    comment["id"] = int(sentinel)
    comment["html_url"] = f"https://github.com/Matchpoint-AI/project-beta-api/issues/7#issuecomment-{sentinel}"
    parts = json.dumps(payload).split(sentinel)
    assert len(parts) == 3, "the id appears as the comment's id and in its URL"
    for i, part in enumerate(parts, 1):
        (work / f"{stem}.parts.{i}").write_text(part, encoding="utf-8")
    lines = []
    for n in range(VARIANTS):
        ident = str(FIRST_ID + n)
        lines.append(sign(SECRET, (parts[0] + ident + parts[1] + ident + parts[2]).encode()))
    (work / f"{stem}.signatures").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"parts": work / f"{stem}.parts", "signatures": work / f"{stem}.signatures",
            "per_thread": PER_THREAD, "first_id": FIRST_ID}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def wrk(url: str, script: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        result[f"p{pct}"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    result["requests"] = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("node") is None:
        print("bench_ingest: wrk and node are needed (make bench-ingest installs wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    payloads = {
        "no command": comment_payload("Looks good to me, thanks for the quick fix! Merging after CI."),
        "command": comment_payload("/runners help"),
    }
    size = len(json.dumps(payloads["no command"]).encode())
    scripts: dict[tuple[str, str, str], Path] = {}
    for name, payload in payloads.items():
        stem = name.replace(" ", "-")
        distinct = distinct_comments(work, stem, payload)
        for server in ("runners-bot", "probot"):
            for phase, offset in (("warm-up", 0), ("measured", MEASURED_OFFSET)):
                script = work / f"{server}-{stem}-{phase}.lua"
                script.write_text(LUA.format(run=script.stem, offset=offset, **distinct), encoding="utf-8")
                scripts[(server, name, phase)] = script
    servers = {}
    bot_port, probot_port = free_port(), free_port()
    state = work / "state.sqlite3"
    env = {
        **os.environ,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_APP_ID": "1",
        "GITHUB_APP_PRIVATE_KEY": key,
        "GITHUB_API_URL": f"http://127.0.0.1:{free_port()}",
        "RUNNERS_CONFIG_REPO": "Matchpoint-AI/runners-config",
        "RUNNERS_BOT_KUBE": "off",
        "RUNNERS_BOT_DASHBOARD": "off",
        "RUNNERS_BOT_REPLY_LIMIT": "0",  # the same sender, thousands of times: budgets are not what is measured
        "RUNNERS_BOT_WORKERS": "0",
        "RUNNERS_BOT_RECOVERY_INTERVAL": "0",
        "RUNNERS_BOT_STATE": str(state),
        "LOG_LEVEL": "WARNING",
        "PORT": str(bot_port),
        "HOST": "127.0.0.1",
    }
    exe = Path(sys.executable).parent / "runners-bot"
    servers["runners-bot"] = (subprocess.Popen([str(exe), "serve"], env=env, cwd=work), bot_port)
    probot_env = {
        **os.environ,
        "PORT": str(probot_port),
        "WEBHOOK_SECRET": SECRET,
        "PRIVATE_KEY": key,
        "LOG_LEVEL": "warn",
    }
    servers["probot"] = (
        subprocess.Popen(
            ["node", str(ROOT / "bench" / "probot_app.mjs")], env=probot_env, cwd=ROOT, stdout=subprocess.DEVNULL
        ),
        probot_port,
    )
    results: dict[tuple[str, str], dict[str, float]] = {}
    try:
        for process, port in servers.values():
            wait_port(port, process)
        for name in payloads:
            for server, (_, port) in servers.items():
                url = f"http://127.0.0.1:{port}/api/github/webhooks"
                wrk(url, scripts[(server, name, "warm-up")], 2)
                results[(server, name)] = wrk(url, scripts[(server, name, "measured")], args.seconds)
                print(f"  measured {server}, {name}", file=sys.stderr, flush=True)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=10)
    with sqlite3.connect(state) as db:
        stored = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    return report(results, size, stored, args.seconds)


def report(results: dict[tuple[str, str], dict[str, float]], size: int, stored: int, seconds: int) -> int:
    print(
        f"\nsigned issue_comment payload: {size / 1024:.1f} KiB; wrk -t2 -c32 -d{seconds}s; 2 cores shared by wrk and the server\n"
    )
    header = (
        f"{'server':<12} {'delivery':<11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'vs Probot':>10}"
    )
    print(header)
    print("-" * len(header))
    for (server, name), r in results.items():
        base = results[("probot", name)]["rps"]
        print(
            f"{server:<12} {name:<11} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>8.0f} {r['rps'] / base:>9.2f}x"
        )
    bot_plain = results[("runners-bot", "no command")]
    ratio = bot_plain["rps"] / results[("probot", "no command")]["rps"]
    command = results[("runners-bot", "command")]
    print(f"\ncommand deliveries stored durably in SQLite (warm-up included): {stored}")
    checks = [
        (f"non-command deliveries ≥ 1.5x Probot's requests/s: {ratio:.2f}x", ratio >= 1.5),
        (f"non-command p99 acknowledgement ≤ 15 ms: {bot_plain['p99']:.2f} ms", bot_plain["p99"] <= 15),
        (f"command deliveries acknowledged (stored) ≥ 1,000/s: {command['rps']:.0f}/s", command["rps"] >= 1000),
        ("no errors", all(r["errors"] == 0 for r in results.values())),
    ]
    for text, ok in checks:
        print(f"floor: {text} {'PASS' if ok else 'FAIL'}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
