"""The durable inbox: accepted deliveries, the progress of their work, and who may do it.

A delivery that carries work is written (and synced) before GitHub gets its 2xx, keyed
by ``X-GitHub-Delivery``, so a redelivery is recognised and a crash loses nothing.
Side effects record themselves as *steps* (``reply:0`` → the comment id), so work
resumed after a crash continues where it stopped instead of repeating itself.

Several replicas may share one store (PostgreSQL, :mod:`bot.store.postgres`). Each
store object speaks for one replica (``owner``) and coordinates through three things:

* **claims**: a delivery is worked on by the replica whose claim holds; a claim is a
  lease, renewed while the work runs, that a crashed replica loses after the lease
  time. Steps and the end of a delivery are written only under a holding claim, so a
  replica that lost its claim cannot record over the one that took it (:class:`LeaseLost`).
* **leases**: a named lease with a fencing token, for work that runs on one replica at a
  time (:mod:`bot.runtime.leadership`); state written for it is *fenced* by that token.
* **locks**: a mutual exclusion per key across replicas (a scale set's pull request).

:class:`Inbox` is the interface the rest of the app uses; :class:`SQLInbox` holds the
queries, written once for both engines; :class:`SQLiteInbox` is the embedded default
(one replica). Times that decide leases come from the database's clock, so replicas
whose clocks differ still agree on when a lease ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """One accepted webhook delivery."""

    id: str
    event: str
    action: str
    kind: str
    installation: int | None
    body: bytes
    received_at: float = 0.0
    attempts: int = 0
    subject: str | None = None  # what it is about (bot.webhooks.routing.subject): one delivery per subject

    @functools.cached_property
    def payload(self) -> dict[str, Any]:
        """The body as JSON, parsed once for whichever handler reads it (the endpoint
        accepted only a JSON object)."""
        found = json.loads(self.body)
        return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Fence:
    """A term of a named lease: writes fenced by it happen only while it still holds."""

    name: str
    token: int


class LeaseLost(Exception):
    """This replica no longer holds the claim or lease a write needed; another took over.

    Not an error of the work: the replica that holds it now carries on."""


class Inbox(Protocol):
    """What the app needs from its state store."""

    owner: str

    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery durably, claimed by this replica; False when its id or its
        subject was seen before."""

    def claim(self, delivery_id: str) -> Delivery | None:
        """Take (or keep) the claim on a pending delivery; None when it is done or another
        replica's claim holds."""

    def claim_ready(self, limit: int) -> list[str]:
        """Claim up to ``limit`` pending deliveries that are due and nobody holds (never
        claimed, released, or their replica's lease ran out)."""

    def renew(self, delivery_ids: Iterable[str]) -> set[str]:
        """Extend this replica's claims; returns the ids whose claim is still ours."""

    def release(self, delivery_ids: Iterable[str]) -> None:
        """Give up claims (shutdown): another replica may take them at once."""

    def pending(self) -> list[tuple[str, float]]:
        """Ids of unfinished deliveries with the time each may run again."""

    def load(self, delivery_id: str) -> Delivery | None: ...

    def finish(self, delivery_id: str) -> None:
        """Mark done; raises :class:`LeaseLost` when the claim is not ours."""

    def fail(self, delivery_id: str, error: str) -> None: ...

    def retry_later(self, delivery_id: str, delay: float, error: str) -> int:
        """Reschedule and release the claim; returns the number of attempts so far."""

    def seen(self, delivery_ids: list[str]) -> set[str]: ...

    def step(self, delivery_id: str, name: str) -> str | None: ...

    def record(self, delivery_id: str, name: str, value: str) -> None:
        """Record a step; raises :class:`LeaseLost` when the claim is not ours."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str, fence: Fence | None = None) -> None:
        """Write; with ``fence``, only while that lease term holds (else :class:`LeaseLost`)."""

    def delete(self, key: str, fence: Fence | None = None) -> None: ...

    def swap(self, key: str, expected: str | None, value: str) -> bool:
        """Write ``value`` only if the key still holds ``expected`` (None: absent); whether
        it was written. For read-modify-write by concurrent workers and replicas."""

    def keys(self, prefix: str) -> list[str]: ...

    def items(self, prefix: str) -> list[tuple[str, str]]:
        """Every key under ``prefix`` with its value, in one read."""

    def lease(self, name: str, seconds: float) -> int | None:
        """Take or renew the lease ``name`` for ``seconds``; its fencing token (a new one
        for each new term), or None while another replica holds it."""

    def unlease(self, name: str) -> None:
        """Let the lease go (shutdown), keeping its token count."""

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Mutual exclusion on ``key`` across every replica of this store."""

    def writable(self) -> bool: ...

    def purge(self, before: float, prefixes: tuple[str, ...]) -> dict[str, int]:
        """Forget finished deliveries (and their steps) received before ``before``, and
        keys under ``prefixes`` last written before it; returns what went, by kind."""

    def stored(self) -> int:
        """How many deliveries are kept."""

    def close(self) -> None: ...


