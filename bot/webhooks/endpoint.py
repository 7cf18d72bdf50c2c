"""``POST /api/github/webhooks``: verify, filter, store, acknowledge.

Order matters for cost and safety: size limit, then the HMAC signature over the raw
body (constant-time), then the headers and JSON, then the features' routes
(:class:`bot.webhooks.routing.Router`).
Anything unsigned, malformed or oversized is refused with nothing stored and no GitHub
call; anything the app does not act on is acknowledged and dropped. A delivery with
work is written to the store *before* the 2xx, and handled by the workers afterwards.

Before the signature is checked nobody is trusted, so what an unsigned request can cost
is bounded: a declared ``Content-Length`` over :data:`MAX_BODY` is refused before a
byte is read, a chunked body is counted as it streams, the HMAC is fed chunk by chunk
into the one buffer the JSON is later parsed from, and a body that takes longer than
:data:`BODY_TIMEOUT` to arrive is cut off. (The server bounds concurrent connections.)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from bot.runtime.metrics import Metrics
from bot.store.api import Delivery, Store
from bot.webhooks.routing import Router, subject, too_old

log = logging.getLogger(__name__)

# GitHub's issue_comment, issues and pull_request payloads, with bodies at GitHub's
# 65,536-character maximum, stay well under this.
MAX_BODY = 2 * 1024 * 1024
BODY_TIMEOUT = 10.0  # seconds for a whole body: GitHub itself gives up after 10
# X-GitHub-Delivery is a GUID (hex digits and dashes); the signature does not cover it, so
# anything else (markup, control characters, a long text) is refused, not stored.
DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
OTHER_EVENT = "other"  # the metric label of every event no route knows (X-GitHub-Event is unsigned)


class _BadRequest(Exception):
    """A request answered with a 4xx ``status`` before anything was stored."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


class WebhookEndpoint:
    """A raw ASGI app (the hot path skips request/response objects); ``submit`` hands
    stored delivery ids to the workers."""

    def __init__(
        self,
        secret: str,
        store: Store,
        metrics: Metrics,
        submit: Callable[[str], None],
        router: Router,
        *,
        retention: float,
    ) -> None:
        self.router = router
        self.secret = secret.encode()
        self.retention = retention  # seconds deliveries are remembered (replays older than that are refused)
        self.store = store
        self.metrics = metrics
        self.submit = submit
        # Bounded: the routes' events, ping, "other" and "unknown", by a handful of outcomes.
        self._counters: dict[tuple[str, str], Any] = {}
        self._events = router.events | {"ping", "unknown"}  # unknown: refused before the headers are read

    def _count(self, event: str, outcome: str) -> None:
        # X-GitHub-Event is not signed: only the events the app knows get a series of their
        # own, or a replayed body under ever new names would grow /metrics without end.
        event = event if event in self._events else OTHER_EVENT
        # Label lookups take a lock; the hot path keeps its children at hand.
        child = self._counters.get((event, outcome))
        if child is None:
            child = self._counters[(event, outcome)] = self.metrics.deliveries.labels(event, outcome)
        child.inc()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        status, message = await self._handle(headers, receive)
        body = orjson.dumps({"message": message})
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": body})

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[bytearray, bytes]:
        """The body and its HMAC, read with the limits above; raises :class:`_BadRequest`."""
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise _BadRequest(413, f"payload larger than {MAX_BODY} bytes")
        body, mac = bytearray(), hmac.new(self.secret, digestmod=hashlib.sha256)
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                more = True
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _BadRequest(400, "the client went away")
                    chunk = message.get("body", b"")
                    if len(body) + len(chunk) > MAX_BODY:
                        raise _BadRequest(413, f"payload larger than {MAX_BODY} bytes")
                    body += chunk
                    mac.update(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            raise _BadRequest(408, f"the body did not arrive within {BODY_TIMEOUT:g} s") from None
        return body, b"sha256=" + mac.hexdigest().encode()

    async def _handle(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[int, str]:
        try:
            body, expected = await self._body(headers, receive)
        except _BadRequest as refused:
            self._count("unknown", {413: "too_large", 408: "too_slow"}.get(refused.status, "bad_request"))
            return refused.status, refused.message
        sent = headers.get(b"x-hub-signature-256", b"")
        if not hmac.compare_digest(sent, expected):
            self.metrics.signature_failures.inc()
            return 401, "missing or wrong X-Hub-Signature-256"
        event = headers.get(b"x-github-event", b"").decode("latin-1")
        delivery_id = headers.get(b"x-github-delivery", b"").decode("latin-1")
        if not event or not delivery_id:
            self._count(event or "unknown", "bad_request")
            return 400, "X-GitHub-Event and X-GitHub-Delivery headers are required"
        if not DELIVERY_ID.fullmatch(delivery_id):
            self._count(event, "bad_request")
            return 400, "X-GitHub-Delivery is not a delivery id GitHub sends (letters, digits, '-', at most 100)"
        try:
            payload: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            self._count(event, "bad_request")
            return 400, "the body is not a JSON object"
        if event == "ping":
            self._count(event, "pong")
            return 200, "pong"
        verdict = self.router.classify(event, payload)
        if verdict.work is None:
            self._count(event, "ignored")
            return 200, f"ignored: {verdict.reason}"
        if too_old(event, payload, time.time(), self.retention):
            self._count(event, "too_old")
            return 200, "ignored: the event is older than runners-bot remembers deliveries (a replay)"
        installation = payload.get("installation")
        delivery = Delivery(
            id=delivery_id,
            event=event,
            action=str(payload.get("action", "")),
            kind=verdict.work,
            installation=installation.get("id") if isinstance(installation, dict) else None,
            body=bytes(body),
            subject=subject(event, payload),
        )
        if not await self.store.add(delivery):
            self._count(event, "duplicate")
            return 200, "duplicate: this delivery, or one about the same event, was accepted already"
        self._count(event, "accepted")
        self.submit(delivery_id)
        return 202, "accepted"
