"""Bounded-time fuzzing of what strangers control: the webhook ingress (bytes and headers,
the unsigned event name and delivery id included), the comment → plan → reply pipeline
and the onboarding form (any text). Crashes are bugs. The number of
examples is ``FUZZ_EXAMPLES`` (CI: the default; raise it locally for a longer run)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import MutableMapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import pipeline
from bot.commands.grammar import MAX_COMMANDS, Command, Refusal, command_lines, markdown_lines, parse_comment
from bot.features.onboarding import parse_form
from bot.fleet.config import ConfigFiles, parse
from bot.fleet.validation import validate
from bot.reports.markers import reply_marker
from bot.runtime.metrics import Metrics
from bot.server import ROUTER
from bot.webhooks.endpoint import DELIVERY_ID, WebhookEndpoint
from tests.support.app import ROOT, SECRET
from tests.support.webhook_payloads import comment_payload, issue_opened_payload, rendered_form, sign

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# Text shaped like comments: command words, Markdown structure and hostile characters.
pieces = st.sampled_from(
    [
        "/runners", " ", "\n", "\r\n", "\r", "\u2028", "\u0085", "\x0c", "> ", "```", "~~~", "    ", "help", "status",
        "scale", "add", "remove", "min=", "max=", "profile=", "org=", "dind=", "--min", "=", "3", "-1", "99999999",
        "1e3", "large", "project-beta", "arc-api-runners", "Matchpoint-AI/", "@org/team", "![x](http://e)", "`",
        "fixes #1", "é", "\x00", "\t", "y", "on", "<!--", "-->", "<details>", "- ", "1. ", "```bash", "burst",
        "for=", "4h", "90m", "1000000000d", "off", "min=0",
    ]
)  # fmt: skip
comments = st.one_of(st.text(max_size=300), st.lists(pieces, max_size=40).map("".join))


class Recorder:
    """A store that only counts what would be stored."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    async def add(self, delivery: Any) -> bool:
        self.added.append(delivery)
        return True


async def call(endpoint: WebhookEndpoint, body: bytes, headers: dict[bytes, bytes], chunks: int) -> int:
    size = max(len(body) // max(chunks, 1), 1)
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/github/webhooks", "headers": list(headers.items())}
    await endpoint(scope, receive, send)
    status: int = sent[0]["status"]
    return status


header_names = st.sampled_from([b"x-github-event", b"x-github-delivery", b"x-hub-signature-256", b"content-length"])


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=2000), comments.map(lambda c: json.dumps(comment_payload(c)).encode())),
    extra=st.dictionaries(header_names, st.binary(max_size=80), max_size=4),
    signed=st.booleans(),
    chunks=st.integers(1, 5),
)
def test_ingress_answers_anything_with_a_4xx_or_2xx_and_stores_only_signed(
    body: bytes, extra: dict[bytes, bytes], signed: bool, chunks: int
) -> None:
    store = Recorder()
    endpoint = WebhookEndpoint(SECRET, store, Metrics(), lambda _: None, ROUTER, retention=14 * 86_400)  # type: ignore[arg-type]
    headers = {b"x-github-event": b"issue_comment", b"x-github-delivery": b"fuzz", **extra}
    if signed:
        headers[b"x-hub-signature-256"] = sign(SECRET, body).encode()
    status = asyncio.run(call(endpoint, body, headers, chunks))
    assert status in (200, 202, 400, 401, 408, 413), status
    if store.added:
        assert signed and status == 202
        assert store.added[0].body == body


events = st.one_of(
    st.sampled_from([b"issue_comment", b"issues", b"pull_request", b"ping", b"push", b"unknown", b"other"]),
    st.binary(max_size=60),
)
delivery_ids = st.one_of(
    st.uuids().map(lambda u: str(u).encode()),
    st.sampled_from([b"-->", b"x --> [link](https://e.example) <!--", b"a" * 101, b""]),
    st.binary(max_size=120),
)


@FUZZ
@given(
    event=events,
    delivery_id=delivery_ids,
    payload=st.sampled_from(["comment", "form"]),
    text=comments,
)
def test_unsigned_headers_never_reach_a_label_a_stored_id_or_a_marker(
    event: bytes, delivery_id: bytes, payload: str, text: str
) -> None:
    """Signed bodies under any X-GitHub-Event and X-GitHub-Delivery: only the events the
    app knows get a metric series, only ids of GitHub's shape are stored, and a reply's
    marker holds none of the id's text."""
    store, metrics = Recorder(), Metrics()
    endpoint = WebhookEndpoint(SECRET, store, metrics, lambda _: None, ROUTER, retention=14 * 86_400)  # type: ignore[arg-type]
    data = comment_payload(text) if payload == "comment" else issue_opened_payload("acme/app", 3, text)
    body = json.dumps(data).encode()
    headers = {
        b"x-github-event": event,
        b"x-github-delivery": delivery_id,
        b"x-hub-signature-256": sign(SECRET, body).encode(),
    }
    status = asyncio.run(call(endpoint, body, headers, 1))
    assert status in (200, 202, 400), status
    labels = {s.labels["event"] for m in metrics.deliveries.collect() for s in m.samples}
    assert labels <= ROUTER.events | {"ping", "other", "unknown"}, labels
    for delivery in store.added:
        assert DELIVERY_ID.fullmatch(delivery.id) and delivery.event in ROUTER.events
    assert re.fullmatch(r"<!-- runners-bot:[0-9a-f]{32}:0 -->", reply_marker(delivery_id.decode("latin-1"), 0))


