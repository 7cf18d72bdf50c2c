"""The embedded default store: SQLite in WAL mode with synchronous commits, for one replica.

The queries are :class:`bot.store.sql.SQLStore`'s; this module gives them a connection,
a writer thread for new deliveries, SQLite's clock, in-process key locks, and the
migration of databases written by older versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bot.store.sql import SCHEMA, SUBJECT_INDEX, KeyLocks, Rows, Run, SQLStore, T

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


class SQLiteStore(SQLStore):
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
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
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

    def _run(self, sql: str, args: tuple[object, ...] = (), *, writer: bool = False) -> Rows:
        if writer:  # only ever on the writer thread: its own connection, no lock needed
            if self._writer_db is None:
                self._writer_db = self._connect()
            cursor = self._writer_db.execute(sql, args)
            return cursor.fetchall(), cursor.rowcount
        with self._lock:
            cursor = self._db.execute(sql, args)
            return cursor.fetchall(), cursor.rowcount

    def _transaction(self, work: Callable[[Run], T]) -> T:
        def run(sql: str, args: tuple[object, ...]) -> Rows:
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
