"""The bot's own chart, the root Applications, the Dockerfile, and a strict lint of every
chart with the real Helm engine (helm-python-sdk, Helm v4's Go SDK). The fleet through
ARC's real charts is in test_fleet.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.app import ROOT
from tests.support.upstream import SUBCHARTS, render_dir

CHARTS = ROOT / "charts"
K8S = "1.33.0"


def render(chart: str, values: dict[str, Any], namespace: str = "argocd") -> list[dict[str, Any]]:
    return render_dir(CHARTS / chart, values, name=chart, namespace=namespace)


def k8s_valid(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S, strict=True)


@pytest.mark.parametrize("chart", sorted(p.name for p in CHARTS.iterdir() if p.is_dir() and p.name not in SUBCHARTS))
def test_chart_lints_clean(chart: str) -> None:
    """Charts without ARC dependencies; the umbrellas are linted with them in test_fleet.py."""
    result = helm_python.lint(CHARTS / chart, {}, strict=True)
    assert result["errors"] == [] and result["messages"] == [], result


def test_bot_chart_renders_valid_manifests() -> None:
    values = {
        "github": {"appId": "123"},
        "ingress": {"enabled": True, "className": "nginx"},
        "metrics": {"serviceMonitor": {"enabled": True}},
        "secret": {"create": True, "values": {"GITHUB_WEBHOOK_SECRET": "x", "GITHUB_APP_PRIVATE_KEY": "y"}},
    }
    docs = {d["kind"]: d for d in render("runners-bot", values, "runners-bot")}
    for kind, doc in docs.items():
        if kind != "ServiceMonitor":
            k8s_valid(doc)
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert docs["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert (
        container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        and container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    )
    assert docs["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert docs["ServiceMonitor"]["spec"]["endpoints"][0]["path"] == "/metrics"


def test_bot_rbac_is_least_privilege_and_writes_per_namespace() -> None:
    docs = render("runners-bot", {"github": {"appId": "1"}}, "runners-bot")
    (wide,) = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    (watcher,) = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == wide["roleRef"]["name"]]
    assert {v for rule in watcher["rules"] for v in rule["verbs"]} == {"list", "watch"}, "cluster-wide: reads only"
    rules = {
        (d["kind"], res, verb)
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
        for rule in d["rules"]
        for res in rule["resources"]
        for verb in rule["verbs"]
    }
    # Exactly the calls bot/clients/kube.py makes: get, list and watch Applications; get a scale set and
    # list pods and events in a namespace; list and watch the fleet's scale sets, pods and
    # events across namespaces; list and watch ARC's AutoscalingListeners in the controller
    # namespace; patch a scale set run by the clock (its min/max: its only write).
    assert rules == {
        ("Role", "applications", "get"),
        ("Role", "applications", "list"),
        ("Role", "applications", "watch"),
        ("ClusterRole", "autoscalingrunnersets", "list"),
        ("ClusterRole", "autoscalingrunnersets", "watch"),
        ("ClusterRole", "pods", "watch"),
        ("ClusterRole", "events", "watch"),
        ("ClusterRole", "autoscalingrunnersets", "get"),
        ("ClusterRole", "autoscalingrunnersets", "patch"),
        ("ClusterRole", "pods", "list"),
        ("ClusterRole", "events", "list"),
        ("ClusterRole", "autoscalinglisteners", "list"),
        ("ClusterRole", "autoscalinglisteners", "watch"),
    }
    bindings = {d["metadata"]["namespace"]: d["roleRef"] for d in docs if d["kind"] == "RoleBinding"}
    assert set(bindings) == {"argocd", "arc-systems"}
    (reader,) = [d for d in docs if d["kind"] == "ClusterRole" and d is not watcher]
    assert bindings["arc-systems"]["name"] == reader["metadata"]["name"] == "runners-bot-reader"


def test_bot_chart_schema_refuses_bad_values() -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render("runners-bot", {"workers": "many"}, "runners-bot")


@pytest.mark.parametrize("database", [{}, {"existingSecret": ""}])
def test_more_than_one_replica_needs_postgresql(database: dict[str, str]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render("runners-bot", {"github": {"appId": "1"}, "replicaCount": 2, "database": database}, "runners-bot")


def test_sqlite_runs_one_replica_on_its_volume() -> None:
    docs = {d["kind"]: d for d in render("runners-bot", {"github": {"appId": "1"}}, "runners-bot")}
    deployment = docs["Deployment"]["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}
    env = {e["name"]: e for e in deployment["template"]["spec"]["containers"][0]["env"]}
    assert "RUNNERS_BOT_DATABASE_URL" not in env and env["RUNNERS_BOT_STATE"]["value"].startswith("/var/lib/")
    assert "PodDisruptionBudget" not in docs and "PersistentVolumeClaim" in docs


def test_replicas_on_postgresql_roll_without_a_gap() -> None:
    values = {"github": {"appId": "1"}, "replicaCount": 3, "database": {"existingSecret": "runners-bot-db-app"}}
    docs = {d["kind"]: d for d in render("runners-bot", values, "runners-bot")}
    for doc in docs.values():
        k8s_valid(doc)
    deployment = docs["Deployment"]["spec"]
    assert deployment["replicas"] == 3
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = deployment["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["RUNNERS_BOT_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "runners-bot-db-app", "key": "uri"}
    assert "RUNNERS_BOT_STATE" not in env and "PersistentVolumeClaim" not in docs
    assert pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz", "a new pod gets traffic when ready"
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]
    pdb = docs["PodDisruptionBudget"]["spec"]
    assert pdb["minAvailable"] == 1 and pdb["selector"]["matchLabels"] == deployment["selector"]["matchLabels"]
    (spread,) = pod["topologySpreadConstraints"]  # Spot preempts a node: never both replicas on it
    assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["labelSelector"]["matchLabels"] == deployment["selector"]["matchLabels"]


def test_terraform_installs_the_fleet_but_not_the_bot_it_cannot_configure() -> None:
    main = (ROOT / "terraform" / "main.tf").read_text(encoding="utf-8")
    installed = re.search(r'apps_dir\s*=\s*"\$\{path\.root\}/\.\./(argocd/[\w-]+)"', main)
    assert installed is not None
    names = {p.name for p in (ROOT / installed.group(1)).glob("*.yaml")}
    assert names == {"controller.yaml", "fleet.yaml"}, "runners-bot's Application needs its App first (DEPLOYMENT.md)"


@pytest.mark.parametrize("manifest", sorted((ROOT / "argocd").glob("apps-*/*.yaml")), ids=lambda p: p.name)
def test_root_applications(manifest: Path) -> None:
    app = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    assert app["kind"] == "Application" and app["spec"]["syncPolicy"]["automated"]["prune"] is True
    chart = ROOT / app["spec"]["source"]["path"]
    assert (chart / "Chart.yaml").exists()
    for value_file in app["spec"]["source"]["helm"].get("valueFiles", []):
        assert (chart / value_file).resolve().exists(), value_file


def test_dockerfile_is_lint_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- a reproducible image -----------------------------------------------------------------

LOCK = ROOT / "requirements.lock"


def _locked() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^ ]+) \\$", line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def test_image_installs_only_hash_pinned_packages_on_a_digest_pinned_base() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert bases and all(re.search(r"@sha256:[0-9a-f]{64}$", b) for b in bases), bases
    assert "--require-hashes -r requirements.lock" in dockerfile and "pip install --no-deps ." in dockerfile
    text = LOCK.read_text(encoding="utf-8")
    assert "--hash=sha256:" in text and "file://" not in text and "--find-links" not in text


def test_lock_pins_every_runtime_dependency_within_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = _locked()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement.name}=={version} vs {spec}"


def test_renovate_keeps_the_pins_current() -> None:
    config = json.loads((ROOT / "renovate.json").read_text(encoding="utf-8"))
    assert "docker:pinDigests" in config["extends"] and "helpers:pinGitHubActionDigests" in config["extends"]
    assert any(re.search(pattern, "requirements.lock") for pattern in config["pip-compile"]["fileMatch"])
    images = re.findall(
        config["customManagers"][0]["matchStrings"][0].replace("?<", "?P<"),
        (CHARTS / "runners-fleet" / "values.yaml").read_text(encoding="utf-8"),
    )
    assert {name for name, _ in images} >= {"ghcr.io/actions/actions-runner", "docker"}


# --- volume sizes Rackspace Spot binds ------------------------------------------------------

UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def size_bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMGT]i?)?", quantity).groups()  # type: ignore[union-attr]
    return int(number) * UNITS.get(unit or "", 1)


def spot_refuses(quantity: str) -> str | None:
    """Rackspace Spot's persistent volumes: under 5 GB unsupported everywhere, and some
    Gen-1 regions refuse 20–50 GB too (Spot's storage documentation)."""
    size = size_bytes(quantity)
    if size < 5 * 10**9:
        return "under 5 GB"
    if 20 * 10**9 <= size <= 50 * 10**9:
        return "20-50 GB (refused by Gen-1 regions)"
    return None


def test_every_default_claim_is_a_size_spot_binds() -> None:
    bot = {d["kind"]: d for d in render("runners-bot", {"github": {"appId": "1"}}, "runners-bot")}
    sizes = {"runners-bot state": bot["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"]}
    runners = yaml.safe_load((CHARTS / "github-actions-runners" / "values.yaml").read_text(encoding="utf-8"))
    sizes["runner cache"] = runners["persistentCache"]["size"]
    fleet = yaml.safe_load((CHARTS / "runners-fleet" / "values.yaml").read_text(encoding="utf-8"))
    for name, profile in fleet["scaling"]["profiles"].items():
        sizes[f"fleet profile {name}"] = profile["storage"]
    refused = {what: (size, spot_refuses(size)) for what, size in sizes.items() if spot_refuses(size)}
    assert refused == {}, refused
    assert spot_refuses("1Gi") and spot_refuses("20Gi") and not spot_refuses("5Gi") and not spot_refuses("50Gi")
    guide = (ROOT / "DEPLOYMENT.md").read_text(encoding="utf-8")
    assert "under 5 GB" in guide and "20–50 GB" in guide
    assert not re.search(r"size: [1-4]Gi\b", guide), "an example claim Spot would leave Pending"
