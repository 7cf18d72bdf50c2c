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


def repository(settings: Settings) -> tuple[str, str]:
    """``RUNNERS_CONFIG_REPO`` as ``(owner, name)``: required (``Settings.load`` refuses to
    start without it), so a thread's own repository never stands in for it."""
    found = settings.config_owner_repo
    assert found is not None, "Settings.load requires RUNNERS_CONFIG_REPO"
    return found


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
