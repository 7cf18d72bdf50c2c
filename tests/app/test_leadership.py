"""One owner for the singletons, on a real PostgreSQL shared by two replicas (in-process
here: two stores, two Leadership loops): one leads at a time, a stalled leader stops its
jobs before another may start them, its late writes are refused by their fence, a
leader that shuts down hands over at once (its deliveries too), and a signal reaches the
leader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.runtime.leadership import Leadership
from bot.runtime.metrics import Metrics
from bot.store.api import LeaseLost
from bot.store.postgres import PostgresStore
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

SECONDS = 3.0  # long enough that a loaded machine still stops the old leader in its margin (0.6 s)


class Job:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    async def start(self) -> None:
        self.log.append(f"{self.name} start")

    async def stop(self) -> None:
        self.log.append(f"{self.name} stop")


@pytest.fixture
async def pair(database_url: str) -> AsyncIterator[tuple[Leadership, Leadership, list[str]]]:
    log: list[str] = []
    replicas = []
    for name in ("a", "b"):
        leadership = Leadership(PostgresStore(database_url, name), Metrics(), seconds=SECONDS, tick=0.05)
        leadership.jobs = [Job(log, name)]
        replicas.append(leadership)
    yield replicas[0], replicas[1], log
    for leadership in replicas:
        await leadership.stop()
        leadership.store.close()


async def test_one_leads_and_a_stalled_leader_stops_before_the_next_starts(
    pair: tuple[Leadership, Leadership, list[str]],
) -> None:
    a, b, log = pair
    await a.start()
    await b.start()
    assert a.leading and not b.leading and log == ["a start"]
    old = a.fence()
    assert old is not None
    await a.store.put("watch:x", "a's", old)

    stalled = asyncio.Event()
    renew = a.store.lease

    async def stall(name: str, seconds: float) -> int | None:
        if stalled.is_set():
            await asyncio.sleep(SECONDS * 2)  # the database does not answer in time
        return await renew(name, seconds)

    a.store.lease = stall  # type: ignore[method-assign]
    stalled.set()
    await until(lambda: b.leading)
    assert log.index("a stop") < log.index("b start"), "the old owner stopped before the new one began"
    assert not a.leading
    with pytest.raises(LeaseLost):
        a.fence()  # a fenced write needs a term: no unchecked write in its place
    new = b.fence()
    assert new is not None and new.token > old.token
    with pytest.raises(LeaseLost):
        await a.store.put("watch:x", "a's late write", old)
    await b.store.put("watch:x", "b's", new)
    assert await b.store.get("watch:x") == "b's"


async def test_a_leader_that_shuts_down_hands_over_at_once(pair: tuple[Leadership, Leadership, list[str]]) -> None:
    a, b, log = pair
    a.seconds = 600.0  # a's term outlasts the wait below: b can lead in time only if a lets it go
    await a.start()
    await b.start()
    await a.stop()
    await until(lambda: b.leading, "b to lead before a's lease ran out: a let it go as it shut down")
    assert log == ["a start", "a stop", "b start"]


async def test_a_signal_from_another_replica_reaches_the_leader(
    pair: tuple[Leadership, Leadership, list[str]],
) -> None:
    a, b, _ = pair
    received: list[str] = []
    a.signals = {"schedules": lambda: received.append("on a")}
    b.signals = {"schedules": lambda: received.append("on b")}
    await a.start()
    await b.start()
    b.signal("schedules")  # b does not lead: left in the store for a
    await until(lambda: received == ["on a"])
    a.signal("schedules")  # the leader runs it at once
    assert received == ["on a", "on a"]


async def test_a_stopping_replica_hands_its_deliveries_over_at_once(database_url: str) -> None:
    from bot.store.api import Delivery
    from bot.webhooks.dispatch import Dispatcher

    a, b = PostgresStore(database_url, "a", lease_seconds=30), PostgresStore(database_url, "b", lease_seconds=30)
    started = asyncio.Event()

    async def slow(_: Delivery) -> None:
        started.set()
        await asyncio.sleep(3600)

    dispatcher = Dispatcher(a, {"command": slow}, Metrics(), workers=1, lease=30, poll=60)
    await dispatcher.start()
    try:
        for n in (1, 2):
            await a.add(Delivery(f"d-{n}", "issue_comment", "created", "command", 1, b"{}"))
            dispatcher.submit(f"d-{n}")
        await started.wait()  # d-1 runs, d-2 waits in the queue: both claimed by a for 30 s
        assert await b.claim_ready(10) == []
        await dispatcher.stop()
        assert sorted(await b.claim_ready(10)) == ["d-1", "d-2"], "the running one and the queued one, at once"
    finally:
        a.close()
        b.close()
