"""Schedules and bursts: how many runners a scale set should have *now*. Pure.

An entry may declare ``schedules`` (weekly windows, each in its own IANA time zone, with
the ``minRunners`` (and maybe ``maxRunners``) to keep while it is open) and a ``burst``
allowance (the most a ``/runners burst`` may ask for, and for how long). The effective
values at an instant are: an active burst's, else an open window's, else the declared
ones. Windows are wall-clock times: a window from 08:00 to 18:00 Europe/Berlin is nine or
ten hours of UTC across the DST changes, as people expect; ``overnight: true`` says that
``to`` is on the next day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE_KEYS = ("name", "days", "from", "to", "timezone", "minRunners", "maxRunners", "overnight")
BURST_KEYS = ("minRunners", "maxRunners", "maxDuration")
MAX_BURST = timedelta(days=7)
MAX_SPAN_MINUTES = 366 * 24 * 60  # the longest duration read at all: anything longer is a mistake
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Window:
    """One schedule of an entry: a weekly window and the runners it asks for."""

    name: str
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    overnight: bool
    zone: ZoneInfo
    min_runners: int | None
    max_runners: int | None

    def occurrences(self, around: datetime) -> list[tuple[datetime, datetime]]:
        """Openings (UTC) from the day before ``around`` to a week after it."""
        local_day = around.astimezone(self.zone).date()
        found = []
        for offset in range(-1, 9):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                found.append((self._at(day, self.start), self._at(day + timedelta(days=int(self.overnight)), self.end)))
        return found

    def _at(self, day: date, clock: time) -> datetime:
        # Wall-clock time in the window's zone, as an instant (a time skipped by DST maps forward).
        return datetime.combine(day, clock, self.zone).astimezone(UTC)

    def open_until(self, now: datetime) -> datetime | None:
        """When this window closes, if it is open at ``now``."""
        for start, end in self.occurrences(now):
            if start <= now < end:
                return end
        return None


@dataclass(frozen=True)
class BurstAllowance:
    """``burst``: the most a ``/runners burst`` may ask for, and for how long."""

    min_runners: int
    max_runners: int | None
    max_duration: timedelta


@dataclass(frozen=True)
class ActiveBurst:
    """A burst in force (persisted by the app); ``started`` is None for one stored before
    it was recorded."""

    min_runners: int
    max_runners: int | None
    until: datetime
    started: datetime | None = None

    def within(self, allowance: BurstAllowance | None) -> ActiveBurst | None:
        """This burst cut to what ``allowance`` (the entry's ``burst:`` now) permits: lower
        bounds, an earlier end; None when the entry allows no burst any more. A burst
        ordered under a wider allowance never outlives a tightened one."""
        if allowance is None:
            return None
        low = min(self.min_runners, allowance.min_runners)
        high = self.max_runners
        if allowance.max_runners is not None:
            high = min(high, allowance.max_runners) if high is not None else allowance.max_runners
        until = self.until
        if self.started is not None:
            until = min(until, self.started + allowance.max_duration)
        return ActiveBurst(low, max(high, low) if high is not None else None, until, self.started)


@dataclass(frozen=True)
class Runners:
    """The runners a scale set should have now, why, and until when that holds."""

    min_runners: int
    max_runners: int
    source: str  # "declared", "schedule <name>", "burst"
    until: datetime | None = None


def windows(raw: Any) -> list[Window]:
    """The valid windows of an entry's ``schedules`` (invalid ones are left to :func:`problems`)."""
    found = []
    for item in raw if isinstance(raw, list) else []:
        window = _window(item)
        if window is not None:
            found.append(window)
    return found


def _window(item: Any) -> Window | None:
    if not isinstance(item, dict):
        return None
    days, start, end = item.get("days"), _clock(item.get("from")), _clock(item.get("to"))
    zone = _zone(item.get("timezone"))
    if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
        return None
    if start is None or end is None or zone is None:
        return None
    low, high = item.get("minRunners"), item.get("maxRunners")
    return Window(
        name=str(item.get("name", "")),
        days=frozenset(DAYS.index(d) for d in days),
        start=start,
        end=end,
        overnight=item.get("overnight") is True,
        zone=zone,
        min_runners=low if _is_count(low) else None,
        max_runners=high if _is_count(high) else None,
    )


def allowance(raw: Any) -> BurstAllowance | None:
    if not isinstance(raw, dict) or not _is_count(raw.get("minRunners")):
        return None
    duration = parse_duration(raw.get("maxDuration"))
    high = raw.get("maxRunners")
    return BurstAllowance(raw["minRunners"], high if _is_count(high) else None, duration or timedelta(hours=8))


def runners_at(
    declared_min: int, declared_max: int, schedule: list[Window], burst: ActiveBurst | None, now: datetime
) -> Runners:
    """The effective values at ``now``: an active burst's, else an open window's, else the declared ones."""
    if burst is not None and now < burst.until:
        high = burst.max_runners if burst.max_runners is not None else max(declared_max, burst.min_runners)
        return Runners(burst.min_runners, max(high, burst.min_runners), "burst", burst.until)
    for window in schedule:
        closes = window.open_until(now)
        if closes is not None:
            low = window.min_runners if window.min_runners is not None else declared_min
            high = window.max_runners if window.max_runners is not None else max(declared_max, low)
            return Runners(low, max(high, low), f"schedule {window.name}", closes)
    return Runners(declared_min, declared_max, "declared", next_change(schedule, now))


def next_change(schedule: list[Window], now: datetime) -> datetime | None:
    """The next instant a window opens or closes."""
    edges = [edge for w in schedule for occurrence in w.occurrences(now) for edge in occurrence if edge > now]
    return min(edges, default=None)


def parse_duration(value: Any) -> timedelta | None:
    """``8h``, ``90m``, ``1h30m``, ``2d``: a positive duration of at most 366 days, or None."""
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value.strip())
    if match is None or not any(match.groups()):
        return None
    days, hours, minutes = (int(g or 0) for g in match.groups())
    total = (days * 24 + hours) * 60 + minutes  # in minutes, before a timedelta can overflow
    if not 0 < total <= MAX_SPAN_MINUTES:
        return None
    return timedelta(minutes=total)


