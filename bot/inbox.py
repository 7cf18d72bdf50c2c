"""The durable inbox: accepted deliveries and the progress of their work, in embedded SQLite.

A delivery that carries work is written (and synced) before GitHub gets its 2xx, keyed
by ``X-GitHub-Delivery``, so a redelivery is recognised and a crash loses nothing.
Side effects record themselves as *steps* (``reply:0`` → the comment id), so work
resumed after a crash continues where it stopped instead of repeating itself.

:class:`Inbox` is the small interface the rest of the app uses; :class:`SQLiteInbox`
is the embedded default. Writes go through one thread, so the event loop never waits
for the disk.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    installation INTEGER,
    body BLOB NOT NULL,
    subject TEXT,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    error TEXT
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
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated REAL NOT NULL DEFAULT 0
);
"""


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
    subject: str | None = None  # what it is about (bot.events.subject): one delivery per subject


class Inbox(Protocol):
    """What the app needs from its state store."""

    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery durably; False when its id or its subject was seen before."""

    def pending(self) -> list[tuple[str, float]]:
        """Ids of unfinished deliveries with the time each may run again."""

    def load(self, delivery_id: str) -> Delivery | None: ...

    def finish(self, delivery_id: str) -> None: ...

    def fail(self, delivery_id: str, error: str) -> None: ...

    def retry_later(self, delivery_id: str, delay: float, error: str) -> int:
        """Reschedule; returns the number of attempts so far."""

    def seen(self, delivery_ids: list[str]) -> set[str]: ...

    def step(self, delivery_id: str, name: str) -> str | None: ...

    def record(self, delivery_id: str, name: str, value: str) -> None: ...

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str) -> list[str]: ...

    def writable(self) -> bool: ...

    def purge(self, before: float, prefixes: tuple[str, ...]) -> dict[str, int]:
        """Forget finished deliveries (and their steps) received before ``before``, and
        keys under ``prefixes`` last written before it; returns what went, by kind."""

    def stored(self) -> int:
        """How many deliveries are kept."""

    def close(self) -> None: ...


class SQLiteInbox:
    """The embedded default store (WAL mode, synchronous commits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Delivery bodies and tokens' traces: owner-only, before SQLite opens the file (its
        # -wal and -shm files take the same mode).
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        path.chmod(0o600)
        self._lock = threading.Lock()
        self._db = self._connect()
        self._db.executescript(SCHEMA)
        self._migrate()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-writer")
        self._writer_db: sqlite3.Connection | None = None

    def _migrate(self) -> None:
        """Columns added since a database was first written."""
        if "subject" not in {row[1] for row in self._db.execute("PRAGMA table_info(deliveries)")}:
            self._db.execute("ALTER TABLE deliveries ADD COLUMN subject TEXT")
        if "updated" not in {row[1] for row in self._db.execute("PRAGMA table_info(kv)")}:
            self._db.execute("ALTER TABLE kv ADD COLUMN updated REAL NOT NULL DEFAULT 0")
        self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS deliveries_subject ON deliveries(subject)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a delivery is on disk before GitHub is told it was accepted.
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _insert(self, delivery: Delivery) -> bool:
        if self._writer_db is None:
            self._writer_db = self._connect()
        cursor = self._writer_db.execute(
            "INSERT OR IGNORE INTO deliveries (id, event, action, kind, installation, body, subject, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                delivery.id,
                delivery.event,
                delivery.action,
                delivery.kind,
                delivery.installation,
                delivery.body,
                delivery.subject,
                time.time(),
            ),
        )
        return cursor.rowcount == 1

    async def add(self, delivery: Delivery) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._insert, delivery)

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def pending(self) -> list[tuple[str, float]]:
        rows = self._query("SELECT id, not_before FROM deliveries WHERE state = 'pending' ORDER BY received_at")
        return [(str(r[0]), float(r[1])) for r in rows]

    def load(self, delivery_id: str) -> Delivery | None:
        rows = self._query(
            "SELECT id, event, action, kind, installation, body, received_at, attempts FROM deliveries WHERE id = ?",
            (delivery_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Delivery(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], bytes(r[5]), float(r[6]), int(r[7]))

    def finish(self, delivery_id: str) -> None:
        self._query("UPDATE deliveries SET state = 'done', error = NULL WHERE id = ?", (delivery_id,))

    def fail(self, delivery_id: str, error: str) -> None:
        self._query("UPDATE deliveries SET state = 'failed', error = ? WHERE id = ?", (error[:2000], delivery_id))

    def retry_later(self, delivery_id: str, delay: float, error: str) -> int:
        self._query(
            "UPDATE deliveries SET attempts = attempts + 1, not_before = ?, error = ? WHERE id = ?",
            (time.time() + delay, error[:2000], delivery_id),
        )
        rows = self._query("SELECT attempts FROM deliveries WHERE id = ?", (delivery_id,))
        return int(rows[0][0]) if rows else 0

    def seen(self, delivery_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(delivery_ids), 500):
            chunk = delivery_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                str(r[0]) for r in self._query(f"SELECT id FROM deliveries WHERE id IN ({marks})", tuple(chunk))
            )
        return found

    def step(self, delivery_id: str, name: str) -> str | None:
        rows = self._query("SELECT value FROM steps WHERE delivery = ? AND name = ?", (delivery_id, name))
        return str(rows[0][0]) if rows else None

    def record(self, delivery_id: str, name: str, value: str) -> None:
        self._query("INSERT OR REPLACE INTO steps (delivery, name, value) VALUES (?, ?, ?)", (delivery_id, name, value))

    def get(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM kv WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def put(self, key: str, value: str) -> None:
        self._query("INSERT OR REPLACE INTO kv (key, value, updated) VALUES (?, ?, ?)", (key, value, time.time()))

    def delete(self, key: str) -> None:
        self._query("DELETE FROM kv WHERE key = ?", (key,))

    def keys(self, prefix: str) -> list[str]:
        rows = self._query("SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key", (prefix, prefix + "\uffff"))
        return [str(r[0]) for r in rows]

    def purge(self, before: float, prefixes: tuple[str, ...]) -> dict[str, int]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counts = self._purge(before, prefixes)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return counts

    def _purge(self, before: float, prefixes: tuple[str, ...]) -> dict[str, int]:
        finished = "state IN ('done', 'failed') AND received_at < ?"
        steps = self._db.execute(
            f"DELETE FROM steps WHERE delivery IN (SELECT id FROM deliveries WHERE {finished})", (before,)
        ).rowcount
        deliveries = self._db.execute(f"DELETE FROM deliveries WHERE {finished}", (before,)).rowcount
        keys = sum(
            self._db.execute(
                "DELETE FROM kv WHERE key >= ? AND key < ? AND updated < ?", (prefix, prefix + "\uffff", before)
            ).rowcount
            for prefix in prefixes
        )
        return {"deliveries": deliveries, "steps": steps, "keys": keys}

    def stored(self) -> int:
        return int(self._query("SELECT count(*) FROM deliveries")[0][0])

    def writable(self) -> bool:
        try:
            self.put("readyz", str(time.time()))
        except sqlite3.Error:
            return False
        return True

    def _close_writer(self) -> None:
        if self._writer_db is not None:
            self._writer_db.close()
            self._writer_db = None

    def close(self) -> None:
        self._writer.submit(self._close_writer).result()
        self._writer.shutdown(wait=True)
        with self._lock:
            self._db.close()
