"""The hidden markers the App finds its own comments and issue again by, formatted here
and nowhere else. Pure.

Each is an HTML comment, ``<!-- runners-bot:… -->``, at the end of a body
(:func:`bot.webhooks.threads.marked` puts it there, :func:`bot.reports.bodies.fit` keeps
it when it cuts). Comments already posted hold these exact strings: a format that
changed would find none of them, and the App would post every one anew.
"""

from __future__ import annotations

import hashlib


def _hidden(*parts: object) -> str:
    return f"<!-- runners-bot:{':'.join(str(part) for part in parts)} -->"


def reply_marker(delivery_id: str, index: int) -> str:
    """Reply ``index`` to a delivery, so a reply posted just before a crash is found again.

    It holds a hash of the delivery id, never the id: ``X-GitHub-Delivery`` is not covered
    by the signature, and an id holding ``-->`` would end the comment and render the
    rest as the App's own Markdown."""
    digest = hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return _hidden(digest, index)


def rollout_marker(watch_key: str, index: int) -> str:
    """A rollout report on the ``index``-th thread its watch (:func:`bot.store.keys.watch`) reports to."""
    return _hidden(watch_key, index)


DASHBOARD_MARKER = _hidden("dashboard")  # in the dashboard issue's body


def dashboard_page_marker(index: int) -> str:
    """Page ``index`` (from 1) of the dashboard's table, a comment on its issue."""
    return _hidden("dashboard", "page", index)
