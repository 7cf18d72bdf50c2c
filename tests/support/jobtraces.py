"""Synthetic demand traces for the capacity evidence: jobs arriving on a schedule, run by
a scale set of at most ``max_runners`` runners (first come, first served, each runner
taking ``startup`` seconds to start, as an ephemeral ARC runner pod does), so the
queue waits are the ones such a set would really show. Also the hourly aggregates a
trace adds up to, tally by tally, as :meth:`bot.store.api.Store.count_job` adds them."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.capacity import evidence
from bot.capacity.evidence import Hour, Tally
from bot.capacity.jobs import Job

MONDAY = datetime(2026, 11, 30, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class Run:
    id: int
    created: float
    started: float
    completed: float


def simulate(arrivals: Iterable[tuple[float, float]], max_runners: int, startup: float = 20.0) -> list[Run]:
    """Each (created, duration) job on the first runner free, FIFO."""
    free = [0.0] * max_runners
    runs = []
    for number, (created, duration) in enumerate(sorted(arrivals), start=1):
        ready = heapq.heappop(free)
        started = max(created, ready) + startup
        heapq.heappush(free, started + duration)
        runs.append(Run(number, created, started, started + duration))
    return runs


def every(start: float, end: float, gap: float, duration: float) -> list[tuple[float, float]]:
    """A job every ``gap`` seconds from ``start`` to ``end``."""
    count = int((end - start) // gap)
    return [(start + i * gap, duration) for i in range(count)]


def daily(
    days: Iterable[int], make: Callable[[float], list[tuple[float, float]]], weeks: int = 1, start: float = MONDAY
) -> list[tuple[float, float]]:
    """``make(midnight)`` for each of ``days`` (0 = Monday) of ``weeks`` weeks from ``start`` (a Monday)."""
    return [job for week in range(weeks) for day in days for job in make(start + week * 7 * DAY + day * DAY)]


def jobs_of(run: Run, labels: tuple[str, ...], url: str) -> list[Job]:
    """The in_progress and completed deliveries' jobs of one run."""
    job = Job(run.id, "in_progress", url, labels, run.created, run.started, None, True)
    return [job, replace(job, action="completed", completed=run.completed)]


def aggregate(tallies: Iterable[Tally]) -> list[Hour]:
    """The hours ``tallies`` add up to (what the store's upserts keep)."""
    hours: dict[int, Hour] = {}
    running = 0

    def at(hour: int) -> Hour:
        return hours.setdefault(hour, Hour(hour))

    for t in tallies:
        if t.running:
            running = max(0, running + t.running)
        if t.jobs or t.waited or t.run_seconds:
            row = at(t.hour)
            waits = dict(row.waits)
            if t.wait_bucket is not None:
                waits[t.wait_bucket] = waits.get(t.wait_bucket, 0) + 1
            hours[t.hour] = replace(row, jobs=row.jobs + t.jobs, waited=row.waited + t.waited, waits=waits,
                                    wait_max=max(row.wait_max, t.wait), wait_seconds=row.wait_seconds + t.wait,
                                    run_seconds=row.run_seconds + t.run_seconds)  # fmt: skip
        if t.running > 0:
            row = at(t.running_hour)
            hours[t.running_hour] = replace(row, peak=max(row.peak, running))
        for hour, seconds in t.busy:
            row = at(hour)
            hours[hour] = replace(row, busy_seconds=row.busy_seconds + seconds)
    return sorted(hours.values(), key=lambda h: h.hour)


def tallies_of(
    runs: Iterable[Run], labels: tuple[str, ...] = ("set",), url: str = "https://github.com/o/r"
) -> list[Tally]:
    """Every delivery's tally, in the order the events happened."""
    events = sorted(
        (
            ((j.started if j.action == "in_progress" else j.completed) or 0.0, j)
            for run in runs
            for j in jobs_of(run, labels, url)
        ),
        key=lambda event: event[0],  # stable: a run's in_progress stays before its completed
    )

    return [t for _, job in events if (t := evidence.tally(job)) is not None]
