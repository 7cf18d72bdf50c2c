"""Golden tests of ``runners-bot simulate``'s texts: its replies, pull requests and diff.

``simulate`` runs the pipeline on the values files alone, so a change's reply ends with
its planned next step (a pull request on the set's branch) where the app writes the link
to the pull request it opened: what the app posts for the same comments is pinned in
tests/golden/ by tests/app/test_golden_posted.py, and ``diff -r`` shows the difference.
Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest`` and review the diff
of tests/golden/ like any other change.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from bot.commands.pipeline import Outcome, Request, run
from bot.fleet.config import ConfigFiles
from tests.support.golden import SCENARIOS, golden

GOLDEN = Path(__file__).parent.parent / "golden" / "simulate"


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
