"""The fleet dashboard's text: every scale set in one table, what needs attention above it. Pure.

Built from the configuration, what the cluster showed (or that it could not be seen),
the last rollout of each set and the bot's open pull requests; rendered with
``templates/dashboard.md``. The same text for the same fleet, so the app edits the
issue only when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import render

MARKER = "<!-- runners-bot:dashboard -->"
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


def attention(views: list[SetView]) -> list[str]:
    """What a platform team should look at first."""
    found = []
    for v in views:
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
    return found


def body(views: list[SetView], cluster: str | None) -> str:
    """The issue body. ``cluster`` says why live state is missing (None: it was seen)."""
    rows = "\n".join(_row(v, cluster is None).rstrip("\n") for v in views) or "| — | — | — | — | — | — | — |"
    needs = attention(views)
    calm = (
        "Nothing the configuration shows; the cluster could not be seen."
        if cluster
        else "Nothing: every scale set is as it should be."
    )
    listed = "\n".join(f"- {line}" for line in needs) if needs else calm
    note = (
        f"\n> Live state unavailable: {render.code(cluster)}. The table shows the configuration.\n" if cluster else ""
    )
    return render.fill(
        "dashboard.md", attention=listed, rows=rows, note=note, refresh=REFRESH_OFF, marker=MARKER, count=len(views)
    )


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
    return render.fill(
        "dashboard_row.md",
        repository=v.repository,
        scale_set=v.scale_set,
        profile=v.profile,
        runners=runners,
        live=live,
        rollout=rollout,
        pull=pull,
    )
