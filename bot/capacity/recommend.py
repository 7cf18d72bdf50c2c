"""The right-sizing method: a proposed ``minRunners``, ``maxRunners`` and warm windows
from a window of hourly evidence. Pure; docs/capacity.md explains it with examples.

1. **Demand of an hour** = the work its jobs brought (the run time of the jobs created in
   it / 3600: the runners that would have kept up with them, the offered load), or the
   runners busy at its peak when more. Busy runners alone hide the demand a set at its
   max turned away; the offered load does not (and, unlike busy plus queued, does not
   count a backlog that built up over several hours again in each of them).
2. **maxRunners**: when jobs waited at the max (hours at max > 0), the highest hourly
   demand with a quarter more for headroom, never below what is in force. Without any
   hour at max, a max more than twice the window's peak (with a week of evidence) is
   lowered to one and a half times the peak, and the reply says so. Otherwise unchanged.
3. **Warm runners**: for each hour of the week (UTC), the runners busy on average in the
   weeks it saw jobs (runner-seconds / 3600, rounded). An hour warms runners only when
   it recurs: the same hour of the day needs them on at least two days (a weekday
   peak, a nightly batch); a one-off burst warms nothing (ARC scales it, the max covers
   it). The level 95% of the week's hours need is ``minRunners``; hours above it, grouped by the
   days that share them into contiguous hours, become schedule windows.
4. **Limits**: ``minRunners`` and ``maxRunners`` stay within ``scaling.limits`` (the
   fleet's); a proposal capped by them says so; ``minRunners`` never exceeds ``maxRunners``.
5. **Material**: a pull request is worth opening when the max moves by at least one and
   a fifth, the min changes, or windows are proposed where none are declared.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.capacity.evidence import HOUR, Hour
from bot.fleet.schedules import DAYS

HEADROOM = 1.25
LOWER_BELOW = 2.0  # a max this many times the peak is lowered...
LOWERED_TO = 1.5  # ...to this many times it
RECURS_ON_DAYS = 2
FLOOR_QUANTILE = 0.05  # the level 95% of the week's hours need: a stray quiet hour does not drop it
WEEK_HOURS = 168
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


@dataclass(frozen=True)
class ProposedWindow:
    days: tuple[int, ...]  # 0 = Monday
    start: int  # hour of the day, UTC
    end: int  # exclusive; 24 = midnight
    min_runners: int

    @property
    def name(self) -> str:
        return f"warm-{'-'.join(DAYS[d] for d in self.days) if len(self.days) < 7 else 'daily'}-{self.start:02d}"

    def as_yaml(self) -> dict[str, object]:
        """The entry's ``schedules`` item (fleet/schedules.py reads it)."""
        return {
            "name": self.name,
            "days": [DAYS[d] for d in self.days],
            "from": f"{self.start:02d}:00",
            "to": "23:59" if self.end == 24 else f"{self.end:02d}:00",
            "timezone": "UTC",
            "minRunners": self.min_runners,
        }


@dataclass(frozen=True)
class Recommendation:
    min_runners: int
    max_runners: int
    windows: tuple[ProposedWindow, ...]
    reasons: tuple[str, ...] = field(default_factory=tuple)
    material: bool = False


def weekday_hour(epoch_hour: int) -> tuple[int, int]:
    """(weekday, hour of the day) of an epoch hour, UTC."""
    day = epoch_hour // 24
    return (day + EPOCH_WEEKDAY) % 7, epoch_hour % 24


def demand(row: Hour) -> int:
    return max(row.concurrency, math.ceil(row.run_seconds / HOUR - 1e-9))


