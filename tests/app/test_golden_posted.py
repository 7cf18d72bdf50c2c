"""Golden tests of what the app posts: each reply exactly as the fake GitHub received it
(hidden marker and all), the reactions, and the pull request it opened (title, body,
labels, commit message, the change to values/repositories.yaml), through the real ASGI
app with a fixed clock.

The comments of tests/support/golden.py are pinned here as posted and in
tests/golden/simulate/ as ``simulate`` gives them; besides them, what only the app
writes: bursts (and a status during one), a second command for a set (its pull request
updated), the reply budgets' notices, a file GitHub will not serve whole, and an
onboarding form and its pull request. Regenerate after an intended change with
``UPDATE_GOLDEN=1 pytest``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.commands import reply_limits
from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles
from bot.runtime.settings import Settings
from bot.server import App
from bot.store import keys
from tests.support.app import APP_ID, CONFIG_REPO, TEAM_REPO, serve
from tests.support.fakegithub import FakeGitHub, Fault
from tests.support.fakekube import FakeKube, runner_set
from tests.support.golden import SCENARIOS, golden
from tests.support.webhook_payloads import ONBOARDING_FORM, comment_payload, issue_opened_payload, rendered_form

pytestmark = pytest.mark.anyio

GOLDEN = Path(__file__).parent.parent / "golden"
NOW = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Berlin
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
# Besides the comments both pin, the replies only the app writes (tests/golden/<name>.md).
APP_ONLY = {
    "burst",
    "burst-off",
    "burst-off-none",
    "burst-status",
    "scale-twice",
    "rate-limited",
    "installation-limited",
    "unreadable",
    "onboarding",
    "onboarding-invalid",
}


def fixed_clock(app: App) -> None:
    app.runner_limits.clock = lambda: NOW
    app.services.wall.time = NOW.timestamp  # the reply budgets' clock


GitHub = Callable[[str, str, ConfigFiles | None], FakeGitHub]


@pytest.fixture
def github(rsa_keys: tuple[str, str], bundled: ConfigFiles) -> GitHub:
    """A fake GitHub with the configuration repository (``files``, None: the bundled values
    files) and the thread's, where octocat has ``permission``."""

    def make(permission: str, thread: str, files: ConfigFiles | None = None) -> FakeGitHub:
        files = files or bundled
        fake = FakeGitHub(APP_ID, rsa_keys[1])
        roles = {} if permission == "none" else {"octocat": permission}
        fake.add_repo(CONFIG_REPO, {REPOSITORIES_FILE: files.repositories, BASE_CONFIG_FILE: files.base}, roles)
        if thread.lower() != CONFIG_REPO.lower():
            fake.add_repo(thread, {"README.md": "# team\n"}, roles)
        return fake

    return make


def posted(fake: FakeGitHub, thread: str, number: int) -> str:
    """Everything the app wrote on the thread and the configuration repository."""
    parts = ["reactions: " + ", ".join(r["content"] for r in fake.reactions)]
    for index, comment in enumerate(fake.thread_comments(thread, number), 1):
        parts.append(f"===== reply {index} =====\n{comment['body']}")
    messages = [c.body["message"] for c in fake.calls if c.method == "PUT" and c.template == CONTENTS]
    for pull in fake.pulls[CONFIG_REPO.lower()]:
        labels = ", ".join(label["name"] for label in pull["labels"])
        parts.append(
            f"===== pull request #{pull['number']}: {pull['head']['ref']} (labels: {labels}) =====\n"
            f"--- title\n{pull['title']}\n--- body\n{pull['body']}--- commit message\n{messages.pop(0)}"
        )
        before = fake.file(CONFIG_REPO, REPOSITORIES_FILE)
        after = fake.file(CONFIG_REPO, REPOSITORIES_FILE, pull["head"]["ref"])
        diff = difflib.unified_diff(before.splitlines(True), after.splitlines(True), "before", "after")
        parts.append("===== diff =====\n" + "".join(diff))
    return "\n".join(parts)


async def answer(
    settings: Settings, fake: FakeGitHub, payloads: list[tuple[str, dict[str, Any]]], prepare: Callable[[App], None]
) -> None:
    async for harness in serve(settings, fake, prepare):
        for number, (event, payload) in enumerate(payloads):
            # The hidden markers hash the delivery's id: a fixed one keeps them the same.
            assert (await harness.send(event, payload, f"delivery-{number}")).status_code == 202
            await harness.settle()
    assert fake.violations == []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_posted_reply(name: str, settings: Settings, github: GitHub) -> None:
    comment, permission, repo = SCENARIOS[name]
    thread = repo or CONFIG_REPO
    fake = github(permission, thread, None)
    await answer(settings, fake, [("issue_comment", comment_payload(comment, repo=thread))], fixed_clock)
    golden(GOLDEN / f"{name}.md", posted(fake, thread, 7))


BURST = "    burst:\n      minRunners: 8\n      maxRunners: 30\n      maxDuration: 4h\n"
API_LABELS = "    labels: [self-hosted, linux, x64, api]\n"
API_SET, API_NAMESPACE = "arc-api-runners", "arc-project-beta-api-runners"


