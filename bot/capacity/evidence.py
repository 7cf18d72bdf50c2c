"""A scale set's evidence over a window, from hourly aggregates. Pure.

Each delivery adds a :class:`Tally` to its set's hour (the store adds it exactly once);
:func:`summarise` turns a window of :class:`Hour` rows into what ``status`` shows: jobs,
queue wait p50/p95/max, hours at ``maxRunners`` (jobs waited longer than
:data:`WAIT_TARGET` while as many runners as the max allowed were busy), idle
runner-hours (warm runners, from ``minRunners`` and the schedules in force, that ran no
job) and busy runner-hours (for the cost).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.capacity import histogram
from bot.capacity.jobs import Job
from bot.fleet.config import Effective
from bot.fleet.schedules import runners_at

HOUR = 3600
WAIT_TARGET = 60.0  # a job waiting longer than this waited for capacity, not for a pod to start
MAX_RUN_HOURS = 72  # GitHub cancels a self-hosted job after 5 days; busy time past 72 h is not spread


@dataclass(frozen=True)
class Tally:
    """What one delivery adds to its set's aggregates."""

    hour: int  # epoch hour the job was created (its demand's hour)
    jobs: int = 0
    wait_bucket: int | None = None
    wait: float = 0.0
    run_seconds: float = 0.0
    busy: tuple[tuple[int, float], ...] = ()  # (epoch hour, runner-seconds) the job ran
    waited: int = 0  # 1 when the job waited longer than WAIT_TARGET
    running: int = 0  # +1 a runner took a job, -1 it finished: the set's concurrency
    running_hour: int = 0


def tally(job: Job) -> Tally | None:
    """What ``job``'s delivery adds: a completed job its count, wait and run time; a job
    taken by a runner one more running, a completed one one fewer (for peak
    concurrency); None for what adds nothing (queued, waiting)."""
    hour = int(job.created // HOUR)
    if job.action == "in_progress" and job.started is not None:
        return Tally(hour, running=1, running_hour=int(job.started // HOUR))
    if job.action != "completed":
        return None
    wait = job.wait
    started, completed = job.started, job.completed
    ran = job.ran and started is not None and completed is not None and completed >= started
    return Tally(
        hour,
        jobs=1,
        wait_bucket=histogram.bucket_of(wait) if wait is not None else None,
        wait=wait or 0.0,
        waited=int(wait is not None and wait > WAIT_TARGET),
        run_seconds=(completed - started) if ran and started is not None and completed is not None else 0.0,
        busy=spread(started, completed) if ran and started is not None and completed is not None else (),
        running=-1 if job.ran else 0,
        running_hour=int((completed or job.created) // HOUR),
    )


def spread(start: float, end: float) -> tuple[tuple[int, float], ...]:
    """Runner-seconds from ``start`` to ``end``, by epoch hour."""
    end = min(end, start + MAX_RUN_HOURS * HOUR)
    found = []
    hour = int(start // HOUR)
    while hour * HOUR < end:
        seconds = min(end, (hour + 1) * HOUR) - max(start, hour * HOUR)
        if seconds > 0:
            found.append((hour, seconds))
        hour += 1
    return tuple(found)


@dataclass(frozen=True)
class Hour:
    """One set's aggregates for one hour, as the store keeps them."""

    hour: int
    jobs: int = 0
    waits: dict[int, int] = field(default_factory=dict)
    wait_max: float = 0.0
    wait_seconds: float = 0.0
    run_seconds: float = 0.0
    busy_seconds: float = 0.0
    peak: int = 0
    waited: int = 0  # jobs that waited longer than WAIT_TARGET

    @property
    def concurrency(self) -> int:
        """Runners busy at once at the hour's peak: the running count seen, and at least
        the busy time's mean (which holds even when deliveries came out of order)."""
        return max(self.peak, math.ceil(self.busy_seconds / HOUR - 1e-9))


# The runners (min, max) in force at an epoch hour: from the configuration and its schedules.
InForce = Callable[[int], tuple[int, int]]


def in_force(effective: Effective) -> InForce:
    """The min and max ``effective`` declares, or its schedule's, at each epoch hour."""
    if not effective.schedules:
        return lambda _hour: (effective.min_runners, effective.max_runners)

    @functools.cache
    def at(hour: int) -> tuple[int, int]:
        moment = datetime.fromtimestamp(hour * HOUR + HOUR / 2, UTC)
        found = runners_at(effective.min_runners, effective.max_runners, list(effective.schedules), None, moment)
        return found.min_runners, found.max_runners

    return at


@dataclass(frozen=True)
class Observed:
    """A set's hours in the window (from the store), and its jobs waiting now."""

    rows: tuple[Hour, ...]
    first_hour: int
    hours: int
    waiting: int = 0
    oldest_wait: float = 0.0  # how long the oldest of them has waited

    def summary(self, effective: Effective) -> Evidence:
        return summarise(self.rows, self.hours, in_force(effective), self.first_hour)


@dataclass(frozen=True)
class Evidence:
    """What a window of hours says about one set."""

    hours: int  # the window's length
    jobs: int
    p50: float | None
    p95: float | None
    wait_max: float
    hours_at_max: int
    idle_runner_hours: float
    busy_runner_hours: float
    peak: int


def summarise(rows: Iterable[Hour], window_hours: int, in_force: InForce, first_hour: int) -> Evidence:
    """The evidence of ``rows`` (one set's hours from ``first_hour`` on, ``window_hours``
    long); ``in_force`` gives the min and max in force at each hour."""
    by_hour = {row.hour: row for row in rows}
    waits = histogram.merge(*(row.waits for row in by_hour.values()))
    wait_max = max((row.wait_max for row in by_hour.values()), default=0.0)
    at_max = idle = 0.0
    for hour in range(first_hour, first_hour + window_hours):
        row = by_hour.get(hour)
        low, high = in_force(hour)
        busy = row.busy_seconds / HOUR if row else 0.0
        idle += max(0.0, low - busy)
        if row is not None and row.waited and row.concurrency >= high:
            at_max += 1
    return Evidence(
        hours=window_hours,
        jobs=sum(row.jobs for row in by_hour.values()),
        p50=histogram.percentile(waits, 0.5, wait_max),
        p95=histogram.percentile(waits, 0.95, wait_max),
        wait_max=wait_max,
        hours_at_max=int(at_max),
        idle_runner_hours=round(idle, 1),
        busy_runner_hours=round(sum(row.busy_seconds for row in by_hour.values()) / HOUR, 1),
        peak=max((row.concurrency for row in by_hour.values()), default=0),
    )
