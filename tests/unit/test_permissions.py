"""Who may run what (docs/commands.md)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.commands import pipeline
from bot.commands.grammar import VERBS, Verb
from bot.commands.permissions import PERMISSIONS, Permission, authorise, best
from bot.fleet.config import ConfigFiles


@pytest.mark.parametrize("permission", PERMISSIONS)
@pytest.mark.parametrize("verb", VERBS)
def test_rule(verb: Verb, permission: Permission) -> None:
    decision = authorise(verb, "octocat", permission)
    expected = verb in ("help", "status", "recommend") or permission in ("write", "maintain", "admin")
    assert decision.allowed is expected
    if not expected:
        assert "@octocat has" in decision.reason
        assert (
            decision.needed
            == "write, maintain or admin permission on the target repository or on the configuration repository"
        )


@pytest.mark.parametrize("verb", VERBS)
def test_bots_are_never_obeyed(verb: Verb) -> None:
    decision = authorise(verb, "runners-bot[bot]", "admin", is_bot=True)
    assert not decision.allowed
    assert "is a bot" in decision.reason


def test_best_permission_of_target_and_config_repository() -> None:
    assert best("read", "maintain") == "maintain"
    assert best("none", "triage") == "triage"
    assert best() == "none"


POOL = """\
  - name: shared-linux
    org: Matchpoint-AI
    scope: organization
    scaling: {minRunners: 2, maxRunners: 40}
"""


@pytest.mark.parametrize(
    ("config_permission", "accepted"), [("read", False), ("triage", False), ("write", True), ("maintain", True)]
)
def test_an_organisation_pool_is_changed_by_configuration_writers_only(
    bundled: ConfigFiles, config_permission: Permission, accepted: bool
) -> None:
    """A pool serves many repositories: write on one of them (even one named like the pool)
    is not enough."""
    files = ConfigFiles(bundled.repositories.replace("repositories:\n", "repositories:\n" + POOL, 1), bundled.base)
    request = pipeline.Request(
        comment="/runners scale shared-linux max=45", user="dev", permission=config_permission,
        repo="Matchpoint-AI/shared-linux", permissions={"matchpoint-ai/shared-linux": "admin"},
    )  # fmt: skip
    outcome = pipeline.run(request, files)
    assert (outcome.new_text is not None) == accepted, outcome.replies[0].text
    if not accepted:
        stranger = pipeline.run(dataclasses.replace(request, comment="/runners status shared-linux"), files)
        visible = config_permission in ("triage",)
        assert ("unknown target" in stranger.replies[0].text) != visible, "a pool shows only to fleet viewers"
