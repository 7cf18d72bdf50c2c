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
