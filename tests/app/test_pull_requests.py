"""Commands become pull requests on the configuration repository, through the
real ASGI app and the shared fake GitHub."""

from __future__ import annotations

import asyncio
import difflib
from typing import Any

import pytest

from bot.commands import pipeline
from bot.fleet.config import REPOSITORIES_FILE, ConfigFiles
from bot.runtime.settings import Settings
from bot.server import App
from bot.store.records import OpenPull
from bot.webhooks import dispatch
from tests.support.app import CONFIG_REPO, ROOT, TEAM_REPO, Harness, github_sleeps_on, serve
from tests.support.fakegithub import Fault
from tests.support.waiting import ManualClock, until
from tests.support.webhook_payloads import (
    ONBOARDING_FORM,
    comment_payload,
    issue_opened_payload,
    pull_closed_payload,
    rendered_form,
)

pytestmark = pytest.mark.anyio

PULLS = "/repos/{owner}/{repo}/pulls"
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"


def changed_lines(fake: Any, branch: str) -> list[str]:
    before = fake.file(CONFIG_REPO, REPOSITORIES_FILE).splitlines()
    after = fake.file(CONFIG_REPO, REPOSITORIES_FILE, branch).splitlines()
    return [
        line
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


def pulls(harness: Harness) -> list[dict[str, Any]]:
    return list(harness.fake.pulls[CONFIG_REPO.lower()])


async def command(
    harness: Harness,
    body: str,
    *,
    user: str = "octocat",
    delivery_id: str | None = None,
    comment_id: int = 555,
    settle: bool = True,
) -> None:
    response = await harness.send("issue_comment", comment_payload(body, user=user, comment_id=comment_id), delivery_id)
    assert response.status_code == 202
    if settle:
        await harness.settle()


async def test_scale_opens_one_minimal_pull_request(harness: Harness) -> None:
    await command(harness, "/runners scale max=12")
    (pull,) = pulls(harness)
    assert pull["title"] == "runners: scale project-beta-api (max 10 → 12)"
    assert pull["head"] == {
        "ref": "runners-bot/arc-api-runners",
        "sha": pull["head"]["sha"],
        "label": "Matchpoint-AI:runners-bot/arc-api-runners",
    }
    assert pull["base"]["ref"] == "main"
    assert changed_lines(harness.fake, "runners-bot/arc-api-runners") == [
        "-      maxRunners: 10",
        "+      maxRunners: 12",
    ]
    body = str(pull["body"])
    assert "| Max runners | 10 | **12** |" in body and "| CPU (request / limit) | 4 / 6 | 4 / 6 |" in body
    assert "@octocat (https://github.com/Matchpoint-AI/project-beta-api/issues/7#issuecomment-555)" in body
    assert pull["labels"] == [{"name": "runners-bot"}]
    (reply,) = harness.fake.thread_comments(TEAM_REPO, 7)
    assert "Opened pull request [#100](https://github.com/Matchpoint-AI/runners-config/pull/100)" in reply["body"]
    assert [r["content"] for r in harness.fake.reactions] == ["eyes", "+1"]


async def test_later_command_updates_the_same_pull_request(harness: Harness) -> None:
    await command(harness, "/runners scale max=12", delivery_id="a")
    await command(harness, "/runners scale profile=xlarge", user="admin", delivery_id="b", comment_id=556)
    (pull,) = pulls(harness)
    assert pull["title"] == "runners: scale project-beta-api (max 10 → 12, profile large → xlarge)"
    assert "@octocat" in str(pull["body"]) and "@admin" in str(pull["body"])
    assert changed_lines(harness.fake, "runners-bot/arc-api-runners") == [
        "-      maxRunners: 10",
        "-    profile: large",
        "+      maxRunners: 12",
        "+    profile: xlarge",
    ]
    replies = harness.fake.thread_comments(TEAM_REPO, 7)
    assert "Updated pull request [#100]" in replies[-1]["body"]


async def test_moved_default_branch_is_rebased(harness: Harness) -> None:
    await command(harness, "/runners scale max=12", delivery_id="a")
    moved = harness.fake.file(CONFIG_REPO, REPOSITORIES_FILE).replace("maxRunners: 8", "maxRunners: 9")
    harness.fake.push(CONFIG_REPO, REPOSITORIES_FILE, moved)
    await command(harness, "/runners scale min=2", delivery_id="b", comment_id=556)
    assert len(pulls(harness)) == 1
    assert changed_lines(harness.fake, "runners-bot/arc-api-runners") == [
        "-      minRunners: 1",
        "-      maxRunners: 10",
        "+      minRunners: 2",
        "+      maxRunners: 12",
    ]
    assert "maxRunners: 9" in harness.fake.file(CONFIG_REPO, REPOSITORIES_FILE, "runners-bot/arc-api-runners")


async def test_closed_without_merge_then_new_pull_request(harness: Harness) -> None:
    await command(harness, "/runners scale max=12", delivery_id="a")
    harness.fake.pulls[CONFIG_REPO.lower()][0]["state"] = "closed"
    await harness.send(
        "pull_request", pull_closed_payload(CONFIG_REPO, 100, "runners-bot/arc-api-runners", merged=False)
    )
    await harness.settle()
    await command(harness, "/runners scale max=14", delivery_id="b", comment_id=556)
    first, second = pulls(harness)
    assert (first["number"], first["state"], second["number"], second["state"]) == (100, "closed", 101, "open")
    assert second["title"] == "runners: scale project-beta-api (max 10 → 14)"


async def test_concurrent_commands_for_one_set_make_one_pull_request(harness: Harness) -> None:
    await command(harness, "/runners scale max=12", delivery_id="a", settle=False)
    await command(harness, "/runners scale min=3", delivery_id="b", comment_id=556, settle=False)
    await harness.settle()
    (_pull,) = pulls(harness)
    assert sorted(changed_lines(harness.fake, "runners-bot/arc-api-runners")) == sorted(
        ["-      minRunners: 1", "-      maxRunners: 10", "+      minRunners: 3", "+      maxRunners: 12"]
    )


async def test_commands_for_two_sets_make_two_pull_requests(harness: Harness) -> None:
    await command(harness, "/runners scale max=12\n/runners scale project-beta max=9", user="admin")
    assert sorted(p["head"]["ref"] for p in pulls(harness)) == [
        "runners-bot/arc-api-runners",
        "runners-bot/arc-beta-runners",
    ]
    assert changed_lines(harness.fake, "runners-bot/arc-beta-runners") == [
        "-      maxRunners: 8",
        "+      maxRunners: 9",
    ]


async def test_sha_conflict_is_retried(harness: Harness) -> None:
    harness.fake.inject("PUT", CONTENTS, Fault(409))
    await command(harness, "/runners scale max=12")
    (_pull,) = pulls(harness)
    assert [c.status for c in harness.fake.calls if c.method == "PUT"] == [409, 200]
    assert changed_lines(harness.fake, "runners-bot/arc-api-runners") == [
        "-      maxRunners: 10",
        "+      maxRunners: 12",
    ]


async def test_secondary_rate_limit_is_waited_out(settings: Settings, fake: Any) -> None:
    clock = ManualClock()

    refs = "/repos/{owner}/{repo}/git/refs"
    async for harness in serve(settings, fake, github_sleeps_on(clock)):
        harness.fake.inject("POST", refs, Fault(403, {"retry-after": "1"}))
        await command(harness, "/runners scale max=12", settle=False)
        await until(lambda: clock.sleeping == [1.0], "the wait Retry-After asks for")
        assert [c.status for c in harness.fake.calls if c.template == refs] == [403], "not sent again before it"
        clock.advance(1.0)
        await harness.settle()
        assert len(pulls(harness)) == 1
        assert [c.status for c in harness.fake.calls if c.template == refs] == [403, 201]


async def test_a_lost_answer_to_opening_a_pull_request_is_not_sent_again_blindly(settings: Settings, fake: Any) -> None:
    # A 502 (or a timeout) may come after GitHub opened the pull request: sent again at once,
    # it would open a second. The delivery is retried instead, which looks before it opens.
    clock = ManualClock()

    def with_clock(app: App) -> None:
        app.dispatcher.sleep = clock.sleep

    async for harness in serve(settings, fake, with_clock):
        harness.fake.inject("POST", PULLS, Fault(502))
        await command(harness, "/runners scale max=12", delivery_id="lost")
        assert pulls(harness) == [] and [c.status for c in harness.fake.calls if c.template == PULLS] == [502]
        assert [delivery for delivery, _ in await harness.app.store.pending()] == ["lost"], "waiting for its retry"
        clock.advance(dispatch.MAX_BACKOFF)  # whatever the backoff, it has passed
        await until(lambda: fake.pulls[CONFIG_REPO.lower()], "the retry to open the pull request")
        await harness.settle()
        assert len(pulls(harness)) == 1
        assert await harness.app.store.pending() == []


async def test_redelivery_never_makes_a_second_pull_request_or_commit(harness: Harness) -> None:
    await command(harness, "/runners scale max=12", delivery_id="same")
    commits = harness.fake.count("PUT", CONTENTS)
    response = await harness.send("issue_comment", comment_payload("/runners scale max=12"), "same")
    await harness.settle()
    assert response.status_code == 200
    assert len(pulls(harness)) == 1 and harness.fake.count("PUT", CONTENTS) == commits == 1


@pytest.mark.parametrize("user", ["reader", "triager"])
async def test_no_pull_request_without_write(harness: Harness, user: str) -> None:
    await command(harness, "/runners scale max=12", user=user)
    assert pulls(harness) == [] and harness.fake.count("PUT") == 0


async def test_bot_comment_makes_nothing(harness: Harness) -> None:
    response = await harness.send(
        "issue_comment", comment_payload("/runners scale max=12", user="runners-bot[bot]", user_type="Bot")
    )
    await harness.settle()
    assert response.status_code == 200 and pulls(harness) == [] and harness.fake.calls == []


async def test_remove_opens_offboarding_pull_request(harness: Harness) -> None:
    await command(harness, "/runners remove project-beta-api", user="admin")
    (pull,) = pulls(harness)
    assert pull["title"] == "runners: remove project-beta-api (arc-api-runners)"
    assert "Argo CD deletes Application `arc-api-runners`" in str(pull["body"])
    assert "The namespace `arc-project-beta-api-runners` stays" in str(pull["body"])
    removed = changed_lines(harness.fake, "runners-bot/arc-api-runners")
    assert all(line.startswith("-") for line in removed) and "-  - name: project-beta-api" in removed


async def test_onboarding_form_opens_add_pull_request_that_closes_the_issue(harness: Harness) -> None:
    # The requester maintains the repository to onboard; that is the permission that counts.
    harness.fake.add_repo("Matchpoint-AI/payments-service", {"README.md": "# payments\n"}, {"octocat": "maintain"})
    await harness.send("issues", issue_opened_payload(TEAM_REPO, 31, rendered_form(ONBOARDING_FORM)))
    await harness.settle()
    (pull,) = pulls(harness)
    assert pull["title"] == "runners: add payments-service (payments-service-runners, min 1, max 6, profile large)"
    # The issue lives in the team's repository: the keyword names it fully, or merging in the
    # config repository would close that repository's own issue #31.
    assert f"Closes {TEAM_REPO}#31." in str(pull["body"]) and "Closes #31" not in str(pull["body"])
    assert "runs-on: payments-service-runners" in str(pull["body"])
    added = changed_lines(harness.fake, "runners-bot/payments-service-runners")
    assert "+  - name: payments-service" in added and "+    dind: true" in added
    (reply,) = harness.fake.thread_comments(TEAM_REPO, 31)
    assert reply["body"].startswith("✅")


async def test_onboarding_form_with_problems_names_each(harness: Harness) -> None:
    answers = {**ONBOARDING_FORM, "Repository": "bad name!", "Maximum runners": "lots", "Justification": ""}
    await harness.send("issues", issue_opened_payload(TEAM_REPO, 32, rendered_form(answers)))
    await harness.settle()
    assert pulls(harness) == []
    (reply,) = harness.fake.thread_comments(TEAM_REPO, 32)
    for expected in (
        "**Justification** is missing",
        "**Repository** `bad name!` is not a GitHub repository name",
        "**Maximum runners** must be a whole number",
    ):
        assert expected in reply["body"]


TOKEN = "/app/installations/{installation_id}/access_tokens"


async def test_api_economy_of_a_scale_right_after_a_start(harness: Harness) -> None:
    """Nothing known yet: the configuration (branch, head, both files) is one GraphQL request."""
    await command(harness, "/runners scale max=12", delivery_id="scale", comment_id=556)
    calls = [c for c in harness.fake.calls if c.template != TOKEN]
    assert len(calls) <= 9, [(c.method, c.template, c.status) for c in calls]
    assert [c.template for c in calls].count("/graphql") == 1
    assert not [c for c in calls if c.template.endswith("/contents/{path}") and c.method == "GET"]


async def test_many_commands_at_once_stay_consistent(harness: Harness) -> None:
    for n in range(6):
        await command(
            harness, f"/runners scale max={12 + n}", delivery_id=f"burst-{n}", comment_id=600 + n, settle=False
        )
    await asyncio.wait_for(harness.settle(), 60)
    (_pull,) = pulls(harness)
    assert changed_lines(harness.fake, "runners-bot/arc-api-runners") == [
        "-      maxRunners: 10",
        "+      maxRunners: 17",
    ]
    assert len(harness.fake.thread_comments(TEAM_REPO, 7)) == 6


async def test_a_renamed_default_branch_is_followed(harness: Harness) -> None:
    repo = harness.fake.repos[CONFIG_REPO.lower()]
    repo.branches["trunk"] = repo.branches.pop("main")
    repo.default_branch = "trunk"
    await command(harness, "/runners scale max=12")
    (pull,) = pulls(harness)
    assert pull["base"]["ref"] == "trunk"


async def test_a_file_too_large_for_graphql_is_read_by_rest(harness: Harness) -> None:
    harness.fake.graphql_text_limit = 100  # both values files are larger
    await command(harness, "/runners scale max=12")
    (pull,) = pulls(harness)
    assert "maxRunners: 12" in changed_lines(harness.fake, pull["head"]["ref"])[1]
    reads = [c for c in harness.fake.calls if c.method == "GET" and c.template.endswith("/contents/{path}")]
    assert len(reads) == 2


def test_a_replayed_line_that_now_means_another_entry_is_not_replayed() -> None:
    """Stored commands are replayed with admin rights on a newer default branch; the line
    '/runners scale app …' must not land on a different 'app' than it was allowed for."""
    base = (ROOT / "values" / "base-config.yaml").read_text(encoding="utf-8")
    before = "repositories:\n  - name: app\n    org: team-a\n    scaling: {minRunners: 0, maxRunners: 5}\n"
    line = ("/runners scale app max=9", "octocat", "team-a/app", "team-a/app")
    text, change = pipeline.replay(ConfigFiles(before, base), [line])
    assert text is not None and "maxRunners: 9" in text and change is not None
    moved = before.replace("team-a", "team-b")  # the entry was removed and another org's 'app' added
    assert pipeline.replay(ConfigFiles(moved, base), [line]) == (None, None)


async def test_accepted_commands_remember_what_they_resolved_to(harness: Harness) -> None:
    await harness.send("issue_comment", comment_payload("/runners scale max=12"))
    await harness.settle()
    (key,) = await harness.app.store.keys("pull:")
    saved = OpenPull.load(await harness.app.store.get(key) or "")
    assert [c.target for c in saved.commands] == ["Matchpoint-AI/project-beta-api"]
