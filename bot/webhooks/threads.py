"""Where a delivery is answered, and the steps that make answering it happen once.

A :class:`Thread` is the issue or pull request (and comment) a delivery is about;
:func:`reply` posts a delivery's numbered reply there, or edits it in place when it
exists already, even across a crash between posting and recording; :func:`once` runs a
side effect unless the delivery recorded it. Features answer only through these.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.clients.github import Installation
from bot.store.api import Delivery, Store


@dataclass(frozen=True)
class Thread:
    """Where a command was written: the repository, issue/PR number and comment."""

    owner: str
    repo: str
    number: int
    comment_id: int | None
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
    """A hidden tag in each reply, so a reply posted just before a crash is found again.

    It holds a hash of the delivery id, never the id: ``X-GitHub-Delivery`` is not covered
    by the signature, and an id holding ``-->`` would end the comment and render the
    rest as the App's own Markdown."""
    digest = hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"<!-- runners-bot:{digest}:{index} -->"


async def once(store: Store, delivery_id: str, name: str, action: Callable[[], Awaitable[object]]) -> None:
    """Run ``action`` unless the delivery already recorded step ``name``."""
    if await store.step(delivery_id, name) is not None:
        return
    await action()
    await store.record(delivery_id, name, "done")


async def reply(store: Store, inst: Installation, delivery: Delivery, thread: Thread, *, index: int, text: str) -> int:
    """Post reply ``index`` of the delivery, or edit it in place if it exists already."""
    name = f"reply:{index}"
    body = f"{text.rstrip()}\n\n{marker(delivery.id, index)}\n"
    known = await store.step(delivery.id, name)
    if known is None and await store.step(delivery.id, name + ":intent") is not None:
        # A crash may have come between posting and recording: look before posting again.
        found = await inst.find_comment(thread.owner, thread.repo, thread.number, marker(delivery.id, index))
        known = str(found) if found is not None else None
    if known is not None:
        await inst.edit_comment(thread.owner, thread.repo, int(known), body)
        return int(known)
    await store.record(delivery.id, name + ":intent", "1")
    comment_id = await inst.comment(thread.owner, thread.repo, thread.number, body)
    await store.record(delivery.id, name, str(comment_id))
    return comment_id
