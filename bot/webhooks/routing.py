"""Which webhook deliveries carry work for the app, and which feature handles each.

Each feature declares its routes as data (``ROUTES``: a kind, an event, an action and a
pure accept check), as bedevere's routers do, independent of a running app; :class:`Router`
assembles them, and the app binds each kind to its handler once it is built
(:meth:`Router.bind`). Everything no route accepts is
acknowledged and dropped at once, before any storage or GitHub call: other events and
actions, comments with no command, anything written by a bot. Also here: what a
delivery is about (:func:`subject`) and whether it is too old to be new (:func:`too_old`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.api import Delivery

Accept = Callable[[Mapping[str, Any]], str | None]
Handler = Callable[[Delivery], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """One kind of delivery a feature works on: GitHub's event and action, and a pure
    check of the payload (None when it is accepted, else why not). ``kind`` names it in
    the store and binds it to its handler, so a delivery accepted before a restart finds
    its handler again."""

    kind: str
    event: str
    action: str
    accepts: Accept


@dataclass(frozen=True)
class Verdict:
    """``work`` names the route for a delivery to keep, or is None with ``reason``."""

    work: str | None
    reason: str = ""


class Router:
    """The features' routes, assembled: which deliveries to keep, and who handles them."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)
        self._by_event: dict[str, dict[str, list[Route]]] = {}
        for route in self.routes:
            self._by_event.setdefault(route.event, {}).setdefault(route.action, []).append(route)
        kinds = [route.kind for route in self.routes]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"two routes share a kind: {sorted(kinds)}")

    @property
    def events(self) -> frozenset[str]:
        """Every event some route acts on."""
        return frozenset(self._by_event)

    def bind(self, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
        """``handlers`` by kind, checked against the routes: every route has its handler,
        and no handler is left without a route."""
        kinds = {route.kind for route in self.routes}
        if kinds != set(handlers):
            raise ValueError(
                f"routes without a handler: {sorted(kinds - set(handlers))}; "
                f"handlers without a route: {sorted(set(handlers) - kinds)}"
            )
        return dict(handlers)

    def classify(self, event: str, payload: Mapping[str, Any]) -> Verdict:
        """What to do with a delivery of ``event`` carrying ``payload``."""
        actions = self._by_event.get(event)
        if actions is None:
            return Verdict(None, f"{event} is not acted on")
        action = payload.get("action")
        routes = actions.get(action) if isinstance(action, str) else None
        if not routes:
            return Verdict(None, f"{event}.{action} is not acted on")
        reasons = []
        for route in routes:
            reason = route.accepts(payload)
            if reason is None:
                return Verdict(route.kind)
            reasons.append(reason)
        return Verdict(None, "; ".join(reasons))


def by_bot(actor: Any) -> bool:
    """Whether ``actor`` (a user object of a payload) is a bot, this app included: the app
    never answers itself, nor another bot."""
    return isinstance(actor, Mapping) and (actor.get("type") == "Bot" or str(actor.get("login", "")).endswith("[bot]"))


def by_app(thing: Mapping[str, Any]) -> bool:
    """Whether another GitHub App wrote ``thing`` (a comment or an issue) on a user's
    behalf: the user did not type it, so it is not obeyed as theirs."""
    return bool(thing.get("performed_via_github_app"))


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
