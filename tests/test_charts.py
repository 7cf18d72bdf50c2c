"""The deployable system: charts lint and render with the real Helm engine (helm-python-sdk,
Helm v4's Go SDK), rendered manifests validate against Kubernetes schemas, and what the
fleet renders is exactly what runners-bot's pull requests say (one source of truth).

ARC's own charts (OCI dependencies) cannot be downloaded here, so they are switched off
in these renders; the values we pass them are checked against the fields ARC reads.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import ConfigFiles, parse
from bot.validation import validate

CHARTS = ROOT / "charts"
K8S = "1.33.0"
MISSING_DEPENDENCY = "chart directory is missing these dependencies"
OFF = {
    "github-actions-runners": {"gha-runner-scale-set": {"enabled": False}},
    "github-actions-controller": {"gha-runner-scale-set-controller": {"enabled": False}},
}


def fleet_values(files: ConfigFiles) -> dict[str, Any]:
    """What ArgoCD passes: the two value files, later ones winning."""
    return {**yaml.safe_load(files.base), **yaml.safe_load(files.repositories)}


def render(chart: str, values: dict[str, Any], namespace: str = "argocd") -> list[dict[str, Any]]:
    loaded = helm_python.Chart.load(CHARTS / chart)
    try:
        out = loaded.render(values, name=chart, namespace=namespace)
    finally:
        loaded.close()
    return [
        doc for path, text in out.items() if not path.endswith("NOTES.txt") for doc in yaml.safe_load_all(text) if doc
    ]


def k8s_valid(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S, strict=True)


@pytest.mark.parametrize("chart", sorted(p.name for p in CHARTS.iterdir() if p.is_dir()))
def test_chart_lints_clean(chart: str) -> None:
    result = helm_python.lint(CHARTS / chart, OFF.get(chart, {}), strict=True)
    assert [e for e in result["errors"] if MISSING_DEPENDENCY not in e] == []
    problems = [m for m in result["messages"] if MISSING_DEPENDENCY not in m["error"]]
    assert problems == [], problems


def test_fleet_renders_one_application_per_repository(bundled: ConfigFiles) -> None:
    docs = render("runners-fleet", fleet_values(bundled))
    assert [d["metadata"]["name"] for d in docs] == ["arc-frontend-runners", "arc-api-runners", "arc-beta-runners"]
    for app in docs:
        check_application(app)


def check_application(app: dict[str, Any]) -> None:
    """The Application fields we set, as ArgoCD's CRD reads them, and the ARS values inside."""
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    spec = app["spec"]
    assert {"repoURL", "path", "targetRevision", "helm"} <= set(spec["source"])
    assert (CHARTS.parent / spec["source"]["path"]).is_dir()
    assert spec["destination"]["server"].startswith("https://") and spec["destination"]["namespace"].startswith("arc-")
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
    assert spec["syncPolicy"]["retry"]["backoff"]["factor"] == 2
    check_scale_set(spec["source"]["helm"]["valuesObject"]["gha-runner-scale-set"])


def check_scale_set(values: dict[str, Any]) -> None:
    """AutoscalingRunnerSet fields (actions.github.com/v1alpha1) and a valid runner pod."""
    assert values["githubConfigUrl"].startswith("https://github.com/")
    assert isinstance(values["githubConfigSecret"], str) and values["githubConfigSecret"]
    assert isinstance(values["minRunners"], int) and isinstance(values["maxRunners"], int)
    assert 0 <= values["minRunners"] <= values["maxRunners"]
    assert values["runnerScaleSetName"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "runner"}, "spec": values["template"]["spec"]}
    k8s_valid(pod)
    assert pod["spec"]["containers"][0]["name"] == "runner"


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_runner_chart_renders_examples(example: Path) -> None:
    values = yaml.safe_load(example.read_text(encoding="utf-8"))
    if "template" in values["gha-runner-scale-set"]:
        check_scale_set({**values["gha-runner-scale-set"], "minRunners": values["gha-runner-scale-set"]["minRunners"]})
    values["gha-runner-scale-set"]["enabled"] = False
    for doc in render("github-actions-runners", values, "arc-x"):
        k8s_valid(doc)


