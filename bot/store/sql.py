"""The store's queries, written once for both engines (SQLite and PostgreSQL).

:class:`SQLStore` implements :class:`bot.store.api.Store` over an engine that runs one
statement (``_run``) or a few in a transaction (``_transaction``), both blocking; it
hands them to threads in one place (``_query``), so its callers only ``await``. Times
that decide leases come from the database's clock, so replicas whose clocks differ
still agree on when a lease ran out. Queries are in SQLite's syntax with ``{now}`` for
the database clock (epoch seconds); each engine names its dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.capacity.evidence import Hour, Tally
from bot.store.api import Delivery, Fence, LeaseLost

T = TypeVar("T")

_DELIVERY_COLUMNS = "id, event, action, kind, installation, body, received_at, attempts"
_CLAIMABLE = "claimed_by IS NULL OR lease_until < {now}"
_LEASE_HOLDS = "SELECT 1 FROM leases WHERE name = ? AND owner = ? AND token = ? AND expires > {now}"

SQL = {
    "insert": "INSERT INTO deliveries (id, event, action, kind, installation, body, subject, received_at,"
    " claimed_by, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {now} + ?) ON CONFLICT DO NOTHING RETURNING id",
    "claim": "UPDATE deliveries SET claimed_by = ?, lease_until = {now} + ?"
    f" WHERE id = ? AND state = 'pending' AND (claimed_by = ? OR {_CLAIMABLE}) RETURNING {_DELIVERY_COLUMNS}",
    "claim_ready": "UPDATE deliveries SET claimed_by = ?, lease_until = {now} + ? WHERE id IN"
    f" (SELECT id FROM deliveries WHERE state = 'pending' AND not_before <= ? AND ({_CLAIMABLE})"
    " ORDER BY received_at LIMIT ? {skip_locked}) RETURNING id",
    "renew": "UPDATE deliveries SET lease_until = {now} + ?"
    " WHERE claimed_by = ? AND state = 'pending' AND id IN ({ids}) RETURNING id",
    "release": "UPDATE deliveries SET claimed_by = NULL, lease_until = NULL"
    " WHERE claimed_by = ? AND state = 'pending' AND id IN ({ids})",
    "pending": "SELECT id, not_before FROM deliveries WHERE state = 'pending' ORDER BY received_at",
    "load": f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = ?",
    "end": "UPDATE deliveries SET state = ?, error = ?, lease_until = NULL"
    " WHERE id = ? AND claimed_by = ? AND state = 'pending' RETURNING id",
    "retry_later": "UPDATE deliveries SET attempts = attempts + 1, not_before = ?, error = ?, claimed_by = NULL,"
    " lease_until = NULL WHERE id = ? AND claimed_by = ? AND state = 'pending' RETURNING attempts",
    "seen": "SELECT id FROM deliveries WHERE id IN ({ids})",
    "step": "SELECT value FROM steps WHERE delivery = ? AND name = ?",
    "record": "INSERT INTO steps (delivery, name, value) SELECT ?, ?, ?"
    " WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ? AND claimed_by = ?)"
    " ON CONFLICT (delivery, name) DO UPDATE SET value = excluded.value RETURNING name",
    "get": "SELECT value FROM kv WHERE key = ?",
    "put": "INSERT INTO kv (key, value, updated) VALUES (?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated RETURNING key",
    "put_fenced": "INSERT INTO kv (key, value, updated) SELECT ?, ?, ?"
    f" WHERE EXISTS ({_LEASE_HOLDS})"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated RETURNING key",
    "delete": "DELETE FROM kv WHERE key = ?",
    "swap": "UPDATE kv SET value = ?, updated = ? WHERE key = ? AND value = ? RETURNING key",
    "swap_new": "INSERT INTO kv (key, value, updated) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING key",
    "delete_fenced": f"DELETE FROM kv WHERE key = ? AND EXISTS ({_LEASE_HOLDS}) RETURNING key",
    "lease_holds": _LEASE_HOLDS,
    "keys": "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key",
    "items": "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key",
    # A new term (new token) whenever the lease changes hands or had run out.
    "lease": "INSERT INTO leases (name, owner, token, expires) VALUES (?, ?, 1, {now} + ?)"
    " ON CONFLICT (name) DO UPDATE SET"
    " token = CASE WHEN leases.owner = excluded.owner AND leases.expires > {now}"
    " THEN leases.token ELSE leases.token + 1 END,"
    " owner = excluded.owner, expires = excluded.expires"
    " WHERE leases.owner = excluded.owner OR leases.expires <= {now} RETURNING token",
    "unlease": "UPDATE leases SET expires = 0 WHERE name = ? AND owner = ?",
    "purge_steps": "DELETE FROM steps WHERE delivery IN"
    " (SELECT id FROM deliveries WHERE state IN ('done', 'failed') AND received_at < ?)",
    "purge_deliveries": "DELETE FROM deliveries WHERE state IN ('done', 'failed') AND received_at < ?",
    "purge_keys": "DELETE FROM kv WHERE key >= ? AND key < ? AND updated < ?",
    "stored": "SELECT count(*) FROM deliveries",
    # Job evidence (bot.capacity): a delivery's tally is added once, under its claim; the
    # step it records in the same transaction says it was.
    "jobs_counted": "INSERT INTO steps (delivery, name, value) SELECT ?, 'jobs', ''"
    " WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ? AND claimed_by = ? AND state = 'pending')"
    " ON CONFLICT (delivery, name) DO NOTHING RETURNING name",
    "job_hour": "INSERT INTO job_hours (set_key, hour, jobs, waited, wait_max, wait_seconds, run_seconds,"
    " busy_seconds, peak) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (set_key, hour) DO UPDATE SET"
    " jobs = job_hours.jobs + excluded.jobs, waited = job_hours.waited + excluded.waited,"
    " wait_max = {greatest}(job_hours.wait_max, excluded.wait_max),"
    " wait_seconds = job_hours.wait_seconds + excluded.wait_seconds,"
    " run_seconds = job_hours.run_seconds + excluded.run_seconds,"
    " busy_seconds = job_hours.busy_seconds + excluded.busy_seconds,"
    " peak = {greatest}(job_hours.peak, excluded.peak)",
    "job_wait": "INSERT INTO job_waits (set_key, hour, bucket, count) VALUES (?, ?, ?, 1)"
    " ON CONFLICT (set_key, hour, bucket) DO UPDATE SET count = job_waits.count + 1",
    "job_running": "INSERT INTO job_running (set_key, running) VALUES (?, {greatest}(0, ?))"
    " ON CONFLICT (set_key) DO UPDATE SET running = {greatest}(0, job_running.running + ?) RETURNING running",
    "job_hours_of": "SELECT set_key, hour, jobs, waited, wait_max, wait_seconds, run_seconds, busy_seconds, peak"
    " FROM job_hours WHERE hour >= ? AND set_key IN ({ids})",
    "job_hours_all": "SELECT set_key, hour, jobs, waited, wait_max, wait_seconds, run_seconds, busy_seconds, peak"
    " FROM job_hours WHERE hour >= ?",
    "job_waits_of": "SELECT set_key, hour, bucket, count FROM job_waits WHERE hour >= ? AND set_key IN ({ids})",
    "job_waits_all": "SELECT set_key, hour, bucket, count FROM job_waits WHERE hour >= ?",
    "forget_job_hours": "DELETE FROM job_hours WHERE hour < ?",
    "forget_job_waits": "DELETE FROM job_waits WHERE hour < ?",
    "job_rows": "SELECT (SELECT count(*) FROM job_hours) + (SELECT count(*) FROM job_waits)"
    " + (SELECT count(*) FROM job_running)",
}

# (rows, rowcount) of one statement
Rows = tuple[list[tuple[Any, ...]], int]
Run = Callable[[str, tuple[object, ...]], Rows]


_KEYS_PER_QUERY = 1000  # keys bound in one statement (SQLite allows 32,766 parameters)


class SQLStore:
    """The store's logic over an engine that runs one statement (``_run``) or a few in a
    transaction (``_transaction``); subclasses give the engine and its dialect."""

    NOW: str
    SKIP_LOCKED: str = ""
    GREATEST: str = "max"  # SQLite's two-argument max; PostgreSQL's GREATEST
    PARAM: str = "?"
    owner: str
    lease_seconds: float
    _writer: ThreadPoolExecutor

    @functools.cache  # noqa: B019 - a handful of statements per dialect, kept for the process
    def sql(self, name: str, ids: int = 0) -> str:
        text = SQL[name].format(
            now=self.NOW, skip_locked=self.SKIP_LOCKED, ids=", ".join("?" * ids), greatest=self.GREATEST
        )
        return text.replace("?", self.PARAM)

    def _run(self, sql: str, args: tuple[object, ...] = (), *, writer: bool = False) -> Rows:
        """Run one statement (blocking: on a worker thread)."""
        raise NotImplementedError

    def _transaction(self, work: Callable[[Run], T]) -> T:
        """Run ``work``'s statements in one transaction (blocking: on a worker thread)."""
        raise NotImplementedError

    async def _query(self, sql: str, args: tuple[object, ...] = (), *, writer: bool = False) -> Rows:
        """The one place the event loop hands a statement to the engine's blocking driver:
        writes of new deliveries to the engine's writer threads, the rest to the loop's."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._writer if writer else None, functools.partial(self._run, sql, args, writer=writer)
        )

    async def _one(self, name: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        rows, _ = await self._query(self.sql(name), args)
        return rows[0] if rows else None

    # --- deliveries and claims -------------------------------------------------------------

    async def add(self, delivery: Delivery) -> bool:
        """The insert runs on the engine's writer threads (SQLite: one; PostgreSQL: several)."""
        d = delivery
        args = (d.id, d.event, d.action, d.kind, d.installation, d.body, d.subject, time.time())
        rows, _ = await self._query(self.sql("insert"), (*args, self.owner, self.lease_seconds), writer=True)
        return bool(rows)

    async def claim(self, delivery_id: str) -> Delivery | None:
        row = await self._one("claim", (self.owner, self.lease_seconds, delivery_id, self.owner))
        return _delivery(row) if row else None

    async def claim_ready(self, limit: int) -> list[str]:
        rows, _ = await self._query(self.sql("claim_ready"), (self.owner, self.lease_seconds, time.time(), limit))
        return [str(r[0]) for r in rows]

    async def renew(self, delivery_ids: Iterable[str]) -> set[str]:
        ids = tuple(delivery_ids)
        if not ids:
            return set()
        rows, _ = await self._query(self.sql("renew", len(ids)), (self.lease_seconds, self.owner, *ids))
        return {str(r[0]) for r in rows}

    async def release(self, delivery_ids: Iterable[str]) -> None:
        ids = tuple(delivery_ids)
        if ids:
            await self._query(self.sql("release", len(ids)), (self.owner, *ids))

    async def pending(self) -> list[tuple[str, float]]:
        rows, _ = await self._query(self.sql("pending"))
        return [(str(r[0]), float(r[1])) for r in rows]

    async def load(self, delivery_id: str) -> Delivery | None:
        row = await self._one("load", (delivery_id,))
        return _delivery(row) if row else None

    async def _end(self, delivery_id: str, state: str, error: str | None) -> None:
        if await self._one("end", (state, error, delivery_id, self.owner)) is None:
            raise LeaseLost(f"delivery {delivery_id} is not claimed by {self.owner}")

    async def finish(self, delivery_id: str) -> None:
        await self._end(delivery_id, "done", None)

    async def fail(self, delivery_id: str, error: str) -> None:
        await self._end(delivery_id, "failed", error[:2000])

    async def retry_later(self, delivery_id: str, delay: float, error: str) -> int:
        row = await self._one("retry_later", (time.time() + delay, error[:2000], delivery_id, self.owner))
        if row is None:
            raise LeaseLost(f"delivery {delivery_id} is not claimed by {self.owner}")
        return int(row[0])

    async def seen(self, delivery_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(delivery_ids), 500):
            chunk = tuple(delivery_ids[start : start + 500])
            rows, _ = await self._query(self.sql("seen", len(chunk)), chunk)
            found.update(str(r[0]) for r in rows)
        return found

    async def step(self, delivery_id: str, name: str) -> str | None:
        row = await self._one("step", (delivery_id, name))
        return str(row[0]) if row else None

    async def record(self, delivery_id: str, name: str, value: str) -> None:
        if await self._one("record", (delivery_id, name, value, delivery_id, self.owner)) is None:
            raise LeaseLost(f"delivery {delivery_id} is not claimed by {self.owner}: step {name} not recorded")

    # --- keys, leases and fencing -----------------------------------------------------------

    async def get(self, key: str) -> str | None:
        row = await self._one("get", (key,))
        return str(row[0]) if row else None

    async def put(self, key: str, value: str, fence: Fence | None = None) -> None:
        if fence is None:
            await self._query(self.sql("put"), (key, value, time.time()))
        elif await self._one("put_fenced", (key, value, time.time(), *self._fence(fence))) is None:
            raise LeaseLost(f"lease {fence.name} term {fence.token} is over: {key} not written")

    async def delete(self, key: str, fence: Fence | None = None) -> None:
        if fence is None:
            await self._query(self.sql("delete"), (key,))
        elif await self._one("delete_fenced", (key, *self._fence(fence))) is None and not await self.holds(fence):
            raise LeaseLost(f"lease {fence.name} term {fence.token} is over: {key} not deleted")

    async def swap(self, key: str, expected: str | None, value: str) -> bool:
        if expected is None:
            return await self._one("swap_new", (key, value, time.time())) is not None
        return await self._one("swap", (value, time.time(), key, expected)) is not None

    async def holds(self, fence: Fence) -> bool:
        """Whether ``fence``'s term of its lease still holds."""
        return await self._one("lease_holds", self._fence(fence)) is not None

    def _fence(self, fence: Fence) -> tuple[object, ...]:
        return (fence.name, self.owner, fence.token)

    async def keys(self, prefix: str) -> list[str]:
        rows, _ = await self._query(self.sql("keys"), (prefix, prefix + "\uffff"))
        return [str(r[0]) for r in rows]

    async def items(self, prefix: str) -> list[tuple[str, str]]:
        rows, _ = await self._query(self.sql("items"), (prefix, prefix + "\uffff"))
        return [(str(r[0]), str(r[1])) for r in rows]

    async def lease(self, name: str, seconds: float) -> int | None:
        row = await self._one("lease", (name, self.owner, seconds))
        return int(row[0]) if row else None

    async def unlease(self, name: str) -> None:
        await self._query(self.sql("unlease"), (name, self.owner))

    # --- upkeep ------------------------------------------------------------------------

    async def purge(self, before: float, prefixes: tuple[str, ...]) -> dict[str, int]:
        def work(run: Run) -> dict[str, int]:
            steps = run(self.sql("purge_steps"), (before,))[1]
            deliveries = run(self.sql("purge_deliveries"), (before,))[1]
            keys = sum(run(self.sql("purge_keys"), (p, p + "\uffff", before))[1] for p in prefixes)
            return {"deliveries": deliveries, "steps": steps, "keys": keys}

        return await asyncio.get_running_loop().run_in_executor(None, self._transaction, work)

    async def stored(self) -> int:
        row = await self._one("stored", ())
        return int(row[0]) if row else 0

    # --- job evidence ------------------------------------------------------------------

    async def count_job(self, delivery_id: str, key: str, tally: Tally) -> bool:
        """Add ``tally`` to ``key``'s aggregates once for ``delivery_id`` (under this
        replica's claim): False when it was added before; :class:`LeaseLost` without the claim."""

        def work(run: Run) -> bool:
            if not run(self.sql("jobs_counted"), (delivery_id, delivery_id, self.owner))[0]:
                if run(self.sql("step"), (delivery_id, "jobs"))[0]:
                    return False
                raise LeaseLost(f"delivery {delivery_id} is not claimed by {self.owner}: jobs not counted")
            t = tally
            peak = 0
            if t.running:
                peak = int(run(self.sql("job_running"), (key, t.running, t.running))[0][0][0])
            if t.jobs or t.waited or t.run_seconds:
                run(self.sql("job_hour"), (key, t.hour, t.jobs, t.waited, t.wait, t.wait, t.run_seconds, 0.0, 0))
            if t.running > 0:
                run(self.sql("job_hour"), (key, t.running_hour, 0, 0, 0.0, 0.0, 0.0, 0.0, peak))
            for hour, seconds in t.busy:
                run(self.sql("job_hour"), (key, hour, 0, 0, 0.0, 0.0, 0.0, seconds, 0))
            if t.wait_bucket is not None:
                run(self.sql("job_wait"), (key, t.hour, t.wait_bucket))
            return True

        return await asyncio.get_running_loop().run_in_executor(None, self._transaction, work)

    async def job_hours(self, keys: Iterable[str] | None, since_hour: int) -> dict[str, list[Hour]]:
        """The hourly aggregates from ``since_hour`` on of ``keys`` (None: of every key)."""
        wanted = tuple(keys) if keys is not None else None
        if wanted == ():
            return {}
        if wanted is None:
            hours, _ = await self._query(self.sql("job_hours_all"), (since_hour,))
            waits, _ = await self._query(self.sql("job_waits_all"), (since_hour,))
        else:
            hours, waits = [], []
            # SQLite binds at most 32,766 parameters a statement: a fleet of 50,000 sets is asked in slices.
            for start in range(0, len(wanted), _KEYS_PER_QUERY):
                part = wanted[start : start + _KEYS_PER_QUERY]
                found_hours, _ = await self._query(self.sql("job_hours_of", len(part)), (since_hour, *part))
                found_waits, _ = await self._query(self.sql("job_waits_of", len(part)), (since_hour, *part))
                hours += found_hours
                waits += found_waits
        buckets: dict[tuple[str, int], dict[int, int]] = {}
        for key, hour, bucket, count in waits:
            buckets.setdefault((str(key), int(hour)), {})[int(bucket)] = int(count)
        found: dict[str, list[Hour]] = {}
        for key, hour, jobs, waited, wait_max, wait_seconds, run_seconds, busy, peak in hours:
            found.setdefault(str(key), []).append(
                Hour(
                    int(hour),
                    int(jobs),
                    buckets.get((str(key), int(hour)), {}),
                    float(wait_max),
                    float(wait_seconds),
                    float(run_seconds),
                    float(busy),
                    int(peak),
                    int(waited),
                )
            )
        return found

    async def forget_jobs(self, before_hour: int) -> int:
        """Drop job aggregates older than ``before_hour``; how many rows went."""

        def work(run: Run) -> int:
            return (
                run(self.sql("forget_job_hours"), (before_hour,))[1]
                + run(self.sql("forget_job_waits"), (before_hour,))[1]
            )

        return await asyncio.get_running_loop().run_in_executor(None, self._transaction, work)

    async def job_rows(self) -> int:
        """How many rows the job evidence holds (bounded by sets × hours × buckets)."""
        row = await self._one("job_rows", ())
        return int(row[0]) if row else 0

    async def writable(self) -> bool:
        try:
            await self.put("readyz", str(time.time()))
        except Exception:  # any engine error: not ready
            return False
        return True


