"""Golden files: a user-facing text must equal its file under tests/golden/, so a change
to a template or to what fills it shows up as a diff. ``UPDATE_GOLDEN=1`` rewrites the
files after an intended change; the diff is reviewed like any other."""

from __future__ import annotations

import os
from pathlib import Path

from bot.commands.permissions import Permission

# The comments whose answers are pinned, both as ``simulate`` gives them (tests/unit/
# test_golden.py) and as the app posts them (tests/app/test_golden_posted.py): the
# comment, the commenter's permission (in ``simulate``: everywhere; in the app: on the
# configuration repository and the thread's) and the thread's repository (None: the
# configuration repository's own).
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


def golden(path: Path, body: str) -> None:
    """``body`` must equal the golden file at ``path``."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run the test with UPDATE_GOLDEN=1 and review the new file"
    assert body == path.read_text(encoding="utf-8")