# --- the queries, in SQLite's syntax with {now} for the database clock (epoch seconds) ---

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
}

# (rows, rowcount) of one statement
Result = tuple[list[tuple[Any, ...]], int]
Run = Callable[[str, tuple[object, ...]], Result]


class SQLInbox:
    """The store's logic over an engine that runs one statement (``_run``) or a few in a
    transaction (``_transaction``); subclasses give the engine and its dialect."""

    NOW: str
    SKIP_LOCKED: str = ""
    PARAM: str = "?"
    owner: str
    lease_seconds: float
    _writer: ThreadPoolExecutor

    @functools.cache  # noqa: B019 - a handful of statements per dialect, kept for the process
    def sql(self, name: str, ids: int = 0) -> str:
        text = SQL[name].format(now=self.NOW, skip_locked=self.SKIP_LOCKED, ids=", ".join("?" * ids))
        return text.replace("?", self.PARAM)

    def _run(self, sql: str, args: tuple[object, ...] = (), *, writer: bool = False) -> Result:
        raise NotImplementedError

    def _transaction(self, work: Callable[[Run], T]) -> T:
        raise NotImplementedError

    def _one(self, name: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        rows, _ = self._run(self.sql(name), args)
        return rows[0] if rows else None

    # --- deliveries and claims -------------------------------------------------------------

    async def add(self, delivery: Delivery) -> bool:
        """The insert runs on the engine's writer threads (SQLite: one; PostgreSQL: several)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._insert, delivery)

    def _insert(self, delivery: Delivery) -> bool:
        d = delivery
        args = (d.id, d.event, d.action, d.kind, d.installation, d.body, d.subject, time.time())
        rows, _ = self._run(self.sql("insert"), (*args, self.owner, self.lease_seconds), writer=True)
        return bool(rows)

    def claim(self, delivery_id: str) -> Delivery | None:
        row = self._one("claim", (self.owner, self.lease_seconds, delivery_id, self.owner))
        return _delivery(row) if row else None

    def claim_ready(self, limit: int) -> list[str]:
        rows, _ = self._run(self.sql("claim_ready"), (self.owner, self.lease_seconds, time.time(), limit))
        return [str(r[0]) for r in rows]

    def renew(self, delivery_ids: Iterable[str]) -> set[str]:
        ids = tuple(delivery_ids)
        if not ids:
            return set()
        rows, _ = self._run(self.sql("renew", len(ids)), (self.lease_seconds, self.owner, *ids))
        return {str(r[0]) for r in rows}

    def release(self, delivery_ids: Iterable[str]) -> None:
        ids = tuple(delivery_ids)
        if ids:
            self._run(self.sql("release", len(ids)), (self.owner, *ids))

    def pending(self) -> list[tuple[str, float]]:
        rows, _ = self._run(self.sql("pending"))
        return [(str(r[0]), float(r[1])) for r in rows]

    def load(self, delivery_id: str) -> Delivery | None:
        row = self._one("load", (delivery_id,))
        return _delivery(row) if row else None

    def _end(self, delivery_id: str, state: str, error: str | None) -> None:
        if self._one("end", (state, error, delivery_id, self.owner)) is None:
            raise LeaseLost(f"delivery {delivery_id} is not claimed by {self.owner}")

    def finish(self, delivery_id: str) -> None:
        self._end(delivery_id, "done", None)

    def fail(self, delivery_id: str, error: str) -> None:
        self._end(delivery_id, "failed", error[:2000])

    def retry_later(self, delivery_id: str, delay: float, error: str) -> int:
        row = self._one("retry_later", (time.time() + delay, error[:2000], delivery_id, self.owner))
        if row is None:
            raise LeaseLost(f"delivery {delivery_id} is not claimed by {self.owner}")
        return int(row[0])

    def seen(self, delivery_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(delivery_ids), 500):
            chunk = tuple(delivery_ids[start : start + 500])
            rows, _ = self._run(self.sql("seen", len(chunk)), chunk)
            found.update(str(r[0]) for r in rows)
        return found

    def step(self, delivery_id: str, name: str) -> str | None:
        row = self._one("step", (delivery_id, name))
        return str(row[0]) if row else None

    def record(self, delivery_id: str, name: str, value: str) -> None:
        if self._one("record", (delivery_id, name, value, delivery_id, self.owner)) is None:
            raise LeaseLost(f"delivery {delivery_id} is not claimed by {self.owner}: step {name} not recorded")

    # --- keys, leases and fencing -----------------------------------------------------------

    def get(self, key: str) -> str | None:
        row = self._one("get", (key,))
        return str(row[0]) if row else None

    def put(self, key: str, value: str, fence: Fence | None = None) -> None:
        if fence is None:
            self._run(self.sql("put"), (key, value, time.time()))
        elif self._one("put_fenced", (key, value, time.time(), *self._fence(fence))) is None:
            raise LeaseLost(f"lease {fence.name} term {fence.token} is over: {key} not written")

    def delete(self, key: str, fence: Fence | None = None) -> None:
        if fence is None:
            self._run(self.sql("delete"), (key,))
        elif self._one("delete_fenced", (key, *self._fence(fence))) is None and not self.holds(fence):
            raise LeaseLost(f"lease {fence.name} term {fence.token} is over: {key} not deleted")

    def swap(self, key: str, expected: str | None, value: str) -> bool:
        if expected is None:
            return self._one("swap_new", (key, value, time.time())) is not None
        return self._one("swap", (value, time.time(), key, expected)) is not None

    def holds(self, fence: Fence) -> bool:
        """Whether ``fence``'s term of its lease still holds."""
        return self._one("lease_holds", self._fence(fence)) is not None

    def _fence(self, fence: Fence) -> tuple[object, ...]:
        return (fence.name, self.owner, fence.token)

    def keys(self, prefix: str) -> list[str]:
        rows, _ = self._run(self.sql("keys"), (prefix, prefix + "\uffff"))
        return [str(r[0]) for r in rows]

    def items(self, prefix: str) -> list[tuple[str, str]]:
        rows, _ = self._run(self.sql("items"), (prefix, prefix + "\uffff"))
        return [(str(r[0]), str(r[1])) for r in rows]

    def lease(self, name: str, seconds: float) -> int | None:
        row = self._one("lease", (name, self.owner, seconds))
        return int(row[0]) if row else None

    def unlease(self, name: str) -> None:
        self._run(self.sql("unlease"), (name, self.owner))

    # --- upkeep ------------------------------------------------------------------------

    def purge(self, before: float, prefixes: tuple[str, ...]) -> dict[str, int]:
        def work(run: Run) -> dict[str, int]:
            steps = run(self.sql("purge_steps"), (before,))[1]
            deliveries = run(self.sql("purge_deliveries"), (before,))[1]
            keys = sum(run(self.sql("purge_keys"), (p, p + "\uffff", before))[1] for p in prefixes)
            return {"deliveries": deliveries, "steps": steps, "keys": keys}

        return self._transaction(work)

    def stored(self) -> int:
        row = self._one("stored", ())
        return int(row[0]) if row else 0

    def writable(self) -> bool:
        try:
            self.put("readyz", str(time.time()))
        except Exception:  # any engine error: not ready
            return False
        return True


def _delivery(r: tuple[Any, ...]) -> Delivery:
    return Delivery(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], bytes(r[5]), float(r[6]), int(r[7]))


