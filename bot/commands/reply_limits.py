"""How many refusals and read-only answers one commenter gets: a budget per user. Pure.

A command comment that changes nothing (help, status, anything refused) spends one reply
from its author's budget of ``limit`` per ``window`` seconds. The comment after the
budget is spent gets one notice saying until when; later ones get nothing at all, not
even a reaction, until the window ends. Comments whose commands go through spend
nothing: the budget bounds what strangers and typos cost, not work.

A comment is admitted before anyone knows whether it will change something, and spends
only afterwards. Taking the reply at admission and giving it back after a change would
make the cap exact, but a burst of real changes, queued together, would then be told to
wait; so comments handled at the same moment may each be admitted, at most one per
worker over the cap. The spending itself never loses a count (``Store.swap``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

Admission = Literal["answer", "notice", "silent"]
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


def admission(budget: Budget | None, now: float, limit: int, window: float = WINDOW) -> tuple[Admission, Budget]:
    """What to do with a new command comment of a user, and their budget afterwards."""
    if budget is None or now - budget.started >= window:
        budget = Budget(now)
    if limit <= 0 or budget.used < limit:
        return "answer", budget
    if not budget.noticed:
        return "notice", Budget(budget.started, budget.used, noticed=True)
    return "silent", budget


def spend(budget: Budget | None, now: float, window: float = WINDOW) -> Budget:
    """The budget after a comment that changed nothing was answered."""
    if budget is None or now - budget.started >= window:
        return Budget(now, 1)
    return Budget(budget.started, budget.used + 1, budget.noticed)


def until(budget: Budget, window: float = WINDOW) -> float:
    return budget.started + window
