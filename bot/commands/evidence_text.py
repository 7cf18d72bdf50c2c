"""The job evidence's texts (``status``, ``recommend``, cost lines in pull requests), from
``templates/``. Pure."""

from __future__ import annotations

from bot.capacity import cost
from bot.capacity.cost import Change
from bot.capacity.evidence import Evidence, Observed
from bot.capacity.recommend import Recommendation, recommend
from bot.commands.render import ChangeText, fill, sentence
from bot.fleet.config import BaseConfig, Effective
from bot.fleet.schedules import DAYS

NO_PRICE = "no price is configured (`pricing` in values/base-config.yaml)"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def money(amount: float | None, currency: str) -> str:
    return NO_PRICE if amount is None else f"{amount:,.2f} {currency}"


def signed(amount: float | None, currency: str) -> str:
    return NO_PRICE if amount is None else f"{'+' if amount >= 0 else '−'}{abs(amount):,.2f} {currency}"


def window(hours: int) -> str:
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours} hours"


def evidence_table(found: Evidence, cost: str) -> str:
    return fill(
        "evidence_table.md",
        window=window(found.hours),
        jobs=found.jobs,
        p50=duration(found.p50),
        p95=duration(found.p95),
        wait_max=duration(found.wait_max if found.jobs else None),
        at_max=found.hours_at_max,
        idle=f"{found.idle_runner_hours:g}",
        busy=f"{found.busy_runner_hours:g}",
        peak=found.peak,
        cost=cost,
    )


def status_evidence(found: Evidence, cost: str, waiting: int) -> str:
    return evidence_table(found, cost) + waiting_text(waiting)


def waiting_text(waiting: int) -> str:
    jobs = f"{waiting} job{'s' if waiting != 1 else ''}"
    return "\n" + fill("status_waiting.md", jobs=jobs) if waiting else ""


def no_evidence_text(effective: Effective, found: Evidence, base: BaseConfig, waiting: int) -> str:
    """``status`` with no job in the window: no table of zeros and no estimate built on
    nothing. A warm minimum still costs, whatever runs: its runner-hours and price are
    given as that, not as use."""
    text = sentence("no_evidence.md")
    if found.idle_runner_hours:  # with no rows, every hour of the minimum in force was idle
        text += "\n\n" + sentence(
            "status_minimum_cost.md",
            hours=f"{found.idle_runner_hours:g}",
            window=window(found.hours),
            cost=window_cost(effective, found, base),
        )
    return text + "\n" + waiting_text(waiting) if waiting else text + "\n"


def why_text(why: str) -> str:
    return fill("status_why.md", why=why)


def cost_lines(change: Change | None) -> str:
    """A capacity change's monthly cost, for its pull request's body."""
    if change is None:
        return fill("cost_change.md", worst=NO_PRICE, expected=NO_PRICE)
    expected = (
        f"{signed(change.expected_delta, change.currency)} ({money(change.expected_before, change.currency)}"
        f" → {money(change.expected_after, change.currency)})"
        if change.expected_delta is not None
        else "no job evidence for this set yet"
    )
    worst = (
        f"{signed(change.worst_delta, change.currency)} ({money(change.worst_before, change.currency)}"
        f" → {money(change.worst_after, change.currency)})"
    )
    return fill("cost_change.md", worst=worst, expected=expected)


def windows_text(rec: Recommendation) -> str:
    if not rec.windows:
        return "no schedule windows: no hour of the week recurs above the floor"
    rows = []
    for w in rec.windows:
        days = "every day" if len(w.days) == 7 else ", ".join(DAYS[d] for d in w.days)
        end = "24:00" if w.end == 24 else f"{w.end:02d}:00"
        rows.append(f"- {days} {w.start:02d}:00–{end} UTC: minRunners {w.min_runners}")
    return "\n".join(rows)


