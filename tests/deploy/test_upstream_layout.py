"""scripts/fetch_upstream.py, which CI on GitHub runs, writes the upstream artefacts
exactly where the tests look for them (tests/support/upstream.py and the tests' patterns), and
turns the provider's `terraform providers schema -json` into the table they read."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.support.app import ROOT
from tests.support.upstream import FETCH

SCRIPT = ROOT / "scripts" / "fetch_upstream.py"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_upstream", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def patterns() -> set[str]:
    """Every upstream path pattern a test asks for (``upstream_file("…")``)."""
    found = set()
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= {p for p in re.findall(r'upstream_file\(\s*"([^"]+)"', text) if "*" in p}
    return found


def test_every_path_the_tests_read_is_one_the_script_writes() -> None:
    layout = script().LAYOUT
    asked = patterns()
    assert {
        "argo-cd-*/application-crd.yaml",
        "external-secrets-*/crds",
        "terraform-provider-spot-*/schema.json",
    } <= asked
    for pattern in asked:
        assert any(fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*") for path in layout), pattern
    arc = [p for p in layout if p.endswith("/Chart.yaml")]
    assert {Path(p).parent.name for p in arc} == {"gha-runner-scale-set", "gha-runner-scale-set-controller"}
    assert len({str(Path(p).parent.parent) for p in arc}) == 1, "both in one ARC_CHARTS_DIR"


def test_the_shared_copy_has_the_same_layout() -> None:
    folder = os.environ.get("UPSTREAM_DIR")
    if not folder:
        pytest.skip(f"UPSTREAM_DIR is not set: {FETCH}")
    missing = [p for p in script().LAYOUT if not (Path(folder) / p).exists()]
    assert missing == []


def test_ci_fetches_with_the_script_and_points_the_tests_at_it() -> None:
    steps = [s for job in yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"].values() for s in job["steps"]]
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    assert "scripts/fetch_upstream.py" in runs and "curl" not in runs
    assert "UPSTREAM_DIR=" in runs and "ARC_CHARTS_DIR=" in runs


def test_the_providers_schema_becomes_the_table_the_tests_read() -> None:
    """`terraform providers schema -json`'s shape for spot_spotnodepool, converted, equals the
    reference table (derived from the provider's docs) the tests validate against."""
    folder = os.environ.get("UPSTREAM_DIR")
    if not folder:
        pytest.skip(f"UPSTREAM_DIR is not set: {FETCH}")
    reference = json.loads((Path(folder) / "terraform-provider-spot-v0.1.4" / "schema.json").read_text())
    string, number = {"type": "string"}, {"type": "number"}
    block = {
        "attributes": {
            "cloudspace_name": {**string, "required": True}, "server_class": {**string, "required": True},
            "bid_price": {**number, "required": True}, "desired_server_count": {**number, "optional": True},
            "labels": {"type": ["map", "string"], "optional": True},
            "annotations": {"type": ["map", "string"], "optional": True},
            "autoscaling": {"optional": True, "nested_type": {"nesting_mode": "single", "attributes": {
                "min_nodes": {**number, "optional": True}, "max_nodes": {**number, "optional": True}}}},
            "taints": {"optional": True, "nested_type": {"nesting_mode": "list", "attributes": {
                "key": {**string, "required": True}, "effect": {**string, "required": True},
                "value": {**string, "optional": True}}}},
            "bid_status": {**string, "computed": True}, "last_updated": {**string, "computed": True},
            "name": {**string, "computed": True}, "won_count": {**number, "computed": True},
        }
    }  # fmt: skip
    converted = script().table(block)
    expected = reference["resource spot_spotnodepool"]
    expected["(top)"]["read-only"].pop("id")  # documented as deprecated; the JSON above leaves it out
    assert converted == expected