class KeyLocks:
    """One asyncio lock per key, for the replicas of one process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def __call__(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())


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
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token {int64} NOT NULL,
    expires {real} NOT NULL
);
"""
# After the columns that older SQLite databases gain below.
SUBJECT_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS deliveries_subject ON deliveries(subject)"
SQLITE_SCHEMA = SCHEMA.format(blob="BLOB", real="REAL", int64="INTEGER", key="TEXT")

# Columns added since a database was first written: (table, column, definition).
SQLITE_COLUMNS = (
    ("deliveries", "subject", "TEXT"),
    ("kv", "updated", "REAL NOT NULL DEFAULT 0"),
    ("deliveries", "claimed_by", "TEXT"),
    ("deliveries", "lease_until", "REAL"),
)


class StoreInUse(Exception):
    """Another process serves this SQLite state database."""


class SQLiteInbox(SQLInbox):
    """The embedded default store (WAL mode, synchronous commits), for one replica.

    One process owns the file (a lock on ``<file>.lock`` says so; a second process is
    refused), so whatever was claimed or leased before it opened belonged to a process
    that is gone: it is released at once, not after a lease time."""

    NOW = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, path: Path, owner: str = "local", lease_seconds: float = 30.0) -> None:
        self.path = path
        self.owner = owner
        self.lease_seconds = lease_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        # Delivery bodies and tokens' traces: owner-only, before SQLite opens the file (its
        # -wal and -shm files take the same mode).
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        path.chmod(0o600)
        self._owned = _own(path)
        self._lock = threading.Lock()
        self._locks = KeyLocks()
        self._db = self._connect()
        self._db.executescript(SQLITE_SCHEMA)
        self._migrate()
        self._db.execute("UPDATE deliveries SET claimed_by = NULL, lease_until = NULL WHERE state = 'pending'")
        self._db.execute("UPDATE leases SET expires = 0")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-writer")
        self._writer_db: sqlite3.Connection | None = None

    def _migrate(self) -> None:
        for table, column, definition in SQLITE_COLUMNS:
            if column not in {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        self._db.execute(SUBJECT_INDEX)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a delivery is on disk before GitHub is told it was accepted.
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _run(self, sql: str, args: tuple[object, ...] = (), *, writer: bool = False) -> Result:
        if writer:  # only ever on the writer thread: its own connection, no lock needed
            if self._writer_db is None:
                self._writer_db = self._connect()
            cursor = self._writer_db.execute(sql, args)
            return cursor.fetchall(), cursor.rowcount
        with self._lock:
            cursor = self._db.execute(sql, args)
            return cursor.fetchall(), cursor.rowcount

    def _transaction(self, work: Callable[[Run], T]) -> T:
        def run(sql: str, args: tuple[object, ...]) -> Result:
            cursor = self._db.execute(sql, args)
            return cursor.fetchall(), cursor.rowcount

        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(run)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return result

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        async with self._locks(key):
            yield

    def _close_writer(self) -> None:
        if self._writer_db is not None:
            self._writer_db.close()
            self._writer_db = None

    def close(self) -> None:
        self._writer.submit(self._close_writer).result()
        self._writer.shutdown(wait=True)
        with self._lock:
            self._db.close()
        self._owned.close()


def _own(path: Path) -> Any:
    """Hold ``<path>.lock`` for this process. A POSIX record lock: the kernel lets it go
    when the process ends, however it ends, and stores of one process share it (tests)."""
    handle = open(f"{path}.lock", "a")  # noqa: SIM115 - held open for the store's life
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StoreInUse(
            f"{path} is in use by another runners-bot process: SQLite serves one replica"
            " (set RUNNERS_BOT_DATABASE_URL to share PostgreSQL between replicas)"
        ) from None
    return handle
