"""A rolling update of runners-bot's replicas on the cluster Terraform builds: the
scheduler's PodTopologySpread filter worked through step by step, with the nodes of both
pools (the tainted runner pool included) and the Deployment's surge arithmetic."""

from __future__ import annotations

import copy
from typing import Any

import hcl2
import pytest

from tests.deploy.test_placement import fits, pools
from tests.deploy.test_terraform import TERRAFORM, root_defaults, unquote
from tests.support.app import ROOT
from tests.support.upstream import render_dir

Node = dict[str, Any]


def cluster() -> list[Node]:
    """The nodes of a fresh prod cluster: each pool at its minimum (terraform/ and prod.tfvars)."""
    prod = hcl2.load((TERRAFORM / "prod.tfvars").open(encoding="utf-8"))
    sizes = {
        "system_pool": int(root_defaults()["system_min_nodes"]),
        "runner_pool": int(unquote(str(prod["min_nodes"]))),
    }
    return [
        {"name": f"{pool}-{i}", **spec, "labels": {**spec["labels"], "kubernetes.io/hostname": f"{pool}-{i}"}}
        for pool, spec in pools().items()
        for i in range(sizes[pool])
    ]


def spread_allows(pod: dict[str, Any], node: Node, nodes: list[Node], placed: dict[str, str]) -> bool:
    """kube-scheduler's PodTopologySpread Filter (pkg/scheduler/framework/plugins/
    podtopologyspread/filtering.go): the eligible domains are the nodes that pass the
    constraint's nodeAffinityPolicy (default Honor) and nodeTaintsPolicy (default Ignore:
    every node, tolerated or not); skew = matching pods in the node's domain + 1 − the
    fewest in any eligible domain, at most maxSkew. All our pods match the selector."""
    for constraint in pod.get("topologySpreadConstraints") or []:
        if constraint["whenUnsatisfiable"] != "DoNotSchedule":
            continue
        key = constraint["topologyKey"]
        honour_taints = constraint.get("nodeTaintsPolicy", "Ignore") == "Honor"
        placement = {k: v for k, v in pod.items() if k in ("nodeSelector", "affinity")}
        eligible = [
            n
            for n in nodes
            if key in n["labels"] and fits(placement, {**n, "taints": []}) and (not honour_taints or fits(pod, n))
        ]
        counts = {n["labels"][key]: 0 for n in eligible}
        for on in placed.values():
            domain = next(n["labels"][key] for n in nodes if n["name"] == on)
            if domain in counts:
                counts[domain] += 1
        if key not in node["labels"] or not counts:
            return False
        skew = counts.get(node["labels"][key], 0) + 1 - min(counts.values())
        if skew > constraint["maxSkew"]:
            return False
    return True


def schedule(pod: dict[str, Any], nodes: list[Node], placed: dict[str, str]) -> str | None:
    """Where the scheduler may put ``pod``: a node it fits (taints, selector) and the spread
    filter allows, the least loaded first (its scoring prefers less skew)."""
    feasible = [n for n in nodes if fits(pod, n) and spread_allows(pod, n, nodes, placed)]
    feasible.sort(key=lambda n: sum(1 for on in placed.values() if on == n["name"]))
    return feasible[0]["name"] if feasible else None


def roll(deployment: dict[str, Any], nodes: list[Node]) -> list[str]:
    """The Deployment controller's RollingUpdate: at most replicas + maxSurge pods, and an
    old pod goes only once a new one runs (maxUnavailable 0). Returns where the new pods
    ended up; fails if a new pod can be placed nowhere (the rollout would wait forever)."""
    spec = deployment["spec"]
    replicas, surge = spec["replicas"], spec["strategy"]["rollingUpdate"]["maxSurge"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    placed: dict[str, str] = {}
    for i in range(replicas):  # the running replicas, as the scheduler placed them
        where = schedule(pod, nodes, placed)
        assert where is not None, "the first replicas do not fit"
        placed[f"old-{i}"] = where
    new = 0
    while new < replicas:
        assert len(placed) < replicas + surge
        where = schedule(pod, nodes, placed)
        if where is None:
            pytest.fail(f"new pod {new} is Pending for ever: pods on {sorted(placed.values())}, nodes {nodes}")
        placed[f"new-{new}"] = where
        new += 1
        old = sorted(k for k in placed if k.startswith("old-"))
        if old:
            del placed[old[0]]
    return sorted(placed.values())


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    values = {"github": {"appId": "1"}, "replicaCount": 2, "database": {"existingSecret": "runners-bot-db-app"}}
    docs = render_dir(ROOT / "charts" / "runners-bot", values, name="runners-bot", namespace="runners-bot")
    (found,) = [d for d in docs if d["kind"] == "Deployment"]
    return found


def test_a_rolling_update_places_every_new_replica(deployment: dict[str, Any]) -> None:
    """Each surge pod finds a system node within the skew. (Where the last ones end up
    depends on scoring ties and on which old pod goes first: the spread is checked when a
    pod is scheduled, never afterwards.)"""
    nodes = cluster()
    assert any(n["taints"] for n in nodes) and sum(1 for n in nodes if not n["taints"]) == 2
    ended = roll(deployment, nodes)
    assert len(ended) == 2 and all(on.startswith("system_pool") for on in ended)


def test_counting_the_runner_nodes_as_domains_would_block_it(deployment: dict[str, Any]) -> None:
    """Why nodeTaintsPolicy is Honor: with the default, each runner node is an empty
    domain, so the surge pod skews 2 against 0 on either system node."""
    ignoring = copy.deepcopy(deployment)
    for constraint in ignoring["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        assert constraint["nodeTaintsPolicy"] == "Honor"
        del constraint["nodeTaintsPolicy"]
    with pytest.raises(pytest.fail.Exception, match="Pending for ever"):
        roll(ignoring, cluster())