def _clock(value: Any) -> time | None:
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    return time(int(match.group(1)), int(match.group(2))) if match else None


def _zone(value: Any) -> ZoneInfo | None:
    if not isinstance(value, str) or not value or value.startswith(("/", ".")) or ".." in value:
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --- validation ------------------------------------------------------------------------------

# Two reference weeks, one in each half of the year, so that DST shifts are both seen.
_REFERENCE_WEEKS = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 7, 6, tzinfo=UTC))
_STEP = timedelta(minutes=15)


def problems(raw: Any, limits: tuple[int | None, int | None]) -> list[tuple[Any, str]]:
    """What is wrong with an entry's ``schedules`` and ``burst``: ``(where, message)`` pairs,
    ``where`` being the mapping (or key) the message is about, for its line."""
    found: list[tuple[Any, str]] = []
    schedules, burst = raw.get("schedules"), raw.get("burst")
    if schedules is not None:
        found += _schedule_problems(raw, schedules, limits)
    if burst is not None:
        found += _burst_problems(raw, burst, limits)
    return found


def _schedule_problems(raw: Any, schedules: Any, limits: tuple[int | None, int | None]) -> list[tuple[Any, str]]:
    if not isinstance(schedules, list):
        return [
            (("schedules", raw), "schedules must be a list of windows (name, days, from, to, timezone, minRunners)")
        ]
    found: list[tuple[Any, str]] = []
    names: set[str] = set()
    for item in schedules:
        if not isinstance(item, dict):
            found.append((("schedules", raw), "each schedule must be a mapping"))
            continue
        found += _window_problems(item, names, limits)
    valid = windows(schedules)
    for i, first in enumerate(valid):
        for second in valid[i + 1 :]:
            if (first.min_runners, first.max_runners) != (second.min_runners, second.max_runners) and _overlap(
                first, second
            ):
                found.append(
                    (("schedules", raw), f"schedules '{first.name}' and '{second.name}' overlap with different values: "
                     "make them disjoint, or give them the same minRunners and maxRunners")
                )  # fmt: skip
    return found


