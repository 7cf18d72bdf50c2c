"""Crash safety: a real `runners-bot serve` killed with SIGKILL in the middle of a command,
then restarted on the same state database, completes the command exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.app import CONFIG_REPO, SECRET, TEAM_REPO
from tests.support.servers import BotProcess, ThreadedServer
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import comment_payload, delivery

COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
GRAPHQL = "/graphql"
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
PULLS = "/repos/{owner}/{repo}/pulls"


@pytest.mark.parametrize(
    "case",
    [
        (("POST", GRAPHQL), "/runners help", "killed before any reply"),
        (("POST", COMMENTS), "/runners help", "killed while the reply was being posted (GitHub created it)"),
        (("POST", PULLS), "/runners scale max=12", "killed while the pull request was being opened (GitHub opened it)"),
    ],
)
def test_sigkill_mid_command_then_restart_completes_once(
    fake: Any, process_env: dict[str, str], tmp_path: Path, case: tuple[tuple[str, str], str, str]
) -> None:
    held, command, scenario = case
    with ThreadedServer(fake.app) as github:
        env = {**process_env, "GITHUB_API_URL": github.url}
        release = fake.hold(*held)
        first = BotProcess(env, tmp_path).start()
        try:
            body, headers = delivery(SECRET, "issue_comment", comment_payload(command), "crash-1")
            assert (
                httpx.post(f"{first.url}/api/github/webhooks", content=body, headers=headers, timeout=10).status_code
                == 202
            )
            wait_for(fake.reached[held].is_set, f"the bot to reach {held}")
            first.kill()
        finally:
            first.stop()
        release.set()  # the held call now completes at GitHub, but its caller is gone
        if held == ("POST", COMMENTS):
            wait_for(lambda: len(fake.thread_comments(TEAM_REPO, 7)) == 1, "GitHub to finish the orphaned comment")
        if held == ("POST", PULLS):
            wait_for(lambda: len(fake.pulls[CONFIG_REPO.lower()]) == 1, "GitHub to finish the orphaned pull request")
        second = BotProcess(env, tmp_path).start()
        try:
            wait_for(
                lambda: [r["content"] for r in fake.reactions] == ["eyes", "+1"], "the command to finish after restart"
            )
            again = httpx.post(f"{second.url}/api/github/webhooks", content=body, headers=headers, timeout=10)
            assert again.status_code == 200, "a redelivery after the restart is a duplicate"
            time.sleep(0.5)
        finally:
            second.stop()
    replies = fake.thread_comments(TEAM_REPO, 7)
    assert len(replies) == 1, scenario
    assert [r["content"] for r in fake.reactions] == ["eyes", "+1"]
    if command == "/runners help":
        assert "**runners-bot** changes this fleet" in replies[0]["body"]
    else:
        assert len(fake.pulls[CONFIG_REPO.lower()]) == 1, "no second pull request"
        assert fake.count("PUT", CONTENTS) == 1, "no second commit"
        assert "pull request [#100]" in replies[0]["body"]
    if held == ("POST", COMMENTS):
        assert fake.count("GET", COMMENTS) == 1, "the orphaned reply was found by its marker, not posted again"
    assert fake.violations == []
