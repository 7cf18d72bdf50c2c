"""The shared services every feature handler is given: settings, state, GitHub, metrics,
and the coordination of replicas (which one runs the singletons)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clients.github import GitHubApp
from bot.runtime.leadership import Leadership
from bot.runtime.metrics import Metrics
from bot.runtime.settings import Settings
from bot.store.api import Store


@dataclass(frozen=True)
class Services:
    """What feature handlers use: settings, state, GitHub, metrics and leadership."""

    settings: Settings
    store: Store
    github: GitHubApp
    metrics: Metrics
    leadership: Leadership
