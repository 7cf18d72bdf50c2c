"""The shared store for more than one replica: PostgreSQL, through psycopg 3.

Chosen by ``RUNNERS_BOT_DATABASE_URL``. The queries are :class:`bot.store.sql.SQLStore`'s;
this module gives them a connection pool, PostgreSQL's clock for leases, ``FOR UPDATE
SKIP LOCKED`` for claiming, and session advisory locks for :meth:`PostgresStore.lock`.
An advisory lock lives as long as the connection that took it, so a replica that dies
lets its locks go with its connections; a claim or a lease it held runs out by time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import psycopg.conninfo
from psycopg_pool import ConnectionPool

from bot.store.sql import SCHEMA as TABLES
from bot.store.sql import SUBJECT_INDEX, KeyLocks, Rows, Run, SQLStore, T

# Byte order for keys ("C"), so that a prefix is a key range whatever the database's collation.
SCHEMA = TABLES.format(blob="BYTEA", real="DOUBLE PRECISION", int64="BIGINT", key='TEXT COLLATE "C"')

# Replicas starting together must not race to create the tables.
SCHEMA_LOCK = 0x72756E6E  # "runn"
LOCK_POLL = (0.02, 0.5)  # first and longest pause between tries of a taken advisory lock


class PostgresStore(SQLStore):
    """The store on a PostgreSQL database shared by every replica."""

    NOW = "extract(epoch from clock_timestamp())::double precision"
    SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"
    GREATEST = "GREATEST"
    PARAM = "%s"

    def __init__(self, url: str, owner: str, lease_seconds: float = 30.0, connections: int = 10) -> None:
        self.owner = owner
        self.lease_seconds = lease_seconds
        _check_reachable(url)
        self._pool = ConnectionPool(
            url,
            min_size=2,
            max_size=connections,
            kwargs={"autocommit": True, "application_name": f"runners-bot {owner}"[:63]},
            open=False,
        )
        self._pool.open(wait=True, timeout=30)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(SCHEMA)
            conn.execute(SUBJECT_INDEX)
        # Inserts from the webhook path run side by side: PostgreSQL commits them together.
        self._writer = ThreadPoolExecutor(max_workers=4, thread_name_prefix="store-writer")
        self._locks = KeyLocks()

    def _run(self, sql: str, args: tuple[object, ...] = (), *, writer: bool = False) -> Rows:
        with self._pool.connection() as conn:
            try:
                return _execute(conn, sql, args)
            except psycopg.OperationalError:
                if not conn.broken:
                    raise  # a timeout waiting for the pool, a statement the server refused
        # The database dropped this connection (a restart, a failover to a replica), and so
        # the pool's idle ones too: they are checked and replaced, and the statement runs
        # once more. Every statement here can run twice: each is keyed, conditional or an upsert.
        self._pool.check()
        with self._pool.connection() as conn:
            return _execute(conn, sql, args)

    def _transaction(self, work: Callable[[Run], T]) -> T:
        with self._pool.connection() as conn, conn.transaction():
            return work(lambda sql, args: _execute(conn, sql, args))

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """This process's tasks queue on an asyncio lock; one of them at a time holds the
        advisory lock on a connection kept out of the pool until it is released."""
        async with self._locks(key):
            conn = await asyncio.to_thread(self._pool.getconn)
            try:
                pause = LOCK_POLL[0]
                while not await asyncio.to_thread(_try_lock, conn, key):
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, LOCK_POLL[1])
                yield
            finally:
                # Also lets go of a lock that a try cancelled mid-way took after all, so the
                # connection goes back to the pool holding nothing.
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock_all()")
                self._pool.putconn(conn)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._pool.close()


class DatabaseUnavailable(Exception):
    """The database named by RUNNERS_BOT_DATABASE_URL cannot be used (the message says why)."""


def _check_reachable(url: str) -> None:
    """Fail at start with what is wrong (never the password), not a pool's timeout later."""
    try:
        where = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        raise DatabaseUnavailable("RUNNERS_BOT_DATABASE_URL does not parse as a PostgreSQL connection string") from None
    place = f"{where.get('host', 'localhost')}:{where.get('port', 5432)}/{where.get('dbname', '')}"
    try:
        with psycopg.connect(url, connect_timeout=10):
            return
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for secret in {url, str(where.get("password") or "")} - {""}:
            reason = reason.replace(secret, "***")  # libpq may quote what it was given
        raise DatabaseUnavailable(
            f"RUNNERS_BOT_DATABASE_URL: cannot connect to PostgreSQL at {place}: {reason}"
        ) from None


def _execute(conn: psycopg.Connection[Any], sql: str, args: tuple[object, ...]) -> Rows:
    cursor = conn.execute(sql, args, prepare=True)
    rows = cursor.fetchall() if cursor.description is not None else []
    return rows, cursor.rowcount


def _try_lock(conn: psycopg.Connection[Any], key: str) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
    return bool(row and row[0])
