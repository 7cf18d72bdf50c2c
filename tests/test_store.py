"""The store's contract, run against both engines: SQLite (one replica) and a real
PostgreSQL server (replicas sharing it). Two store objects with different owners are two
replicas; a short lease time stands for a replica that stopped renewing."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store.inbox import Delivery, Fence, Inbox, LeaseLost, SQLiteInbox

pytestmark = pytest.mark.anyio

LEASE = 1.0  # seconds: long enough for a step on a loaded machine, short enough to wait out

Opener = Callable[..., Inbox]


@pytest.fixture(params=["sqlite", "postgresql"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one database, one per replica name."""
    opened: list[Inbox] = []
    if request.param == "sqlite":

        def open_store(owner: str, lease: float = LEASE) -> Inbox:
            store = SQLiteInbox(tmp_path / "state.sqlite3", owner, lease)
            opened.append(store)
            return store

    else:
        from bot.store.postgres import PostgresInbox

        url = request.getfixturevalue("database_url")

        def open_store(owner: str, lease: float = LEASE) -> Inbox:
            store = PostgresInbox(url, owner, lease)
            opened.append(store)
            return store

    yield open_store
    for store in opened:
        store.close()


def delivery(n: int, subject: str | None = None) -> Delivery:
    return Delivery(f"d-{n}", "issue_comment", "created", "command", 1, b'{"n": %d}' % n, subject=subject)


def two(replicas: Opener, lease: float = LEASE) -> tuple[Inbox, Inbox]:
    return replicas("a", lease), replicas("b", lease)


async def test_a_delivery_is_stored_once_by_id_and_by_subject(replicas: Opener) -> None:
    a, b = two(replicas)
    assert await a.add(delivery(1, subject="comment:1:created"))
    assert not await b.add(delivery(1)), "the same delivery id again"
    assert not await b.add(delivery(2, subject="comment:1:created")), "another delivery about the same comment"
    loaded = a.load("d-1")
    assert loaded is not None
    assert loaded == Delivery("d-1", "issue_comment", "created", "command", 1, b'{"n": 1}', loaded.received_at, 0)
    assert a.seen(["d-1", "d-2", "d-3"]) == {"d-1"}
    assert a.stored() == 1


async def test_the_accepting_replica_holds_the_claim_until_its_lease_runs_out(replicas: Opener) -> None:
    a, b = two(replicas)
    await a.add(delivery(1))
    assert b.claim("d-1") is None, "the accepting replica's claim holds"
    assert b.claim_ready(10) == []
    assert a.claim("d-1") is not None, "its own claim is kept"
    a.record("d-1", "reply:0", "17")
    time.sleep(LEASE * 1.5)
    taken = b.claim("d-1")
    assert taken is not None and taken.id == "d-1", "a replica that stopped renewing loses the delivery"
    with pytest.raises(LeaseLost):
        a.record("d-1", "reply:1", "18")
    with pytest.raises(LeaseLost):
        a.finish("d-1")
    assert a.renew(["d-1"]) == set()
    assert b.step("d-1", "reply:0") == "17", "the steps done before stay for the new owner"
    assert b.step("d-1", "reply:1") is None, "the old owner's late step was refused"
    b.finish("d-1")
    assert a.claim("d-1") is None and b.claim("d-1") is None, "a finished delivery is nobody's"


async def test_renewing_keeps_a_claim_past_its_first_lease(replicas: Opener) -> None:
    a, b = two(replicas)
    await a.add(delivery(1))
    for _ in range(3):
        time.sleep(LEASE / 2)
        assert a.renew(["d-1", "d-404"]) == {"d-1"}
    assert b.claim("d-1") is None


