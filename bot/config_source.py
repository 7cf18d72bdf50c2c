"""Reading the values files from the configuration repository (``RUNNERS_CONFIG_REPO``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles
from bot.github import Installation, PermanentError
from bot.settings import Settings


@dataclass(frozen=True)
class Snapshot:
    """Both files at one commit, and the blob sha that guards writing repositories.yaml back."""

    files: ConfigFiles
    repositories_sha: str
    commit: str
    base: str


def repository(settings: Settings, thread_owner: str, thread_repo: str) -> tuple[str, str]:
    """``RUNNERS_CONFIG_REPO``, or the repository of the thread when it is not set."""
    return settings.config_owner_repo or (thread_owner, thread_repo)


async def read(inst: Installation, owner: str, repo: str, commit: str, base: str) -> Snapshot:
    """The files at ``commit`` of branch ``base`` (cached for good: a commit never changes)."""
    repositories, config = await asyncio.gather(
        inst.file(owner, repo, REPOSITORIES_FILE, commit), inst.file(owner, repo, BASE_CONFIG_FILE, commit)
    )
    return Snapshot(ConfigFiles(repositories.text, config.text), repositories.sha, commit, base)


async def latest(inst: Installation, owner: str, repo: str, default_branch: str | None = None) -> Snapshot:
    """The files at the head of the default branch (``default_branch`` saves asking for its name)."""
    base = default_branch or await inst.default_branch(owner, repo)
    head = await inst.head(owner, repo, base)
    if head is None and default_branch is not None:
        # The remembered name is stale (the default branch was renamed): ask GitHub.
        base = await inst.default_branch(owner, repo)
        head = await inst.head(owner, repo, base)
    if head is None:
        raise PermanentError(f"the default branch {base} of {owner}/{repo} was not found", 404)
    return await read(inst, owner, repo, head, base)
