"""The ValidatingAdmissionPolicy the bot's chart ships: runners-bot's ServiceAccount may
change only spec.minRunners and spec.maxRunners of an AutoscalingRunnerSet. Its CEL is
rendered by Helm and evaluated with cel-python against allowed and refused updates."""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest
import yaml
from celpy.adapter import json_to_cel

from tests.deploy.test_charts import render
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
    guarded = {f for f in fields if any(f"object.spec.{f})" in v["expression"] for v in policy["spec"]["validations"])}
    assert fields - guarded == {"minRunners", "maxRunners"}
