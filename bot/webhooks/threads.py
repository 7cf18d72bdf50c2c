"""Where a delivery is answered, and the steps that make answering it happen once.

An :class:`Issue` is an issue or pull request; a :class:`Thread` is the one (and the
comment) a delivery is about. :func:`publish` is the one way the App's comments are
posted or edited by their hidden markers (:mod:`bot.reports.markers`); :func:`reply` uses it for a delivery's
numbered reply, edited in place when it exists already, even across a crash between
posting and recording; :func:`once` runs a side effect unless the delivery recorded it.
Features answer only through these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.clients.github import Installation
from bot.reports.markers import reply_marker
from bot.store.api import Delivery, Store


@dataclass(frozen=True)
class Issue:
    """An issue or pull request: where the App's comments go."""

    owner: str
    repo: str
    number: int

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"


@dataclass(frozen=True)
class Thread(Issue):
    """Where a command was written: the repository, issue/PR number and comment."""

    comment_id: int | None
    comment_url: str
    user: str
    is_bot: bool
    body: str

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


def marked(text: str, marker: str) -> str:
    """``text`` with ``marker`` hidden at its end, where :func:`publish` looks for it."""
    return f"{text}\n\n{marker}\n"


async def publish(
    inst: Installation, issue: Issue, bodies: Mapping[str, str], known: Mapping[str, int], *, look: bool = True
) -> dict[str, int]:
    """Each of ``bodies`` (keyed by its hidden marker) as a comment of the App's on
    ``issue``, in order: the comment ``known`` for its marker is edited; else, when
    ``look``, the App's comment holding the marker (a crash after posting, before the id
    was recorded, must not post it twice), found for all of them in one listing; else a
    new one. Returns each marker's comment id."""
    missing = [m for m in bodies if m not in known]
    found = await inst.find_comments(issue.owner, issue.repo, issue.number, missing) if look and missing else {}
    ids: dict[str, int] = {}
    for marker, body in bodies.items():
        comment_id = known.get(marker, found.get(marker))
        if comment_id is None:
            comment_id = await inst.comment(issue.owner, issue.repo, issue.number, body)
        else:
            await inst.edit_comment(issue.owner, issue.repo, comment_id, body)
        ids[marker] = comment_id
    return ids


async def once(store: Store, delivery_id: str, name: str, action: Callable[[], Awaitable[object]]) -> None:
    """Run ``action`` unless the delivery already recorded step ``name``."""
    if await store.step(delivery_id, name) is not None:
        return
    await action()
    await store.record(delivery_id, name, "done")


async def reply(store: Store, inst: Installation, delivery: Delivery, thread: Thread, *, index: int, text: str) -> int:
    """Post reply ``index`` of the delivery, or edit it in place if it exists already."""
    name, tag = f"reply:{index}", reply_marker(delivery.id, index)
    known = await store.step(delivery.id, name)
    # A crash may have come between posting and recording: then look before posting again.
    look = known is None and await store.step(delivery.id, name + ":intent") is not None
    if known is None and not look:
        await store.record(delivery.id, name + ":intent", "1")
    ids = {tag: int(known)} if known is not None else {}
    comment_id = (await publish(inst, thread, {tag: marked(text.rstrip(), tag)}, ids, look=look))[tag]
    if known is None:
        await store.record(delivery.id, name, str(comment_id))
    return comment_id