def _window_problems(
    item: dict[str, Any], names: set[str], limits: tuple[int | None, int | None]
) -> list[tuple[Any, str]]:
    name = item.get("name")
    label = f"schedule '{name}'" if isinstance(name, str) else "a schedule"
    found: list[tuple[Any, str]] = []
    unknown = [k for k in item if k not in SCHEDULE_KEYS]
    if unknown:
        found.append(
            ((unknown[0], item), f"unknown key '{unknown[0]}' in {label}: known keys: {', '.join(SCHEDULE_KEYS)}")
        )
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        found.append((("name", item), f"{label} needs a name: lower-case letters, digits and '-'"))
    elif name in names:
        found.append((("name", item), f"schedule name '{name}' is used twice in this entry"))
    names.add(str(name))
    days = item.get("days")
    if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
        found.append((("days", item), f"days of {label} must be a list of {', '.join(DAYS)}"))
    if _zone(item.get("timezone")) is None:
        found.append(
            (
                ("timezone", item),
                f"timezone of {label} must be an IANA time zone such as Europe/Berlin, not {item.get('timezone')!r}",
            )
        )
    found += _time_problems(item, label) + _count_problems(item, label, limits, required="minRunners")
    low, high = item.get("minRunners"), item.get("maxRunners")
    if _is_count(low) and _is_count(high) and low > high:
        found.append((("minRunners", item), f"minRunners ({low}) is above maxRunners ({high}) in {label}"))
    return found


def _time_problems(item: dict[str, Any], label: str) -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    for key in ("from", "to"):
        value = item.get(key)
        if isinstance(value, int):  # YAML 1.1 reads 08:00 unquoted as a number (480)
            found.append(((key, item), f'{key} of {label} must be written in quotes, e.g. {key}: "08:00"'))
        elif _clock(value) is None:
            found.append(((key, item), f'{key} of {label} must be a time "HH:MM" (00:00 to 23:59), not {value!r}'))
    start, end, overnight = _clock(item.get("from")), _clock(item.get("to")), item.get("overnight")
    if overnight is not None and not isinstance(overnight, bool):
        found.append((("overnight", item), f"overnight of {label} must be true or false"))
    elif start is not None and end is not None and overnight is True and not end < start:
        found.append((("overnight", item), f"{label} is overnight, so 'to' must be earlier than 'from'"))
    elif start is not None and end is not None and overnight is not True and not start < end:
        found.append(
            (("to", item), f"'from' must be before 'to' in {label}; for a window past midnight say overnight: true")
        )
    return found


def _burst_problems(raw: Any, burst: Any, limits: tuple[int | None, int | None]) -> list[tuple[Any, str]]:
    if not isinstance(burst, dict):
        return [(("burst", raw), "burst must be a mapping: minRunners, maxRunners, maxDuration")]
    found: list[tuple[Any, str]] = []
    unknown = [k for k in burst if k not in BURST_KEYS]
    if unknown:
        found.append(((unknown[0], burst), f"unknown key '{unknown[0]}' in burst: known keys: {', '.join(BURST_KEYS)}"))
    found += _count_problems(burst, "burst", limits, required="minRunners")
    low, high = burst.get("minRunners"), burst.get("maxRunners")
    if _is_count(low) and _is_count(high) and low > high:
        found.append((("minRunners", burst), f"minRunners ({low}) is above maxRunners ({high}) in burst"))
    duration = parse_duration(burst.get("maxDuration"))
    if duration is None or duration > MAX_BURST:
        found.append(
            (
                ("maxDuration", burst),
                f"maxDuration of burst must be a duration such as 8h, 90m or 2d, at most {MAX_BURST.days}d",
            )
        )
    return found


def _count_problems(
    item: dict[str, Any], label: str, limits: tuple[int | None, int | None], *, required: str
) -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    for key, cap in (("minRunners", limits[0]), ("maxRunners", limits[1])):
        value = item.get(key)
        if value is None:
            if key == required:
                found.append(((label, item), f"{label} needs {key}"))
        elif not _is_count(value):
            found.append(((key, item), f"{key} of {label} must be a whole number ≥ 0, not {value!r}"))
        elif cap is not None and int(value) > cap:
            found.append(
                (
                    (key, item),
                    f"{key} {value} of {label} is above the limit of {cap} (scaling.limits in values/base-config.yaml)",
                )
            )
    return found


def _overlap(first: Window, second: Window) -> bool:
    for week in _REFERENCE_WEEKS:
        instant = week
        while instant < week + timedelta(days=7):
            if first.open_until(instant) and second.open_until(instant):
                return True
            instant += _STEP
    return False
