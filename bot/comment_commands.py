"""Feature: ``/runners`` commands in issue and pull request comments.

parse → authorise → execute → report, as a delivery handler: a 👀 reaction at once,
the commenter's permission from GitHub, the values files from the configuration
repository, the shared pipeline, one reply per command, and a final reaction (👍 all
accepted, 👎 something refused). Every side effect is recorded as a step of the
delivery, so a handler resumed after a crash never reacts, replies or opens anything
twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import pipeline
from bot.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles
from bot.github import GitHubApp, Installation, PermanentError, Reaction
from bot.inbox import Delivery, Inbox
from bot.metrics import Metrics
from bot.permissions import WRITE_LEVELS, Permission, best
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What feature handlers use: settings, state, GitHub and metrics."""

    settings: Settings
    inbox: Inbox
    github: GitHubApp
    metrics: Metrics


@dataclass(frozen=True)
class Thread:
    """Where a command was written: the repository, issue/PR number and comment."""

    owner: str
    repo: str
    number: int
    comment_id: int
    comment_url: str
    user: str
    is_bot: bool
    body: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Thread:
        repository, issue, comment = payload["repository"], payload["issue"], payload["comment"]
        user = comment.get("user") or {}
        return cls(
            owner=repository["owner"]["login"],
            repo=repository["name"],
            number=int(issue["number"]),
            comment_id=int(comment["id"]),
            comment_url=str(comment.get("html_url", "")),
            user=str(user.get("login", "")),
            is_bot=user.get("type") == "Bot",
            body=str(comment.get("body") or ""),
        )


def marker(delivery_id: str, index: int) -> str:
    """A hidden tag in each reply, so a reply posted just before a crash is found again."""
    return f"<!-- runners-bot:{delivery_id}:{index} -->"


async def once(inbox: Inbox, delivery_id: str, name: str, action: Callable[[], Awaitable[object]]) -> None:
    """Run ``action`` unless the delivery already recorded step ``name``."""
    if await asyncio.to_thread(inbox.step, delivery_id, name) is not None:
        return
    await action()
    await asyncio.to_thread(inbox.record, delivery_id, name, "done")


async def reply(
    services: Services, inst: Installation, delivery: Delivery, thread: Thread, *, index: int, text: str
) -> int:
    """Post reply ``index`` of the delivery, or edit it in place if it exists already."""
    inbox, name = services.inbox, f"reply:{index}"
    body = f"{text.rstrip()}\n\n{marker(delivery.id, index)}\n"
    known = await asyncio.to_thread(inbox.step, delivery.id, name)
    if known is None and await asyncio.to_thread(inbox.step, delivery.id, name + ":intent") is not None:
        # A crash may have come between posting and recording: look before posting again.
        found = await inst.find_comment(thread.owner, thread.repo, thread.number, marker(delivery.id, index))
        known = str(found) if found is not None else None
    if known is not None:
        await inst.edit_comment(thread.owner, thread.repo, int(known), body)
        return int(known)
    await asyncio.to_thread(inbox.record, delivery.id, name + ":intent", "1")
    comment_id = await inst.comment(thread.owner, thread.repo, thread.number, body)
    await asyncio.to_thread(inbox.record, delivery.id, name, str(comment_id))
    return comment_id


def config_repository(settings: Settings, thread_owner: str, thread_repo: str) -> tuple[str, str]:
    """``RUNNERS_CONFIG_REPO``, or the repository of the thread when it is not set."""
    return settings.config_owner_repo or (thread_owner, thread_repo)


async def read_config(inst: Installation, owner: str, repo: str, ref: str | None = None) -> ConfigFiles:
    repositories, base = await asyncio.gather(
        inst.file(owner, repo, REPOSITORIES_FILE, ref), inst.file(owner, repo, BASE_CONFIG_FILE, ref)
    )
    return ConfigFiles(repositories.text, base.text)


async def permissions(
    inst: Installation, request: pipeline.Request, files: ConfigFiles, config: tuple[str, str]
) -> pipeline.Request:
    """The request with the commenter's permissions filled in, asking GitHub only what matters."""
    targets = pipeline.write_targets(request, files)
    if not targets:
        return request
    found: dict[str, Permission] = {}
    for target in targets:
        owner, name = target.split("/", 1)
        found[target.lower()] = await inst.permission(owner, name, request.user)
    fallback: Permission = "none"
    if any(p not in WRITE_LEVELS for p in found.values()):
        config_name = f"{config[0]}/{config[1]}".lower()
        fallback = found.get(config_name) or await inst.permission(config[0], config[1], request.user)
    return pipeline.Request(**{**request.__dict__, "permission": best(fallback), "permissions": found})


async def handle(services: Services, delivery: Delivery) -> None:
    """The handler for a comment holding ``/runners`` commands."""
    started = time.monotonic()
    payload = json.loads(delivery.body)
    thread = Thread.from_payload(payload)
    if delivery.installation is None:
        raise PermanentError("the delivery names no installation", 0)
    inst = services.github.installation(delivery.installation)
    await once(
        services.inbox,
        delivery.id,
        "reaction:eyes",
        lambda: inst.react(thread.owner, thread.repo, thread.comment_id, "eyes"),
    )
    config = config_repository(services.settings, thread.owner, thread.repo)
    files = await read_config(inst, *config)
    request = pipeline.Request(
        comment=thread.body,
        user=thread.user,
        permission="none",
        is_bot=thread.is_bot,
        repo=thread.full_name,
        source=thread.comment_url,
    )
    request = await permissions(inst, request, files, config)
    outcome = pipeline.run(request, files)
    for index, answer in enumerate(outcome.replies):
        await reply(services, inst, delivery, thread, index=index, text=answer.text)
        verb = answer.command.split()[1] if len(answer.command.split()) > 1 else "?"
        services.metrics.commands.labels(
            verb if verb in ("help", "status", "scale", "add", "remove") else "other", "ok" if answer.ok else "refused"
        ).inc()
    final: Reaction = "+1" if outcome.ok else "-1"
    await once(
        services.inbox,
        delivery.id,
        "reaction:final",
        lambda: inst.react(thread.owner, thread.repo, thread.comment_id, final),
    )
    services.metrics.command_latency.observe(time.monotonic() - started)