FORM_LABELS = ["Repository", "Organisation", "Category", "Resource profile", "Minimum runners", "Maximum runners",
               "Needs Docker", "Justification"]  # fmt: skip
answers = st.one_of(
    comments,
    st.sampled_from(["payments-service", "Matchpoint-AI", "backend", "large", "1", "6", "Yes", "No", "_No response_"]),
)


@FUZZ
@given(form=st.dictionaries(st.sampled_from(FORM_LABELS), answers), raw=st.one_of(st.none(), comments))
def test_an_onboarding_form_is_one_add_command_or_its_problems(form: dict[str, str], raw: str | None) -> None:
    """Any issue body: parse_form never crashes, and either names problems or gives one
    `/runners add` line whose every option came from a checked field."""
    result = parse_form(raw if raw is not None else rendered_form(form))
    assert (result.command is None) == bool(result.problems)
    if result.command is not None:
        assert "\n" not in result.command and "\r" not in result.command
        parsed = parse_comment(result.command)
        assert len(parsed.items) == 1 and isinstance(parsed.items[0], Command) and parsed.items[0].verb == "add"
    # The reply's suggestion: the grammar's placeholders filled in, it is a command the app accepts.
    filled = " ".join(FILLED.get(part, part) for part in result.suggestion.split(" "))
    parsed = parse_comment("/runners add " + filled)
    assert len(parsed.items) == 1 and isinstance(parsed.items[0], Command), (result.suggestion, parsed.items)


# A value for each placeholder the onboarding reply's suggestion may hold.
FILLED = {"REPO": "svc", "org=O": "org=acme", "profile=P": "profile=medium", "category=C": "category=backend",
          "min=N": "min=0", "max=N": "max=100000", "dind=true|false": "dind=false", "runnerScaleSetName=NAME": "runnerScaleSetName=svc-runners"}  # fmt: skip


@FUZZ
@given(comment=comments)
def test_parser_never_crashes_and_never_runs_quoted_or_fenced_text(comment: str) -> None:
    parsed = parse_comment(comment)
    assert len(parsed.items) <= MAX_COMMANDS
    for item in parsed.items:
        assert isinstance(item, (Command, Refusal))
        if isinstance(item, Refusal):
            assert item.reason and item.accepted
    for line in command_lines(comment):
        assert "\n" not in line and "\r" not in line and line.startswith("/runners")


@FUZZ
@given(comment=comments)
def test_the_markdown_scanner_runs_nothing_github_shows_as_code_quote_or_html(comment: str) -> None:
    """Every command line the scanner finds is text of a paragraph or heading: never a
    line GitHub shows inside code, a quote or an HTML block."""
    from markdown_it import MarkdownIt

    hidden: set[int] = set()
    lines = markdown_lines(comment)
    for token in MarkdownIt("commonmark").parse(comment):
        if token.map and (token.type in ("fence", "code_block", "html_block") or token.type == "blockquote_open"):
            hidden.update(range(*token.map))
    shown = {line.strip(" \t") for n, line in enumerate(lines) if n not in hidden}
    assert set(command_lines(comment)) <= shown


@FUZZ
@given(
    minimum=st.one_of(st.integers(-5, 10**12).map(str), st.text(max_size=12)),
    span=st.one_of(st.from_regex(r"[0-9]{1,12}[dhm]([0-9]{1,6}[hm])?", fullmatch=True), st.text(max_size=12)),
    top=st.one_of(st.none(), st.integers(-5, 10**12).map(str)),
)
def test_the_burst_parser_answers_any_numbers(files: ConfigFiles, minimum: str, span: str, top: str | None) -> None:
    comment = f"/runners burst arc-api-runners min={minimum} for={span}" + (f" max={top}" if top is not None else "")
    request = pipeline.Request(
        comment=comment, user="fuzzer", permission="admin", repo="Matchpoint-AI/project-beta-api"
    )
    (reply,) = pipeline.run(request, files).replies
    assert reply.text


@pytest.fixture(scope="module")
def files() -> ConfigFiles:
    return ConfigFiles.read(ROOT)


@FUZZ
@given(
    comment=comments,
    permission=st.sampled_from(["none", "read", "triage", "write", "admin"]),
    repo=st.sampled_from([None, "Matchpoint-AI/project-beta", "someone/else"]),
)
def test_pipeline_answers_every_command_and_keeps_the_file_valid(
    files: ConfigFiles, comment: str, permission: Any, repo: str | None
) -> None:
    request = pipeline.Request(comment=comment, user="fuzzer", permission=permission, repo=repo)
    outcome = pipeline.run(request, files)
    assert len(outcome.replies) == len(parse_comment(comment).items) + (1 if parse_comment(comment).ignored else 0)
    if outcome.new_text is not None:
        assert permission in ("write", "admin")
        assert validate(parse(outcome.new_text, files.base)) == []
