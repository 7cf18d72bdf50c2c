"""The store's contract, run against both engines: SQLite (one replica) and a real
PostgreSQL server (replicas sharing it). Two store objects with different owners are two
replicas; a short lease time stands for a replica that stopped renewing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store.api import Delivery, Fence, LeaseLost, Store
from bot.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio

LEASE = 1.0  # seconds: long enough for a step on a loaded machine, short enough to wait out

Opener = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one database, one per replica name."""
    opened: list[Store] = []
    if request.param == "sqlite":

        def open_store(owner: str, lease: float = LEASE) -> Store:
            store = SQLiteStore(tmp_path / "state.sqlite3", owner, lease)
            opened.append(store)
            return store

    else:
        from bot.store.postgres import PostgresStore

        url = request.getfixturevalue("database_url")

        def open_store(owner: str, lease: float = LEASE) -> Store:
            store = PostgresStore(url, owner, lease)
            opened.append(store)
            return store

    yield open_store
    for store in opened:
        store.close()


def delivery(n: int, subject: str | None = None) -> Delivery:
    return Delivery(f"d-{n}", "issue_comment", "created", "command", 1, b'{"n": %d}' % n, subject=subject)


def two(replicas: Opener, lease: float = LEASE) -> tuple[Store, Store]:
    return replicas("a", lease), replicas("b", lease)


async def test_a_delivery_is_stored_once_by_id_and_by_subject(replicas: Opener) -> None:
    a, b = two(replicas)
    assert await a.add(delivery(1, subject="comment:1:created"))
    assert not await b.add(delivery(1)), "the same delivery id again"
    assert not await b.add(delivery(2, subject="comment:1:created")), "another delivery about the same comment"
    loaded = await a.load("d-1")
    assert loaded is not None
    assert loaded == Delivery("d-1", "issue_comment", "created", "command", 1, b'{"n": 1}', loaded.received_at, 0)
    assert await a.seen(["d-1", "d-2", "d-3"]) == {"d-1"}
    assert await a.stored() == 1


async def test_the_accepting_replica_holds_the_claim_until_its_lease_runs_out(replicas: Opener) -> None:
    a, b = two(replicas)
    await a.add(delivery(1))
    assert await b.claim("d-1") is None, "the accepting replica's claim holds"
    assert await b.claim_ready(10) == []
    assert await a.claim("d-1") is not None, "its own claim is kept"
    await a.record("d-1", "reply:0", "17")
    await asyncio.sleep(LEASE * 1.5)
    taken = await b.claim("d-1")
    assert taken is not None and taken.id == "d-1", "a replica that stopped renewing loses the delivery"
    with pytest.raises(LeaseLost):
        await a.record("d-1", "reply:1", "18")
    with pytest.raises(LeaseLost):
        await a.finish("d-1")
    assert await a.renew(["d-1"]) == set()
    assert await b.step("d-1", "reply:0") == "17", "the steps done before stay for the new owner"
    assert await b.step("d-1", "reply:1") is None, "the old owner's late step was refused"
    await b.finish("d-1")
    assert await a.claim("d-1") is None and await b.claim("d-1") is None, "a finished delivery is nobody's"


async def test_renewing_keeps_a_claim_past_its_first_lease(replicas: Opener) -> None:
    a, b = two(replicas)
    await a.add(delivery(1))
    for _ in range(3):
        await asyncio.sleep(LEASE / 2)
        assert await a.renew(["d-1", "d-404"]) == {"d-1"}
    assert await b.claim("d-1") is None


async def test_claim_ready_takes_due_unheld_work_each_once_across_replicas(replicas: Opener) -> None:
    a, b = two(replicas, lease=30)
    for n in range(40):
        await a.add(delivery(n))
    await a.release([f"d-{n}" for n in range(40)])
    await a.claim("d-0")
    await a.retry_later("d-0", 60, "GitHub said 502")  # not due for a minute
    taken: dict[str, list[str]] = {"a": [], "b": []}

    async def take(store: Store, name: str) -> None:
        while found := await store.claim_ready(3):
            taken[name].extend(found)

    await asyncio.gather(take(a, "a"), take(b, "b"))
    everything = taken["a"] + taken["b"]
    assert sorted(everything) == sorted(f"d-{n}" for n in range(1, 40)), "each due delivery claimed exactly once"
    # Which replica takes what is the scheduler's choice (one may take everything): only
    # that each is taken once, and that the claim holds against the other, is promised.
    first = everything[0]
    other = b if first in taken["a"] else a
    assert await other.claim(first) is None, "a claim made by claim_ready holds"


