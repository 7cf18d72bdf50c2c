"""terraform/: formatted, the naming module's own tests (offline), every Rackspace Spot
resource and data source checked against the provider's reference (its providers cannot
be downloaded here), and the runner nodes' labels and taint agreeing with what the fleet
selects and tolerates."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from tests.support.app import ROOT
from tests.support.upstream import upstream_file

TERRAFORM = ROOT / "terraform"
NAMING = TERRAFORM / "modules" / "naming"


def terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        message = "terraform is not installed (https://developer.hashicorp.com/terraform/install): the Terraform checks did not run"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # No CLI configuration of the machine's: plugin caches or mirrors would change what runs.
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1", "NO_COLOR": "1"}
    return subprocess.run(
        [terraform(), *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False
    )


def test_terraform_is_formatted() -> None:
    result = run("fmt", "-check", "-recursive", "-diff", cwd=TERRAFORM)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def naming(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the naming module, initialised (it uses no provider: offline)."""
    copy = tmp_path_factory.mktemp("naming") / "naming"
    shutil.copytree(NAMING, copy)
    result = run("init", "-backend=false", "-input=false", cwd=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy


def test_naming_module_tests_pass_and_refuse_bad_names(naming: Path) -> None:
    result = run("test", "-no-color", cwd=naming)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Success! (\d+) passed, 0 failed", result.stdout), result.stdout
    refusals = len(re.findall(r'run "refuses_', (NAMING / "tests" / "naming.tftest.hcl").read_text(encoding="utf-8")))
    assert refusals >= 5


# --- the Spot provider's reference ---------------------------------------------------------


def unquote(text: str) -> str:
    return text.strip('"')


def blocks(kind: str) -> list[tuple[Path, str, dict[str, Any]]]:
    """Every ``resource``/``data`` block of a spot_* type in terraform/, as parsed HCL."""
    found = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        parsed = hcl2.load(path.open(encoding="utf-8"))
        for group in parsed.get(kind, []):
            for type_name, named in group.items():
                if unquote(type_name).startswith("spot_"):
                    for body in named.values():
                        found.append((path, unquote(type_name), body))
    return found


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        upstream_file("terraform-provider-spot-*/schema.json").read_text(encoding="utf-8")
    )
    return data


def attributes(body: dict[str, Any]) -> dict[str, Any]:
    meta = ("depends_on", "count", "for_each", "lifecycle", "provider")  # Terraform's own, on every resource
    return {k: v for k, v in body.items() if not k.startswith("__") and k not in meta}


@pytest.mark.parametrize("kind", ["resource", "data"])
def test_every_spot_block_matches_the_provider_reference(kind: str, reference: dict[str, Any]) -> None:
    found = blocks(kind)
    assert found, f"no spot_* {kind} in terraform/"
    for path, type_name, body in found:
        schema = reference.get(f"{kind} {type_name}")
        assert schema is not None, f"{path}: {kind} {type_name} is not in the provider's reference"
        top = schema["(top)"]
        allowed = {**top.get("required", {}), **top.get("optional", {})}
        given = attributes(body)
        assert set(given) <= set(allowed), f"{path}: {type_name} has unknown attributes {set(given) - set(allowed)}"
        missing = set(top.get("required", {})) - set(given)
        assert not missing, f"{path}: {type_name} lacks required {missing}"
        for name, value in given.items():
            kind_of = allowed[name]
            if kind_of.startswith("Attributes") and isinstance(value, dict):
                # The plugin framework's nested attributes are written `name = {...}`, never as blocks.
                assert "__is_block__" not in value, f"{path}: {type_name}.{name} must be an attribute, not a block"
                nested = schema.get(name, {})
                known = {**nested.get("required", {}), **nested.get("optional", {})}
                assert set(attributes(value)) <= set(known), f"{path}: {type_name}.{name} has {set(value) - set(known)}"


def test_taints_passed_to_the_node_pool_have_the_referenced_shape(reference: dict[str, Any]) -> None:
    taints = reference["resource spot_spotnodepool"]["taints"]
    variables = hcl2.load((TERRAFORM / "modules" / "nodepool" / "variables.tf").open(encoding="utf-8"))
    (declared,) = [v['"taints"'] for v in variables["variable"] if '"taints"' in v]
    keys = set(re.findall(r"(\w+)\s*=", declared["type"]))
    assert keys == set(taints["required"]) | set(taints["optional"])
    assert all(f"{k} = string" in declared["type"] for k in taints["required"]), "required keys are not optional()"