def recommend(
    rows: Iterable[Hour],
    *,
    window_hours: int,
    min_runners: int,
    max_runners: int,
    hours_at_max: int,
    limits: tuple[int | None, int | None] = (None, None),
    has_windows: bool = False,
) -> Recommendation:
    """A proposal for a set whose ``min_runners``/``max_runners`` are in force, from
    ``rows`` (its hours in a window of ``window_hours``)."""
    hours = [row for row in rows if row.jobs or row.busy_seconds or row.peak]
    reasons: list[str] = []
    peak = max((row.concurrency for row in hours), default=0)
    top = max((demand(row) for row in hours), default=0)
    new_max = max_runners
    if hours_at_max and top > 0:
        new_max = max(max_runners, math.ceil(top * HEADROOM))
        if new_max > max_runners:
            reasons.append(
                f"jobs waited at the max in {hours_at_max} hours; the busiest hour needed {top} runners"
                f" (the run time of its jobs), so maxRunners {new_max} leaves a quarter for headroom"
            )
    elif window_hours >= WEEK_HOURS and peak and max_runners > LOWER_BELOW * peak:
        new_max = max(1, math.ceil(peak * LOWERED_TO))
        reasons.append(
            f"no job waited at the max and at most {peak} runners were busy at once in the window:"
            f" maxRunners {max_runners} → {new_max} (one and a half times the peak)"
        )
    warm = _warm_by_slot(hours)
    levels = sorted(warm.get(slot, 0) for slot in range(WEEK_HOURS))
    floor = levels[int(FLOOR_QUANTILE * WEEK_HOURS)]
    windows = _windows(warm, floor)
    new_min = floor
    if new_min < min_runners:
        idle = (
            "no runner was busy in most hours of the week" if floor == 0 else f"{floor} runners were busy in most hours"
        )
        reasons.append(
            f"minRunners {min_runners} → {new_min}: {idle}"
            + ("; the windows below keep runners warm when jobs come" if windows else "")
        )
    elif new_min > min_runners:
        reasons.append(
            f"minRunners {min_runners} → {new_min}: at least {new_min} runners were busy in nearly every hour (95%)"
        )
    low_cap, high_cap = limits
    if high_cap is not None and new_max > high_cap:
        reasons.append(f"maxRunners capped at {high_cap} by scaling.limits (the demand asked for {new_max})")
        new_max = high_cap
    if low_cap is not None and new_min > low_cap:
        reasons.append(f"minRunners capped at {low_cap} by scaling.limits")
        new_min = low_cap
    capped = tuple(
        ProposedWindow(
            w.days, w.start, w.end, min(w.min_runners, new_max, low_cap if low_cap is not None else w.min_runners)
        )
        for w in windows
    )
    new_min = min(new_min, new_max)
    material = changed(min_runners, max_runners, new_min, new_max) or (bool(capped) and not has_windows)
    return Recommendation(new_min, new_max, capped, tuple(reasons), material)


def changed(min_now: int, max_now: int, min_new: int, max_new: int) -> bool:
    """Whether min/max change materially: the max by at least one and a fifth, or the min."""
    return abs(max_new - max_now) >= max(1, math.ceil(max_now / 5)) or min_new != min_now


def _warm_by_slot(hours: list[Hour]) -> dict[int, int]:
    """Per hour of the week: the runners busy on average in the weeks it saw work."""
    seen: dict[int, list[float]] = {}
    for row in hours:
        day, hour = weekday_hour(row.hour)
        seen.setdefault(day * 24 + hour, []).append(row.busy_seconds / HOUR)
    return {slot: int(sum(values) / len(values) + 0.5) for slot, values in seen.items()}


def _windows(warm: dict[int, int], floor: int) -> tuple[ProposedWindow, ...]:
    """Hours of the day that need more than ``floor`` on at least two days, grouped."""
    by_hour: list[tuple[tuple[int, ...], int]] = []
    for hour in range(24):
        days = tuple(d for d in range(7) if warm.get(d * 24 + hour, 0) > floor)
        recurring = days if len(days) >= RECURS_ON_DAYS else ()
        level = max((warm.get(d * 24 + hour, 0) for d in recurring), default=0)
        by_hour.append((recurring, level))
    found: list[ProposedWindow] = []
    start = 0
    for hour in range(1, 25):
        days, level = by_hour[start]
        if hour == 24 or by_hour[hour][0] != days:
            if days:
                top = max(by_hour[h][1] for h in range(start, hour))
                found.append(ProposedWindow(days, start, hour, top))
            start = hour
    return tuple(found)
