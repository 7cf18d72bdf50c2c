"""Bounded cost per commenter and bounded storage: reply budgets and the retention period."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.commands import grammar, pipeline, render, reply_limits
from bot.runtime.housekeeping import Housekeeping
from bot.runtime.metrics import Metrics
from bot.store.api import Delivery
from bot.store.sqlite import SQLiteStore
from tests.support.app import TEAM_REPO, Harness
from tests.support.waiting import ManualClock
from tests.support.webhook_payloads import comment_payload, issue_opened_payload, rendered_form

pytestmark = pytest.mark.anyio


async def test_refusals_and_help_are_budgeted_per_user_then_one_notice_then_silence(harness: Harness) -> None:
    limit = harness.app.settings.reply_limit
    for n in range(limit + 3):
        await harness.send("issue_comment", comment_payload("/runners help", user="reader", comment_id=1000 + n))
        await harness.settle()
    replies = harness.fake.thread_comments(TEAM_REPO, 7)
    assert len(replies) == limit + 1, "the budget, then one notice"
    assert replies[-1]["body"].startswith("⏸️") and "until" in replies[-1]["body"]
    reactions = [r for r in harness.fake.reactions if r.get("response")]
    calls = harness.fake.count()
    await harness.send("issue_comment", comment_payload("/runners help", user="reader", comment_id=2000))
    await harness.settle()
    assert harness.fake.count() == calls, "a silenced user costs no GitHub call at all"
    assert len([r for r in harness.fake.reactions if r.get("response")]) == len(reactions)
    metrics = (await harness.client.get("/metrics")).text
    assert 'runners_bot_rate_limited_total{outcome="silenced"} 3.0' in metrics
    # Someone else is not affected.
    await harness.send("issue_comment", comment_payload("/runners help", user="triager", comment_id=3000))
    await harness.settle()
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == limit + 2


async def test_a_silenced_user_is_answered_again_when_the_window_ends(harness: Harness) -> None:
    """The budgets ran by the wall clock, which no test could move: their window and the
    notice's "until" are the services' injected clock's."""
    clock = ManualClock()
    clock.now = 1_767_776_400.0  # 2026-01-07 09:00 UTC
    harness.app.services.wall.time = clock.time
    limit = harness.app.settings.reply_limit
    for n in range(limit + 2):
        await harness.send("issue_comment", comment_payload("/runners help", user="reader", comment_id=1000 + n))
        await harness.settle()
    replies = harness.fake.thread_comments(TEAM_REPO, 7)
    assert len(replies) == limit + 1 and "until 09:10 UTC" in replies[-1]["body"]
    clock.advance(reply_limits.WINDOW - 1)
    await harness.send("issue_comment", comment_payload("/runners help", user="reader", comment_id=2000))
    await harness.settle()
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == limit + 1, "still silenced a second before the end"
    clock.advance(1)
    await harness.send("issue_comment", comment_payload("/runners help", user="reader", comment_id=2001))
    await harness.settle()
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == limit + 2, "a new window: answered"


async def test_invalid_onboarding_forms_spend_the_same_budget_as_comments(harness: Harness) -> None:
    """A form that changes nothing is answered from its author's budget, shared with their
    comments: once it is spent, one notice, then no reply and no reaction at all."""
    limit = harness.app.settings.reply_limit
    for n in range(limit - 2):
        await harness.send("issue_comment", comment_payload("/runners help", user="reader", comment_id=1000 + n))
        await harness.settle()
    invalid = rendered_form({"Repository": "bad name!"})
    for n in range(25):
        payload = issue_opened_payload(TEAM_REPO, 100 + n, invalid, user="reader")
        payload["issue"]["id"] = 9000 + n  # a new issue each time, not a replay of one
        await harness.send("issues", payload)
        await harness.settle()
    answered = [harness.fake.thread_comments(TEAM_REPO, 100 + n) for n in range(25)]
    assert [len(replies) for replies in answered] == [1, 1, 1] + [0] * 22, "two forms, then the notice"
    assert answered[2][0]["body"].startswith("⏸️")
    assert sorted(r["issue"] for r in harness.fake.reactions if "issue" in r) == [100, 101]
    budget = reply_limits.Budget.load(await harness.app.store.get("replies:reader"))
    assert budget is not None and budget.used == limit


async def test_comments_handled_at_once_each_spend_the_budget(harness: Harness) -> None:
    limit, workers = harness.app.settings.reply_limit, harness.app.settings.workers
    sent = [
        harness.send("issue_comment", comment_payload("/runners help", user="reader", comment_id=5000 + n))
        for n in range(3 * limit)
    ]
    for response in sent:
        assert (await response).status_code == 202
    await harness.settle()
    replies = harness.fake.thread_comments(TEAM_REPO, 7)
    notices = [r for r in replies if r["body"].startswith("⏸️")]
    budget = reply_limits.Budget.load(await harness.app.store.get("replies:reader"))
    assert budget is not None and budget.used == len(replies) - len(notices), "no answer went uncounted"
    assert len(notices) == 1, "one notice, whoever got there first"
    # Workers decide before they spend, so each may admit one comment more than the budget.
    assert limit <= len(replies) - 1 <= limit + workers


