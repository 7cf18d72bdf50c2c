"""The job evidence as features show it: a scale set's window of hourly aggregates
(:mod:`bot.capacity`), read from the store in one query for any number of sets, with
the runners in force each hour and its prices. Never calls GitHub: a ``status`` with
evidence costs the same GitHub calls as one without.

The window is the retention period (``RUNNERS_BOT_RETENTION_DAYS``, default 14 days),
the hours that end with the current one.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.capacity import cost
from bot.capacity.evidence import HOUR, Evidence, Hour, InForce, summarise
from bot.capacity.jobs import SetRef
from bot.commands import evidence_text
from bot.fleet.config import BaseConfig, Config, ConfigFiles, Effective, parse
from bot.fleet.schedules import runners_at
from bot.fleet.yamlload import YamlError
from bot.services import Services
from bot.store import keys

WAITING_LIMIT = 86_400.0  # GitHub cancels a job no runner took within a day


def set_ref(effective: Effective) -> SetRef:
    return SetRef(effective.scale_set, effective.github_config_url, effective.pool)


def set_refs(config: Config) -> list[SetRef]:
    return [set_ref(config.effective(e)) for e in config.entries if e.name and e.org]


@dataclass(frozen=True)
class Window:
    first_hour: int
    hours: int

    @classmethod
    def ending(cls, now: float, retention_days: float) -> Window:
        hours = max(1, int(retention_days * 24))
        return cls(int(now // HOUR) - hours + 1, hours)


def in_force(effective: Effective) -> InForce:
    """The min and max in force at each epoch hour (declared, or a schedule's)."""
    if not effective.schedules:
        return lambda _hour: (effective.min_runners, effective.max_runners)

    @functools.cache
    def at(hour: int) -> tuple[int, int]:
        moment = datetime.fromtimestamp(hour * HOUR + HOUR / 2, UTC)
        found = runners_at(effective.min_runners, effective.max_runners, list(effective.schedules), None, moment)
        return found.min_runners, found.max_runners

    return at


@dataclass(frozen=True)
class SetEvidence:
    effective: Effective
    rows: list[Hour]
    evidence: Evidence
    window: Window

    def cost(self, base: BaseConfig) -> tuple[cost.Prices | None, float | None]:
        """Prices and the window's estimated cost (busy and idle runner-hours)."""
        prices = cost.prices(base)
        if prices is None:
            return None, None
        hourly = cost.runner_hour(prices, self.effective, base)
        return prices, hourly * (self.evidence.busy_runner_hours + self.evidence.idle_runner_hours)

    def cost_text(self, base: BaseConfig) -> str:
        prices, amount = self.cost(base)
        return evidence_text.money(amount, prices.currency if prices else "")


async def evidence(services: Services, effectives: list[Effective], now: float | None = None) -> dict[str, SetEvidence]:
    """Each set's evidence over the window, by scale set name."""
    window = Window.ending(now if now is not None else time.time(), services.settings.retention_days)
    refs = {set_ref(e).key: e for e in effectives}
    rows = await services.store.job_hours(list(refs), window.first_hour)
    found = {}
    for key, effective in refs.items():
        hours = rows.get(key, [])
        summary = summarise(hours, window.hours, in_force(effective), window.first_hour)
        found[effective.scale_set] = SetEvidence(effective, hours, summary, window)
    return found


async def waiting(services: Services, now: float | None = None) -> dict[str, list[float]]:
    """Jobs queued and not yet taken, by set key (or unmatched key): when each was queued."""
    limit = (now if now is not None else time.time()) - WAITING_LIMIT
    found: dict[str, list[float]] = {}
    for key, value in await services.store.items(keys.JOBS_WAITING):
        set_key, _ = keys.job_waiting_of(key)
        try:
            queued = float(value)
        except ValueError:
            continue
        if queued >= limit:
            found.setdefault(set_key, []).append(queued)
    return found


async def with_evidence(
    services: Services, live: dict[str, str], effectives: list[Effective], files: ConfigFiles, offline: str
) -> dict[str, str]:
    """``live`` (a status's live state by scale set) with each set's evidence added."""
    if not effectives:
        return live
    try:
        config = parse(files.repositories, files.base)
    except YamlError:
        return live
    found = await evidence(services, effectives)
    queued = await waiting(services)
    merged = dict(live)
    for name, item in found.items():
        table = evidence_text.status_evidence(
            item.evidence, item.cost_text(config.base_config), len(queued.get(set_ref(item.effective).key, []))
        )
        merged[name] = f"{live.get(name, offline)}\n\n{table}"
    return merged