def test_controller_chart_renders() -> None:
    assert render("github-actions-controller", OFF["github-actions-controller"], "arc-systems") == []


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
    assert docs["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert docs["ServiceMonitor"]["spec"]["endpoints"][0]["path"] == "/metrics"


def test_bot_rbac_is_read_only_and_minimal() -> None:
    docs = render("runners-bot", {"github": {"appId": "1"}}, "runners-bot")
    rules = [rule for d in docs if d["kind"] in ("Role", "ClusterRole") for rule in d["rules"]]
    assert {verb for rule in rules for verb in rule["verbs"]} == {"get", "list", "watch"}
    assert sorted(r for rule in rules for r in rule["resources"]) == ["applications", "autoscalingrunnersets", "pods"]
    role = next(d for d in docs if d["kind"] == "Role")
    assert role["metadata"]["namespace"] == "argocd"


def test_bot_chart_schema_refuses_bad_values() -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render("runners-bot", {"workers": "many"}, "runners-bot")


@pytest.mark.parametrize("manifest", sorted((ROOT / "argocd" / "apps-live").glob("*.yaml")), ids=lambda p: p.name)
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


# --- one source of truth: the bot's effective settings == what the fleet renders ----------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,20}[A-Za-z0-9]", fullmatch=True)


@st.composite
def configurations(draw: st.DrawFn, base: dict[str, Any]) -> str:
    profiles, categories = sorted(base["scaling"]["profiles"]), sorted(base["categories"])
    chosen = draw(
        st.lists(names, min_size=1, max_size=6, unique_by=lambda n: n.lower().replace(".", "-").replace("_", "-"))
    )
    entries: list[dict[str, Any]] = []
    for name in chosen:
        entry: dict[str, Any] = {"name": name, "org": "acme"}
        if draw(st.booleans()):
            entry["category"] = draw(st.sampled_from(categories))
        if draw(st.booleans()):
            low = draw(st.integers(0, 10))
            entry["scaling"] = {"minRunners": low, "maxRunners": draw(st.integers(max(low, 1), 50))}
        if draw(st.booleans()):
            entry["profile"] = draw(st.sampled_from(profiles))
        if draw(st.booleans()):
            entry["runnerScaleSetName"] = (
                f"arc-{draw(st.from_regex(r'[a-z][a-z0-9]{0,10}', fullmatch=True))}-{len(entries)}"
            )
        if draw(st.booleans()):
            entry["storage"] = {"work": f"{draw(st.integers(1, 500))}Gi"}
        if draw(st.booleans()):
            entry["dind"] = draw(st.booleans())
        entries.append(entry)
    return yaml.safe_dump({"repositories": entries}, sort_keys=False)


BASE = yaml.safe_load((ROOT / "values" / "base-config.yaml").read_text(encoding="utf-8"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations(BASE))
def test_fleet_matches_what_the_bot_says(repositories: str) -> None:
    files = ConfigFiles(repositories, (ROOT / "values" / "base-config.yaml").read_text(encoding="utf-8"))
    config = parse(files.repositories, files.base)
    if validate(config):
        return  # e.g. two generated scale set names collide; the fleet is only rendered when valid
    apps = {a["metadata"]["name"]: a for a in render("runners-fleet", fleet_values(files))}
    assert len(apps) == len(config.entries)
    for entry in config.entries:
        effective = config.effective(entry)
        app = apps[effective.scale_set]
        check_application(app)
        assert app["spec"]["destination"]["namespace"] == effective.namespace
        values = app["spec"]["source"]["helm"]["valuesObject"]["gha-runner-scale-set"]
        assert (values["minRunners"], values["maxRunners"]) == (effective.min_runners, effective.max_runners)
        assert values["runnerScaleSetName"] == effective.scale_set
        assert values["githubConfigUrl"] == f"https://github.com/{effective.org}/{effective.name}"
        assert app["metadata"]["annotations"]["runners.matchpoint.ai/profile"] == effective.profile
        spec = values["template"]["spec"]
        runner = spec["containers"][0]
        assert effective.resources is not None
        assert runner["resources"] == {
            "requests": {"cpu": effective.resources.cpu_request, "memory": effective.resources.memory_request},
            "limits": {"cpu": effective.resources.cpu_limit, "memory": effective.resources.memory_limit},
        }
        work = next(v for v in spec["volumes"] if v["name"] == "work")
        assert work["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == effective.storage
        assert any(c["name"] == "dind" for c in spec["containers"]) == effective.dind
