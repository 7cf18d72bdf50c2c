"""Who may run what (SPEC §3)."""

from __future__ import annotations

import pytest

from bot.commands import VERBS, Verb
from bot.permissions import PERMISSIONS, Permission, authorise, best


@pytest.mark.parametrize("permission", PERMISSIONS)
@pytest.mark.parametrize("verb", VERBS)
def test_rule(verb: Verb, permission: Permission) -> None:
    decision = authorise(verb, "octocat", permission)
    expected = verb in ("help", "status") or permission in ("write", "maintain", "admin")
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
