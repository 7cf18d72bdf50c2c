"""Golden tests of every user-facing text: replies, PR titles, bodies, commit messages.

The texts come from templates/; a change to a template or to what fills it shows up
here as a diff. Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest``
and review the diff of tests/golden/ like any other change.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from bot.commands.permissions import Permission
from bot.commands.pipeline import Outcome, Request, run
from bot.fleet.config import ConfigFiles
from tests.support.golden import golden

GOLDEN = Path(__file__).parent.parent / "golden"

SCENARIOS: dict[str, tuple[str, Permission, str | None]] = {
    "help": ("/runners help", "read", None),
    "help-fleet": ("/runners help", "triage", None),
    "status": ("/runners status arc-frontend-runners", "none", "Matchpoint-AI/project-beta-frontend"),
    "status-implicit-target": ("/runners status", "read", "Matchpoint-AI/project-beta-api"),
    "scale-max": ("/runners scale project-beta-frontend max=20", "write", None),
    "scale-min-profile": ("/runners scale --min 2 --profile=xlarge", "maintain", "Matchpoint-AI/project-beta-api"),
    "add": ("/runners add Matchpoint-AI/project-gamma category=backend max=6", "admin", None),
    "remove": ("/runners remove project-beta", "write", None),
    "two-commands-one-set": (
        "/runners scale project-beta max=12\n/runners scale project-beta profile=xlarge",
        "write",
        None,
    ),
    "refused-permission": ("/runners scale project-beta max=12", "triage", None),
    "refused-unknown-target": ("/runners scale project-betta max=12", "write", None),
    "refused-unknown-profile": ("/runners scale project-beta profile=huge", "write", None),
    "refused-over-limit": ("/runners scale project-beta max=500", "write", None),
    "refused-nothing-to-change": ("/runners scale project-beta max=8", "write", None),
    "refused-min-above-max": ("/runners scale project-beta min=9", "write", None),
    "refused-add-existing": ("/runners add project-beta", "write", None),
    # Argo CD keys Applications by name in its namespace: github-runners is the fleet's root.
    "refused-add-root-application-name": ("/runners add github", "write", None),
    "refused-add-shard-name": ("/runners add tools runnerScaleSetName=github-runners-shard-03", "write", None),
    "refused-no-target": ("/runners scale max=3", "write", None),
    "refused-parse": ("/runners scale project-beta max=lots", "write", None),
    "too-many-commands": ("\n".join(["/runners help"] * 7), "read", None),
}


def render_outcome(outcome: Outcome) -> str:
    parts = [f"ok: {outcome.ok}"]
    for number, reply in enumerate(outcome.replies, 1):
        parts.append(f"===== reply {number} ({'ok' if reply.ok else 'refused'}) =====\n{reply.text}")
    for pr in outcome.pull_requests:
        parts.append(
            f"===== pull request: {pr.branch} =====\n--- title\n{pr.title}\n--- body\n{pr.body}--- commit message\n{pr.commit_message}"
        )
    if outcome.new_text is not None:
        diff = difflib.unified_diff(
            outcome.old_text.splitlines(True), outcome.new_text.splitlines(True), "before", "after"
        )
        parts.append("===== diff =====\n" + "".join(diff))
    return "\n".join(parts)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name: str, bundled: ConfigFiles) -> None:
    comment, permission, repo = SCENARIOS[name]
    request = Request(
        comment,
        "octocat",
        permission,
        repo=repo,
        source="https://github.com/Matchpoint-AI/project-beta/issues/7#issuecomment-1",
    )
    actual = render_outcome(run(request, bundled))
    golden(GOLDEN / f"{name}.md", actual)


def test_no_stale_golden_files() -> None:
    assert {p.stem for p in GOLDEN.glob("*.md")} == set(SCENARIOS)
