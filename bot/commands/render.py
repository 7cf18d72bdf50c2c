"""User-facing text (replies, PR titles and bodies, commit messages) from ``templates/``.

Pure apart from reading the template files once. Templates use ``string.Template``
placeholders; every placeholder must be filled (a missing one is a bug, not a blank).
Text that came from a user is neutralised before it is put into Markdown.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from string import Template

from bot.commands.registry import COMMANDS, Registry
from bot.fleet import names
from bot.fleet.config import Config, Effective, Entry, ScalingLimits
from bot.fleet.schedules import DAYS, BurstAllowance, Runners, Window

_PACKAGED = Path(__file__).parent.parent / "_templates"
_SOURCE = Path(__file__).parent.parent.parent / "templates"
TEMPLATE_DIR = _PACKAGED if _PACKAGED.is_dir() else _SOURCE


@functools.cache
def template(name: str) -> Template:
    """The template file ``name`` from the templates directory."""
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def fill(template_name: str, /, **values: object) -> str:
    """``template_name`` with every placeholder filled from ``values``."""
    return template(template_name).substitute({k: str(v) for k, v in values.items()})


def sentence(template_name: str, /, **values: object) -> str:
    """:func:`fill` without the file's final newline: a sentence set into other text."""
    return fill(template_name, **values).rstrip("\n")


def inert(text: str) -> str:
    """User text as an inline code span: no mention, link, image or keyword in it is live."""
    return f"`{code(text)}`"


