"""From zero: Terraform's node pools and the charts as one deployment. Every pod the
deployment starts must find a node pool it may be scheduled on, as kube-scheduler
decides it (nodeSelector, required node affinity, taints against tolerations): a
cloudspace has no workers of its own, and a pod that fits no pool stays Pending (and
an Argo CD install waiting on its hook times out)."""

from __future__ import annotations

import json
import re
from typing import Any

import hcl2
import pytest

from bot.fleet.config import ConfigFiles
from tests.deploy.test_fleet import charts, deploy, fleet_values  # noqa: F401 (the module's fixture)
from tests.deploy.test_terraform import NAMING, TERRAFORM, root_defaults, run
from tests.support.app import ROOT
from tests.support.upstream import RealCharts, render_dir

Pool = dict[str, Any]


def pools() -> dict[str, Pool]:
    """Each node pool main.tf declares, with the labels and taints its nodes get, worked
    out by Terraform itself from the naming module."""
    main = hcl2.load((TERRAFORM / "main.tf").open(encoding="utf-8"))
    declared = {
        name.strip('"'): body
        for group in main["module"]
        for name, body in group.items()
        if str(body.get("source")).strip('"') == "./modules/nodepool"
    }
    outputs = set(re.findall(r'output "(\w+)"', (NAMING / "outputs.tf").read_text(encoding="utf-8")))
    values = {"purpose": "github-runners", "region": "dfw", "environment": "prod",
              "runner_pool": root_defaults()["runner_pool"]}  # fmt: skip
    args = [part for key, value in values.items() for part in ("-var", f"{key}={value}")]
    console = "jsonencode({" + ", ".join(f"{o} = local.{o}" for o in sorted(outputs - {"name"})) + "})\n"
    result = run("console", *args, cwd=NAMING, stdin=console)
    assert result.returncode == 0, result.stderr
    naming = json.loads(json.loads(result.stdout.strip()))

    def resolve(expression: Any) -> Any:
        if isinstance(expression, list):
            return [resolve(item) for item in expression]
        found = re.fullmatch(r"\$\{module\.naming\.(\w+)\}", str(expression))
        if found is None:
            raise AssertionError(f"main.tf: a pool's labels or taints come from {expression!r}, not the naming module")
        return naming[found.group(1)]

    return {
        name: {"labels": resolve(body["labels"]), "taints": resolve(body["taints"])} for name, body in declared.items()
    }


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations or []:
        key_ok = t.get("key") == taint["key"] or (not t.get("key") and t.get("operator") == "Exists")
        value_ok = t.get("operator") == "Exists" or t.get("value", "") == (taint.get("value") or "")
        effect_ok = not t.get("effect") or t.get("effect") == taint["effect"]
        if key_ok and value_ok and effect_ok:
            return True
    return False


def fits(pod: dict[str, Any], pool: Pool) -> bool:
    """Whether kube-scheduler may place ``pod`` (a pod spec) on a node of ``pool``."""
    labels = pool["labels"]
    if any(labels.get(k) != v for k, v in (pod.get("nodeSelector") or {}).items()):
        return False
    required = (((pod.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})  # fmt: skip
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(all(_matches(e, labels) for e in term.get("matchExpressions", [])) for term in terms):
        return False
    hard = [t for t in pool["taints"] if t["effect"] in ("NoSchedule", "NoExecute")]
    return all(tolerates(pod.get("tolerations") or [], t) for t in hard)


def _matches(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
    return {
        "In": key in labels and labels[key] in values,
        "NotIn": key not in labels or labels[key] not in values,
        "Exists": key in labels,
        "DoesNotExist": key not in labels,
    }[operator]


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pod specs of every workload among ``docs`` (Deployments, Jobs, StatefulSets...)."""
    found = {}
    for doc in docs:
        template = (doc.get("spec") or {}).get("template") or (doc.get("spec") or {}).get("jobTemplate", {}).get(
            "spec", {}
        ).get("template")
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob") and template:
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = template["spec"]
    return found


def argo_cd_pods() -> dict[str, dict[str, Any]]:
    """Argo CD's pods as the argo-cd chart places them with the values Terraform passes:
    ``global.nodeSelector``/``global.tolerations`` (empty by default) go to every pod,
    its pre-install ``redis-secret-init`` hook included."""
    module = (TERRAFORM / "modules" / "argocd" / "main.tf").read_text(encoding="utf-8")
    placement: dict[str, Any] = {}
    for key in ("nodeSelector", "tolerations"):
        if re.search(rf"\b{key}\b", module):
            pytest.fail(f"modules/argocd sets {key}: teach this test to read it")
    return {name: dict(placement) for name in ("argocd-redis-secret-init (hook)", "argocd-server", "argocd-repo-server",
                                               "argocd-application-controller", "argocd-redis")}  # fmt: skip


def test_every_pod_of_the_deployment_finds_a_node(charts: RealCharts, bundled: ConfigFiles) -> None:  # noqa: F811
    found = pools()
    assert found, "main.tf declares no node pool"
    workloads = dict(argo_cd_pods())
    bot = render_dir(ROOT / "charts" / "runners-bot", {"github": {"appId": "1"}}, name="runners-bot",
                     namespace="runners-bot")  # fmt: skip
    workloads |= {f"runners-bot {k}": v for k, v in pod_specs(bot).items()}
    controller = charts.render("github-actions-controller", {}, name="arc", namespace="arc-systems")
    workloads |= {f"arc {k}": v for k, v in pod_specs(controller).items()}
    runners = {}
    for name, entry in deploy(charts, fleet_values(bundled.repositories, bundled.base)).items():
        ars = entry.one("AutoscalingRunnerSet")["spec"]
        # ARC builds the listener pod from listenerTemplate (none: no placement at all).
        workloads[f"listener of {name}"] = ((ars.get("listenerTemplate") or {}).get("spec")) or {}
        runners[f"runners of {name}"] = ars["template"]["spec"]
    homeless = [name for name, pod in {**workloads, **runners}.items() if not any(fits(pod, p) for p in found.values())]
    assert homeless == [], f"no node pool takes {homeless} (pools: {found})"
    on_runner_nodes = [name for name, pod in workloads.items() if not any(
        fits(pod, p) for p in found.values() if not p["taints"])]  # fmt: skip
    assert on_runner_nodes == [], "system workloads need the untainted pool"
    assert all(not any(fits(pod, p) for p in found.values() if not p["taints"]) for pod in runners.values()), (
        "runner pods select the runner pool alone"
    )


def test_argo_cd_is_installed_after_the_pool_it_runs_on() -> None:
    main = (TERRAFORM / "main.tf").read_text(encoding="utf-8")
    argocd = main[main.index('module "argocd"') :]
    assert re.search(r"depends_on\s*=\s*\[[^\]]*module\.system_pool", argocd)
    (pool,) = [p for name, p in pools().items() if name == "system_pool"]
    assert pool["taints"] == [], "the system pool is untainted"


def test_the_docs_say_what_runs_where() -> None:
    text = (ROOT / "DEPLOYMENT.md").read_text(encoding="utf-8")
    assert "system pool" in text and "runner pool" in text
