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


def _synopsis() -> dict[str, str]:
    """docs/commands.md's CLI synopsis, one entry per subcommand (continuation lines joined)."""
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8").split("## CLI", 1)[1]
    block = text.split("```text\n", 1)[1].split("```", 1)[0]
    found: dict[str, str] = {}
    for line in block.splitlines():
        if line.startswith("runners-bot "):
            command = line.split()[1]
            found[command] = line
        else:
            found[command] += " " + line.strip()
    return found


def test_the_cli_synopsis_names_every_option_and_marks_none_required_that_is_not() -> None:
    import argparse

    from bot.cli import build_parser

    synopsis = _synopsis()
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(synopsis) == set(commands.choices)
    for name, parser in commands.choices.items():
        for action in parser._actions:
            option = next((o for o in action.option_strings if o.startswith("--")), None)
            if option is None or option == "--help":
                continue
            assert option in synopsis[name], f"`runners-bot {name}` synopsis lacks {option}"
            if not action.required:
                assert f"[{option}" in synopsis[name], f"{option} of `runners-bot {name}` is optional: in brackets"


def test_every_setting_is_documented_and_the_required_ones_say_so() -> None:
    table = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    source = (ROOT / "bot" / "runtime" / "settings.py").read_text(encoding="utf-8")
    for variable in sorted(set(re.findall(r'"((?:GITHUB|RUNNERS|ARC|ARGOCD)_[A-Z_]+|HOST|PORT|LOG_LEVEL)"', source))):
        assert f"`{variable}`" in table, f"docs/operating.md does not list {variable}"
    # serve refuses to start without these (bot/runtime/settings.py, bot/clients/github.py)
    for variable in ("GITHUB_WEBHOOK_SECRET", "RUNNERS_CONFIG_REPO", "GITHUB_APP_ID"):
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{variable}`")]
        assert "**required**" in row, row


def test_the_command_tables_agree() -> None:
    """The guides list every declared command, as the help reply does (its rows come from
    the declarations, bot.commands.registry)."""
    from bot.commands.render import command_rows

    def usages(text: str) -> dict[str, str]:
        rows = re.findall(r"^\| `(/runners (\w+)[^`]*)`", text, re.MULTILINE)
        return {verb: usage for usage, verb in rows}

    reference = usages((ROOT / "docs" / "commands.md").read_text(encoding="utf-8"))
    assert usages((ROOT / "SCALING.md").read_text(encoding="utf-8")) == reference
    assert usages(command_rows()) == reference


def test_the_guides_run_the_cli_from_where_make_installs_it() -> None:
    """`make demo` installs the command line into .venv-demo/ (.venv/ exists only once the
    suite's setup ran): the guides a newcomer follows use the former."""
    for doc in DOCS:
        assert ".venv/bin/runners-bot" not in doc.read_text(encoding="utf-8"), doc.name


def test_the_remove_reply_says_what_the_chart_deletes() -> None:
    """The credentials Secret an ExternalSecret syncs is owned by it (creationPolicy: Owner),
    so it goes with the Application; one made by hand stays, as SCALING.md says."""
    chart = (ROOT / "charts" / "github-actions-runners" / "templates" / "github-secret.yaml").read_text(
        encoding="utf-8"
    )
    note = (ROOT / "templates" / "remove_note.md").read_text(encoding="utf-8")
    assert "creationPolicy: Owner" in chart
    assert "the ExternalSecret with the GitHub credentials Secret it synced" in note
    assert "a credentials Secret created in it by hand" in note
    assert "one synced by the ExternalSecret\n  goes with it" in (ROOT / "SCALING.md").read_text(encoding="utf-8")


def test_the_forking_guide_lists_every_file_that_names_this_repository() -> None:
    guide = (ROOT / "docs" / "forking.md").read_text(encoding="utf-8")
    names = re.compile(r"matchpoint-github-runners-helm|ghcr\.io/matchpoint-ai", re.IGNORECASE)
    skip = {"tests", "docs", "bench", "node_modules", ".git"}
    tops = [top for top in ROOT.iterdir() if top.name not in skip and not top.name.startswith(".venv")]
    files = [found for top in tops for found in ([top] if top.is_file() else top.rglob("*"))]
    suffixes = {".yaml", ".yml", ".hcl", ".tf", ".tfvars", ".toml", ".json"}
    for path in sorted(f for f in files if f.is_file() and f.suffix in suffixes):
        if names.search(path.read_text(encoding="utf-8", errors="replace")):
            relative = path.relative_to(ROOT)
            assert f"`{relative}`" in guide, f"docs/forking.md does not say to change {relative}"
    for placeholder in sorted((ROOT / "terraform" / "backends").glob("*.hcl")):
        assert f"`{placeholder.relative_to(ROOT)}`" in guide


def test_the_settings_table_gives_the_code_s_defaults() -> None:
    from bot.runtime.settings import Settings

    source = (ROOT / "bot" / "runtime" / "settings.py").read_text(encoding="utf-8")
    table = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    defaults = Settings(webhook_secret="")
    pairs = re.findall(r'"([A-Z_]+)"(?:\) or|,) _DEFAULT\.(\w+)', source)
    assert len(pairs) > 20
    for variable, field in pairs:
        (row,) = [
            line for line in table.splitlines() if line.startswith("|") and f"`{variable}`" in line.split(" | ")[0]
        ]
        value = getattr(defaults, field)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        assert f"`{shown}`" in row.split(" | ")[-1], f"{variable}: the code's default is {shown}: {row}"
