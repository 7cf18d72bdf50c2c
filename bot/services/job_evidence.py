"""The job evidence as features read it: a scale set's window of hourly aggregates
(:mod:`bot.capacity`), from the store in one query for any number of sets, and the jobs
waiting now. Never calls GitHub: a ``status`` with evidence costs the same GitHub calls
as one without.

The window is the retention period (``RUNNERS_BOT_RETENTION_DAYS``, default 14 days),
the hours that end with the current one.
"""

from __future__ import annotations

import time

from bot.capacity.evidence import HOUR, Observed
from bot.capacity.jobs import SetRef
from bot.commands import evidence_text
from bot.fleet.config import Config, ConfigFiles, Effective, parse
from bot.fleet.yamlload import YamlError
from bot.services import Services
from bot.store import keys

WAITING_LIMIT = 86_400.0  # GitHub cancels a job no runner took within a day


def set_ref(effective: Effective) -> SetRef:
    return SetRef(effective.scale_set, effective.github_config_url, effective.pool)


def set_refs(config: Config) -> list[SetRef]:
    return [set_ref(config.effective(e)) for e in config.entries if e.name and e.org]


def window(services: Services, now: float) -> tuple[int, int]:
    """(first epoch hour, hours) of the window ending with ``now``'s hour."""
    hours = max(1, int(services.settings.retention_days * 24))
    return int(now // HOUR) - hours + 1, hours


async def observed(services: Services, effectives: list[Effective], now: float | None = None) -> dict[str, Observed]:
    """Each set's window of evidence, by scale set name."""
    if not effectives:
        return {}
    moment = now if now is not None else time.time()
    first, hours = window(services, moment)
    refs = {set_ref(e).key: e for e in effectives}
    rows = await services.store.job_hours(list(refs), first)
    queued = await waiting(services, moment)
    return {
        e.scale_set: Observed(tuple(rows.get(key, ())), first, hours, len(queued.get(key, [])))
        for key, e in refs.items()
    }


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


def with_evidence(
    live: dict[str, str], found: dict[str, Observed], effectives: list[Effective], files: ConfigFiles, offline: str
) -> dict[str, str]:
    """``live`` (a status's live state by scale set) with each set's evidence added."""
    if not found:
        return live
    try:
        config = parse(files.repositories, files.base)
    except YamlError:
        return live
    merged = dict(live)
    for effective in effectives:
        if effective.scale_set in found:
            section = evidence_text.status_section(effective, found[effective.scale_set], config.base_config)
            merged[effective.scale_set] = f"{live.get(effective.scale_set, offline)}\n\n{section}"
    return merged
