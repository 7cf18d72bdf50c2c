"""Who may run what, and who may see what (docs/commands.md). Pure.

Each command's declaration (:mod:`bot.commands.registry`) says who may run it: anyone who
can comment, or only those with write, maintain or admin permission on the target
repository or on the configuration repository. Bots, this app included, are never
obeyed. The whole fleet (other repositories' entries, in any reply) is shown only to
commenters with at least triage on the configuration repository: the app is installed
on public repositories, where anyone may comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.commands.grammar import Verb
from bot.commands.registry import COMMANDS

Permission = Literal["none", "read", "triage", "write", "maintain", "admin"]
PERMISSIONS: tuple[Permission, ...] = ("none", "read", "triage", "write", "maintain", "admin")
WRITE_LEVELS: frozenset[str] = frozenset({"write", "maintain", "admin"})
FLEET_LEVELS: frozenset[str] = frozenset({"triage", "write", "maintain", "admin"})


def sees_fleet(config_permission: Permission) -> bool:
    """Whether a commenter with this permission on the configuration repository sees every entry."""
    return config_permission in FLEET_LEVELS


@dataclass(frozen=True)
class Authorisation:
    """Whether the command may run; ``reason`` and ``needed`` explain a refusal."""

    allowed: bool
    reason: str = ""
    needed: str = ""


def authorise(verb: Verb, user: str, permission: Permission, *, is_bot: bool = False) -> Authorisation:
    """The rule, for a user whose best permission on the target or config repository is ``permission``."""
    if is_bot:
        return Authorisation(
            False, f"@{user} is a bot; runners-bot only takes commands from people", "a comment by a person"
        )
    if not COMMANDS[verb].needs_write:
        return Authorisation(True)
    if permission in WRITE_LEVELS:
        return Authorisation(True)
    return Authorisation(
        False,
        f"@{user} has {permission} permission; `{verb}` changes the runner fleet",
        "write, maintain or admin permission on the target repository or on the configuration repository",
    )


def best(*permissions: Permission) -> Permission:
    """The strongest of several permissions (target repository vs configuration repository)."""
    return max(permissions, key=PERMISSIONS.index, default="none")
