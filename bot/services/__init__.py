"""What features share: the dependencies every handler is given (:class:`Services`), and
the operations more than one feature performs (``pull_requests``: the bot's pull requests
in the configuration repository; ``runner_limits``: min/max from schedules and bursts
written to the cluster; ``command_runner``: a comment's commands, from admission to
reply; ``runner_groups``: whether pools' runner groups exist, for the command line and
a pool's rollout report). May import the store, the runtime, the clients, the webhooks layer's reply
helpers and the pure packages; never a feature, so features never import each other.

A feature that wants another to act (the dashboard to refresh, the clock to reconcile)
pokes it by name through the leadership's signal relay (:meth:`Services.poke`): on the
replica that runs that loop it runs soon; elsewhere the poke travels through the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.clients.github import GitHubApp
from bot.fleet.config import ConfigFiles
from bot.runtime.leadership import Leadership
from bot.runtime.metrics import Metrics
from bot.runtime.settings import Settings
from bot.store import records
from bot.store.api import Store

# The loops a poke can reach, by the name each registers with the relay.
SCHEDULES = "schedules"
DASHBOARD = "dashboard"
CONFIG_CHANGED = "dashboard-config"  # the configuration was merged: read it again


class LatestConfig:
    """The configuration as this replica last read it (a command's read saves the
    dashboard another), and the installation it is read through: the one thing features
    share that changes, so it changes only through these methods (:class:`Services`
    itself never does)."""

    def __init__(self) -> None:
        self._installation: int | None = None
        self._files: ConfigFiles | None = None

    @property
    def installation(self) -> int | None:
        return self._installation

    @property
    def files(self) -> ConfigFiles | None:
        """The files as last read, or None when they must be read anew."""
        return self._files

    def note(self, installation: int, files: ConfigFiles) -> None:
        """The configuration was just read through ``installation``."""
        self._installation, self._files = installation, files

    def forget_files(self) -> None:
        """The configuration changed (a merge): the next reader reads it anew."""
        self._files = None

    def learn_installation(self, installation: int | None) -> None:
        """An installation the configuration may be read through, kept unless one is known."""
        if self._installation is None:
            self._installation = installation

    def switch_installation(self, installation: int) -> bool:
        """Read through ``installation`` from now on; whether that changed anything."""
        changed, self._installation = self._installation != installation, installation
        return changed


@dataclass
class WallClock:
    """Seconds since the epoch, by which the reply budgets run; ``time`` is injectable
    (tests), as the dispatcher's ``sleep`` is."""

    time: Callable[[], float] = time.time


@dataclass(frozen=True)
class Services:
    """What feature handlers use: settings, state, GitHub, metrics and leadership; fixed
    once built (what changes is in :class:`LatestConfig`)."""

    settings: Settings
    store: Store
    github: GitHubApp
    metrics: Metrics
    leadership: Leadership
    latest: LatestConfig = field(default_factory=LatestConfig)
    wall: WallClock = field(default_factory=WallClock)

    def poke(self, loop: str) -> None:
        """Ask the loop registered as ``loop`` (on whichever replica runs it) to run soon."""
        self.leadership.signal(loop)

    async def installation(self) -> int | None:
        """The installation the configuration repository is read through, when known."""
        if self.latest.installation is None:
            # Not learnt from a delivery meanwhile: then the remembered one.
            self.latest.learn_installation(await records.config_installation(self.store))
        return self.latest.installation

    async def read_through(self, installation: int) -> None:
        """A delivery came through ``installation``: the loops read the configuration
        through it from now on (remembered across restarts, and the clock told at once)."""
        if self.latest.switch_installation(installation):
            await records.remember_config_installation(self.store, installation)
            self.poke(SCHEDULES)
