"""Names and settings ARC or Argo CD would break on silently, refused before they ship:
an add or a form that would name its Application like one the fleet does not own (read
from the cluster), and a pool whose runner group GitHub does not list (asked by
``runners-bot validate --runner-groups`` and for a pool's rollout report)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import cli
from bot.clients.github import token_installation
from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles, parse
from bot.runtime.settings import Settings
from bot.services.runner_groups import missing_runner_group
from tests.support.app import CONFIG_REPO, ROOT, TEAM_REPO, Harness, serve
from tests.support.fakekube import FakeKube, application
from tests.support.golden import golden
from tests.support.servers import ThreadedServer
from tests.support.webhook_payloads import comment_payload, issue_opened_payload, rendered_form

GOLDEN = ROOT / "tests" / "golden" / "names"
TOKEN = "ghp_" + "0" * 36
POOL = (
    "repositories:\n  - name: shared-linux\n    org: Matchpoint-AI\n    scope: organization\n"
    "    runnerGroup: big-builds\n    scaling: {minRunners: 0, maxRunners: 3}\n"
)


@pytest.fixture
async def with_cluster(settings: Settings, fake: Any, kube: FakeKube) -> AsyncIterator[Harness]:
    # Another team's Application in Argo CD's namespace (no runners-fleet labels: not the fleet's).
    kube.scenario = lambda look: {"applications": [application("payments-service-runners", sync="Synced",
                                                               revision="0" * 40, health="Healthy")]}  # fmt: skip
    async for harness in serve(dataclasses.replace(settings, kube_api=kube.url), fake):  # type: ignore[attr-defined]
        yield harness
    assert fake.violations == []


def replies(harness: Harness, repo: str, number: int) -> list[str]:
    """The thread's comments, without the marker that holds the delivery's id."""
    return [
        re.sub(r"\n*<!-- runners-bot:[^>]*-->\n*", "", str(c["body"]))
        for c in harness.fake.thread_comments(repo, number)
    ]


@pytest.mark.anyio
async def test_an_add_may_not_take_the_name_of_an_application_in_the_cluster(with_cluster: Harness) -> None:
    """Argo CD keys Applications by name in their namespace: the fleet's Application
    payments-service-runners would be the other team's, overwritten by the fleet's sync."""
    body = "/runners add Matchpoint-AI/payments-service"
    await with_cluster.send("issue_comment", comment_payload(body, user="admin", number=8))
    await with_cluster.settle()
    (reply,) = replies(with_cluster, TEAM_REPO, 8)
    golden(GOLDEN / "add-taken-by-an-application.md", reply)
    assert reply.startswith(
        f"❌ `{body}` was not run: `payments-service` gives scale set name 'payments-service-runners'"
    )
    assert "an Application already in Argo CD's namespace that the fleet does not own" in reply
    assert "Accepted: a scale set name of your choice: `/runners add payments-service runnerScaleSetName=NAME`" in reply
    assert with_cluster.fake.pulls[CONFIG_REPO.lower()] == []
    # Another name is accepted.
    await with_cluster.send(
        "issue_comment", comment_payload(body + " runnerScaleSetName=payments", user="admin", number=9, comment_id=556)
    )
    await with_cluster.settle()
    (accepted,) = replies(with_cluster, TEAM_REPO, 9)
    assert accepted.startswith("✅"), accepted


@pytest.mark.anyio
async def test_a_form_may_not_take_the_name_of_an_application_in_the_cluster(with_cluster: Harness) -> None:
    form = {
        "Repository": "payments-service", "Organisation": "Matchpoint-AI", "Category": "backend",
        "Resource profile": "large", "Minimum runners": "1", "Maximum runners": "6", "Needs Docker": "No",
        "Justification": "Integration tests.",
    }  # fmt: skip
    with_cluster.fake.add_repo("Matchpoint-AI/payments-service", {"README.md": "#\n"}, {"octocat": "maintain"})
    await with_cluster.send("issues", issue_opened_payload(TEAM_REPO, 33, rendered_form(form)))
    await with_cluster.settle()
    (reply,) = replies(with_cluster, TEAM_REPO, 33)
    assert "was not run" in reply and "that the fleet does not own" in reply, reply
    assert with_cluster.fake.pulls[CONFIG_REPO.lower()] == []


FORM = {
    "Repository": "github", "Organisation": "Matchpoint-AI", "Category": "backend", "Resource profile": "large",
    "Minimum runners": "1", "Maximum runners": "6", "Needs Docker": "No", "Justification": "Integration tests.",
}  # fmt: skip


@pytest.mark.anyio
async def test_without_the_cluster_the_reserved_names_still_hold(harness: Harness) -> None:
    await harness.send("issue_comment", comment_payload("/runners add Matchpoint-AI/github", user="admin", number=8))
    await harness.send("issues", issue_opened_payload(TEAM_REPO, 34, rendered_form(FORM)))
    await harness.settle()
    (reply,) = replies(harness, TEAM_REPO, 8)
    assert "one of this repository's root Applications" in reply, reply
    (form_reply,) = replies(harness, TEAM_REPO, 34)
    golden(GOLDEN / "form-root-application-name.md", form_reply)


def _config_dir(tmp_path: Path, repositories: str, bundled: ConfigFiles) -> Path:
    (tmp_path / "values").mkdir()
    (tmp_path / REPOSITORIES_FILE).write_text(repositories, encoding="utf-8")
    (tmp_path / BASE_CONFIG_FILE).write_text(bundled.base, encoding="utf-8")
    return tmp_path


def test_validate_asks_github_for_each_pools_runner_group(
    tmp_path: Path, bundled: ConfigFiles, fake: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ARC 0.12.1 (controllers/actions.github.com/autoscalingrunnerset_controller.go) looks
    runnerGroup up by name (github/actions/client.go GetRunnerGroupByName) and, when there
    is none, returns the error and is requeued for ever, recording no Kubernetes event."""
    config_dir = _config_dir(tmp_path, POOL, bundled)
    fake.tokens[TOKEN] = 0
    # 150 groups: the one asked for is on GitHub's second page.
    fake.runner_groups["matchpoint-ai"] = ["Default", *(f"group-{n:03d}" for n in range(148)), "small"]
    with ThreadedServer(fake.app) as server:
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
        assert cli.main(["validate", "--config-dir", str(config_dir), "--runner-groups"]) == cli.EXIT_USAGE
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        assert cli.main(["validate", "--config-dir", str(config_dir)]) == cli.EXIT_OK  # offline: not asked
        assert fake.count("GET", "/orgs/{org}/actions/runner-groups") == 0
        capsys.readouterr()
        assert cli.main(["validate", "--config-dir", str(config_dir), "--runner-groups"]) == cli.EXIT_REFUSED
        out = capsys.readouterr().out
        assert out.startswith(
            "values/repositories.yaml:5: runner group 'big-builds' does not exist in organisation 'Matchpoint-AI'"
        ), out
        assert "Default, group-000" in out and "small (runnerGroup 'big-builds' of entry 'shared-linux')" in out
        assert [c.query.get("page") for c in fake.calls if c.template == "/orgs/{org}/actions/runner-groups"] == [
            "1",
            "2",
        ]
        fake.runner_groups["matchpoint-ai"].append("big-builds")
        assert cli.main(["validate", "--config-dir", str(config_dir), "--runner-groups"]) == cli.EXIT_OK
        fake.runner_groups_denied = True
        assert cli.main(["validate", "--config-dir", str(config_dir), "--runner-groups"]) == cli.EXIT_REFUSED
        assert "could not be checked: GitHub refused to list the runner groups of 'Matchpoint-AI' (403)" in (
            capsys.readouterr().out
        )
    assert fake.violations == []


@pytest.mark.anyio
async def test_the_rollout_report_can_name_a_missing_runner_group(fake: Any, bundled: ConfigFiles) -> None:
    config = parse(POOL, bundled.base)
    pool = config.effective(config.entries[0])
    fake.tokens[TOKEN] = 0
    inst = token_installation(TOKEN, "http://github.test", httpx.ASGITransport(app=fake.app))
    fake.runner_groups["matchpoint-ai"] = ["Default"]
    said = await missing_runner_group(inst, pool)
    assert said is not None and said.startswith("runner group 'big-builds' does not exist in organisation")
    fake.runner_groups["matchpoint-ai"].append("Big-Builds")
    assert await missing_runner_group(inst, pool) is None
    fake.runner_groups_denied = True
    assert await missing_runner_group(inst, pool) is None  # cannot tell: the report says what the cluster shows
    assert fake.violations == []