async def test_a_retry_lets_the_claim_go_and_counts_attempts(replicas: Opener) -> None:
    a, b = two(replicas, lease=30)
    await a.add(delivery(1))
    assert await a.retry_later("d-1", 0, "temporary") == 1
    with pytest.raises(LeaseLost):
        await a.retry_later("d-1", 0, "not ours any more")
    again = await b.claim("d-1")
    assert again is not None and again.attempts == 1, "any replica may run the retry"
    assert dict(await b.pending())["d-1"] <= time.time()
    await b.fail("d-1", "gave up")
    assert await b.pending() == []


async def test_released_claims_are_free_at_once(replicas: Opener) -> None:
    a, b = two(replicas, lease=30)
    await a.add(delivery(1))
    await a.add(delivery(2))
    await b.release(["d-1"])  # not b's to release
    assert await b.claim("d-1") is None
    await a.release(["d-1", "d-2"])
    assert sorted(await b.claim_ready(10)) == ["d-1", "d-2"]


async def test_a_lease_has_one_holder_and_a_new_token_per_term(replicas: Opener) -> None:
    a, b = two(replicas)
    assert await a.lease("singletons", LEASE) == 1
    assert await b.lease("singletons", LEASE) is None
    assert await a.lease("singletons", LEASE) == 1, "a renewal keeps the term"
    old = Fence("singletons", 1)
    await a.put("watch:x", "by a", old)
    await asyncio.sleep(LEASE * 1.5)
    assert await b.lease("singletons", LEASE) == 2, "a lapsed lease goes to the next replica, with a new token"
    assert await a.lease("singletons", LEASE) is None
    with pytest.raises(LeaseLost):
        await a.put("watch:x", "late write from the old term", old)
    with pytest.raises(LeaseLost):
        await a.delete("watch:x", old)
    assert await b.get("watch:x") == "by a"
    await b.put("watch:x", "by b", Fence("singletons", 2))
    await b.delete("watch:gone", Fence("singletons", 2))  # nothing to delete is not a lost lease
    await b.unlease("singletons")
    assert await a.lease("singletons", LEASE) == 3, "a lease let go is taken at once, tokens still rising"
    assert await a.get("watch:x") == "by b"


async def test_keys_are_a_prefix_range_in_byte_order(replicas: Opener) -> None:
    a, _ = two(replicas)
    for key in ["watch:b", "watch:a", "watch:Z", "watch;", "watcher", "watch:é", "pull:x"]:
        await a.put(key, "1")
    assert await a.keys("watch:") == ["watch:Z", "watch:a", "watch:b", "watch:é"]
    await a.delete("watch:a")
    assert await a.get("watch:a") is None and await a.get("watch:b") == "1"


async def test_purge_forgets_old_finished_work_only(replicas: Opener) -> None:
    a, _ = two(replicas, lease=30)
    for n in range(3):
        await a.add(delivery(n))
        await a.record(f"d-{n}", "reply:0", "1")
    await a.finish("d-0")
    await a.fail("d-1", "no")
    await a.put("replies:octocat", "{}")
    removed = await a.purge(time.time() + 1, ("replies:",))
    assert removed == {"deliveries": 2, "steps": 2, "keys": 1}
    assert await a.seen(["d-0", "d-1", "d-2"]) == {"d-2"}
    assert await a.step("d-2", "reply:0") == "1"


async def test_the_lock_admits_one_holder_at_a_time(replicas: Opener, request: pytest.FixtureRequest) -> None:
    a, b = two(replicas)
    # SQLite serves one replica: its lock is that process's; PostgreSQL's spans replicas.
    holders = [a, a, a] + ([b, b, b] if "postgresql" in request.node.name else [a, a, a])
    inside, most = 0, 0

    async def hold(store: Store) -> None:
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


async def test_the_process_keeps_a_lock_only_for_keys_in_use() -> None:
    """Its bound: the keys held or waited for now, not every key ever locked."""
    from bot.store.sql import KeyLocks

    locks, order = KeyLocks(), []

    async def hold(key: str, n: int) -> None:
        async with locks(key):
            order.append(n)
            await asyncio.sleep(0)
            order.append(n)

    for n in range(1000):
        async with locks(f"pull:{n}"):
            assert len(locks) == 1
    await asyncio.gather(*(hold("one key", n) for n in range(3)))
    assert order == [0, 0, 1, 1, 2, 2], "one holder at a time"
    assert len(locks) == 0