def code(text: str) -> str:
    """User text made safe for an inline code span on one line."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text).replace("`", "'")
    return clean if len(clean) <= 120 else clean[:117] + "..."


@dataclass(frozen=True)
class ChangeText:
    """What one accepted change says about itself, before and after."""

    verb: str
    name: str
    scale_set: str
    before: Effective | None
    after: Effective | None

    @property
    def full_name(self) -> str:
        """``org/name`` of the entry changed."""
        known = self.after or self.before
        return f"{known.org}/{known.name}" if known else self.name

    @property
    def summary(self) -> str:
        if self.verb == "add" and self.after is not None:
            a = self.after
            return f"add {a.name} ({a.scale_set}, min {a.min_runners}, max {a.max_runners}, profile {a.profile})"
        if self.verb == "remove":
            return f"remove {self.name} ({self.scale_set})"
        return f"scale {self.name} ({', '.join(self.deltas()) or 'no change'})"

    def deltas(self) -> list[str]:
        if self.before is None or self.after is None:
            return []
        pairs = (
            ("min", self.before.min_runners, self.after.min_runners),
            ("max", self.before.max_runners, self.after.max_runners),
            ("profile", self.before.profile, self.after.profile),
        )
        return [f"{label} {old} → {new}" for label, old, new in pairs if old != new]


def _resource_fields(e: Effective | None) -> list[str]:
    if e is None:
        return ["—"] * len(_FIELDS)
    r = e.resources
    return [
        f"`{e.scale_set}`",
        f"`{e.namespace}`",
        str(e.min_runners),
        str(e.max_runners),
        f"`{e.profile}`",
        f"{r.cpu_request} / {r.cpu_limit}" if r else "?",
        f"{r.memory_request} / {r.memory_limit}" if r else "?",
        e.storage or "?",
        f"yes (`{e.dind_profile}`)" if e.dind else "no",
        f"{e.cache}, shared" if e.cache else "—",
        "; ".join(schedule_text(w) for w in e.schedules) or "—",
        burst_text(e.burst) if e.burst else "—",
    ]


def schedule_text(window: Window) -> str:
    """``business-hours: mon–fri 08:00–18:00 Europe/Berlin, min 10``."""
    ordered = sorted(window.days)
    names = [DAYS[d] for d in ordered]
    consecutive = len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1))
    days = f"{names[0]}–{names[-1]}" if consecutive else ",".join(names)
    counts = ", ".join(
        f"{k} {v}" for k, v in (("min", window.min_runners), ("max", window.max_runners)) if v is not None
    )
    night = " (overnight)" if window.overnight else ""
    return f"{window.name}: {days} {window.start:%H:%M}–{window.end:%H:%M}{night} {window.zone.key}, {counts}"


def burst_text(burst: BurstAllowance) -> str:
    hours = burst.max_duration.total_seconds() / 3600
    most = f", max ≤ {burst.max_runners}" if burst.max_runners is not None else ""
    return f"min ≤ {burst.min_runners}{most}, for up to {hours:g}h"


_FIELDS = (
    "Scale set",
    "Namespace",
    "Min runners",
    "Max runners",
    "Profile",
    "CPU (request / limit)",
    "Memory (request / limit)",
    "Storage",
    "Docker daemon",
    "Cache",
    "Schedules",
    "Burst allowance",
)


def change_table(change: ChangeText) -> str:
    """Before → after rows, changed values in bold."""
    rows = []
    for field, old, new in zip(_FIELDS, _resource_fields(change.before), _resource_fields(change.after), strict=True):
        shown = f"**{new}**" if old != new and change.verb == "scale" else new
        rows.append(fill("table_row.md", field=field, before=old, after=shown).rstrip("\n"))
    return "| setting | before | after |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def change_notes(change: ChangeText) -> str:
    if change.verb == "add":
        return "\n" + fill("add_note.md", scale_set=change.scale_set)
    if change.verb == "remove":
        namespace = change.before.namespace if change.before else "?"
        return render_remove_note(change.scale_set, namespace)
    return ""


def render_remove_note(scale_set: str, namespace: str) -> str:
    """What merging a remove does, as the manifests do it (SCALING.md): Argo CD prunes the
    Application and what it deployed; the namespace it created and the kept cache stay."""
    return fill("remove_note.md", scale_set=scale_set, namespace=namespace)


def change_reply(command: str, user: str, change: ChangeText, next_step: str) -> str:
    return fill(
        "reply_change.md",
        command=code(command),
        user=user,
        summary=change.summary[0].upper() + change.summary[1:] + ".",
        table=change_table(change),
        notes=change_notes(change),
        next_step=f"\n{next_step}" if next_step else "",
    )


def refusal(command: str, reason: str, accepted: str) -> str:
    return fill("reply_refused.md", command=code(command), reason=reason, accepted=accepted)


def ignored(limit: int, count: int) -> str:
    return fill("reply_ignored.md", limit=limit, count=count)


def help_reply(config: Config, visible: Sequence[Entry], *, complete: bool, commands: Registry = COMMANDS) -> str:
    base = config.base_config
    profiles = "\n".join(
        fill(
            "profile_row.md",
            name=p.name,
            cpu=f"{p.cpu_request} / {p.cpu_limit}",
            memory=f"{p.memory_request} / {p.memory_limit}",
            storage=p.storage or "—",
        ).rstrip("\n")
        for p in base.profiles.values()
    )
    scale_sets = _scale_set_list(visible) or ("none yet" if complete else "none here")
    if not complete:
        scale_sets += " " + sentence("help_partial_note.md")
    return fill(
        "reply_help.md",
        commands=command_rows(commands),
        write_verbs=_and(f"`{c.verb}`" for c in commands if c.needs_write),
        profiles=profiles,
        limits=limits_text(base.scaling_limits),
        scale_sets=scale_sets,
    )


def command_rows(commands: Registry = COMMANDS) -> str:
    """The help table's rows: one a declared command."""
    return "\n".join(
        fill("help_row.md", usage=c.usage.replace("|", "\\|"), summary=c.summary).rstrip("\n") for c in commands
    )


def _and(words: Iterable[str]) -> str:
    listed = list(words)
    return ", ".join(listed[:-1]) + f" and {listed[-1]}" if len(listed) > 1 else "".join(listed)


HELP_LIST_MAX = 60  # scale sets named in a help reply; past that, counts and where to look


def _scale_set_list(visible: Sequence[Entry]) -> str:
    """Every visible set by name, or for a large fleet how many there are, by organisation
    and category, and where every one is listed."""
    if len(visible) <= HELP_LIST_MAX:
        return ", ".join(f"`{e.scale_set}`" for e in visible)
    return fill(
        "help_fleet_summary.md",
        count=f"{len(visible):,}",
        orgs=_counts(e.org or "—" for e in visible),
        categories=_counts(e.category or "none" for e in visible),
    ).rstrip("\n")