async def test_comments_that_change_something_spend_nothing(harness: Harness) -> None:
    limit = harness.app.settings.reply_limit
    sent = [  # a burst of real changes, queued together, is never told to wait
        harness.send("issue_comment", comment_payload(f"/runners scale max={12 + n}", comment_id=6000 + n))
        for n in range(limit + 2)
    ]
    for response in sent:
        assert (await response).status_code == 202
    await harness.settle()
    await harness.send("issue_comment", comment_payload("/runners help", comment_id=6100))
    await harness.settle()
    bodies = [c["body"] for c in harness.fake.thread_comments(TEAM_REPO, 7)]
    assert not [b for b in bodies if b.startswith("⏸️")], "no change was rate limited"
    assert "**runners-bot** changes this fleet" in bodies[-1], "and the help after them is answered"
    budget = reply_limits.Budget.load(await harness.app.store.get("replies:octocat"))
    assert budget is not None and budget.used == 1, "only the help spent a reply"


def test_budget_rules() -> None:
    decision, budget = reply_limits.admission(None, 0.0, 2)
    assert decision == "answer"
    budget = reply_limits.spend(reply_limits.spend(budget, 1.0), 2.0)
    assert reply_limits.admission(budget, 3.0, 2)[0] == "notice"
    noticed = reply_limits.admission(budget, 3.0, 2)[1]
    assert reply_limits.admission(noticed, 4.0, 2)[0] == "silent"
    assert reply_limits.admission(noticed, reply_limits.WINDOW + 1.0, 2)[0] == "answer", "a new window"
    assert reply_limits.admission(noticed, 5.0, 0)[0] == "answer", "0 turns the budget off"


async def test_old_finished_deliveries_are_forgotten(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite3")
    try:
        for name in ("old-done", "old-pending", "new-done"):
            await store.add(Delivery(name, "issue_comment", "created", "command", 1, b"{}", subject=name))
            await store.record(name, "reply:0", "1")
        await store.finish("old-done")
        await store.finish("new-done")
        await store.put("redelivered:abc", "1")
        await store.put("watch:keep", "1")
        metrics = Metrics()
        sweeper = Housekeeping(store, metrics, retention_days=14)
        assert await sweeper.sweep(now=time.time()) == {"deliveries": 0, "steps": 0, "keys": 0, "job hours": 0}
        removed = await sweeper.sweep(now=time.time() + 15 * 86400)
        assert removed == {"deliveries": 2, "steps": 2, "keys": 1, "job hours": 0}
        assert await store.seen(["old-done", "old-pending", "new-done"]) == {"old-pending"}, "unfinished work stays"
        assert await store.get("watch:keep") == "1" and await store.get("redelivered:abc") is None
        assert metrics.stored_deliveries._value.get() == 1
    finally:
        store.close()


async def test_a_database_from_before_subjects_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE deliveries (id TEXT PRIMARY KEY, event TEXT NOT NULL, action TEXT NOT NULL, kind TEXT NOT NULL,"
        " installation INTEGER, body BLOB NOT NULL, received_at REAL NOT NULL, state TEXT NOT NULL DEFAULT 'pending',"
        " attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL DEFAULT 0, error TEXT);"
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO kv VALUES ('watch:x', 'kept');"
    )
    db.close()
    store = SQLiteStore(path)
    try:
        assert await store.get("watch:x") == "kept"
        await store.put("replies:someone", "{}")
        assert await store.stored() == 0
    finally:
        store.close()


async def test_one_comment_plans_decides_and_renders_each_text_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pull request is the decision's: nothing is planned, decided or rendered again
    to build it (the app once rebuilt it through a replay of the commands)."""
    calls: Counter[str] = Counter()
    grammar.command_lines.cache_clear()  # another test may have sent the same comment
    for module, name in (
        (pipeline, "plan"), (pipeline, "decide"), (pipeline, "replay"), (render, "pull_request"),
        (render, "change_reply"), (grammar, "_markdown"),
    ):  # fmt: skip
        monkeypatch.setattr(module, name, _counted(calls, name, getattr(module, name)))
    await harness.send("issue_comment", comment_payload("/runners scale max=12", user="maintainer"))
    await harness.settle()
    assert (
        sum(map(len, harness.fake.pulls.values())) == 1
        and "/pull/" in harness.fake.thread_comments(TEAM_REPO, 7)[-1]["body"]
    )
    assert calls == {"plan": 1, "decide": 1, "pull_request": 1, "change_reply": 1, "_markdown": 1}, calls


def _counted(calls: Counter[str], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return function(*args, **kwargs)

    return counting