# --- the nodes the fleet schedules on --------------------------------------------------------


def root_defaults() -> dict[str, Any]:
    variables = hcl2.load((TERRAFORM / "variables.tf").open(encoding="utf-8"))
    return {
        unquote(name): unquote(str(body.get("default")))
        for group in variables["variable"]
        for name, body in group.items()
        if "default" in body
    }


def test_runner_nodes_carry_what_the_fleet_selects_and_tolerate(naming: Path) -> None:
    main = (TERRAFORM / "main.tf").read_text(encoding="utf-8")
    purpose = re.search(r'purpose\s*=\s*"([^"]+)"', main)
    assert purpose is not None
    variables = [
        "-var",
        f"purpose={purpose.group(1)}",
        "-var",
        "region=dfw",
        "-var",
        "environment=prod",
        "-var",
        f"runner_pool={root_defaults()['runner_pool']}",
    ]
    result = run(
        "console",
        *variables,
        cwd=naming,
        stdin="jsonencode({labels = local.node_labels, taint = local.runner_taint})\n",
    )
    assert result.returncode == 0, result.stderr
    nodes = json.loads(json.loads(result.stdout.strip()))
    overrides = yaml.safe_load((ROOT / "values" / "repositories.yaml").read_text(encoding="utf-8"))["globalOverrides"]
    selector = overrides["nodeSelector"]
    assert selector.items() <= nodes["labels"].items(), (selector, nodes["labels"])
    taint = nodes["taint"]
    assert any(
        t.get("key") == taint["key"]
        and t.get("effect") == taint["effect"]
        and (t.get("operator") == "Exists" or t.get("value") == taint["value"])
        for t in overrides["tolerations"]
    ), (overrides["tolerations"], taint)


def test_kubeconfig_output_is_sensitive_and_the_state_backend_is_http() -> None:
    outputs = hcl2.load((TERRAFORM / "outputs.tf").open(encoding="utf-8"))
    (kubeconfig,) = [o['"kubeconfig_raw"'] for o in outputs["output"] if '"kubeconfig_raw"' in o]
    assert kubeconfig["sensitive"] is True
    versions = (TERRAFORM / "versions.tf").read_text(encoding="utf-8")
    assert re.search(r'backend "http" \{\}', versions)
    for env in ("prod", "dev"):
        values = hcl2.load((TERRAFORM / f"{env}.tfvars").open(encoding="utf-8"))
        assert unquote(values["environment"]) == env


def test_environments_have_their_own_state_and_no_doc_switches_workspaces() -> None:
    """The http backend has no workspaces; each environment has a state address of its own."""
    texts = [p for p in ROOT.rglob("*.md") if "node_modules" not in p.parts and ".venv" not in p.parts]
    texts += list((ROOT / ".github").rglob("*.yml"))
    switching = re.compile(r"terraform workspace (select|new|switch)")
    offenders = [str(p) for p in texts if switching.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], offenders
    addresses = set()
    for env in ("prod", "dev"):
        backend = hcl2.load((TERRAFORM / "backends" / f"{env}.hcl").open(encoding="utf-8"))
        addresses.add(unquote(backend["address"]))
        assert (TERRAFORM / f"{env}.tfvars").exists()
    assert len(addresses) == 2, "one state address per environment"


def test_argo_cd_is_the_version_the_tests_validate() -> None:
    variables = hcl2.load((TERRAFORM / "modules" / "argocd" / "variables.tf").open(encoding="utf-8"))
    defaults = {unquote(k): unquote(str(v.get("default"))) for g in variables["variable"] for k, v in g.items()}
    crd = upstream_file("argo-cd-*/application-crd.yaml")
    assert crd.parent.name == f"argo-cd-{defaults['argocd_version']}", "Argo CD is pinned to the CRD the tests use"
    main = (TERRAFORM / "modules" / "argocd" / "main.tf").read_text(encoding="utf-8")
    assert re.search(r"global\s*=\s*\{\s*image\s*=\s*\{\s*tag\s*=\s*var\.argocd_version", main)


# --- from an empty account: nodes before Argo CD, deadlines, and the way back ---------------

NODES_READY = TERRAFORM / "modules" / "nodes_ready"
ROOT_APPS = TERRAFORM / "modules" / "root_apps"
# Spot's servers take minutes to tens of minutes, attaching them 5-15 more (Spot's docs).
SPOT_SERVER_MINUTES = 40


