"""The App's hidden markers (bot.reports.markers), byte for byte as the comments and the
issue already posted hold them: a marker that changed would find none of them again."""

from __future__ import annotations

from bot.reports import markers
from bot.store import keys

DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"  # GitHub's example X-GitHub-Delivery


def test_a_reply_is_marked_by_a_hash_of_its_delivery_and_its_index() -> None:
    assert markers.reply_marker(DELIVERY, 0) == "<!-- runners-bot:9514e6751b793abb198c32e333740b61:0 -->"
    assert markers.reply_marker(DELIVERY, 3) == "<!-- runners-bot:9514e6751b793abb198c32e333740b61:3 -->"


def test_a_delivery_id_that_is_not_text_still_makes_a_marker() -> None:
    # X-GitHub-Delivery is unsigned: a lone surrogate reaches the hash as it came.
    assert markers.reply_marker("\udc80-->", 0) == "<!-- runners-bot:24ba878b29718274c67c6926a99cbef8:0 -->"


def test_a_rollout_report_is_marked_by_its_watch_and_thread() -> None:
    key = keys.watch("app-runners", "a" * 40)
    assert markers.rollout_marker(key, 1) == f"<!-- runners-bot:watch:app-runners@{'a' * 40}:1 -->"


def test_the_dashboard_issue_and_its_pages_are_marked() -> None:
    assert markers.DASHBOARD_MARKER == "<!-- runners-bot:dashboard -->"
    assert markers.dashboard_page_marker(2) == "<!-- runners-bot:dashboard:page:2 -->"
