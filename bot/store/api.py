"""The store's interface: what the app keeps and how replicas share it.

A delivery that carries work is written (and synced) before GitHub gets its 2xx, keyed
by ``X-GitHub-Delivery``, so a redelivery is recognised and a crash loses nothing.
Side effects record themselves as *steps* (``reply:0`` → the comment id), so work
resumed after a crash continues where it stopped instead of repeating itself.

Several replicas may share one store (PostgreSQL). Each store object speaks for one
replica (``owner``) and coordinates through three things:

* **claims**: a delivery is worked on by the replica whose claim holds; a claim is a
  lease, renewed while the work runs, that a crashed replica loses after the lease
  time. Steps and the end of a delivery are written only under a holding claim, so a
  replica that lost its claim cannot record over the one that took it (:class:`LeaseLost`).
* **leases**: a named lease with a fencing token, for work that runs on one replica at a
  time (:mod:`bot.runtime.leadership`); state written for it is *fenced* by that token.
* **locks**: a mutual exclusion per key across replicas (a scale set's pull request).

Every query is a coroutine: the engines run their blocking drivers on threads of their
own, so callers on the event loop simply ``await``. Keys are built and named only in
:mod:`bot.store.keys`.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.capacity.evidence import Hour, Tally


@dataclass(frozen=True)
class Delivery:
    """One accepted webhook delivery."""

    id: str
    event: str
    action: str
    kind: str
    installation: int | None
    body: bytes
    received_at: float = 0.0
    attempts: int = 0
    subject: str | None = None  # what it is about (bot.webhooks.routing.subject): one delivery per subject

    @functools.cached_property
    def payload(self) -> dict[str, Any]:
        """The body as JSON, parsed once for whichever handler reads it (the endpoint
        accepted only a JSON object)."""
        found = json.loads(self.body)
        return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Fence:
    """A term of a named lease: writes fenced by it happen only while it still holds."""

    name: str
    token: int


class LeaseLost(Exception):
    """This replica no longer holds the claim or lease a write needed; another took over.

    Not an error of the work: the replica that holds it now carries on."""


class Store(Protocol):
    """What the app needs from its state database."""

    owner: str

    # --- deliveries and their claims ------------------------------------------------------

    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery durably, claimed by this replica; False when its id or its
        subject was seen before."""

    async def claim(self, delivery_id: str) -> Delivery | None:
        """Take (or keep) the claim on a pending delivery; None when it is done or another
        replica's claim holds."""

    async def claim_ready(self, limit: int) -> list[str]:
        """Claim up to ``limit`` pending deliveries that are due and nobody holds (never
        claimed, released, or their replica's lease ran out)."""

    async def renew(self, delivery_ids: Iterable[str]) -> set[str]:
        """Extend this replica's claims; returns the ids whose claim is still ours."""

    async def release(self, delivery_ids: Iterable[str]) -> None:
        """Give up claims (shutdown): another replica may take them at once."""

    async def pending(self) -> list[tuple[str, float]]:
        """Ids of unfinished deliveries with the time each may run again."""

    async def load(self, delivery_id: str) -> Delivery | None: ...

    async def finish(self, delivery_id: str) -> None:
        """Mark done; raises :class:`LeaseLost` when the claim is not ours."""

    async def fail(self, delivery_id: str, error: str) -> None: ...

    async def retry_later(self, delivery_id: str, delay: float, error: str) -> int:
        """Reschedule and release the claim; returns the number of attempts so far."""

    async def seen(self, delivery_ids: list[str]) -> set[str]: ...

    async def step(self, delivery_id: str, name: str) -> str | None: ...

    async def record(self, delivery_id: str, name: str, value: str) -> None:
        """Record a step; raises :class:`LeaseLost` when the claim is not ours."""

    # --- keys -------------------------------------------------------------------------------

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, fence: Fence | None = None) -> None:
        """Write; with ``fence``, only while that lease term holds (else :class:`LeaseLost`)."""

    async def delete(self, key: str, fence: Fence | None = None) -> None: ...

    async def swap(self, key: str, expected: str | None, value: str) -> bool:
        """Write ``value`` only if the key still holds ``expected`` (None: absent); whether
        it was written. For read-modify-write by concurrent workers and replicas."""

    async def keys(self, prefix: str) -> list[str]: ...

    async def items(self, prefix: str) -> list[tuple[str, str]]:
        """Every key under ``prefix`` with its value, in one read."""

    # --- leases and locks -------------------------------------------------------------------

    async def lease(self, name: str, seconds: float) -> int | None:
        """Take or renew the lease ``name`` for ``seconds``; its fencing token (a new one
        for each new term), or None while another replica holds it."""

    async def unlease(self, name: str) -> None:
        """Let the lease go (shutdown), keeping its token count."""

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Mutual exclusion on ``key`` across every replica of this store."""

    # --- upkeep -----------------------------------------------------------------------------

    # --- job evidence (bot.capacity) --------------------------------------------------------

    async def count_job(self, delivery_id: str, key: str, tally: Tally) -> bool:
        """Add a ``workflow_job`` delivery's tally to scale set ``key``'s hourly aggregates,
        exactly once per delivery (under this replica's claim, else :class:`LeaseLost`);
        False when it was added before."""

    async def job_hours(self, keys: Iterable[str] | None, since_hour: int) -> dict[str, list[Hour]]:
        """Hourly aggregates from ``since_hour`` (epoch hours) on, by key (None: every key)."""

    async def forget_jobs(self, before_hour: int) -> int:
        """Drop aggregates of hours before ``before_hour``; how many rows went."""

    async def job_rows(self) -> int: ...

    async def writable(self) -> bool: ...

    async def purge(self, before: float, prefixes: tuple[str, ...]) -> dict[str, int]:
        """Forget finished deliveries (and their steps) received before ``before``, and
        keys under ``prefixes`` last written before it; returns what went, by kind."""

    async def stored(self) -> int:
        """How many deliveries are kept."""

    def close(self) -> None:
        """Let the database go (blocking: called once, at shutdown)."""
