"""Which webhook deliveries carry work for the app. Pure.

Everything else is acknowledged and dropped at once, before any storage or GitHub call:
other events and actions, comments with no command, and anything written by a bot
(this app included), so the app never answers itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.commands.fleet_view import MARKER
from bot.commands.grammar import has_command
from bot.fleet import names

ONBOARDING_LABEL = "runners-onboarding"


@dataclass(frozen=True)
class Verdict:
    """``work`` names the handler for a delivery to keep, or is None with ``reason``."""

    work: str | None
    reason: str = ""


def _is_bot(actor: Any) -> bool:
    return isinstance(actor, Mapping) and (actor.get("type") == "Bot" or str(actor.get("login", "")).endswith("[bot]"))


def _touches_dashboard(payload: Mapping[str, Any]) -> bool:
    """The marker in the body now or before the edit (an edit may have removed it)."""
    issue, changes = payload.get("issue"), payload.get("changes")
    now = issue.get("body") if isinstance(issue, Mapping) else None
    before = (
        changes.get("body", {}).get("from")
        if isinstance(changes, Mapping) and isinstance(changes.get("body"), Mapping)
        else None
    )
    return any(isinstance(text, str) and MARKER in text for text in (now, before))


def classify(event: str, payload: Mapping[str, Any]) -> Verdict:
    """What to do with a delivery of ``event`` carrying ``payload``."""
    action = payload.get("action")
    if event == "issue_comment":
        if action != "created":
            return Verdict(None, f"issue_comment.{action} is not acted on")
        comment = payload.get("comment")
        if not isinstance(comment, Mapping):
            return Verdict(None, "no comment in payload")
        if _is_bot(comment.get("user")) or _is_bot(payload.get("sender")):
            return Verdict(None, "comment by a bot")
        if comment.get("performed_via_github_app"):
            # Another App wrote it on a user's behalf: the user did not type this command.
            return Verdict(None, "comment posted through a GitHub App")
        body = comment.get("body")
        if not isinstance(body, str) or not has_command(body):
            return Verdict(None, "no /runners command")
        return Verdict("command")
    if event == "issues":
        issue = payload.get("issue")
        labels = issue.get("labels", []) if isinstance(issue, Mapping) else []
        labelled = any(isinstance(label, Mapping) and label.get("name") == ONBOARDING_LABEL for label in labels)
        if action == "opened" and labelled and not _is_bot(payload.get("sender")):
            return Verdict("onboarding")
        if action == "edited" and _touches_dashboard(payload) and not _is_bot(payload.get("sender")):
            return Verdict("dashboard")  # someone ticked "Refresh now", or edited the dashboard
        return Verdict(None, "not an onboarding request")
    if event == "pull_request":
        pull = payload.get("pull_request")
        head = pull.get("head", {}) if isinstance(pull, Mapping) else {}
        ref = head.get("ref", "") if isinstance(head, Mapping) else ""
        if action == "closed" and isinstance(ref, str) and ref.startswith(names.BRANCH_PREFIX):
            return Verdict("bot_pull_closed")
        return Verdict(None, "not a runners-bot pull request closing")
    return Verdict(None, f"{event} is not acted on")


def subject(event: str, payload: Mapping[str, Any]) -> str | None:
    """What a delivery is about, for deduplication: the signature covers the body, not
    ``X-GitHub-Delivery``, so a captured payload replayed under a new delivery id is the
    same comment, issue or pull request event, and is not acted on twice. An edit or a
    close can happen again to the same issue or pull request (a second "Refresh now", a
    pull request closed, reopened and merged): for those the subject holds what changed
    (when, the body's hash, merged or not, the merge commit), so each new one counts."""
    key = {"issue_comment": "comment", "issues": "issue", "pull_request": "pull_request"}.get(event)
    thing = payload.get(key) if key else None
    if not isinstance(thing, Mapping) or not isinstance(thing.get("id"), int):
        return None
    action = payload.get("action")
    found = f"{event}:{thing['id']}:{action}"
    if action == "edited":
        body = thing.get("body") if isinstance(thing.get("body"), str) else ""
        return f"{found}:{thing.get('updated_at')}:{hashlib.sha256(str(body).encode()).hexdigest()[:16]}"
    if action == "closed":
        return f"{found}:{thing.get('updated_at')}:{thing.get('merged')}:{thing.get('merge_commit_sha')}"
    return found


# The moment each kind of delivery happened, as GitHub stamps it in the payload.
_WHEN = {"issue_comment": ("comment", "created_at"), "issues": ("issue", "updated_at"),
         "pull_request": ("pull_request", "updated_at")}  # fmt: skip
REPLAY_MARGIN = 86_400.0  # a day short of the retention: a delivery is still remembered then


def too_old(event: str, payload: Mapping[str, Any], now: float, retention: float) -> bool:
    """Whether the event happened longer ago than the app remembers deliveries (less a
    margin): a signed payload captured earlier and replayed after its record was purged
    would otherwise count as new. An event without a readable time is not judged here."""
    where, field = _WHEN.get(event, ("", ""))
    thing = payload.get(where) if where else None
    stamp = thing.get(field) if isinstance(thing, Mapping) else None
    if not isinstance(stamp, str):
        return False
    try:
        happened = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True  # a stamp GitHub never writes: not a real delivery
    return now - happened > retention - REPLAY_MARGIN
