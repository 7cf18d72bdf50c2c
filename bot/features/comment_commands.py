"""Feature: ``/runners`` commands in issue and pull request comments.

Its route keeps a created comment that holds a command and was typed by a person (not a
bot, not an App posting for a user); the handler runs the comment's commands
(:mod:`bot.services.command_runner`) on the thread it was written in.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from bot.commands.grammar import has_command
from bot.services.command_runner import CommandRunner
from bot.store.api import Delivery
from bot.webhooks.routing import Handler, Route, by_app, by_bot
from bot.webhooks.threads import Thread


def accepts(payload: Mapping[str, Any]) -> str | None:
    comment = payload.get("comment")
    if not isinstance(comment, Mapping):
        return "no comment in payload"
    if by_bot(comment.get("user")) or by_bot(payload.get("sender")):
        return "comment by a bot"
    if by_app(comment):
        return "comment posted through a GitHub App"
    body = comment.get("body")
    if not isinstance(body, str) or not has_command(body):
        return "no /runners command"
    return None


async def handle(runner: CommandRunner, delivery: Delivery) -> None:
    """The handler for a comment holding ``/runners`` commands."""
    await runner.run(delivery, Thread.from_payload(delivery.payload))


ROUTES = (Route("command", "issue_comment", "created", accepts),)


def handlers(runner: CommandRunner) -> dict[str, Handler]:
    return {"command": functools.partial(handle, runner)}