async def test_claim_ready_takes_due_unheld_work_each_once_across_replicas(replicas: Opener) -> None:
    a, b = two(replicas, lease=30)
    for n in range(40):
        await a.add(delivery(n))
    a.release([f"d-{n}" for n in range(40)])
    a.claim("d-0")
    a.retry_later("d-0", 60, "GitHub said 502")  # not due for a minute
    taken: dict[str, list[str]] = {"a": [], "b": []}

    def take(store: Inbox, name: str) -> None:
        while found := store.claim_ready(3):
            taken[name].extend(found)

    threads = [threading.Thread(target=take, args=(store, name)) for store, name in ((a, "a"), (b, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = taken["a"] + taken["b"]
    assert sorted(everything) == sorted(f"d-{n}" for n in range(1, 40)), "each due delivery claimed exactly once"
    assert b.claim(taken["a"][0]) is None, "a claim made by claim_ready holds"


async def test_a_retry_lets_the_claim_go_and_counts_attempts(replicas: Opener) -> None:
    a, b = two(replicas, lease=30)
    await a.add(delivery(1))
    assert a.retry_later("d-1", 0, "temporary") == 1
    with pytest.raises(LeaseLost):
        a.retry_later("d-1", 0, "not ours any more")
    again = b.claim("d-1")
    assert again is not None and again.attempts == 1, "any replica may run the retry"
    assert dict(b.pending())["d-1"] <= time.time()
    b.fail("d-1", "gave up")
    assert b.pending() == []


async def test_released_claims_are_free_at_once(replicas: Opener) -> None:
    a, b = two(replicas, lease=30)
    await a.add(delivery(1))
    await a.add(delivery(2))
    b.release(["d-1"])  # not b's to release
    assert b.claim("d-1") is None
    a.release(["d-1", "d-2"])
    assert sorted(b.claim_ready(10)) == ["d-1", "d-2"]


async def test_a_lease_has_one_holder_and_a_new_token_per_term(replicas: Opener) -> None:
    a, b = two(replicas)
    assert a.lease("singletons", LEASE) == 1
    assert b.lease("singletons", LEASE) is None
    assert a.lease("singletons", LEASE) == 1, "a renewal keeps the term"
    old = Fence("singletons", 1)
    a.put("watch:x", "by a", old)
    time.sleep(LEASE * 1.5)
    assert b.lease("singletons", LEASE) == 2, "a lapsed lease goes to the next replica, with a new token"
    assert a.lease("singletons", LEASE) is None
    with pytest.raises(LeaseLost):
        a.put("watch:x", "late write from the old term", old)
    with pytest.raises(LeaseLost):
        a.delete("watch:x", old)
    assert b.get("watch:x") == "by a"
    b.put("watch:x", "by b", Fence("singletons", 2))
    b.delete("watch:gone", Fence("singletons", 2))  # nothing to delete is not a lost lease
    b.unlease("singletons")
    assert a.lease("singletons", LEASE) == 3, "a lease let go is taken at once, tokens still rising"
    assert a.get("watch:x") == "by b"


async def test_keys_are_a_prefix_range_in_byte_order(replicas: Opener) -> None:
    a, _ = two(replicas)
    for key in ["watch:b", "watch:a", "watch:Z", "watch;", "watcher", "watch:é", "pull:x"]:
        a.put(key, "1")
    assert a.keys("watch:") == ["watch:Z", "watch:a", "watch:b", "watch:é"]
    a.delete("watch:a")
    assert a.get("watch:a") is None and a.get("watch:b") == "1"


async def test_purge_forgets_old_finished_work_only(replicas: Opener) -> None:
    a, _ = two(replicas, lease=30)
    for n in range(3):
        await a.add(delivery(n))
        a.record(f"d-{n}", "reply:0", "1")
    a.finish("d-0")
    a.fail("d-1", "no")
    a.put("replies:octocat", "{}")
    removed = a.purge(time.time() + 1, ("replies:",))
    assert removed == {"deliveries": 2, "steps": 2, "keys": 1}
    assert a.seen(["d-0", "d-1", "d-2"]) == {"d-2"}
    assert a.step("d-2", "reply:0") == "1"


async def test_the_lock_admits_one_holder_at_a_time(replicas: Opener, request: pytest.FixtureRequest) -> None:
    a, b = two(replicas)
    # SQLite serves one replica: its lock is that process's; PostgreSQL's spans replicas.
    holders = [a, a, a] + ([b, b, b] if "postgresql" in request.node.name else [a, a, a])
    inside, most = 0, 0

    async def hold(store: Inbox) -> None:
        nonlocal inside, most
        async with store.lock("pull:matchpoint-ai/runners-config:project-beta-api"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(hold(store) for store in holders))
    assert most == 1
    async with a.lock("k"), b.lock("other"):  # free again, and other keys never waited
        pass


async def test_a_dead_replicas_lock_is_free(database_url: str) -> None:
    from bot.store.postgres import PostgresInbox

    a, b = PostgresInbox(database_url, "a"), PostgresInbox(database_url, "b")
    try:
        entered = asyncio.Event()

        async def hold_forever() -> None:
            async with a.lock("k"):
                entered.set()
                await asyncio.sleep(3600)

        holder = asyncio.create_task(hold_forever())
        await entered.wait()
        waiting = asyncio.create_task(_enter(b, "k"))
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the lock is held"
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as admin:  # replica a dies: its sessions end
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'runners-bot a'"
            )
        await asyncio.wait_for(waiting, 5)
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
    finally:
        a.close()
        b.close()


async def _enter(store: Any, key: str) -> None:
    async with store.lock(key):
        pass


async def test_swap_counts_every_increment_of_concurrent_replicas(replicas: Opener) -> None:
    a, b = two(replicas)

    def add(store: Inbox, times: int) -> None:
        for _ in range(times):
            while True:
                seen = store.get("replies:octocat")
                if store.swap("replies:octocat", seen, str(int(seen or 0) + 1)):
                    break

    threads = [threading.Thread(target=add, args=(store, 50)) for store in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert a.get("replies:octocat") == "200", "no increment lost"
    assert not a.swap("replies:octocat", "199", "0") and not a.swap("replies:octocat", None, "0")


async def test_postgresql_connections_dropped_by_the_server_are_replaced(database_url: str) -> None:
    import psycopg

    from bot.store.postgres import PostgresInbox

    store = PostgresInbox(database_url, "a", lease_seconds=30)
    try:
        await store.add(delivery(1))
        with psycopg.connect(database_url, autocommit=True) as admin:  # a restart or failover, seen from here
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'runners-bot a'"
            )
        assert store.claim("d-1") is not None
        store.record("d-1", "reply:0", "1")
        assert await store.add(delivery(2))
        assert store.step("d-1", "reply:0") == "1"
    finally:
        store.close()
