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
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.events import classify
from bot.inbox import Delivery, Inbox
from bot.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _answer(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status)


class WebhookEndpoint:
    """The ASGI endpoint; ``submit`` hands stored delivery ids to the workers."""

    def __init__(self, secret: str, inbox: Inbox, metrics: Metrics, submit: Callable[[str], None]) -> None:
        self.secret = secret.encode()
        self.inbox = inbox
        self.metrics = metrics
        self.submit = submit

    async def _body(self, request: Request) -> bytes | None:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle(self, request: Request) -> Response:
        body = await self._body(request)
        if body is None:
            self.metrics.deliveries.labels("unknown", "too_large").inc()
            return _answer(413, f"payload larger than {MAX_BODY} bytes")
        sent = request.headers.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            self.metrics.signature_failures.inc()
            return _answer(401, "missing or wrong X-Hub-Signature-256")
        event = request.headers.get("x-github-event")
        delivery_id = request.headers.get("x-github-delivery")
        if not event or not delivery_id or len(delivery_id) > 100:
            self.metrics.deliveries.labels(event or "unknown", "bad_request").inc()
            return _answer(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            self.metrics.deliveries.labels(event, "bad_request").inc()
            return _answer(400, "the body is not a JSON object")
        if event == "ping":
            self.metrics.deliveries.labels(event, "pong").inc()
            return JSONResponse({"message": "pong"})
        verdict = classify(event, payload)
        if verdict.work is None:
            self.metrics.deliveries.labels(event, "ignored").inc()
            return JSONResponse({"message": f"ignored: {verdict.reason}"})
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
            self.metrics.deliveries.labels(event, "duplicate").inc()
            return JSONResponse({"message": "duplicate delivery: already accepted"})
        self.metrics.deliveries.labels(event, "accepted").inc()
        self.submit(delivery_id)
        return JSONResponse({"message": "accepted"}, status_code=202)