def module_calls() -> dict[str, dict[str, Any]]:
    main = hcl2.load((TERRAFORM / "main.tf").open(encoding="utf-8"))
    return {unquote(name): body for group in main["module"] for name, body in group.items()}


def defaults(path: Path) -> dict[str, str]:
    parsed = hcl2.load(path.open(encoding="utf-8"))
    return {unquote(k): unquote(str(v.get("default"))) for g in parsed["variable"] for k, v in g.items()}


def test_apply_waits_for_ready_nodes_of_each_pool_before_argo_cd() -> None:
    """spot_spotnodepool's Create returns when the pool exists, not when its nodes are Ready:
    Argo CD's install hook would be Pending until Helm gave up."""
    calls = module_calls()
    waits = {name: body for name, body in calls.items() if unquote(body["source"]) == "./modules/nodes_ready"}
    pools = {name for name, body in calls.items() if unquote(body["source"]) == "./modules/nodepool"}
    waited = {re.sub(r"\$\{module\.(\w+)\.name\}", r"\1", str(body["pool_name"])) for body in waits.values()}
    assert waited == pools
    minimum = {"system_pool": "${var.system_min_nodes}", "runner_pool": "${var.min_nodes}"}
    for body in waits.values():
        pool = re.sub(r"\$\{module\.(\w+)\.name\}", r"\1", str(body["pool_name"]))
        assert body["nodes"] == minimum[pool]
        assert body["timeout_minutes"] == "${var.node_ready_timeout_minutes}"
    assert int(root_defaults()["node_ready_timeout_minutes"]) >= SPOT_SERVER_MINUTES
    (system_wait,) = [n for n, b in waits.items() if "system_pool" in str(b["pool_name"])]
    assert f"${{module.{system_wait}}}" in calls["argocd"]["depends_on"]


def test_helm_releases_wait_longer_than_spot_takes() -> None:
    argocd = (TERRAFORM / "modules" / "argocd" / "main.tf").read_text(encoding="utf-8")
    releases = re.findall(r'resource "helm_release" "(\w+)" \{(.*?)\n\}', argocd, re.DOTALL)
    assert len(releases) == 3
    values = defaults(TERRAFORM / "modules" / "argocd" / "variables.tf")
    for name, body in releases:
        timeout = re.search(r"timeout\s*=\s*var\.(\w+)", body)
        assert timeout is not None, f"{name} keeps Helm's 300 s"
        assert int(values[timeout.group(1)]) >= SPOT_SERVER_MINUTES * 60, name


@pytest.fixture(scope="module")
def nodes_ready(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("nodes_ready") / "nodes_ready"
    shutil.copytree(NODES_READY, copy)
    result = run("init", "-backend=false", "-input=false", cwd=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy


def test_the_wait_gives_up_at_its_deadline_and_says_why(nodes_ready: Path) -> None:
    """terraform apply of the module with real kubectl, against an API server that is not
    there (a cloudspace whose nodes never come): it ends, and names the pool and the count."""
    kubeconfig = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    })  # fmt: skip
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    variables = ["-var", "pool_name=system", "-var", "selector=matchpoint.ai/purpose=system", "-var", "nodes=2",
                 "-var", "timeout_minutes=0.05", "-var", "interval_seconds=1"]  # fmt: skip
    env_file = nodes_ready / "k.tfvars"
    env_file.write_text(f"kubeconfig_raw = {json.dumps(kubeconfig)}\n", encoding="utf-8")
    result = run("apply", "-auto-approve", "-input=false", f"-var-file={env_file}", *variables, cwd=nodes_ready)
    assert result.returncode != 0
    assert "system: 0 of 2 node(s) Ready" in result.stdout + result.stderr
    result = run("apply", "-auto-approve", "-input=false", f"-var-file={env_file}", *variables[:4], "-var",
                 "nodes=0", cwd=nodes_ready)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    refused = run("plan", "-no-color", "-input=false", f"-var-file={env_file}", *variables[:6], "-var", "timeout_minutes=0",
                  cwd=nodes_ready)  # fmt: skip
    assert refused.returncode != 0 and "without a deadline" in refused.stderr


