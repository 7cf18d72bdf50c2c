"""The ValidatingAdmissionPolicy the bot's chart ships: runners-bot's ServiceAccount may
change only spec.minRunners and spec.maxRunners of an AutoscalingRunnerSet. Its CEL is
rendered by Helm and evaluated with cel-python against allowed and refused updates."""

from __future__ import annotations

import copy
import re
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml
from celpy.adapter import json_to_cel

from tests.deploy.test_charts import render
from tests.support.app import ROOT
from tests.support.upstream import upstream_file

SERVICE_ACCOUNT = "system:serviceaccount:runners-bot:runners-bot"


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    docs = render("runners-bot", {"github": {"appId": "1"}}, "runners-bot")
    (found,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"]
    (binding,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert binding["spec"]["policyName"] == found["metadata"]["name"] and binding["spec"]["validationActions"] == [
        "Deny"
    ]
    return found


def scale_set() -> dict[str, Any]:
    return {
        "apiVersion": "actions.github.com/v1alpha1",
        "kind": "AutoscalingRunnerSet",
        "metadata": {"name": "arc-api-runners", "namespace": "arc-api", "labels": {"app.kubernetes.io/instance": "x"}},
        "spec": {
            "githubConfigUrl": "https://github.com/acme/api",
            "githubConfigSecret": "arc-github-app",
            "minRunners": 1,
            "maxRunners": 10,
            "runnerScaleSetName": "arc-api-runners",
            "template": {
                "spec": {"containers": [{"name": "runner", "image": "ghcr.io/actions/actions-runner:2.329.0"}]}
            },
        },
    }


def admitted(policy: dict[str, Any], old: dict[str, Any], new: dict[str, Any], user: str = SERVICE_ACCOUNT) -> bool:
    """What the API server decides: the policy applies when its match conditions hold, and
    then every validation must be true."""
    env = celpy.Environment()
    activation = {
        "object": json_to_cel(new),
        "oldObject": json_to_cel(old),
        "request": json_to_cel({"userInfo": {"username": user}, "operation": "UPDATE"}),
    }

    def holds(expression: str) -> bool:
        program = env.program(env.compile(expression))
        return bool(program.evaluate(activation))

    if not all(holds(c["expression"]) for c in policy["spec"]["matchConditions"]):
        return True
    return all(holds(v["expression"]) for v in policy["spec"]["validations"])


def test_min_and_max_may_change(policy: dict[str, Any]) -> None:
    old, new = scale_set(), scale_set()
    new["spec"].update(minRunners=4, maxRunners=30)
    assert admitted(policy, old, new)
    del new["spec"]["minRunners"]  # a merge patch that drops one of the two
    assert admitted(policy, old, new)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["spec"]["template"]["spec"]["containers"][0].update(image="evil/miner:latest"),
        lambda s: s["spec"]["template"]["spec"].update(hostNetwork=True),
        lambda s: s["spec"].update(githubConfigUrl="https://github.com/attacker/repo"),
        lambda s: s["spec"].update(githubConfigSecret="stolen"),
        lambda s: s["spec"].update(runnerGroup="attackers"),
        lambda s: s["spec"].pop("template"),
        lambda s: s["spec"].update(listenerTemplate={"spec": {"containers": []}}),
        lambda s: s["metadata"]["labels"].update(evil="1"),
        lambda s: s["metadata"].update(finalizers=["block"]),
        lambda s: s["metadata"].update(annotations={"x": "y"}),
    ],
)
def test_anything_else_is_refused(policy: dict[str, Any], change: Any) -> None:
    old = scale_set()
    new = copy.deepcopy(old)
    change(new)
    new["spec"]["maxRunners"] = 11  # even alongside an allowed change
    assert not admitted(policy, old, new)


def test_other_users_are_not_this_policys_business(policy: dict[str, Any]) -> None:
    old, new = scale_set(), scale_set()
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/actions/actions-runner:2.330.0"
    assert admitted(policy, old, new, user="system:serviceaccount:argocd:argocd-application-controller")


def test_every_field_of_arcs_crd_is_guarded(policy: dict[str, Any]) -> None:
    found = upstream_file(
        "arc-*/charts/gha-runner-scale-set-controller/crds/actions.github.com_autoscalingrunnersets.yaml"
    )
    crd = yaml.safe_load(found.read_text(encoding="utf-8"))
    (version,) = crd["spec"]["versions"]
    fields = set(version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])
    guarded = {f for f in fields if any(v["message"].endswith(f"not spec.{f}") for v in policy["spec"]["validations"])}
    assert fields - guarded == {"minRunners", "maxRunners"}


