"""A rollout watch is stored as JSON and read back, in its own shape and in the one
stored before the report's comments were kept apart from the threads."""

from __future__ import annotations

import json

from bot.features.rollout_watch import RolloutWatch
from bot.reports.rollout import Expected
from bot.webhooks.threads import Issue


def _watch() -> RolloutWatch:
    expected = Expected("arc-api-runners", "arc-runners", "a" * 40, 0, 5)
    return RolloutWatch("watch:1", 42, expected, 1.0, "title", [Issue("org", "config", 7), Issue("team", "api", 3)])


def test_a_watch_reads_back_as_it_was_written() -> None:
    watch = _watch()
    watch.comments[1] = 99
    again = RolloutWatch.load(watch.dump())
    assert again == watch
    assert again.threads[1].full_name == "team/api" and again.comments == [None, 99]


def test_a_watch_stored_with_threads_as_lists_reads_into_issues_and_comments() -> None:
    data = json.loads(_watch().dump())
    del data["comments"]
    data["threads"] = [["org", "config", 7, 11], ["team", "api", 3, None]]
    again = RolloutWatch.load(json.dumps(data))
    assert again.threads == [Issue("org", "config", 7), Issue("team", "api", 3)]
    assert again.comments == [11, None]
