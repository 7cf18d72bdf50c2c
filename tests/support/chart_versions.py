"""Which charts changed since a git revision without a version bump (chart-testing's rule):
a chart whose templates, values or schema change is a new chart version."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

COUNTED = ("templates/", "values.yaml", "values.schema.json", "Chart.yaml", "crds/")


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)


def needing_bump(repo: Path, base: str) -> list[str]:
    """Charts under ``charts/`` changed between ``base`` and the working tree whose
    ``Chart.yaml`` version is still the one ``base`` had (new charts need nothing)."""
    diff = git(repo, "diff", "--name-only", base, "--", "charts/")
    if diff.returncode != 0:
        raise RuntimeError(diff.stderr)
    untracked = git(repo, "ls-files", "--others", "--exclude-standard", "--", "charts/").stdout.split()
    changed: set[str] = set()
    for path in [*diff.stdout.split(), *untracked]:
        parts = path.split("/", 2)
        if len(parts) == 3 and parts[2].startswith(COUNTED):
            changed.add(parts[1])
    stale = []
    for chart in sorted(changed):
        before = git(repo, "show", f"{base}:charts/{chart}/Chart.yaml")
        current = repo / "charts" / chart / "Chart.yaml"
        if before.returncode != 0 or not current.exists():
            continue  # a new or a removed chart
        if yaml.safe_load(before.stdout)["version"] == yaml.safe_load(current.read_text(encoding="utf-8"))["version"]:
            stale.append(chart)
    return stale