# --- the two fields it lets through, bounded -------------------------------------------------

CEILING = 200  # charts/runners-bot/values.yaml, admissionPolicy.maxRunnersCeiling


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ({"minRunners": 0, "maxRunners": CEILING}, True),
        ({"minRunners": CEILING, "maxRunners": CEILING}, True),
        # ARC runs a set without maxRunners at math.MaxInt32 (autoscalingrunnerset_controller.go).
        ({"minRunners": 1}, False),
        ({"minRunners": 1, "maxRunners": 2_147_483_647}, False),
        ({"minRunners": 1, "maxRunners": CEILING + 1}, False),
        ({"minRunners": CEILING + 1, "maxRunners": CEILING + 1}, False),
        ({"minRunners": -1, "maxRunners": 5}, False),
        ({"minRunners": 6, "maxRunners": 5}, False),
        ({"maxRunners": -1}, False),
    ],
)
def test_min_and_max_stay_within_the_ceiling(policy: dict[str, Any], spec: dict[str, int], allowed: bool) -> None:
    old, new = scale_set(), scale_set()
    del new["spec"]["minRunners"], new["spec"]["maxRunners"]
    new["spec"].update(spec)
    assert admitted(policy, old, new) is allowed


def test_the_ceiling_is_a_value_and_covers_what_the_fleet_may_ask_for() -> None:
    raised = render(
        "runners-bot", {"github": {"appId": "1"}, "admissionPolicy": {"maxRunnersCeiling": 7}}, "runners-bot"
    )
    (found,) = [d for d in raised if d["kind"] == "ValidatingAdmissionPolicy"]
    old, new = scale_set(), scale_set()
    new["spec"].update(minRunners=1, maxRunners=8)
    assert not admitted(found, old, new)
    values = yaml.safe_load((ROOT / "charts" / "runners-bot" / "values.yaml").read_text(encoding="utf-8"))
    assert values["admissionPolicy"]["maxRunnersCeiling"] == CEILING
    limits = yaml.safe_load((ROOT / "values" / "base-config.yaml").read_text(encoding="utf-8"))["scaling"]["limits"]
    assert max(limits.values()) <= CEILING, "the policy would refuse what the fleet's limits allow"


def test_the_kubernetes_floor_serves_the_policy_everywhere_it_is_stated() -> None:
    """ValidatingAdmissionPolicy v1 is served from Kubernetes 1.30 (Kubernetes' own OpenAPI
    schemas, as kubernetes-validate ships them): the cloudspace's versions, the charts'
    guards and the guides must not allow less."""
    for version in ("1.29.0", "1.30.0"):
        try:
            kubernetes_validate.validate(policy_doc(), version, strict=True)
            served = True
        except kubernetes_validate.SchemaNotFoundError:
            served = False
        assert served is (version == "1.30.0")
    variables = (ROOT / "terraform" / "modules" / "cloudspace" / "variables.tf").read_text(encoding="utf-8")
    offered = re.search(r"contains\(\[([^\]]*)\], var\.kubernetes_version\)", variables)
    assert offered is not None
    versions = [tuple(int(p) for p in v.strip(' "').split(".")[:2]) for v in offered.group(1).split(",")]
    assert min(versions) == (1, 30), versions
    for chart in ("runners-bot/templates/admission-policy.yaml", "runners-fleet/templates/applications.yaml"):
        text = (ROOT / "charts" / chart).read_text(encoding="utf-8")
        assert 'semverCompare "<1.30-0" .Capabilities.KubeVersion.Version' in text, chart
    guides = {str(p): p.read_text(encoding="utf-8") for p in (ROOT / "DEPLOYMENT.md", ROOT / "docs" / "operating.md")}
    guides |= {"terraform/variables.tf": (ROOT / "terraform" / "variables.tf").read_text(encoding="utf-8")}
    guides |= {"cloudspace variables": variables}
    for name, text in guides.items():
        assert not re.search(r"1\.29 or later|≥ 1\.29|>= 1\.29", text), name


def policy_doc() -> dict[str, Any]:
    docs = render("runners-bot", {"github": {"appId": "1"}}, "runners-bot")
    (found,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"]
    return found