def _delivery(r: tuple[Any, ...]) -> Delivery:
    return Delivery(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], bytes(r[5]), float(r[6]), int(r[7]))


class KeyLocks:
    """One asyncio lock per key, for the replicas of one process. A key's lock is let go
    once nobody holds or waits for it: only the keys in use take memory."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[None]]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def __call__(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), []))
        users.append(None)
        try:
            async with lock:
                yield
        finally:
            users.pop()
            if not users:
                del self._locks[key]


# The tables, written once: each engine names its types ({blob}, {real}, {int64}, {key}).
SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    installation {int64},
    body {blob} NOT NULL,
    subject TEXT,
    received_at {real} NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before {real} NOT NULL DEFAULT 0,
    error TEXT,
    claimed_by TEXT,
    lease_until {real}
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(state, not_before);
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries(received_at);
CREATE TABLE IF NOT EXISTS steps (
    delivery TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (delivery, name)
);
CREATE TABLE IF NOT EXISTS kv (
    key {key} PRIMARY KEY,
    value TEXT NOT NULL,
    updated {real} NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS job_hours (
    set_key {key} NOT NULL,
    hour {int64} NOT NULL,
    jobs INTEGER NOT NULL DEFAULT 0,
    waited INTEGER NOT NULL DEFAULT 0,
    wait_max {real} NOT NULL DEFAULT 0,
    wait_seconds {real} NOT NULL DEFAULT 0,
    run_seconds {real} NOT NULL DEFAULT 0,
    busy_seconds {real} NOT NULL DEFAULT 0,
    peak INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (set_key, hour)
);
CREATE INDEX IF NOT EXISTS job_hours_hour ON job_hours(hour);
CREATE TABLE IF NOT EXISTS job_waits (
    set_key {key} NOT NULL,
    hour {int64} NOT NULL,
    bucket INTEGER NOT NULL,
    count {int64} NOT NULL,
    PRIMARY KEY (set_key, hour, bucket)
);
CREATE INDEX IF NOT EXISTS job_waits_hour ON job_waits(hour);
CREATE TABLE IF NOT EXISTS job_running (
    set_key {key} PRIMARY KEY,
    running INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token {int64} NOT NULL,
    expires {real} NOT NULL
);
"""
# Created after the columns older SQLite databases gain (bot.store.sqlite), which it indexes.
SUBJECT_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS deliveries_subject ON deliveries(subject)"
