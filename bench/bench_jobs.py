"""Job evidence benchmark: workflow_job deliveries into hourly aggregates, and what they
cost the rest of the app, with baselines from the same run.

1. **Aggregate path** (``--deliveries``, default 1,000,000, over 10,000 scale sets and 21
   simulated days, retention 14): each delivery's tally (``bot.capacity.evidence.tally``)
   added once under its claim (``Store.count_job``: one durable SQLite transaction);
   housekeeping drops hours past the retention at each simulated midnight. Printed per
   simulated day: the evidence's rows, the database file, the process's RSS: flat after
   the first day of the window means bounded by sets × hours, not by jobs. The delivery
   records themselves are inserted claimed in bulk (as the endpoint would have stored
   them) and forgotten like housekeeping does; their cost is the webhook ingest's, as today.
2. **Handler path** (``--handled``, default 5,000): the feature's real handler on stored
   deliveries (queued, in_progress, completed), with the configuration of 10,000 sets
   known: how many GitHub calls it made (the transport counts them; expected 0).
3. **Comment ingest, before and after**: the durable insert of ``/runners`` comment
   deliveries (the comment path's store write) on an empty store and on the store that
   holds the evidence: their ratio (within 10% is the promise).

Run: make bench-jobs   (``python -m bench.bench_jobs --deliveries 100000`` for a quick run)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.capacity.evidence import HOUR, tally
from bot.capacity.jobs import job_of
from bot.fleet.config import ConfigFiles, parse
from bot.runtime.settings import Settings
from bot.server import build
from bot.services.job_evidence import set_refs
from bot.store.api import Delivery
from bot.store.sqlite import SQLiteStore
from tests.support.fleets import fleet

ROOT = Path(__file__).resolve().parent.parent
SETS = 10_000
DAYS = 21
RETENTION_DAYS = 14
START = 1_764_547_200.0  # 2025-12-01 00:00 UTC, a Monday


def rss_mib() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def payload(action: str, job: int, label: str, repo_url: str, *, created: float, started: float, done: float) -> bytes:
    return json.dumps({
        "action": action,
        "workflow_job": {"id": job, "labels": [label], "created_at": stamp(created),
                         "started_at": stamp(started), "completed_at": stamp(done) if action == "completed" else None,
                         "runner_id": 5 if action != "queued" else None},
        "repository": {"html_url": repo_url},
        "installation": {"id": 42},
    }).encode()  # fmt: skip


def jobs_of_day(day: int, per_day: int, refs: list[tuple[str, str]]) -> list[tuple[str, bytes]]:
    """(action, body) of ``per_day`` deliveries: jobs of a day, three deliveries each."""
    found = []
    base = START + day * 86_400
    for n in range(per_day // 3):
        label, url = refs[(day * 7919 + n) % len(refs)]
        created = base + (n * 86_400) / max(1, per_day // 3)
        started, done = created + 15 + n % 120, created + 300 + n % 900
        job = day * 10_000_000 + n
        for action in ("queued", "in_progress", "completed"):
            found.append((action, payload(action, job, label, url, created=created, started=started, done=done)))
    return found


async def aggregate_path(
    store: SQLiteStore, deliveries: int, refs: list[tuple[str, str]]
) -> list[tuple[int, int, float, float, float]]:
    per_day = deliveries // DAYS
    rows = []
    for day in range(DAYS):
        batch = jobs_of_day(day, per_day, refs)
        ids = [f"j{day}-{i}" for i in range(len(batch))]
        with store._lock:  # bench only: the endpoint's inserts, in bulk
            store._db.execute("BEGIN")
            store._db.executemany(
                "INSERT INTO deliveries (id, event, action, kind, installation, body, received_at, claimed_by,"
                " lease_until) VALUES (?, 'workflow_job', ?, 'job', 42, ?, 0, ?, 1e12)",
                [(i, a, b, store.owner) for i, (a, b) in zip(ids, batch, strict=True)],
            )
            store._db.execute("COMMIT")
        started = time.perf_counter()
        for delivery_id, (_, body) in zip(ids, batch, strict=True):
            job = job_of(json.loads(body))
            assert job is not None
            found = tally(job)
            if found is not None:
                await store.count_job(delivery_id, f"https://github.com/o#{job.labels[0]}", found)
        seconds = time.perf_counter() - started
        midnight = int((START + (day + 1) * 86_400) // HOUR)
        await store.forget_jobs(midnight - RETENTION_DAYS * 24)
        with store._lock:  # the delivery records go as housekeeping's purge would
            store._db.execute("DELETE FROM steps WHERE delivery LIKE ?", (f"j{day}-%",))
            store._db.execute("DELETE FROM deliveries WHERE id LIKE ?", (f"j{day}-%",))
        size = sum(os.path.getsize(p) for p in Path(store.path).parent.glob(Path(store.path).name + "*"))
        rows.append((day + 1, await store.job_rows(), size / 2**20, rss_mib(), len(batch) / seconds))
        print("| {} | {:,} | {:.1f} | {:.0f} | {:,.0f} |".format(*rows[-1]), flush=True)  # progress of a long run
    return rows


class Counting(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(503)


async def handler_path(state: Path, handled: int, files: ConfigFiles, refs: list[tuple[str, str]]) -> tuple[int, float]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    settings = Settings(
        webhook_secret="s", app_id=1, private_key=key.decode(), config_repo="o/r", state_path=state,
        kube_enabled=False, dashboard=None,
    )  # fmt: skip
    transport = Counting()
    app = build(settings, transport=transport)
    app.services.latest.note(42, files)
    handlers = app.dispatcher.handlers
    started = time.perf_counter()
    for i, (action, body) in enumerate(jobs_of_day(0, handled, refs)):
        delivery = Delivery(f"h{i}", "workflow_job", action, f"job_{action}", 42, body)
        await app.store.add(delivery)
        await handlers[f"job_{action}"](delivery)
        await app.store.finish(delivery.id)
    seconds = time.perf_counter() - started
    await app.github.close()
    app.store.close()
    return transport.calls, handled / seconds


async def comment_inserts(store: SQLiteStore, count: int, tag: str) -> float:
    started = time.perf_counter()
    for i in range(count):
        await store.add(
            Delivery(f"{tag}{i}", "issue_comment", "created", "command", 42, b'{"comment": {}}', subject=f"{tag}{i}")
        )
    return count / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--handled", type=int, default=5_000)
    parser.add_argument("--comments", type=int, default=3_000)
    args = parser.parse_args()
    files = ConfigFiles.read(ROOT)
    big = ConfigFiles(fleet(SETS, files.repositories), files.base)
    config = parse(big.repositories, big.base)
    refs = [(r.scale_set, r.config_url) for r in set_refs(config)]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "jobs.sqlite3", "bench")
        rss_start = rss_mib()
        days = await aggregate_path(store, args.deliveries, refs)
        empty = SQLiteStore(Path(tmp) / "empty.sqlite3", "bench")
        # Alternated, best of three each: the disk's fsync rate swings with the host's load.
        before = after = 0.0
        for attempt in range(3):
            before = max(before, await comment_inserts(empty, args.comments, f"a{attempt}-"))
            after = max(after, await comment_inserts(store, args.comments, f"b{attempt}-"))
        empty.close()
        store.close()
        calls, handled_rate = await handler_path(Path(tmp) / "handler.sqlite3", args.handled, big, refs)
    print(f"\nAggregate path: {args.deliveries:,} workflow_job deliveries over {SETS:,} sets, {DAYS} days, "
          f"retention {RETENTION_DAYS} days (RSS at start {rss_start:.0f} MiB)\n")  # fmt: skip
    print("| day | evidence rows | database MiB | RSS MiB | deliveries/s |")
    print("| --- | --- | --- | --- | --- |")
    for day, rows, size, rss, rate in days:
        print(f"| {day} | {rows:,} | {size:.1f} | {rss:.0f} | {rate:,.0f} |")
    window = [r for r in days if r[0] > RETENTION_DAYS]
    if window:
        grew = window[-1][1] / max(1, window[0][1])
        print(f"\nAfter the window filled (day {RETENTION_DAYS + 1} on): evidence rows ×{grew:.2f}, "
              f"RSS {window[0][3]:.0f} → {window[-1][3]:.0f} MiB")  # fmt: skip
    print(f"\nHandler path: {args.handled:,} deliveries through the feature's handler, "
          f"configuration of {SETS:,} sets known: {calls} GitHub calls, {handled_rate:,.0f} deliveries/s")  # fmt: skip
    print(f"\nComment ingest (durable insert), {args.comments:,} deliveries: empty store {before:,.0f}/s, "
          f"store holding the evidence {after:,.0f}/s: ratio {after / before:.2f} (baseline: empty store, same run, "
          "alternated, best of three)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