async def test_a_dead_replicas_lock_is_free(database_url: str) -> None:
    from bot.store.postgres import PostgresStore

    a, b = PostgresStore(database_url, "a"), PostgresStore(database_url, "b")
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

    async def add(store: Store, times: int) -> None:
        for _ in range(times):
            while True:
                seen = await store.get("replies:octocat")
                if await store.swap("replies:octocat", seen, str(int(seen or 0) + 1)):
                    break

    await asyncio.gather(*(add(store, 50) for store in (a, b, a, b)))
    assert await a.get("replies:octocat") == "200", "no increment lost"
    assert not await a.swap("replies:octocat", "199", "0") and not await a.swap("replies:octocat", None, "0")


async def test_postgresql_connections_dropped_by_the_server_are_replaced(database_url: str) -> None:
    import psycopg

    from bot.store.postgres import PostgresStore

    store = PostgresStore(database_url, "a", lease_seconds=30)
    try:
        await store.add(delivery(1))
        with psycopg.connect(database_url, autocommit=True) as admin:  # a restart or failover, seen from here
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'runners-bot a'"
            )
        assert await store.claim("d-1") is not None
        await store.record("d-1", "reply:0", "1")
        assert await store.add(delivery(2))
        assert await store.step("d-1", "reply:0") == "1"
    finally:
        store.close()


async def test_a_job_delivery_is_counted_once_across_replicas_and_redeliveries(replicas: Opener) -> None:
    from bot.capacity.evidence import Tally

    a, b = two(replicas)
    tally = Tally(100, jobs=1, wait_bucket=3, wait=18.0, run_seconds=60.0, busy=((100, 60.0),), running=-1)
    assert await a.add(Delivery("job-1", "workflow_job", "completed", "job_completed", 1, b"{}"))
    with pytest.raises(LeaseLost):
        await b.count_job("job-1", "k", tally)  # a's claim holds
    assert await a.count_job("job-1", "k", tally)
    assert not await a.count_job("job-1", "k", tally), "the same delivery, handled again after a crash"
    started = Tally(100, running=1, running_hour=100)
    for n in (2, 3):
        assert await a.add(Delivery(f"job-{n}", "workflow_job", "in_progress", "job_in_progress", 1, b"{}"))
        assert await a.count_job(f"job-{n}", "k", started)
    hours = await b.job_hours(["k"], 100)
    [hour] = hours["k"]
    assert (hour.jobs, hour.waits, hour.wait_max, hour.busy_seconds, hour.peak) == (1, {3: 1}, 18.0, 60.0, 2)
    assert await b.job_hours(["other"], 0) == {} and set(await b.job_hours(None, 0)) == {"k"}
    assert await a.forget_jobs(101) == 2 and await a.job_hours(None, 0) == {}


async def test_job_evidence_of_thousands_of_sets_comes_back_whole_across_slices(replicas: Opener) -> None:
    """The dashboard asks the evidence of every set at once; the keys go to the database in
    slices (SQLite binds at most 32,766 parameters a statement). Sets with evidence on both
    sides of every slice's edge, and in the last, short slice, each come back with their own
    hours and wait buckets; sets without any are absent."""
    from bot.capacity.evidence import Tally

    store = replicas("a")
    keys = [f"arc-set-{n:05d}" for n in range(2600)]
    counted = {keys[n]: n for n in (0, 1, 999, 1000, 1001, 1999, 2000, 2001, 2599)}
    for key, n in counted.items():
        tally = Tally(100 + n % 3, jobs=1, wait_bucket=n % 7, wait=float(n), run_seconds=60.0)
        assert await store.add(Delivery(f"job-{n}", "workflow_job", "completed", "job_completed", 1, b"{}"))
        assert await store.count_job(f"job-{n}", key, tally)
    found = await store.job_hours(keys, 100)
    assert set(found) == set(counted)
    for key, n in counted.items():
        [hour] = found[key]
        assert (hour.hour, hour.jobs, hour.waits, hour.wait_max) == (100 + n % 3, 1, {n % 7: 1}, float(n)), key
