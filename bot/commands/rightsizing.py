"""What a right-sizing pass proposes for a scale set, and its pull request's text (title,
body, commit message, from ``templates/``): the change, why, the window's evidence, its
monthly cost and the warm windows the evidence suggests. Pure.

A proposal is **material** when ``maxRunners`` moves by at least one and a fifth of it,
or ``minRunners`` changes (:func:`bot.capacity.recommend.changed`). Warm windows are
listed in its body, never written; so a lower ``minRunners`` that leans on them is not
proposed (the min stays). A proposal below what is in force is made only with the
recommendation's reason, and stays within ``scaling.limits``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.capacity.evidence import Observed
from bot.capacity.recommend import Recommendation, changed
from bot.commands import evidence_text, pipeline
from bot.commands.render import ChangeText, PullRequestText, change_table, fill, requesters
from bot.fleet import names
from bot.fleet.config import BaseConfig, ConfigFiles, Effective


@dataclass(frozen=True)
class Proposal:
    """A set's proposed change: the command line that makes it (replayed like any
    command's when the pull request is rebuilt), the edited file, and the pull request."""

    line: str
    text: str
    change: ChangeText
    pull: PullRequestText


def wanted(effective: Effective, observed: Observed, base: BaseConfig) -> Recommendation | None:
    """The recommendation to propose (min/max only), or None when nothing material changes."""
    if not observed.rows:
        return None
    _, rec = evidence_text.proposal(effective, observed, base)
    now_min, now_max = effective.min_runners, effective.max_runners
    if rec.windows and rec.min_runners < now_min:
        # The lower min leans on warm windows this change does not write: the min stays.
        rec = replace(
            rec,
            min_runners=now_min,
            reasons=tuple(r for r in rec.reasons if not r.startswith(f"minRunners {now_min} →")),
        )
    if not changed(now_min, now_max, rec.min_runners, rec.max_runners):
        return None
    lower = rec.min_runners < now_min or rec.max_runners < now_max
    return None if lower and not rec.reasons else rec


def propose(
    files: ConfigFiles, base: BaseConfig, effective: Effective, observed: Observed, requester: tuple[str, str]
) -> Proposal | None:
    """The proposal for ``effective`` from ``observed``, made by ``requester`` (a name and
    a link), or None when there is none or it no longer applies to ``files``."""
    rec = wanted(effective, observed, base)
    if rec is None:
        return None
    line = f"/runners scale {effective.scale_set} min={rec.min_runners} max={rec.max_runners}"
    new_text, change = pipeline.replay(files, [(line, requester[0], None, None)])
    if new_text is None or change is None:
        return None
    evidence = observed.summary(effective)
    summary, who = change.summary, requesters([requester])
    body = fill(
        "pr_body_rightsizing.md",
        summary=summary,
        rows=change_table(change).split("\n", 2)[2].rstrip("\n"),
        reasons="\n".join(f"- {r}" for r in rec.reasons),
        evidence=evidence_text.evidence_table(evidence, evidence_text.window_cost(effective, evidence, base)),
        cost=evidence_text.cost_section(change, base, observed),
        windows=evidence_text.windows_text(rec),
        requesters=who,
    )
    pull = PullRequestText(
        scale_set=change.scale_set,
        branch=names.branch(change.scale_set),
        title=fill("pr_title.txt", summary=summary).strip(),
        body=body,
        commit_message=fill("commit_message.txt", summary=summary, requesters=who).strip() + "\n",
    )
    return Proposal(line, new_text, change, pull)


def material(effectives: Sequence[Effective], observed: dict[str, Observed], base: BaseConfig) -> list[str]:
    """The sets (by name, in order) whose evidence calls for a material change."""
    return sorted(e.scale_set for e in effectives if wanted(e, observed[e.scale_set], base) is not None)