def recommend_reply(
    command: str, scale_set: str, found: Evidence, cost: str, rec: Recommendation, *, min_now: int, max_now: int
) -> str:
    reasons = "\n".join(f"- {r}" for r in rec.reasons) or "- the evidence supports what is in force"
    verdict = sentence(
        "recommend_proposed.md" if rec.material else "recommend_kept.md",
        min_now=min_now,
        max_now=max_now,
        min_new=rec.min_runners,
        max_new=rec.max_runners,
    )
    return fill(
        "reply_recommend.md",
        command=command,
        scale_set=scale_set,
        evidence=evidence_table(found, cost),
        verdict=verdict,
        reasons=reasons,
        windows=windows_text(rec),
    )


def window_cost(effective: Effective, found: Evidence, base: BaseConfig) -> str:
    """The window's estimated cost: busy and idle runner-hours at a runner's price."""
    prices = cost.prices(base)
    if prices is None:
        return NO_PRICE
    hourly = cost.runner_hour(prices, effective, base)
    return money(hourly * (found.busy_runner_hours + found.idle_runner_hours), prices.currency)


def status_section(effective: Effective, observed: Observed, base: BaseConfig) -> str:
    """What ``status`` adds: the window's evidence and the jobs waiting now."""
    found = observed.summary(effective)
    if not observed.rows:
        return no_evidence_text(effective, found, base, observed.waiting)
    return status_evidence(found, window_cost(effective, found, base), observed.waiting)


def proposal(effective: Effective, observed: Observed, base: BaseConfig) -> tuple[Evidence, Recommendation]:
    """The evidence and the recommendation for ``effective`` within the fleet's limits."""
    found = observed.summary(effective)
    limits = base.scaling_limits
    rec = recommend(
        observed.rows,
        window_hours=observed.hours,
        min_runners=effective.min_runners,
        max_runners=effective.max_runners,
        hours_at_max=found.hours_at_max,
        limits=(limits.min_runners, limits.max_runners) if limits else (None, None),
        has_windows=bool(effective.schedules),
    )
    return found, rec


def recommend_text(command: str, effective: Effective, observed: Observed | None, base: BaseConfig) -> str:
    """The reply to ``recommend`` (no evidence yet: says so)."""
    if observed is None or not observed.rows:
        return fill(
            "reply_recommend_none.md", command=command, scale_set=effective.scale_set, none=sentence("no_evidence.md")
        )
    found, rec = proposal(effective, observed, base)
    return recommend_reply(
        command,
        effective.scale_set,
        found,
        window_cost(effective, found, base),
        rec,
        min_now=effective.min_runners,
        max_now=effective.max_runners,
    )


def change_cost(change: ChangeText, base: BaseConfig, observed: Observed | None) -> Change | None:
    """A capacity change's monthly cost: worst case (max × a runner's price × a month)
    before and after, and expected from the window's demand (the busy runner-hours stay,
    warm runners idle by the min and schedules in force before and after); None without
    prices."""
    prices = cost.prices(base)
    if prices is None:
        return None

    def worst(effective: Effective | None) -> float:
        if effective is None:
            return 0.0
        return effective.max_runners * cost.runner_hour(prices, effective, base) * cost.HOURS_PER_MONTH

    def expected(effective: Effective | None) -> float | None:
        if effective is None:
            return 0.0
        if observed is None or not observed.rows:
            return None
        found = observed.summary(effective)
        hours = found.busy_runner_hours + found.idle_runner_hours
        return cost.monthly(cost.runner_hour(prices, effective, base), hours, observed.hours)

    before, after = expected(change.before), expected(change.after)
    known = before is not None and after is not None
    return Change(
        prices.currency,
        worst(change.before),
        worst(change.after),
        before if known else None,
        after if known else None,
    )


def cost_section(change: ChangeText, base: BaseConfig, observed: Observed | None) -> str:
    """The cost lines of a capacity pull request's body."""
    return cost_lines(change_cost(change, base, observed))
