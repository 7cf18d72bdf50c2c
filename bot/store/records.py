"""The records features share, typed: one feature writes each, others read it only here.

A feature that needs another's record (the dashboard shows every set's open pull
request, bursts and last rollout; rollout reports expect what the bursts say) reads it
through these accessors, never by a key string or a class of the feature that wrote it.
Keys come from :mod:`bot.store.keys`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from bot.fleet.schedules import ActiveBurst
from bot.store import keys
from bot.store.api import Fence, Store

# --- a scale set's open pull request (written by the pull requests service) --------------


@dataclass(frozen=True)
class Requested:
    """One command that went into a pull request: its line, who asked and where."""

    line: str
    user: str
    source: str
    repo: str | None = None
    target: str | None = None  # org/name the command resolved to when it was accepted


@dataclass
class OpenPull:
    """What the state database remembers of a set's open pull request."""

    number: int
    url: str
    branch: str
    commands: list[Requested] = field(default_factory=list)
    closes: str | None = None

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, text: str) -> OpenPull:
        data = json.loads(text)
        data["commands"] = [Requested(**c) for c in data.get("commands", [])]
        if not isinstance(data.get("closes"), str):
            data["closes"] = None  # stored by a version that wrote a bare number: ambiguous
        return cls(**data)


async def open_pulls(store: Store, config: tuple[str, str]) -> dict[str, OpenPull]:
    """Every set's open pull request in the configuration repository ``config``, in one read."""
    prefix = keys.pull(*config, "")
    return {key.removeprefix(prefix): OpenPull.load(saved) for key, saved in await store.items(prefix)}


# --- bursts in force (written by the clock) ----------------------------------------------


@dataclass(frozen=True)
class StoredBurst:
    """A burst in force, with the reply to edit when it ends."""

    burst: ActiveBurst
    reply: tuple[str, str, int] | None  # owner, repo, comment id
    text: str
    marker: str = ""  # the reply's hidden marker, kept on every edit (bot.webhooks.threads.publish finds it)

    def dump(self) -> str:
        b = self.burst
        return json.dumps(
            {
                "min": b.min_runners,
                "max": b.max_runners,
                "until": b.until.isoformat(),
                "started": b.started.isoformat() if b.started else None,
                "reply": self.reply,
                "text": self.text,
                "marker": self.marker,
            }
        )

    @classmethod
    def load(cls, text: str) -> StoredBurst:
        data = json.loads(text)
        started = datetime.fromisoformat(data["started"]) if data.get("started") else None
        burst = ActiveBurst(int(data["min"]), data["max"], datetime.fromisoformat(data["until"]), started)
        reply = tuple(data["reply"]) if data.get("reply") else None
        return cls(burst, reply, str(data.get("text", "")), str(data.get("marker", "")))


async def stored_bursts(store: Store) -> dict[str, StoredBurst]:
    """Every burst in force by scale set, in one read."""
    return {key.removeprefix(keys.BURST): StoredBurst.load(saved) for key, saved in await store.items(keys.BURST)}


async def bursts(store: Store) -> dict[str, ActiveBurst]:
    return {scale_set: stored.burst for scale_set, stored in (await stored_bursts(store)).items()}


async def stored_burst(store: Store, scale_set: str) -> StoredBurst | None:
    saved = await store.get(keys.burst(scale_set))
    return StoredBurst.load(saved) if saved else None


# --- each set's last rollout verdict (written by rollout reports) -------------------------


@dataclass(frozen=True)
class LastRollout:
    verdict: str  # live, failed or stuck
    where: str  # owner/repo#number of the pull request whose rollout it was

    def dump(self) -> str:
        return json.dumps({"verdict": self.verdict, "where": self.where})


async def last_rollouts(store: Store) -> dict[str, LastRollout]:
    """Every set's last rollout verdict, in one read."""
    found = {}
    for key, saved in await store.items(keys.LAST_ROLLOUT):
        data = json.loads(saved)
        found[key.removeprefix(keys.LAST_ROLLOUT)] = LastRollout(str(data["verdict"]), str(data["where"]))
    return found


async def remember_rollout(store: Store, scale_set: str, last: LastRollout, fence: Fence) -> None:
    await store.put(keys.last_rollout(scale_set), last.dump(), fence)


# --- the installation the configuration repository is read through ------------------------


async def config_installation(store: Store) -> int | None:
    remembered = await store.get(keys.CLOCK_INSTALLATION)
    return int(remembered) if remembered else None


async def remember_config_installation(store: Store, installation: int) -> None:
    await store.put(keys.CLOCK_INSTALLATION, str(installation))
