"""Whether organisation pools' runner groups exist on GitHub, asked once per organisation.

ARC 0.12.1 looks a pool's ``runnerGroup`` up by name when it registers the scale set and,
when GitHub has no such group, retries for ever with no Kubernetes event (its controller
log only): the pool never comes up and nothing in the cluster says why. GitHub's runner
groups API (``GET /orgs/{org}/actions/runner-groups``) says it before: for ``runners-bot
validate --runner-groups`` and for the report of a pool's rollout that does not come up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from bot.clients.github import GitHubError, GitHubRejected, Installation
from bot.fleet.config import Config, Effective
from bot.fleet.validation import runner_group_message, runner_group_missing

NEEDS = (
    "the credentials need read access to the organisation's self-hosted runners (the organisation permission "
    '"Self-hosted runners: read" of an App or a fine-grained token; admin:org for a classic token)'
)


def pool_organisations(config: Config) -> list[str]:
    """The organisations of the pools that name a runner group."""
    return sorted({e.org for e in config.entries if e.pool and e.runner_group and e.org})


async def organisation_groups(inst: Installation, orgs: Iterable[str]) -> dict[str, list[str] | str]:
    """Each organisation's runner group names, or why they could not be read; asked concurrently."""

    async def ask(org: str) -> list[str] | str:
        try:
            return await inst.runner_groups(org)
        except GitHubRejected as exc:
            if exc.status == 403:
                return f"GitHub refused to list the runner groups of '{org}' (403): {NEEDS}"
            if exc.status == 404:
                return f"GitHub shows no organisation '{org}' to these credentials (404)"
            return str(exc)
        except GitHubError as exc:
            return str(exc)

    wanted = list(dict.fromkeys(orgs))
    return dict(zip(wanted, await asyncio.gather(*(ask(org) for org in wanted)), strict=True))


async def missing_runner_group(inst: Installation, effective: Effective) -> str | None:
    """For the report of a pool that does not come up: why, when its runner group does not
    exist in its organisation; None when it does, when the set is no pool with a group, or
    when GitHub cannot be asked (the report then says what the cluster shows)."""
    group = effective.runner_group
    if not effective.pool or group is None:
        return None
    return await missing_group(inst, effective.org, group)


async def missing_group(inst: Installation, org: str, group: str) -> str | None:
    """Why runner group ``group`` of ``org`` keeps a pool down, when GitHub lists no such
    group; None when it does or cannot be asked."""
    found = (await organisation_groups(inst, [org]))[org]
    if isinstance(found, str) or not runner_group_missing(group, found):
        return None
    return runner_group_message(group, org, found)
