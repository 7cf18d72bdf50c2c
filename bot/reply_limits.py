"""How many refusals and read-only answers one commenter gets: a budget per user. Pure.

A command comment that changes nothing (help, status, anything refused) spends one reply
from its author's budget of ``limit`` per ``window`` seconds. The comment after the
budget is spent gets one notice saying until when; later ones get nothing at all, not
even a reaction, until the window ends. Comments whose commands go through spend
nothing: the budget bounds what strangers and typos cost, not work.

A comment takes its reply from the budget when it is admitted (:func:`admit`), before
anyone knows what it will do, so that comments handled at once cannot all be admitted
on the last reply; one that turns out to change something gives it back (:func:`refund`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

Decision = Literal["answer", "notice", "silent"]
WINDOW = 600.0


@dataclass(frozen=True)
class Budget:
    """One user's use of the current window."""

    started: float
    used: int = 0
    noticed: bool = False

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, text: str | None) -> Budget | None:
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError):
            return None


def admit(budget: Budget | None, now: float, limit: int, window: float = WINDOW) -> tuple[Decision, Budget]:
    """What to do with a new command comment of a user, and their budget afterwards (an
    answer takes its reply now)."""
    if budget is None or now - budget.started >= window:
        budget = Budget(now)
    if budget.used < limit:
        return "answer", Budget(budget.started, budget.used + 1, budget.noticed)
    if not budget.noticed:
        return "notice", Budget(budget.started, budget.used, noticed=True)
    return "silent", budget


def refund(budget: Budget | None, taken_in: float) -> Budget | None:
    """The budget after an admitted comment changed something: its reply back, if it was
    taken in the window still running (``taken_in``: that window's start); else None."""
    if budget is None or budget.started != taken_in or budget.used == 0:
        return None
    return Budget(budget.started, budget.used - 1, budget.noticed)


def until(budget: Budget, window: float = WINDOW) -> float:
    return budget.started + window
