"""The repository's own CI and releases (.github/workflows): valid against GitHub's
workflow schema, clean under zizmor (offline), actions pinned by commit SHA, least
permissions; and charts that change get a new version, as chart-testing requires."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.app import ROOT
from tests.support.chart_versions import git, needing_bump

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, check=False, timeout=300)


def test_workflows_exist() -> None:
    assert {p.stem for p in WORKFLOWS} >= {"ci", "values", "release-charts", "image"}


def test_workflows_validate_against_githubs_schema() -> None:
    result = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing() -> None:
    result = tool("zizmor", "--offline", "--no-progress", str(ROOT / ".github" / "workflows"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_by_sha_and_permissions_least(workflow: Path) -> None:
    text = workflow.read_text(encoding="utf-8")
    for uses in re.findall(r"uses:\s*(\S+)(.*)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}", uses[0]), uses
        assert re.search(r"# v\d", uses[1]), f"{uses[0]}: say which version the SHA is"
    data = yaml.safe_load(text)
    assert data["permissions"] == {"contents": "read"}, "workflow-wide: read only; jobs ask for more"


def test_the_bump_rule(tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "demo"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n", encoding="utf-8")
    (chart / "templates" / "a.yaml").write_text("a: 1\n", encoding="utf-8")
    (chart / "README.md").write_text("docs\n", encoding="utf-8")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        assert git(tmp_path, *args).returncode == 0
    (chart / "README.md").write_text("more docs\n", encoding="utf-8")
    assert needing_bump(tmp_path, "HEAD") == [], "documentation alone needs no new version"
    (chart / "templates" / "a.yaml").write_text("a: 2\n", encoding="utf-8")
    assert needing_bump(tmp_path, "HEAD") == ["demo"]
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.1\n", encoding="utf-8")
    assert needing_bump(tmp_path, "HEAD") == []


def test_changed_charts_have_new_versions() -> None:
    """Against CHART_BASE_REF (the pull request's target, set by .github/workflows/ci.yml),
    else against HEAD: uncommitted chart changes without a bump fail here first."""
    base = os.environ.get("CHART_BASE_REF") or "HEAD"
    if git(ROOT, "rev-parse", "--verify", "-q", base).returncode != 0:
        pytest.fail(f"{base} is not a revision of this repository")
    merge_base = git(ROOT, "merge-base", base, "HEAD").stdout.strip() or base
    assert needing_bump(ROOT, merge_base) == [], "bump `version` in these charts' Chart.yaml"
