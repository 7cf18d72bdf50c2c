"""The store benchmark: PostgreSQL (shared by replicas) against SQLite (embedded), same run.

1. Commands stored per second: `runners-bot serve` with RUNNERS_BOT_WORKERS=0 (accept and
   store only) under wrk (2 threads, 32 connections), fed distinct signed `/runners help`
   comments as in bench_ingest.py; each 202 means the delivery is committed (SQLite: WAL,
   synchronous=FULL; PostgreSQL: its defaults, fsync and synchronous_commit on).
2. Command → reply latency: the app in-process against the fake GitHub (no network
   delay, so the store's share shows), one command at a time: `/runners help` (a reply)
   and `/runners scale` (a reply and a pull request, under the scale set's lock).

PostgreSQL is a throwaway server from the machine's initdb/pg_ctl on a Unix socket
(tests/support/postgres.py), on the same two cores as everything else.

Run: make bench-store  (needs wrk and PostgreSQL's server binaries)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent

from bench.bench_api_calls import SECRET, TEAM, settings_in, world  # noqa: E402
from bench.bench_ingest import LUA, MEASURED_OFFSET, distinct_comments, free_port, wait_port, wrk  # noqa: E402
from bench.bench_ingest import SECRET as INGEST_SECRET  # noqa: E402
from bot.server import build  # noqa: E402
from tests.support.postgres import PostgresServer, binaries  # noqa: E402
from tests.support.webhook_payloads import comment_payload, delivery  # noqa: E402

Keys = tuple[str, str]


def keys() -> Keys:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode(), public.decode()


def store_env(store: str, work: Path, pg: PostgresServer) -> dict[str, str]:
    if store == "sqlite":
        return {"RUNNERS_BOT_STATE": str(work / f"{store}.sqlite3")}
    return {"RUNNERS_BOT_DATABASE_URL": pg.new_database()}


def stored(env: dict[str, str]) -> int:
    if "RUNNERS_BOT_DATABASE_URL" in env:
        with psycopg.connect(env["RUNNERS_BOT_DATABASE_URL"]) as conn:
            row = conn.execute("SELECT count(*) FROM deliveries").fetchone()
    else:
        import sqlite3

        with sqlite3.connect(env["RUNNERS_BOT_STATE"]) as db:
            row = db.execute("SELECT count(*) FROM deliveries").fetchone()
    return int(row[0]) if row else 0


def ingest(store: str, work: Path, pg: PostgresServer, key: Keys, seconds: int) -> dict[str, float]:
    distinct = distinct_comments(work, f"{store}-command", comment_payload("/runners help"))
    port = free_port()
    env = {
        **os.environ,
        **store_env(store, work, pg),
        "GITHUB_WEBHOOK_SECRET": INGEST_SECRET,
        "GITHUB_APP_ID": "1",
        "GITHUB_APP_PRIVATE_KEY": key[0],
        "GITHUB_API_URL": f"http://127.0.0.1:{free_port()}",
        "RUNNERS_CONFIG_REPO": "Matchpoint-AI/runners-config",
        "RUNNERS_BOT_KUBE": "off",
        "RUNNERS_BOT_DASHBOARD": "off",
        "RUNNERS_BOT_WORKERS": "0",
        "RUNNERS_BOT_RECOVERY_INTERVAL": "0",
        "LOG_LEVEL": "WARNING",
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    server = subprocess.Popen([str(Path(sys.executable).parent / "runners-bot"), "serve"], env=env, cwd=work)
    try:
        wait_port(port, server)
        url = f"http://127.0.0.1:{port}/api/github/webhooks"
        for phase, offset, length in (("warm-up", 0, 2), ("measured", MEASURED_OFFSET, seconds)):
            script = work / f"{store}-{phase}.lua"
            script.write_text(LUA.format(run=f"{store}-{phase}", offset=offset, **distinct), encoding="utf-8")
            result = wrk(url, script, length)
    finally:
        server.terminate()
        server.wait(timeout=10)
    result["stored"] = stored(env)
    return result


async def latencies(store: str, pg: PostgresServer, key: Keys, commands: list[str]) -> list[float]:
    """Seconds from posting each command (one at a time) to its handling done (reply posted)."""
    fake = world(key)
    with tempfile.TemporaryDirectory() as tmp:
        # One commenter, many commands: reply budgets are not what is measured.
        settings = dataclasses.replace(settings_in(tmp, key), reply_limit=0)
        if store == "postgresql":
            settings = dataclasses.replace(settings, database_url=pg.new_database())
        app = build(settings, transport=httpx.ASGITransport(app=fake.app))
        times = []
        async with app.starlette.router.lifespan_context(app.starlette):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.asgi), base_url="http://bot")
            for number, text in enumerate(commands):
                body, headers = delivery(SECRET, "issue_comment", comment_payload(text, comment_id=10_000 + number))
                start = time.perf_counter()
                await client.post("/api/github/webhooks", content=body, headers=headers)
                await app.dispatcher.idle()
                times.append(time.perf_counter() - start)
            await client.aclose()
        replies = len(fake.thread_comments(TEAM, 7))
    assert replies == len(commands), f"{store}: {replies} replies to {len(commands)} commands"
    return times[3:]  # the first ones warm caches and connections


def row(name: str, value: float, base: float, unit: str, fmt: Callable[[float], str]) -> str:
    return f"{name:<46} {fmt(value):>10} {unit:<6} {value / base:>8.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--commands", type=int, default=60)
    args = parser.parse_args()
    found = binaries()
    if shutil.which("wrk") is None or found is None:
        print("bench_store: wrk and PostgreSQL (initdb, pg_ctl) are needed", file=sys.stderr)
        return 2
    key = keys()
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    pg = PostgresServer(found).start(durable=True)
    try:
        ingested = {store: ingest(store, work, pg, key, args.seconds) for store in ("sqlite", "postgresql")}
        print("  measured ingest", file=sys.stderr, flush=True)
        help_cmds = ["/runners help"] * args.commands
        scale_cmds = [f"/runners scale max={12 + n % 8}" for n in range(args.commands)]
        timed = {
            (store, name): asyncio.run(latencies(store, pg, key, cmds))
            for store in ("sqlite", "postgresql")
            for name, cmds in (("help", help_cmds), ("scale", scale_cmds))
        }
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n2 cores shared by wrk, the server and PostgreSQL; wrk -t2 -c32 -d{args.seconds}s\n")
    header = f"{'measure':<46} {'value':>10} {'':<6} {'vs SQLite':>9}"
    print(header)
    print("-" * len(header))
    base = ingested["sqlite"]
    for store, r in ingested.items():
        print(row(f"commands stored per second, {store}", r["rps"], base["rps"], "/s", lambda v: f"{v:,.0f}"))
        print(row(f"  p99 acknowledgement, {store}", r["p99"], base["p99"], "ms", lambda v: f"{v:.2f}"))
    for name in ("help", "scale"):
        for pct, pick in (("p50", 0.5), ("p95", 0.95)):
            values = {
                s: statistics.quantiles(timed[(s, name)], n=100)[int(pick * 100) - 1] for s in ("sqlite", "postgresql")
            }
            for store, value in values.items():
                label = f"`/runners {name}` → reply, {pct}, {store}"
                print(row(label, value * 1e3, values["sqlite"] * 1e3, "ms", lambda v: f"{v:.1f}"))
    print(
        "\ndeliveries stored (warm-up included): " + ", ".join(f"{s} {int(r['stored']):,}" for s, r in ingested.items())
    )
    errors = sum(r["errors"] for r in ingested.values())
    ok = errors == 0 and all(r["stored"] >= r["requests"] for r in ingested.values())
    print(f"check: every acknowledged delivery is stored, no errors: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
