"""``POST /api/github/webhooks``: verify, filter, store, acknowledge.

Order matters for cost and safety: size limit, then the HMAC signature over the raw
body (constant-time), then the headers and JSON, then :func:`bot.events.classify`.
Anything unsigned, malformed or oversized is refused with nothing stored and no GitHub
call; anything the app does not act on is acknowledged and dropped. A delivery with
work is written to the inbox *before* the 2xx, and handled by the workers afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from bot.events import classify
from bot.inbox import Delivery, Inbox
from bot.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


class WebhookEndpoint:
    """A raw ASGI app (the hot path skips request/response objects); ``submit`` hands
    stored delivery ids to the workers."""

    def __init__(self, secret: str, inbox: Inbox, metrics: Metrics, submit: Callable[[str], None]) -> None:
        self.secret = secret.encode()
        self.inbox = inbox
        self.metrics = metrics
        self.submit = submit
        self._counters: dict[tuple[str, str], Any] = {}

    def _count(self, event: str, outcome: str) -> None:
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

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes | None:
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _handle(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[int, str]:
        body = await self._body(headers, receive)
        if body is None:
            self._count("unknown", "too_large")
            return 413, f"payload larger than {MAX_BODY} bytes"
        sent = headers.get(b"x-hub-signature-256", b"")
        expected = b"sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(sent, expected):
            self.metrics.signature_failures.inc()
            return 401, "missing or wrong X-Hub-Signature-256"
        event = headers.get(b"x-github-event", b"").decode("latin-1")
        delivery_id = headers.get(b"x-github-delivery", b"").decode("latin-1")
        if not event or not delivery_id or len(delivery_id) > 100:
            self._count(event or "unknown", "bad_request")
            return 400, "X-GitHub-Event and X-GitHub-Delivery headers are required"
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
        verdict = classify(event, payload)
        if verdict.work is None:
            self._count(event, "ignored")
            return 200, f"ignored: {verdict.reason}"
        installation = payload.get("installation")
        delivery = Delivery(
            id=delivery_id,
            event=event,
            action=str(payload.get("action", "")),
            kind=verdict.work,
            installation=installation.get("id") if isinstance(installation, dict) else None,
            body=body,
        )
        if not await self.inbox.add(delivery):
            self._count(event, "duplicate")
            return 200, "duplicate delivery: already accepted"
        self._count(event, "accepted")
        self.submit(delivery_id)
        return 202, "accepted"