@pytest.mark.parametrize(
    ("name", "comments"),
    [
        ("burst", ["/runners burst min=8 for=2h"]),
        ("burst-off", ["/runners burst min=8 for=2h", "/runners burst off"]),
        ("burst-off-none", ["/runners burst off"]),
        # The fake cluster serves the scale set but no Argo CD Application (503): live state unreachable.
        ("burst-status", ["/runners burst min=8 for=2h", "/runners status"]),
        ("scale-twice", ["/runners scale max=12", "/runners scale min=2"]),
    ],
)
async def test_posted_in_a_team_thread(
    name: str, comments: list[str], settings: Settings, github: GitHub, bundled: ConfigFiles, *, kube: FakeKube
) -> None:
    """Comments in the team's thread, one after another, on a set with a burst allowance
    that the cluster runs."""
    kube.runner_sets[(API_NAMESPACE, API_SET)] = runner_set(API_SET, API_NAMESPACE, low=1, high=10)
    files = ConfigFiles(bundled.repositories.replace(API_LABELS, API_LABELS + BURST), bundled.base)
    fake = github("write", TEAM_REPO, files)
    payloads = [
        ("issue_comment", comment_payload(c, repo=TEAM_REPO, comment_id=600 + n)) for n, c in enumerate(comments)
    ]
    clustered = dataclasses.replace(settings, kube_api=kube.url)  # type: ignore[attr-defined]
    await answer(clustered, fake, payloads, fixed_clock)
    golden(GOLDEN / f"{name}.md", posted(fake, TEAM_REPO, 7))


@pytest.mark.parametrize(
    ("name", "key", "limited"),
    [
        ("rate-limited", keys.user_replies("octocat"), lambda s: dataclasses.replace(s, reply_limit=2)),
        (
            "installation-limited",
            keys.installation_replies(42),
            lambda s: dataclasses.replace(s, installation_reply_limit=2),
        ),
    ],
)
async def test_posted_budget_notice(
    name: str, key: str, limited: Callable[[Settings], Settings], settings: Settings, github: GitHub
) -> None:
    fake = github("write", TEAM_REPO, None)
    # The budget, spent already, started a minute before the fixed clock's 09:00: this
    # comment gets the notice, which says until when (the budgets' window is 10 minutes).
    async for harness in serve(limited(settings), fake, fixed_clock):
        await harness.app.store.put(key, reply_limits.Budget(NOW.timestamp() - 60, 2).dump())
        await harness.send("issue_comment", comment_payload("/runners help", repo=TEAM_REPO), "delivery-0")
        await harness.settle()
    text = posted(fake, TEAM_REPO, 7)
    assert "until 09:09 UTC" in text
    golden(GOLDEN / f"{name}.md", text)


async def test_posted_unreadable(settings: Settings, github: GitHub, bundled: ConfigFiles) -> None:
    # Over the 1 MB the contents API answers inline, so it is read raw, which GitHub refuses
    # past its limit (lowered here: the fake's answer is GitHub's, without 100 MB of text).
    large = bundled.repositories + "# padding\n" * 120_000
    fake = github("write", TEAM_REPO, ConfigFiles(large, bundled.base))
    fake.raw_limit = 1024 * 1024
    await answer(
        settings, fake, [("issue_comment", comment_payload("/runners scale max=12", repo=TEAM_REPO))], fixed_clock
    )
    golden(GOLDEN / "unreadable.md", posted(fake, TEAM_REPO, 7))


async def test_unreadable_reply_quotes_github_once_and_inert(
    settings: Settings, github: GitHub, bundled: ConfigFiles
) -> None:
    """The reason read "(GitHub refused to send it (GitHub's words))": brackets nested, and
    GitHub's words set into the Markdown as they came."""
    large = bundled.repositories + "# padding\n" * 120_000
    fake = github("write", TEAM_REPO, ConfigFiles(large, bundled.base))
    hostile = "Too big (see [docs](https://e.vil/x)) @Matchpoint-AI/admins `x` <!-- y"
    # The file's metadata is served; its raw bytes are refused with GitHub's words.
    fake.inject("GET", CONTENTS, Fault(status=0), Fault(status=403, message=hostile))
    await answer(
        settings, fake, [("issue_comment", comment_payload("/runners scale max=12", repo=TEAM_REPO))], fixed_clock
    )
    (reply,) = fake.thread_comments(TEAM_REPO, 7)
    first = reply["body"].splitlines()[0]
    assert first.startswith("❌ Nothing was run: runners-bot could not read `values/repositories.yaml` whole because ")
    assert (
        "GitHub refused to send it, saying `Too big (see [docs](https://e.vil/x)) @Matchpoint-AI/admins 'x' <!-- y`"
        in first
    )
    outside = re.sub(r"`[^`]*`", "", reply["body"])
    assert "@" not in outside and "](" not in outside and outside.count("<!--") == 1  # only the hidden marker
    depth = 0
    for char in outside:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth <= 1, outside


@pytest.mark.parametrize(
    ("name", "answers"),
    [
        ("onboarding", ONBOARDING_FORM),
        (
            "onboarding-invalid",
            {**ONBOARDING_FORM, "Repository": "bad name!", "Maximum runners": "lots", "Justification": ""},
        ),
    ],
)
async def test_posted_onboarding(name: str, answers: dict[str, str], settings: Settings, github: GitHub) -> None:
    fake = github("write", TEAM_REPO, None)
    # The requester maintains the repository to onboard: that is the permission that counts.
    fake.add_repo("Matchpoint-AI/payments-service", {"README.md": "# payments\n"}, {"octocat": "maintain"})
    await answer(settings, fake, [("issues", issue_opened_payload(TEAM_REPO, 31, rendered_form(answers)))], fixed_clock)
    golden(GOLDEN / f"{name}.md", posted(fake, TEAM_REPO, 31))


def test_no_stale_golden_files() -> None:
    assert {p.stem for p in GOLDEN.glob("*.md")} == set(SCENARIOS) | APP_ONLY