@pytest.fixture(scope="module")
def root_apps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("root_apps") / "root_apps"
    shutil.copytree(ROOT_APPS, copy)
    result = run("init", "-backend=false", "-input=false", cwd=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy


def test_destroy_removes_the_fleet_before_the_controller(root_apps: Path) -> None:
    """A scale set's finalizer needs ARC's running controller and its credentials (ARC's
    autoscalingrunnerset_controller.go): the fleet's root Applications are a release
    installed after the controller's, so Terraform destroys them first, and Helm's
    uninstall waits (helm_release's wait and timeout) until Argo CD has deleted the fleet."""
    # The outputs' expressions, evaluated by Terraform itself (a console has no outputs).
    outputs = (ROOT_APPS / "outputs.tf").read_text(encoding="utf-8")
    tiers_of = {
        name: re.search(rf'output "{name}" \{{.*?value\s*=\s*(.*?)\n\}}', outputs, re.DOTALL)
        for name in ("controller", "dependents")
    }
    expression = ", ".join(f"{name} = {found.group(1)}" for name, found in tiers_of.items() if found)
    result = run("console", "-var", f"apps_dir={ROOT / 'argocd' / 'apps-live'}", "-var", "environment=dev",
                 cwd=root_apps, stdin=f"jsonencode({{{expression}}})\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    tiers = json.loads(json.loads(result.stdout.strip()))
    assert list(tiers["controller"]) == ["arc-controller"]
    assert tiers["controller"]["arc-controller"]["source"]["path"] == "charts/github-actions-controller"
    assert list(tiers["dependents"]) == ["github-runners"]
    fleet = tiers["dependents"]["github-runners"]
    assert fleet["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert fleet["source"]["helm"]["valuesObject"]["fleet"]["environment"] == "dev", (
        "the fleet runs its own environment"
    )
    argocd = (TERRAFORM / "modules" / "argocd" / "main.tf").read_text(encoding="utf-8")
    fleet_release = argocd[argocd.index('resource "helm_release" "fleet_root"') :]
    fleet_release = fleet_release[: fleet_release.index("\n}\n")]
    assert (
        "module.root_apps.dependents" in fleet_release
        and "depends_on = [helm_release.controller_root]" in fleet_release
    )
    assert re.search(r"wait\s*=\s*true", fleet_release)
    controller_release = argocd[argocd.index('resource "helm_release" "controller_root"') :]
    assert "module.root_apps.controller" in controller_release[: controller_release.index("\n}\n")]
    assert re.search(r"removed \{\s*from = helm_release\.root_applications\s*lifecycle \{\s*destroy = false", argocd)


# argo-helm's charts/argo-cd/Chart.yaml: the chart installs the CRDs of its appVersion.
ARGO_CD_CHART_APP_VERSION = {"10.1.1": "v3.4.4"}


def test_argo_cd_runs_with_the_crds_of_its_own_version() -> None:
    """The argo-cd chart 10.1.1 installs v3.4.4's CRDs even when its image is 3.5.1, and the
    API server prunes the fields 3.5 writes that they lack: its CRDs stay out, and Argo CD's
    own manifests/crds of the running version go in first."""
    values = defaults(TERRAFORM / "modules" / "argocd" / "variables.tf")
    main = (TERRAFORM / "modules" / "argocd" / "main.tf").read_text(encoding="utf-8")
    if ARGO_CD_CHART_APP_VERSION[values["argocd_chart_version"]] != values["argocd_version"]:
        assert re.search(r"crds\s*=\s*\{\s*install\s*=\s*false\s*\}", main)
    assert re.search(
        r'CRDS\s*=\s*"https://github\.com/argoproj/argo-cd//manifests/crds\?ref=\$\{var\.argocd_version\}"', main
    )
    assert re.search(r"triggers_replace\s*=\s*\[var\.argocd_version\]", main)
    release = main[main.index('resource "helm_release" "argocd"') :]
    assert "depends_on = [terraform_data.crds]" in release[: release.index("\n}\n")]
    script = (TERRAFORM / "modules" / "argocd" / "apply-crds.sh").read_text(encoding="utf-8")
    assert "apply --server-side" in script and '-k "$CRDS"' in script


def test_the_guide_gives_every_wait_its_real_deadline() -> None:
    guide = (ROOT / "DEPLOYMENT.md").read_text(encoding="utf-8")
    argocd = defaults(TERRAFORM / "modules" / "argocd" / "variables.tf")
    for name, value in [
        ("node_ready_timeout_minutes", root_defaults()["node_ready_timeout_minutes"]),
        ("install_timeout_seconds", argocd["install_timeout_seconds"]),
        ("fleet_destroy_timeout_seconds", argocd["fleet_destroy_timeout_seconds"]),
    ]:
        assert f"`{name}` ({value}" in guide, name
