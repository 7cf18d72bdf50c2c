"""The guides say what the code does: links resolve, numbers and names come from the files."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.support.app import ROOT

DOCS = [ROOT / "README.md", ROOT / "DEPLOYMENT.md", ROOT / "SCALING.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
        assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"


def test_docker_guide_matches_the_values_and_the_pod() -> None:
    guide = (ROOT / "docs" / "DOCKER_IN_DOCKER.md").read_text(encoding="utf-8")
    base = yaml.safe_load((ROOT / "values" / "base-config.yaml").read_text(encoding="utf-8"))
    for name, profile in base["dind"]["profiles"].items():
        row = f"| {name} | {profile['cpu']['request']} / {profile['cpu']['limit']} | {profile['memory']['request']} / {profile['memory']['limit']} |"
        assert row in guide, row
    pod = (ROOT / "charts" / "runners-fleet" / "templates" / "_pod.tpl").read_text(encoding="utf-8")
    wait = re.search(r'RUNNER_WAIT_FOR_DOCKER_IN_SECONDS\n\s+value: "(\d+)"', pod)
    assert wait is not None and f"RUNNER_WAIT_FOR_DOCKER_IN_SECONDS={wait.group(1)}" in guide
    fleet = yaml.safe_load((ROOT / "charts" / "runners-fleet" / "values.yaml").read_text(encoding="utf-8"))
    assert f"`{fleet['fleet']['dindImage']}`" in guide
    with_docker = [c for c, v in base["categories"].items() if "dind" in v]
    assert with_docker == ["backend"] and "only `backend` has a dind profile" in guide


def test_kubeconfig_guide_names_the_real_output_and_backend() -> None:
    guide = (ROOT / "docs" / "KUBECONFIG_WORKFLOW.md").read_text(encoding="utf-8")
    outputs = (ROOT / "terraform" / "outputs.tf").read_text(encoding="utf-8")
    assert 'output "kubeconfig_raw"' in outputs and "terraform output -raw kubeconfig_raw" in guide
    assert (
        'backend "http"' in (ROOT / "terraform" / "versions.tf").read_text(encoding="utf-8")
        and "TF_HTTP_PASSWORD" in guide
    )


def test_maintainers_read_with_a_service_account_never_the_spot_kubeconfig() -> None:
    """The kubeconfig Spot's provider writes carries the account's API token: read access
    is a ServiceAccount bound to a read-only role (validated against Kubernetes' schemas),
    and the guide says how to rotate both."""
    guide = (ROOT / "docs" / "KUBECONFIG_WORKFLOW.md").read_text(encoding="utf-8")
    (row,) = [line for line in guide.splitlines() if line.startswith("| maintainers")]
    assert "ServiceAccount" in row and "the kubeconfig above" not in row
    blocks = re.findall(r"```yaml\n(.*?)```", guide[guide.index("## Read-only access") :], re.DOTALL)
    docs = [d for block in blocks for d in yaml.safe_load_all(block) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    kinds = {d["kind"]: d for d in docs}
    rules = kinds["ClusterRole"]["rules"]
    assert {v for r in rules for v in r["verbs"]} == {"get", "list", "watch"}
    assert not any(res in ("secrets", "*") for r in rules for res in r["resources"])
    (subject,) = kinds["ClusterRoleBinding"]["subjects"]
    assert subject["kind"] == "ServiceAccount" and subject["name"] == kinds["ServiceAccount"]["metadata"]["name"]
    assert kinds["ClusterRoleBinding"]["roleRef"]["name"] == kinds["ClusterRole"]["metadata"]["name"]
    assert re.search(r"create token maintainers --duration=\d+h", guide)
    rotating = guide[guide.index("## Rotating credentials") :]
    assert "TF_VAR_rackspace_spot_token" in rotating and "delete serviceaccount" in rotating
