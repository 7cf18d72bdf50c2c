"""Structured logs: JSON lines that carry the delivery id, and never a secret or token."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.runtime.logs import JsonFormatter, mask
from tests.support.app import SECRET, Harness
from tests.support.fakegithub import Fault
from tests.support.webhook_payloads import comment_payload

pytestmark = pytest.mark.anyio


async def test_log_lines_are_json_with_delivery_and_no_secrets(harness: Harness, rsa_keys: tuple[str, str]) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        # A retry makes the workers log while handling the delivery.
        harness.fake.inject(
            "POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", Fault(429, {"retry-after": "3600"})
        )
        await harness.send("issue_comment", comment_payload("/runners help"), delivery_id="logged-1")
        await harness.settle()
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(line.get("delivery") == "logged-1" and line["level"] == "warning" for line in lines), lines
    text = stream.getvalue()
    tokens = list(harness.fake.tokens)
    assert tokens and not any(token in text for token in tokens)
    assert SECRET not in text and "PRIVATE KEY" not in text


def test_mask_hides_token_shapes() -> None:
    text = "token ghs_" + "a" * 36 + " key -----BEGIN RSA PRIVATE KEY-----abc jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.sig"
    masked = mask(text)
    assert "ghs_" not in masked and "BEGIN" not in masked and "eyJ" not in masked
