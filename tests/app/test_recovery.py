"""Missed-delivery recovery against the fake GitHub's delivery log."""

from __future__ import annotations

import pytest

from bot.store.api import Delivery
from bot.webhooks.recovery import to_redeliver
from tests.support.app import Harness
from tests.support.fakegithub import SPEC

pytestmark = pytest.mark.anyio


def item(delivery_id: int, guid: str, status_code: int, when: str = "2026-11-27T01:00:00Z") -> dict[str, object]:
    sample = SPEC.example("GET", "/app/hook/deliveries", "200")[0]
    ok = 200 <= status_code < 300
    return {
        **sample,
        "id": delivery_id,
        "guid": guid,
        "status_code": status_code,
        "status": "OK" if ok else f"Invalid HTTP Response: {status_code}",
        "delivered_at": when,
    }


def test_selection_rule() -> None:
    deliveries = [
        item(1, "ok", 202),
        item(2, "failed", 503, "2026-11-27T01:00:00Z"),
        item(3, "failed", 502, "2026-11-27T01:05:00Z"),
        item(4, "seen", 500),
        item(5, "healed", 500),
        item(6, "healed", 200),
        item(7, "asked", 500),
    ]
    assert to_redeliver(deliveries, seen={"seen"}, asked={"asked"}) == [("failed", 3)]


async def test_scan_redelivers_once_across_pages(harness: Harness) -> None:
    fake = harness.fake
    fake.deliveries = [item(i, f"ok-{i}", 202) for i in range(1, 240)]
    fake.deliveries += [item(500, "lost", 502), item(501, "known", 502)]
    await harness.app.store.add(Delivery("known", "issue_comment", "created", "command", 42, b"{}"))
    assert await harness.app.recovery.scan() == 1
    assert fake.redelivered == [500]
    assert fake.count("GET", "/app/hook/deliveries") == 3
    assert await harness.app.recovery.scan() == 0
    assert fake.redelivered == [500]
