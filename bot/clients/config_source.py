"""Reading the values files from the configuration repository (``RUNNERS_CONFIG_REPO``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.clients.github import BranchFiles, FileContent, Installation
from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles
from bot.runtime.settings import Settings


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


async def latest(inst: Installation, owner: str, repo: str) -> Snapshot:
    """Both files at the head of the default branch: one GraphQL request, plus a REST read
    for a file GraphQL could not return whole (very large)."""
    found = await inst.branch_files(owner, repo, REPOSITORIES_FILE, BASE_CONFIG_FILE)
    repositories, base = await asyncio.gather(
        _whole(inst, owner, repo, REPOSITORIES_FILE, found), _whole(inst, owner, repo, BASE_CONFIG_FILE, found)
    )
    return Snapshot(ConfigFiles(repositories.text, base.text), repositories.sha, found.commit, found.branch)


async def _whole(inst: Installation, owner: str, repo: str, path: str, found: BranchFiles) -> FileContent:
    return found.files[path] or await inst.file(owner, repo, path, found.commit)
