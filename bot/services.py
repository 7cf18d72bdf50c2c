"""The shared services every feature handler is given: settings, state, GitHub, metrics,
and the coordination of replicas (which one runs the singletons)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.github import GitHubApp
from bot.inbox import Inbox
from bot.leadership import Leadership
from bot.metrics import Metrics
from bot.settings import Settings


@dataclass(frozen=True)
class Services:
    """What feature handlers use: settings, state, GitHub, metrics and leadership."""

    settings: Settings
    inbox: Inbox
    github: GitHubApp
    metrics: Metrics
    leadership: Leadership