def _counts(keys: Iterable[str], shown: int = 10) -> str:
    """``a 3, b 2`` for the most frequent ``shown`` keys, then how many others."""
    tally: dict[str, int] = {}
    for key in keys:
        tally[key] = tally.get(key, 0) + 1
    ranked = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{inert(k)} {n:,}" for k, n in ranked[:shown])
    rest = sum(n for _, n in ranked[shown:])
    return text + (f", and {rest:,} in {len(ranked) - shown:,} more" if rest else "")


def limits_text(limits: ScalingLimits | None) -> str:
    if limits is None or (limits.min_runners is None and limits.max_runners is None):
        return "none set"
    parts = [
        f"{label} at most {value}"
        for label, value in (("minRunners", limits.min_runners), ("maxRunners", limits.max_runners))
        if value is not None
    ]
    return ", ".join(parts)


def status_reply(command: str, effective: Effective, live: str, now_runners: Runners | None = None) -> str:
    fields = zip(_FIELDS, _resource_fields(effective), strict=True)
    rows = [("Repository", f"`{effective.org}/{effective.name}`"), *fields]
    return fill(
        "reply_status.md",
        command=code(command),
        full_name=f"{effective.org}/{effective.name}",
        rows=_rows(rows),
        scale_set=effective.scale_set,
        clock=f"\n{clock_text(effective, now_runners)}\n" if now_runners is not None else "",
        live=live,
    )


def clock_text(effective: Effective, runners: Runners) -> str:
    """Declared, scheduled or burst, and effective values now (sets run by the clock)."""
    declared = f"declared min {effective.min_runners}, max {effective.max_runners}"
    now = f"min {runners.min_runners}, max {runners.max_runners}"
    until = f" until {moment(runners.until)}" if runners.until is not None else ""
    if runners.source == "declared":
        change = f"; the next window opens at {moment(runners.until)}" if runners.until is not None else ""
        return sentence("clock_declared.md", declared=declared, change=change)
    return sentence("clock_in_force.md", source=runners.source, until=until, now=now, declared=declared)


def moment(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d %H:%M} UTC"


def burst_reply(command: str, scale_set: str, low: int, high: int | None, until: datetime) -> str:
    """The reply to a burst that starts (``high``: its max, None for the set's own)."""
    top = f", max {high}" if high is not None else ""
    return fill("reply_burst.md", command=code(command), scale_set=scale_set, min=low, max=top, until=moment(until))


def burst_ended_reply(command: str, scale_set: str, *, was_on: bool) -> str:
    """The reply to ``/runners burst SET off``: ``was_on``, whether a burst was in force."""
    detail = sentence("burst_end_now.md" if was_on else "burst_end_none.md")
    return fill("reply_burst_ended.md", command=code(command), scale_set=scale_set, detail=detail)


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    return "\n".join(fill("status_row.md", field=f, value=v).rstrip("\n") for f, v in rows)


@dataclass(frozen=True)
class PullRequestText:
    """Title, body, branch and commit message of the pull request for one scale set."""

    scale_set: str
    branch: str
    title: str
    body: str
    commit_message: str


def requesters(requests: Sequence[tuple[str, str]]) -> str:
    """``@user (source)`` for each distinct request, in order."""
    unique = list(dict.fromkeys(requests))
    # A login has no spaces; a requester that is not one (the app's right-sizing) is not a mention.
    return ", ".join(f"{'' if ' ' in user else '@'}{user} ({source})" for user, source in unique)


def pull_request(
    change: ChangeText, requests: Sequence[tuple[str, str]], closes: str | None = None, cost: str = ""
) -> PullRequestText:
    """The pull request for one scale set; ``requests`` are ``(user, comment URL)`` in order;
    ``cost``: the change's monthly cost lines (bot.commands.evidence_text)."""
    summary = change.summary
    notes = change_notes(change) + (f"\n{cost}" if cost else "")
    if closes is not None:
        # owner/repo#N: a bare #N would close the config repository's issue of that number.
        notes += "\n" + fill("closes_note.md", issue=closes)
    who = requesters(requests)
    body = fill(
        "pr_body.md",
        summary=summary,
        rows=change_table(change).split("\n", 2)[2].rstrip("\n"),
        notes=notes,
        requesters=who,
    )
    return PullRequestText(
        scale_set=change.scale_set,
        branch=names.branch(change.scale_set),
        title=fill("pr_title.txt", summary=summary).strip(),
        body=body,
        commit_message=fill("commit_message.txt", summary=summary, requesters=who).strip() + "\n",
    )
