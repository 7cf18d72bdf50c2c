"""The fleet as a cluster would get it: charts/runners-fleet renders one Argo CD
Application per entry; each Application's values go through our runner umbrella with
ARC 0.12.1's real ``gha-runner-scale-set`` chart, as Argo CD's repo-server would render
them. Every AutoscalingRunnerSet, Application and ExternalSecret validates against the
upstream CRDs, every built-in kind against Kubernetes' schemas; and what the fleet runs
is exactly what runners-bot's pull requests say (one source of truth).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.fleet.config import ConfigFiles, Effective, parse
from bot.fleet.validation import validate
from tests.support.app import ROOT
from tests.support.upstream import RealCharts, crd_errors, real_charts, render_dir

K8S = "1.33.0"
FLEET = ROOT / "charts" / "runners-fleet"
BASE_TEXT = (ROOT / "values" / "base-config.yaml").read_text(encoding="utf-8")
BASE = yaml.safe_load(BASE_TEXT)


@pytest.fixture(scope="module")
def charts() -> Iterator[RealCharts]:
    yield from real_charts()


@dataclass
class Deployed:
    """One entry as deployed: its Application and what ARC's chart renders from it."""

    application: dict[str, Any]
    manifests: list[dict[str, Any]]

    def one(self, kind: str) -> dict[str, Any]:
        (found,) = [d for d in self.manifests if d["kind"] == kind]
        return dict(found)

    @property
    def pod(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.one("AutoscalingRunnerSet")["spec"]["template"]["spec"]
        return spec

    def container(self, name: str, init: bool = False) -> dict[str, Any]:
        (found,) = [c for c in self.pod["initContainers" if init else "containers"] if c["name"] == name]
        return dict(found)


def fleet_values(repositories: str, base: str = BASE_TEXT) -> dict[str, Any]:
    """What the root Application passes: the two value files, later ones winning."""
    return {**yaml.safe_load(base), **yaml.safe_load(repositories)}


def valid(doc: dict[str, Any]) -> None:
    group = doc["apiVersion"].split("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        assert crd_errors(doc) == [], (doc["kind"], crd_errors(doc))
    else:
        kubernetes_validate.validate(doc, K8S, strict=True)


def deploy(charts: RealCharts, values: dict[str, Any]) -> dict[str, Deployed]:
    """Render the fleet, then each Application through the real ARC chart; all validated."""
    apps = render_dir(FLEET, values, name="github-runners", namespace="argocd")
    deployed = {}
    for app in apps:
        valid(app)
        source = app["spec"]["source"]
        manifests = charts.render(
            source["path"].rsplit("/", 1)[-1],
            source["helm"]["valuesObject"],
            name=source["helm"]["releaseName"],
            namespace=app["spec"]["destination"]["namespace"],
        )
        for doc in manifests:
            valid(doc)
        deployed[app["metadata"]["name"]] = Deployed(app, manifests)
    return deployed


def test_umbrellas_lint_clean_with_arc_inside(charts: RealCharts) -> None:
    for umbrella in ("github-actions-runners", "github-actions-controller"):
        result = charts.lint(umbrella)
        assert result["errors"] == [] and result["messages"] == [], result


def test_bundled_fleet_deploys_through_real_arc(charts: RealCharts, bundled: ConfigFiles) -> None:
    fleet = deploy(charts, fleet_values(bundled.repositories, bundled.base))
    assert list(fleet) == ["arc-frontend-runners", "arc-api-runners", "arc-beta-runners"]
    for name, entry in fleet.items():
        ars = entry.one("AutoscalingRunnerSet")
        assert ars["metadata"]["name"] == name == ars["spec"]["runnerScaleSetName"]
        assert ars["metadata"]["namespace"] == entry.application["spec"]["destination"]["namespace"]


def test_runner_can_write_its_work_directory(charts: RealCharts, bundled: ConfigFiles) -> None:
    """uid 1001 in group 123 owns nothing on a fresh volume: fsGroup hands it to 123."""
    for entry in deploy(charts, fleet_values(bundled.repositories, bundled.base)).values():
        work = next(v for v in entry.pod["volumes"] if v["name"] == "work")
        assert "emptyDir" in work or entry.pod["securityContext"]["fsGroup"] == 123
        mounts = {m["name"]: m["mountPath"] for m in entry.container("runner")["volumeMounts"]}
        assert mounts["work"] == "/home/runner/_work"


def test_controller_applies_changes_at_once_and_keeps_argo_labels_to_itself(charts: RealCharts) -> None:
    values = yaml.safe_load((ROOT / "charts" / "github-actions-controller" / "values.yaml").read_text(encoding="utf-8"))
    docs = charts.render("github-actions-controller", values, name="arc", namespace="arc-systems")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    for doc in docs:
        valid(doc)
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--update-strategy=immediate" in args, args
    excluded = [a.split("=", 1)[1] for a in args if a.startswith("--exclude-label-propagation-prefix=")]
    for tracking_label in ("app.kubernetes.io/instance", "argocd.argoproj.io/instance"):
        assert any(tracking_label.startswith(prefix) for prefix in excluded), tracking_label
    assert deployment["metadata"]["name"] == "arc-gha-rs-controller"  # the fleet's controllerServiceAccount


def _long_entry(scale_set: str) -> str:
    return f"repositories:\n  - name: app\n    org: acme\n    runnerScaleSetName: {scale_set}\n"


def test_a_name_arc_cannot_deploy_fails_the_whole_render(charts: RealCharts) -> None:
    fine, too_long = "a" * 45, "a" * 46
    assert "AutoscalingRunnerSet" in [
        d["kind"] for d in deploy(charts, fleet_values(_long_entry(fine)))[fine].manifests
    ]
    with pytest.raises(Exception, match="ARC allows at most 45") as refused:
        render_dir(FLEET, fleet_values(_long_entry(too_long)), name="github-runners", namespace="argocd")
    assert too_long in str(refused.value)
    # ARC's own chart agrees on the limit: the fleet check is not stricter than ARC.
    values = {
        "gha-runner-scale-set": {"githubConfigUrl": "https://github.com/acme/app", "runnerScaleSetName": too_long}
    }
    with pytest.raises(Exception, match="Name must have up to 45 characters"):
        charts.render("github-actions-runners", values, name="x", namespace="arc-app-runners")


CACHE_CLASS = "nfs-rwx"


def with_cache(bundled: ConfigFiles) -> tuple[str, str]:
    """The bundled values with a cache opted into (values/base-config.yaml): project-beta
    gets one, from a named ReadWriteMany class."""
    repositories = bundled.repositories.replace("      work: 50Gi\n", "      work: 50Gi\n      cache: 30Gi\n", 1)
    assert repositories != bundled.repositories
    return repositories, bundled.base + f"\ncaches:\n  storageClassName: {CACHE_CLASS}\n"


def test_the_bundled_values_need_no_shared_storage(charts: RealCharts, bundled: ConfigFiles) -> None:
    """Spot offers no ReadWriteMany class and nothing here creates one: as shipped, no claim
    waits for a class the cluster lacks (a cache is opt-in, with its class named)."""
    assert "caches" not in BASE
    fleet = deploy(charts, fleet_values(bundled.repositories, bundled.base))
    assert not [d for entry in fleet.values() for d in entry.manifests if d["kind"] == "PersistentVolumeClaim"]


def test_cache_is_shared_read_write_many_from_the_named_class(charts: RealCharts, bundled: ConfigFiles) -> None:
    fleet = deploy(charts, fleet_values(*with_cache(bundled)))
    cached = fleet["arc-beta-runners"]
    pvc = cached.one("PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert (
        pvc["metadata"]["labels"]["app.kubernetes.io/component"] == "runner-cache"
    )  # argocd-cm-health.yaml keys on it
    assert pvc["spec"]["storageClassName"] == CACHE_CLASS
    assert pvc["spec"]["resources"]["requests"]["storage"] == "30Gi"
    claim = next(v for v in cached.pod["volumes"] if v["name"] == "cache")
    assert claim["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert not [d for d in fleet["arc-api-runners"].manifests if d["kind"] == "PersistentVolumeClaim"]


def test_cache_without_a_shared_class_is_refused(charts: RealCharts) -> None:
    base = BASE_TEXT.replace("caches:\n  storageClassName: nfs-rwx\n", "")
    entry = "repositories:\n  - name: app\n    org: acme\n    storage: {cache: 5Gi}\n"
    with pytest.raises(Exception, match="ReadWriteMany storage class"):
        render_dir(FLEET, fleet_values(entry, base), name="github-runners", namespace="argocd")
    problems = [str(p) for p in validate(parse(entry, base))]
    assert any("ReadWriteMany" in p and "caches.storageClassName" in p for p in problems), problems


def test_docker_where_the_values_say_docker(charts: RealCharts, bundled: ConfigFiles) -> None:
    """backend has a dind profile: project-beta-api (testcontainers) gets a daemon, sized
    by that profile, as a native sidecar the runner waits for; frontend has none."""
    fleet = deploy(charts, fleet_values(bundled.repositories, bundled.base))
    api = fleet["arc-api-runners"]
    dind = api.container("dind", init=True)
    assert dind["restartPolicy"] == "Always" and dind["startupProbe"]["exec"]["command"] == ["docker", "info"]
    heavy = BASE["dind"]["profiles"]["heavy"]
    assert dind["resources"]["limits"] == {"cpu": heavy["cpu"]["limit"], "memory": heavy["memory"]["limit"]}
    env = {e["name"]: e["value"] for e in api.container("runner")["env"]}
    assert env["DOCKER_HOST"] == "unix:///var/run/docker.sock" and int(env["RUNNER_WAIT_FOR_DOCKER_IN_SECONDS"]) > 0
    assert [c["name"] for c in api.pod["initContainers"]] == ["init-dind-externals", "dind"]
    assert "initContainers" not in fleet["arc-frontend-runners"].pod
    bundled_config = parse(bundled.repositories, bundled.base)
    assert [config_entry.dind for config_entry in map(bundled_config.effective, bundled_config.entries)] == [
        False,
        True,
        False,
    ]


def test_an_entry_can_opt_out_of_its_categorys_daemon(charts: RealCharts) -> None:
    entry = "repositories:\n  - name: app\n    org: acme\n    category: backend\n    dind: false\n"
    (deployed,) = deploy(charts, fleet_values(entry)).values()
    assert "initContainers" not in deployed.pod


def test_node_placement_comes_from_global_overrides_alone(charts: RealCharts, bundled: ConfigFiles) -> None:
    overrides = yaml.safe_load(bundled.repositories)["globalOverrides"]
    for entry in deploy(charts, fleet_values(bundled.repositories, bundled.base)).values():
        assert entry.pod["nodeSelector"] == overrides["nodeSelector"]
        assert entry.pod["tolerations"] == overrides["tolerations"]
    without = re.sub(r"(?ms)^globalOverrides:.*?(?=^environments:)", "", bundled.repositories)
    for entry in deploy(charts, fleet_values(without, bundled.base)).values():
        assert "nodeSelector" not in entry.pod and "tolerations" not in entry.pod


def test_first_sync_on_an_empty_cluster_waits_for_arcs_crds(charts: RealCharts, bundled: ConfigFiles) -> None:
    """Until the controller's CRDs exist a dry run fails; the sync must skip it and keep
    retrying rather than give up after five minutes."""
    for entry in deploy(charts, fleet_values(bundled.repositories, bundled.base)).values():
        policy = entry.application["spec"]["syncPolicy"]
        assert "SkipDryRunOnMissingResource=true" in policy["syncOptions"]
        assert policy["retry"]["limit"] < 0, "a negative limit retries until the CRDs are there"


def test_new_namespaces_get_github_credentials_by_gitops(charts: RealCharts, bundled: ConfigFiles) -> None:
    fleet = deploy(charts, fleet_values(bundled.repositories, bundled.base))
    for entry in fleet.values():
        secret = entry.one("ExternalSecret")  # validated against External Secrets' CRD by deploy()
        ars = entry.one("AutoscalingRunnerSet")
        assert secret["spec"]["target"]["name"] == ars["spec"]["githubConfigSecret"] == secret["metadata"]["name"]
        assert sorted(d["secretKey"] for d in secret["spec"]["data"]) == [
            "github_app_id",
            "github_app_installation_id",
            "github_app_private_key",
        ]
        assert int(secret["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) < 0
    manual = fleet_values(bundled.repositories, bundled.base)
    manual["fleet"] = {"githubCredentials": {"externalSecret": {"enabled": False}}}
    for entry in deploy(charts, manual).values():
        assert not [d for d in entry.manifests if d["kind"] == "ExternalSecret"]


def test_sets_run_by_the_clock_leave_min_and_max_to_runners_bot(charts: RealCharts, bundled: ConfigFiles) -> None:
    clocked = bundled.repositories.replace(
        "    profile: large\n    labels: [self-hosted, linux, x64, api]\n",
        "    profile: large\n    labels: [self-hosted, linux, x64, api]\n"
        '    schedules:\n      - {name: bh, days: [mon, tue], from: "08:00", to: "18:00", timezone: Europe/Berlin, minRunners: 4}\n'
        "    burst: {minRunners: 8, maxRunners: 20, maxDuration: 4h}\n",
    )
    assert clocked != bundled.repositories
    assert validate(parse(clocked, bundled.base)) == []
    fleet = deploy(charts, fleet_values(clocked, bundled.base))  # validated against Argo CD's CRD
    api = fleet["arc-api-runners"].application["spec"]
    (ignored,) = api["ignoreDifferences"]
    assert (ignored["kind"], ignored["name"], ignored["jsonPointers"]) == (
        "AutoscalingRunnerSet",
        "arc-api-runners",
        ["/spec/minRunners", "/spec/maxRunners"],
    )
    assert "RespectIgnoreDifferences=true" in api["syncPolicy"]["syncOptions"]
    spec = fleet["arc-api-runners"].one("AutoscalingRunnerSet")["spec"]
    assert (spec["minRunners"], spec["maxRunners"]) == (1, 10), "created with the declared values"
    other = fleet["arc-frontend-runners"].application["spec"]
    assert (
        "ignoreDifferences" not in other and "RespectIgnoreDifferences=true" not in other["syncPolicy"]["syncOptions"]
    )


def test_runners_bot_may_patch_in_each_runner_namespace(charts: RealCharts, bundled: ConfigFiles) -> None:
    bot = render_dir(
        ROOT / "charts" / "runners-bot", {"github": {"appId": "1"}}, name="runners-bot", namespace="runners-bot"
    )
    (reader,) = [d for d in bot if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "runners-bot-reader"]
    (account,) = [d for d in bot if d["kind"] == "ServiceAccount"]
    for entry in deploy(charts, fleet_values(bundled.repositories, bundled.base)).values():
        bindings = [
            d for d in entry.manifests if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "runners-bot-reader"
        ]
        assert len(bindings) == 1, bindings
        assert bindings[0]["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": reader["metadata"]["name"],
        }
        assert bindings[0]["subjects"] == [
            {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "runners-bot"}
        ]


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_deploy_through_real_arc(charts: RealCharts, example: Any) -> None:
    values = yaml.safe_load(example.read_text(encoding="utf-8"))
    for doc in charts.render("github-actions-runners", values, name="example", namespace="arc-example"):
        valid(doc)


def test_root_applications_are_valid_argo_cd_applications() -> None:
    for manifest in sorted((ROOT / "argocd").glob("apps-*/*.yaml")):
        valid(yaml.safe_load(manifest.read_text(encoding="utf-8")))


# --- one source of truth: the bot's effective settings == what the fleet deploys ----------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,20}[A-Za-z0-9]", fullmatch=True)


@st.composite
def configurations(draw: st.DrawFn) -> str:
    profiles, categories = sorted(BASE["scaling"]["profiles"]), sorted(BASE["categories"])
    chosen = draw(
        st.lists(names, min_size=1, max_size=5, unique_by=lambda n: n.lower().replace(".", "-").replace("_", "-"))
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
        storage = {}
        if draw(st.booleans()):
            storage["work"] = f"{draw(st.integers(1, 500))}Gi"
        if draw(st.booleans()):
            storage["cache"] = f"{draw(st.integers(1, 100))}Gi"
        if storage:
            entry["storage"] = storage
        if draw(st.booleans()):
            entry["dind"] = draw(st.booleans())
        if draw(st.booleans()):
            entry["environment"] = {"NODE_OPTIONS": "--max-old-space-size=4096", "FLAG": "on"}
        entries.append(entry)
    return yaml.safe_dump({"repositories": entries}, sort_keys=False)


def check_pod(deployed: Deployed, effective: Effective) -> None:
    runner = deployed.container("runner")
    assert effective.resources is not None
    assert runner["resources"] == {
        "requests": {"cpu": effective.resources.cpu_request, "memory": effective.resources.memory_request},
        "limits": {"cpu": effective.resources.cpu_limit, "memory": effective.resources.memory_limit},
    }
    work = next(v for v in deployed.pod["volumes"] if v["name"] == "work")
    assert work["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == effective.storage
    sidecars = [c for c in deployed.pod.get("initContainers", []) if c["name"] == "dind"]
    assert bool(sidecars) == effective.dind
    if sidecars:
        profile = BASE["dind"]["profiles"][effective.dind_profile]
        assert sidecars[0]["resources"]["requests"] == {
            "cpu": profile["cpu"]["request"],
            "memory": profile["memory"]["request"],
        }
    pvcs = [d for d in deployed.manifests if d["kind"] == "PersistentVolumeClaim"]
    assert [p["spec"]["resources"]["requests"]["storage"] for p in pvcs] == (
        [effective.cache] if effective.cache else []
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(repositories=configurations())
def test_fleet_deploys_what_the_bot_says(charts: RealCharts, repositories: str) -> None:
    config = parse(repositories, BASE_TEXT)
    if validate(config):
        return  # e.g. two generated scale set names collide; the fleet is only rendered when valid
    fleet = deploy(charts, fleet_values(repositories))
    assert len(fleet) == len(config.entries)
    for entry in config.entries:
        effective = config.effective(entry)
        deployed = fleet[effective.scale_set]
        assert deployed.application["spec"]["destination"]["namespace"] == effective.namespace
        assert deployed.application["metadata"]["annotations"]["runners.matchpoint.ai/profile"] == effective.profile
        spec = deployed.one("AutoscalingRunnerSet")["spec"]
        assert (spec["minRunners"], spec["maxRunners"]) == (effective.min_runners, effective.max_runners)
        assert spec["runnerScaleSetName"] == effective.scale_set
        assert (
            spec["githubConfigUrl"]
            == effective.github_config_url
            == f"https://github.com/{effective.org}/{effective.name}"
        )
        check_pod(deployed, effective)


def test_the_remove_reply_promises_only_what_the_manifests_do(charts: RealCharts, bundled: ConfigFiles) -> None:
    """Argo CD never deletes a namespace it created (CreateNamespace=true) nor a resource
    Helm is told to keep: the reply and pull request of a remove must not say otherwise."""
    from bot.commands import render

    entry = deploy(charts, fleet_values(*with_cache(bundled)))["arc-beta-runners"]
    namespace = entry.application["spec"]["destination"]["namespace"]
    created = "CreateNamespace=true" in entry.application["spec"]["syncPolicy"]["syncOptions"]
    kept = [
        d for d in entry.manifests if (d["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep"
    ]
    note = render.render_remove_note("arc-beta-runners", namespace)
    assert created and kept, "the bundled entry has both: the test covers both promises"
    assert f"The namespace `{namespace}` stays" in note and "cache volume if the set has one" in note
    assert not re.search(rf"deletes[^.]*namespace `{namespace}`", note), note


SEVERAL_ORGS = """\
repositories:
  - name: api
    org: Matchpoint-AI
    scaling: {minRunners: 1, maxRunners: 5}
  - name: billing
    org: Other-Org
    scaling: {minRunners: 0, maxRunners: 3}
  - name: shared-linux
    org: Matchpoint-AI
    scope: organization
    runnerGroup: big-builds
    scaling: {minRunners: 2, maxRunners: 40}
environments:
  prod:
    githubUrl: https://ghe.acme.internal
    githubConfigSecret: arc-github-app
    githubConfigSecrets:
      Other-Org: arc-github-app-other
"""


def test_enterprise_server_a_second_organisation_and_a_pool_through_real_arc(charts: RealCharts) -> None:
    """GitHub Enterprise Server, a second organisation with its own App credentials and an
    organisation pool render through ARC 0.12.1's chart and CRDs as the bot says."""
    config = parse(SEVERAL_ORGS, BASE_TEXT)
    assert validate(config) == []
    fleet = deploy(charts, fleet_values(SEVERAL_ORGS))
    seen = {}
    for entry in config.entries:
        effective = config.effective(entry)
        deployed = fleet[effective.scale_set]
        spec = deployed.one("AutoscalingRunnerSet")["spec"]
        assert spec["githubConfigUrl"] == effective.github_config_url
        assert spec["githubConfigSecret"] == effective.github_config_secret
        assert spec.get("runnerGroup") == effective.runner_group
        secret = deployed.one("ExternalSecret")["spec"]
        assert secret["target"]["name"] == effective.github_config_secret
        seen[effective.scale_set] = (
            spec["githubConfigUrl"],
            spec["githubConfigSecret"],
            secret["data"][0]["remoteRef"]["key"],
        )
    assert seen == {
        "api-runners": ("https://ghe.acme.internal/Matchpoint-AI/api", "arc-github-app", "arc-github-app"),
        "billing-runners": (
            "https://ghe.acme.internal/Other-Org/billing",
            "arc-github-app-other",
            "arc-github-app-other",
        ),
        "shared-linux": ("https://ghe.acme.internal/Matchpoint-AI", "arc-github-app", "arc-github-app"),
    }
    pool = fleet["shared-linux"]
    assert pool.application["spec"]["destination"]["namespace"] == "arc-shared-linux-runners"
    assert pool.one("AutoscalingRunnerSet")["spec"]["runnerGroup"] == "big-builds"


def test_a_second_organisation_without_credentials_is_refused() -> None:
    without = SEVERAL_ORGS.replace("    githubConfigSecrets:\n      Other-Org: arc-github-app-other\n", "")
    problems = [p.message for p in validate(parse(without, BASE_TEXT))]
    assert any("org 'Other-Org' has no GitHub App credentials of its own" in p for p in problems), problems


# --- an Enterprise Server with a private CA ---------------------------------------------------

PRIVATE_CA = SEVERAL_ORGS + (
    "    githubServerTLS:\n"
    "      certificateFrom:\n"
    "        configMapKeyRef: {name: ghes-ca, key: ca.crt}\n"
    "      runnerMountPath: /usr/local/share/ca-certificates/\n"
)


def test_enterprise_server_with_a_private_ca_reaches_arc_and_the_runners(charts: RealCharts) -> None:
    """ARC's gha-runner-scale-set chart takes githubServerTLS.certificateFrom.configMapKeyRef
    (values.yaml, templates/autoscalingrunnerset.yaml): the listener trusts the CA, and with
    runnerMountPath the runner mounts it and sets NODE_EXTRA_CA_CERTS (_helpers.tpl)."""
    assert validate(parse(PRIVATE_CA, BASE_TEXT)) == []
    for entry in deploy(charts, fleet_values(PRIVATE_CA)).values():
        spec = entry.one("AutoscalingRunnerSet")["spec"]
        assert spec["githubServerTLS"] == {"certificateFrom": {"configMapKeyRef": {"name": "ghes-ca", "key": "ca.crt"}}}
        env = {e["name"]: e.get("value") for e in entry.container("runner")["env"]}
        assert env["NODE_EXTRA_CA_CERTS"] == "/usr/local/share/ca-certificates/ca.crt"
        assert any(v.get("configMap", {}).get("name") == "ghes-ca" for v in entry.pod["volumes"])
    malformed = PRIVATE_CA.replace("configMapKeyRef: {name: ghes-ca, key: ca.crt}", "configMap: ghes-ca")
    problems = [p.message for p in validate(parse(malformed, BASE_TEXT))]
    assert any("githubServerTLS must be" in p for p in problems), problems


# --- the credentials' keys: what the fleet reads is what the guide creates --------------------


def test_every_key_the_fleet_reads_is_one_the_guide_creates(bundled: ConfigFiles) -> None:
    """Each environment of the bundled values and a second organisation with its own App:
    the store keys their ExternalSecrets read must be the ones DEPLOYMENT.md's one-time
    setup stores."""
    guide = (ROOT / "DEPLOYMENT.md").read_text(encoding="utf-8")
    created = set(re.findall(r"create secret generic ([\w.-]+) \\\n\s+--from-literal=github_app_id", guide))
    read: dict[str, str] = {}
    environments = yaml.safe_load(bundled.repositories)["environments"]
    for environment in environments:
        values = fleet_values(bundled.repositories, bundled.base)
        values["fleet"] = {"environment": environment}
        for app in render_dir(FLEET, values, name="github-runners", namespace="argocd"):
            external = app["spec"]["source"]["helm"]["valuesObject"]["githubCredentials"]["externalSecret"]
            read[external["remoteKey"]] = environment
    for app in render_dir(FLEET, fleet_values(SEVERAL_ORGS), name="github-runners", namespace="argocd"):
        read[app["spec"]["source"]["helm"]["valuesObject"]["githubCredentials"]["externalSecret"]["remoteKey"]] = "org"
    assert {"arc-github-app", "arc-github-app-dev", "arc-github-app-other"} <= set(read)
    assert set(read) - {"arc-github-app-other"} <= created, (read, created)
    assert "githubConfigSecrets.<org>" in guide and "the key of the same name" in guide
