"""One hierarchy of failures: every error an adapter raises is a kind of the runtime's
temporary or permanent error, and the dispatcher retries the temporary ones (a git ref
that moved, a cluster out of reach) with backoff instead of treating them as a crash."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from bot.clients import github, kube
from bot.runtime.errors import PermanentError, TemporaryError
from bot.runtime.metrics import Metrics
from bot.store.api import Delivery
from bot.store.sqlite import SQLiteStore
from bot.webhooks.dispatch import Dispatcher
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

LEASE, POLL = 30.0, 3600.0


def test_every_adapter_error_is_temporary_or_permanent() -> None:
    for module in (github, kube):
        raised = [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Exception) and cls.__module__ == module.__name__ and cls is not github.GitHubError
        ]
        assert raised, module.__name__
        for cls in raised:
            assert issubclass(cls, (TemporaryError, PermanentError)), cls
            assert not issubclass(cls, TemporaryError) or not issubclass(cls, PermanentError), cls
    assert issubclass(github.Conflict, TemporaryError) and issubclass(github.Conflict, github.GitHubError)
    assert issubclass(kube.NotDeployed, TemporaryError)
    assert issubclass(github.Unreadable, PermanentError)


async def test_a_moved_ref_or_an_unreachable_cluster_is_retried_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite3", "a", LEASE)
    failures: list[Exception] = [github.Conflict("main moved"), kube.KubeUnavailable("no route to the API server")]
    calls: list[str] = []
    waited: list[float] = []

    async def handler(delivery: Delivery) -> None:
        calls.append(delivery.id)
        if failures:
            raise failures.pop(0)

    async def sleep(seconds: float) -> None:
        if seconds in (POLL, LEASE / 3):  # the poll and the heartbeat: not needed here
            await asyncio.Event().wait()
        waited.append(seconds)  # a retry's time comes at once; its delay is kept

    dispatcher = Dispatcher(store, {"command": handler}, Metrics(), workers=1, lease=LEASE, poll=POLL, sleep=sleep)
    try:
        await dispatcher.start()
        await store.add(Delivery("d-1", "issue_comment", "created", "command", 1, b"{}"))
        dispatcher.submit("d-1")
        await until(lambda: len(calls) == 3, "the third attempt")
        await dispatcher.idle()
        assert await store.pending() == []
    finally:
        await dispatcher.stop()
        store.close()
    assert "delivery handler crashed" not in caplog.text
    # Each waited for its own kind: a conflict as soon as the backoff allows, the cluster
    # for its retry_after (a crash would have waited 5 s each time).
    assert waited == [2.0, 30.0]
