"""One parse, one plan: in a whole delivery (reply, pull request, rebuild from stored
lines) no comment line and no YAML text is parsed twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bot.commands import grammar as commands
from bot.fleet import yamlload
from bot.fleet.config import parse
from tests.support.app import Harness
from tests.support.webhook_payloads import comment_payload

pytestmark = pytest.mark.anyio


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counter[str]]:
    seen: dict[str, Counter[str]] = {"line": Counter(), "yaml": Counter()}
    real_line, real_load = commands._parse_line, yamlload._load

    def parse_line(line: str) -> Any:
        seen["line"][line] += 1
        return real_line(line)

    def load(text: str) -> Any:
        seen["yaml"][text] += 1
        return real_load(text)

    monkeypatch.setattr(commands, "_parse_line", parse_line)
    monkeypatch.setattr(yamlload, "_load", load)
    for cached in (commands.parse_line, yamlload.load, parse):
        cached.cache_clear()
    return seen


@pytest.mark.parametrize(
    "comment",
    [
        "/runners scale max=12",
        "/runners scale max=12 profile=xlarge\n/runners status\n/runners help",
        "/runners add Matchpoint-AI/payments org=Matchpoint-AI\n/runners scale payments max=4",
    ],
)
async def test_nothing_is_parsed_twice_in_a_delivery(
    harness: Harness, counted: dict[str, Counter[str]], comment: str
) -> None:
    await harness.send("issue_comment", comment_payload(comment, user="maintainer"))
    await harness.settle()
    assert harness.fake.pulls, "the delivery went as far as a pull request"
    assert counted["line"] and max(counted["line"].values()) == 1, counted["line"]
    assert counted["yaml"] and max(counted["yaml"].values()) == 1, [t[:60] for t, n in counted["yaml"].items() if n > 1]
