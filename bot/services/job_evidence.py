"""The job evidence as features read it: a scale set's window of hourly aggregates
(:mod:`bot.capacity`), from the store in one query for any number of sets, and the jobs
waiting now. Never calls GitHub: a ``status`` with evidence costs the same GitHub calls
as one without.

The window is the retention period (``RUNNERS_BOT_RETENTION_DAYS``, default 14 days),
the hours that end with the current one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bot.capacity.evidence import HOUR, Hour, Observed
from bot.capacity.jobs import SetRef, closest_set, is_unmatched, labels_of
from bot.cluster.state import ClusterState
from bot.commands import evidence_text
from bot.commands.render import ChangeText
from bot.fleet.config import BaseConfig, Config, ConfigFiles, Effective, parse
from bot.fleet.yamlload import YamlError, load
from bot.reports import why_waiting
from bot.runtime import offload
from bot.services import Services
from bot.store import keys
from bot.store.api import Store

WAITING_LIMIT = 86_400.0  # GitHub cancels a job no runner took within a day


def set_ref(effective: Effective) -> SetRef:
    return SetRef(effective.scale_set, effective.github_config_url, effective.pool)


def set_refs(config: Config) -> list[SetRef]:
    return [set_ref(config.effective(e)) for e in config.entries if e.name and e.org]


def window(days: float, now: float) -> tuple[int, int]:
    """(first epoch hour, hours) of the window of ``days`` ending with ``now``'s hour."""
    hours = max(1, int(days * 24))
    return int(now // HOUR) - hours + 1, hours


async def observed(services: Services, effectives: list[Effective], now: float | None = None) -> dict[str, Observed]:
    """Each set's window of evidence, by scale set name."""
    return await observe(services.store, services.settings.retention_days, effectives, now)


async def observe(
    store: Store, days: float, effectives: list[Effective], now: float | None = None
) -> dict[str, Observed]:
    """Each set's window of ``days`` of evidence, by scale set name: one query for them all."""
    if not effectives:
        return {}
    moment = now if now is not None else time.time()
    first, hours = window(days, moment)
    # A row per set, 50,000 of them: built on the fleet's worker, off the event loop.
    refs = await offload.run(_by_key, effectives)
    rows = await store.job_hours(list(refs), first)
    queued = await waiting(store, moment)
    return await offload.run(_windows, refs, rows, queued, (first, hours, moment))


def _by_key(effectives: list[Effective]) -> dict[str, Effective]:
    return {set_ref(e).key: e for e in effectives}


def _windows(
    refs: dict[str, Effective],
    rows: dict[str, list[Hour]],
    queued: dict[str, list[float]],
    when: tuple[int, int, float],
) -> dict[str, Observed]:
    first, hours, moment = when
    return {
        e.scale_set: Observed(
            tuple(rows.get(key, ())),
            first,
            hours,
            len(queued.get(key, [])),
            moment - min(queued[key]) if queued.get(key) else 0.0,
        )
        for key, e in refs.items()
    }


async def waiting(store: Store, now: float | None = None) -> dict[str, list[float]]:
    """Jobs queued and not yet taken, by set key (or unmatched key): when each was queued."""
    limit = (now if now is not None else time.time()) - WAITING_LIMIT
    found: dict[str, list[float]] = {}
    for key, value in await store.items(keys.JOBS_WAITING):
        set_key, _ = keys.job_waiting_of(key)
        try:
            queued = float(value)
        except ValueError:
            continue
        if queued >= limit:
            found.setdefault(set_key, []).append(queued)
    return found


def with_evidence(
    live: dict[str, str],
    found: dict[str, Observed],
    effectives: list[Effective],
    files: ConfigFiles,
    offline: str,
    *,
    states: Mapping[str, ClusterState] | None = None,
) -> dict[str, str]:
    """``live`` (a status's live state by scale set) with each set's evidence added, and
    why its jobs wait: from what the cluster showed of it (``states``) as the dashboard
    judges it, or from the evidence alone (the set at its max) when it could not be read."""
    if not found:
        return live
    try:
        config = parse(files.repositories, files.base)
    except YamlError:
        return live
    merged = dict(live)
    for effective in effectives:
        if effective.scale_set in found:
            observed = found[effective.scale_set]
            section = evidence_text.status_section(effective, observed, config.base_config)
            why = why_waiting.cause(effective, observed, (states or {}).get(effective.scale_set))
            if why is not None:
                section += "\n" + evidence_text.why_text(why)
            merged[effective.scale_set] = f"{live.get(effective.scale_set, offline)}\n\n{section}"
    return merged


async def cost_section(store: Store, days: float, files: ConfigFiles, change: ChangeText) -> str:
    """The cost lines of a capacity pull request (its set's evidence from the store)."""
    try:
        base = BaseConfig.from_raw(load(files.base).data)
    except YamlError:
        base = BaseConfig.from_raw(None)
    effective = change.before or change.after
    found = await observe(store, days, [effective]) if effective is not None else {}
    return evidence_text.cost_section(change, base, found.get(effective.scale_set) if effective else None)


async def unmatched_waiting(
    store: Store, config: Config, now: float | None = None
) -> dict[str, tuple[int, str | None]]:
    """Jobs waiting now for labels no set serves: by their labels, how many and the
    closest set of their organisation."""
    refs: list[SetRef] | None = None
    found: dict[str, tuple[int, str | None]] = {}
    for key, queued in (await waiting(store, now)).items():
        if not is_unmatched(key):
            continue
        if refs is None:  # a row per set: only when some job waits, and off the event loop
            refs = await offload.run(set_refs, config)
        org_url, labels = labels_of(key)
        same_org = [r for r in refs if r.config_url.lower().startswith(org_url)]
        shown = ", ".join(labels) if len(labels) != 1 else labels[0]
        count, _ = found.get(shown, (0, None))
        found[shown] = (count + len(queued), closest_set(labels, same_org or refs))
    return found
