"""Absurd input never crashes a handler or `validate`: numbers out of any sane range,
a YAML alias that contains itself. Each gets a reply saying what would be accepted, and
whatever fails after a comment was admitted still spends its reply budget."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.commands import reply_limits
from bot.fleet.config import REPOSITORIES_FILE
from bot.runtime.settings import Settings
from tests.support.app import CONFIG_REPO, ROOT, TEAM_REPO, Harness, serve
from tests.support.fakegithub import Fault
from tests.support.webhook_payloads import comment_payload

pytestmark = pytest.mark.anyio


def bodies(harness: Harness) -> list[str]:
    return [c["body"] for c in harness.fake.thread_comments(TEAM_REPO, 7)]


async def test_a_burst_for_a_billion_days_is_refused_and_the_other_commands_answered(harness: Harness) -> None:
    comment = "/runners burst min=2 for=1000000000d\n/runners status"
    await harness.send("issue_comment", comment_payload(comment, user="maintainer"))
    await harness.settle()
    first, second = bodies(harness)
    assert "for must be a duration such as 4h, 90m or 1h30m (at most 366d)" in first
    assert "arc-api-runners" in second


async def test_a_recursive_alias_is_refused_not_looped(harness: Harness) -> None:
    text = harness.fake.file(CONFIG_REPO, REPOSITORIES_FILE)
    harness.fake.push(
        CONFIG_REPO, REPOSITORIES_FILE, text.replace("labels: [self-hosted, linux, x64, api]", "labels: &l [a, *l]")
    )
    await harness.send("issue_comment", comment_payload("/runners scale max=12", user="maintainer"))
    await harness.settle()
    (reply,) = bodies(harness)
    assert "was not run" in reply and "contains itself through an alias" in reply
    assert harness.fake.pulls[CONFIG_REPO.lower()] == []


def test_validate_reports_absurd_values_without_crashing(tmp_path: Path) -> None:
    values = tmp_path / "values"
    values.mkdir()
    (values / "base-config.yaml").write_text((ROOT / "values" / "base-config.yaml").read_text())
    text = (ROOT / "values" / "repositories.yaml").read_text()
    text = text.replace(
        "    labels: [self-hosted, linux, x64, api]\n",
        "    labels: &l [a, *l]\n    burst: {minRunners: 2, maxRunners: 4, maxDuration: 1000000000d}\n",
    )
    (values / "repositories.yaml").write_text(text)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "runners-bot"), "validate", "--config-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "maxDuration of burst must be a duration" in done.stdout and "labels of entry" in done.stdout
    assert "Traceback" not in done.stderr


async def test_a_failure_after_admission_spends_the_budget(harness: Harness) -> None:
    harness.fake.inject("POST", "/repos/{owner}/{repo}/pulls", Fault(status=403))
    await harness.send("issue_comment", comment_payload("/runners scale max=12", user="maintainer"))
    await harness.settle()
    budget = reply_limits.Budget.load(await harness.app.store.get("replies:maintainer"))
    assert budget is not None and budget.used == 1
    installation = reply_limits.Budget.load(await harness.app.store.get("replies:installation:42"))
    assert installation is not None and installation.used == 1


@pytest.fixture
async def small_installation_budget(settings: Settings, fake: Any) -> AsyncIterator[Harness]:
    async for harness in serve(dataclasses.replace(settings, installation_reply_limit=3), fake):
        yield harness


async def test_many_accounts_share_the_installations_budget(small_installation_budget: Harness) -> None:
    harness = small_installation_budget
    for n in range(6):  # throwaway accounts: each well within its own budget
        await harness.send("issue_comment", comment_payload("/runners help", user=f"throwaway{n}", comment_id=700 + n))
        await harness.settle()
    found = bodies(harness)
    assert len(found) == 4, "three answers, then one notice, then silence"
    assert found[-1].startswith("⏸️") and "in this installation" in found[-1]
