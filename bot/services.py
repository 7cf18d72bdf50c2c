"""The shared services every feature handler is given: settings, state, GitHub, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from bot.github import GitHubApp
from bot.inbox import Inbox
from bot.metrics import Metrics
from bot.settings import Settings


@dataclass(frozen=True)
class Services:
    """What feature handlers use: settings, state, GitHub and metrics."""

    settings: Settings
    inbox: Inbox
    github: GitHubApp
    metrics: Metrics
