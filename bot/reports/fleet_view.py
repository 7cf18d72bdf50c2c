"""The fleet dashboard's text: every scale set in one table, what needs attention above it. Pure.

Built from the configuration, what the cluster showed (or that it could not be seen),
the last rollout of each set and the bot's open pull requests; rendered with
``templates/dashboard.md``. The same text for the same fleet, so the app edits the
issue only when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.commands import evidence_text, render
from bot.reports import why_waiting
from bot.reports.markers import DASHBOARD_MARKER, dashboard_page_marker

REFRESH_OFF = "- [ ] Refresh now"
REFRESH_ON = "- [x] Refresh now"


@dataclass(frozen=True)
class Live:
    """One look at a set in the cluster."""

    application: bool
    listener_up: bool
    running: int
    pending: int
    pending_too_long: int


@dataclass(frozen=True)
class SetView:
    repository: str
    scale_set: str
    profile: str
    min_runners: int
    max_runners: int
    source: str  # declared, schedule <name>, burst
    live: Live | None
    rollout: tuple[str, str] | None  # verdict (live, failed, stuck), where it was reported (owner/repo#N)
    pull: str | None  # open runners-bot pull request
    # The job evidence (docs/capacity.md): the window's p95 queue wait and hours at the
    # max, and why jobs wait now (bot.reports.why_waiting).
    wait_p95: float | None = None
    hours_at_max: int = 0
    why: str | None = None


def attention(views: list[SetView], unmatched: list[str] | None = None) -> list[str]:
    """What a platform team should look at first."""
    found = []
    for v in views:
        if v.why is not None:
            found.append(f"`{v.scale_set}`: {v.why}")
        elif v.wait_p95 is not None and v.wait_p95 > why_waiting.P95_THRESHOLD:
            found.append(
                f"`{v.scale_set}`: jobs waited {evidence_text.duration(v.wait_p95)} at p95"
                f" ({v.hours_at_max} hours at maxRunners): `/runners recommend {v.scale_set}`"
            )
        if v.rollout is not None and v.rollout[0] != "live":
            found.append(f"`{v.scale_set}`: the last rollout {v.rollout[0]} (report on {v.rollout[1]})")
        if v.live is None:
            continue
        if not v.live.application:
            found.append(f"`{v.scale_set}`: no Argo CD Application")
        elif not v.live.listener_up:
            found.append(f"`{v.scale_set}`: the listener is not running (no jobs reach these runners)")
        if v.live.pending_too_long:
            found.append(f"`{v.scale_set}`: {v.live.pending_too_long} runner(s) pending for over two minutes")
    return found + list(unmatched or [])


# Room for a body's own text around the table (header, attention, note) and the rows
# of one page: well inside GitHub's 65,536 characters (bot.reports.bodies).
BODY_BUDGET = 60_000
PAGE_BUDGET = 60_000
# Pages hold a fixed number of rows (about 40,000 characters of usual rows), so that a row
# that grows edits its own page, not every page after it; a page whose rows grew past the
# budget is split (rare: rows average above 240 characters).
ROWS_PER_PAGE = 250
ATTENTION_SHOWN = 100  # lines under "Needs attention" in the issue; the rest are counted


@dataclass(frozen=True)
class DashboardText:
    """The dashboard: the issue's body, and the pages of the table (comments on the
    issue) when the whole table does not fit in the body."""

    body: str
    pages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waiting:
    """A scale set the configuration does not have yet, added by an open pull request."""

    scale_set: str
    number: int
    url: str


def render_text(
    views: list[SetView], cluster: str | None, waiting: list[Waiting] | None = None, unmatched: list[str] | None = None
) -> DashboardText:
    """The issue body alone for a fleet whose table fits in it; else a summary in the body
    and every set on pages that each fit. ``cluster`` says why live state is missing;
    ``waiting`` lists the sets that open pull requests would add."""
    rows = [_row(v, cluster is None).rstrip("\n") for v in views]
    whole = body(views, cluster, rows, waiting, unmatched)
    if len(whole) <= BODY_BUDGET:
        return DashboardText(whole)
    pages = _pages(rows)
    summary = render.fill(
        "dashboard_summary.md", count=f"{len(views):,}", live=_live_counts(views, cluster), pages=len(pages)
    )
    paged = _body(views, cluster, summary, waiting, unmatched)
    texts = tuple(
        render.fill("dashboard_page.md", index=i + 1, first=f"{start + 1:,}",
                    last=f"{start + len(chunk):,}", table=_table(chunk), marker=dashboard_page_marker(i + 1))
        for i, (start, chunk) in enumerate(pages)
    )  # fmt: skip
    return DashboardText(paged, texts)


def body(
    views: list[SetView],
    cluster: str | None,
    rows: list[str] | None = None,
    waiting: list[Waiting] | None = None,
    unmatched: list[str] | None = None,
) -> str:
    """The issue body with the whole table in it. ``cluster`` says why live state is
    missing (None: it was seen)."""
    found = rows if rows is not None else [_row(v, cluster is None).rstrip("\n") for v in views]
    return _body(views, cluster, _table(found), waiting, unmatched)


def _table(rows: list[str]) -> str:
    return render.fill("dashboard_table.md", rows="\n".join(rows) or "| — | — | — | — | — | — | — | — |").rstrip("\n")


def _waiting(waiting: list[Waiting] | None) -> str:
    """The section on sets waiting for review ('' when there are none)."""
    if not waiting:
        return ""
    shown = sorted(waiting, key=lambda w: w.scale_set)[:ATTENTION_SHOWN]
    lines = [f"- `{w.scale_set}`: [pull request #{w.number}]({w.url})" for w in shown]
    if len(waiting) > len(shown):
        lines.append(f"- … and {len(waiting) - len(shown):,} more.")
    return render.fill("dashboard_waiting.md", count=f"{len(waiting):,}", sets="\n".join(lines))


def _body(
    views: list[SetView],
    cluster: str | None,
    table: str,
    waiting: list[Waiting] | None = None,
    unmatched: list[str] | None = None,
) -> str:
    needs = attention(views, unmatched)
    calm = (
        "Nothing the configuration shows; the cluster could not be seen."
        if cluster
        else "Nothing: every scale set is as it should be."
    )
    shown = needs[:ATTENTION_SHOWN]
    listed = "\n".join(f"- {line}" for line in shown) if needs else calm
    if len(needs) > len(shown):
        listed += f"\n- … and {len(needs) - len(shown):,} more: see the table."
    note = (
        f"\n> Live state unavailable: {render.inert(cluster)}. The table shows the configuration.\n" if cluster else ""
    )
    return render.fill(
        "dashboard.md",
        attention=listed,
        table=table,
        note=note,
        waiting=_waiting(waiting),
        refresh=REFRESH_OFF,
        marker=DASHBOARD_MARKER,
        count=f"{len(views):,}",
    )


def _pages(rows: list[str]) -> list[tuple[int, list[str]]]:
    """Rows in pages of :data:`ROWS_PER_PAGE`, each cut again where it passes
    ``PAGE_BUDGET`` characters: (index of the first row, rows)."""
    pages: list[tuple[int, list[str]]] = []
    for first in range(0, len(rows), ROWS_PER_PAGE):
        size = PAGE_BUDGET + 1
        for index in range(first, min(first + ROWS_PER_PAGE, len(rows))):
            row = rows[index]
            if size + len(row) + 1 > PAGE_BUDGET:
                pages.append((index, []))
                size = 0
            pages[-1][1].append(row)
            size += len(row) + 1
    return pages


def _live_counts(views: list[SetView], cluster: str | None) -> str:
    if cluster is not None:
        return "live state unavailable"
    seen = [v.live for v in views if v.live is not None]
    up = sum(1 for live in seen if live.application and live.listener_up)
    running = sum(live.running for live in seen)
    pending = sum(live.pending for live in seen)
    return f"{up:,} with a running listener, {running:,} runners running, {pending:,} pending"


def _row(v: SetView, seen: bool) -> str:
    runners = f"{v.min_runners}–{v.max_runners}" + ("" if v.source == "declared" else f" ({v.source})")
    if not seen or v.live is None:
        live = "unavailable"
    elif not v.live.application:
        live = "❌ no Application"
    else:
        listener = "listener ✅" if v.live.listener_up else "listener ❌"
        live = f"{listener}, {v.live.running} running, {v.live.pending} pending"
    rollout = f"{v.rollout[0]}, {v.rollout[1]}" if v.rollout else "—"
    pull = f"[open]({v.pull})" if v.pull else "—"
    waits = f"{evidence_text.duration(v.wait_p95)}, {v.hours_at_max} h at max" if v.wait_p95 is not None else "—"
    return render.fill(
        "dashboard_row.md",
        repository=v.repository,
        scale_set=v.scale_set,
        profile=v.profile,
        runners=runners,
        live=live,
        rollout=rollout,
        pull=pull,
        waits=waits,
    )


UNUSED_PAGE = "This page of the fleet dashboard is not used now: the table fits on fewer pages."
