"""A fleet of 10,000 scale sets (about 3.5 MB of values/repositories.yaml) within GitHub's
real limits, end to end through the app and the fake GitHub that enforces them: bodies of
at most 65,536 characters, no JSON contents above 1 MB, GraphQL text cut, 100 a page."""

from __future__ import annotations

import base64
import dataclasses
import difflib
import gc
import json
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clients.github import Unreadable, git_blob_sha, put_file_body, whole_text
from bot.commands import pipeline
from bot.fleet import config, validation
from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles
from bot.runtime import offload
from bot.runtime.settings import Settings
from tests.support.app import CONFIG_REPO, TEAM_REPO, Harness, serve
from tests.support.fakegithub import JSON_CONTENT_LIMIT, MAX_BODY, Fault
from tests.support.fleets import fleet
from tests.support.webhook_payloads import comment_payload

pytestmark = pytest.mark.anyio

SETS = 10_000


@pytest.fixture(scope="module")
def big(request: pytest.FixtureRequest) -> str:
    from tests.support.app import ROOT

    return fleet(SETS, ConfigFiles.read(ROOT).repositories)


@pytest.fixture
async def large(settings: Settings, fake: Any, big: str, bundled: ConfigFiles) -> AsyncIterator[Harness]:
    fake.push(CONFIG_REPO, REPOSITORIES_FILE, big)
    tuned = dataclasses.replace(settings, dashboard="Runner fleet", kube_enabled=False)
    async for harness in serve(tuned, fake):
        await harness.app.dashboard.stop()  # the test drives the update itself
        yield harness
    assert fake.violations == [], fake.violations


def names(text: str) -> list[str]:
    return re.findall(r"^  - name: (\S+)$", text, re.M)


def replies(harness: Harness, number: int = 7) -> list[str]:
    return [c["body"] for c in harness.fake.thread_comments(TEAM_REPO, number)]


async def test_the_fleet_is_larger_than_what_github_sends_as_json(big: str) -> None:
    assert len(big.encode()) > 2.9 * JSON_CONTENT_LIMIT  # about 3 MB
    assert len(names(big)) == SETS


async def test_help_on_10000_sets_fits_and_summarises(large: Harness) -> None:
    await large.send("issue_comment", comment_payload("/runners help", user="maintainer"))
    await large.settle()
    (reply,) = replies(large)
    assert len(reply) <= MAX_BODY
    assert "10,000, too many to name here" in reply and "`Matchpoint-AI` 5,000" in reply
    assert "Unknown" not in reply and "unknown target" not in reply


async def proposed(harness: Harness, command: str) -> tuple[dict[str, Any], str]:
    """The pull request a maintainer's command opens, and the file on its branch."""
    await harness.send("issue_comment", comment_payload(command, user="maintainer"))
    await harness.settle()
    (reply,) = replies(harness)
    assert "Opened pull request" in reply, reply
    (pull,) = harness.fake.pulls[CONFIG_REPO.lower()]
    return pull, harness.fake.file(CONFIG_REPO, REPOSITORIES_FILE, pull["head"]["ref"])


async def test_a_scale_on_10000_sets_changes_only_its_lines(large: Harness, big: str) -> None:
    pull, after = await proposed(large, "/runners scale service-05000 max=9")
    changed = [
        line
        for line in difflib.unified_diff(big.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-      maxRunners: 5", "+      maxRunners: 9"]
    assert names(after) == names(big), "every entry kept"
    assert len(pull["body"]) <= MAX_BODY


async def test_an_add_on_10000_sets_keeps_every_entry(large: Harness, big: str) -> None:
    _, after = await proposed(large, "/runners add brand-new-service")
    assert names(after) == [*names(big), "brand-new-service"]
    assert after.startswith(big[: big.index("\n# Settings applied")])


async def test_five_commands_on_large_entries_fit(large: Harness) -> None:
    comment = "\n".join(f"/runners status service-0{n}000" for n in range(5))
    await large.send("issue_comment", comment_payload(comment, user="maintainer"))
    await large.settle()
    found = replies(large)
    assert len(found) == 5 and all(len(body) <= MAX_BODY for body in found)


async def test_the_dashboard_lists_every_set_on_pages_that_fit(large: Harness, big: str) -> None:
    large.app.services.latest.note(42, ConfigFiles(big, large.fake.file(CONFIG_REPO, BASE_CONFIG_FILE)))
    assert await large.app.dashboard.update()
    (issue,) = [i for i in large.fake.issues.values() if i["performed_via_github_app"]]
    pages = large.fake.thread_comments(CONFIG_REPO, issue["number"])
    assert len(issue["body"]) <= MAX_BODY and all(len(p["body"]) <= MAX_BODY for p in pages)
    listed = [n for p in pages for n in re.findall(r"^\| `[^`]+/(service-\d{5})`", p["body"], re.M)]
    assert len(pages) > 1 and listed == names(big), "every set, once, in order"
    edits = len(large.fake.calls)
    assert not await large.app.dashboard.update(), "unchanged: no edit"
    assert len(large.fake.calls) == edits


async def test_a_file_that_cannot_be_read_whole_is_refused_not_emptied(large: Harness, fake: Any) -> None:
    # The JSON answer (metadata only, above 1 MB) comes through; the raw read is refused.
    fake.inject("GET", "/repos/{owner}/{repo}/contents/{path}", Fault(status=0), Fault(status=403))
    await large.send("issue_comment", comment_payload("/runners add brand-new-service", user="maintainer"))
    await large.settle()
    (reply,) = replies(large)
    assert "could not read `values/repositories.yaml` whole" in reply and "nothing was changed" in reply
    assert fake.pulls[CONFIG_REPO.lower()] == [], "no pull request from a file read in part"
    assert fake.reactions[-1]["content"] == "-1"


def test_text_is_taken_only_when_it_is_the_whole_blob() -> None:
    data = b"repositories:\n  - name: a\n"
    sha = git_blob_sha(data)
    assert whole_text("f", data, sha, len(data)).text == data.decode()
    with pytest.raises(Unreadable, match="sent 0 of its"):
        whole_text("f", b"", sha, len(data))  # what the JSON contents API sends above 1 MB
    with pytest.raises(Unreadable, match="blob sha"):
        whole_text("f", data.replace(b"a", b"b"), sha, len(data))


def test_a_scale_after_the_first_parse_costs_its_entry_not_the_fleet(
    big: str, bundled: ConfigFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ConfigFiles(big, bundled.base)

    def scale(n: int) -> pipeline.Outcome:
        comment = f"/runners scale service-05000 max={n}"
        return pipeline.run(pipeline.Request(comment, "maintainer", "admin", repo=TEAM_REPO), files)

    assert scale(9).new_text is not None  # the commit's first parse and its indexes
    built: Counter[str] = Counter()
    for module in (config, validation):
        real = module.unique_keys
        monkeypatch.setattr(module, "unique_keys", lambda e, real=real: built.update(["keys"]) or real(e))
    real_from_raw = config.Entry.from_raw
    monkeypatch.setattr(
        config.Entry, "from_raw", lambda index, raw: built.update(["entry"]) or real_from_raw(index, raw)
    )
    outcome = scale(11)
    assert outcome.new_text is not None and len(outcome.new_text) == len(big) + 1  # maxRunners: 5 → 11
    # The edited entry, before and after: its names looked up, never the fleet's.
    assert built["entry"] == 1 and built["keys"] <= 10, built


async def test_dashboard_pages_are_listed_once_and_a_grown_row_edits_its_page_alone(large: Harness, big: str) -> None:
    base = large.fake.file(CONFIG_REPO, BASE_CONFIG_FILE)
    large.app.services.latest.note(42, ConfigFiles(big, base))
    first = len(large.fake.calls)
    assert await large.app.dashboard.update()
    calls = [f"{c.method} {c.template}" for c in large.fake.calls[first:]]
    listings = [c for c in calls if c == "GET /repos/{owner}/{repo}/issues/{issue_number}/comments"]
    posted = [c for c in calls if c == "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"]
    assert len(listings) == 1 and len(posted) > 30, "the new pages looked for in one listing"
    # One row near the top grows by a hundred characters: its page alone changes.
    grown = big.replace("  - name: service-00100\n", "  - name: service-00100-" + "x" * 20 + "\n")
    large.app.dashboard.min_gap = 0
    large.app.services.latest.note(42, ConfigFiles(grown, base))
    first = len(large.fake.calls)
    assert await large.app.dashboard.update()
    edits = [c for c in large.fake.calls[first:] if c.method == "PATCH" and "comments" in c.template]
    assert len(edits) == 1, [c.template for c in large.fake.calls[first:]]


async def test_work_on_a_large_body_runs_off_the_event_loop() -> None:
    # Hashing, decoding and base64 of a 15 MB values file held /healthz for tens of ms each.
    here = threading.get_ident()
    assert await offload.large(threading.get_ident, size=offload.LARGE_BODY + 1) != here
    assert await offload.large(threading.get_ident, size=offload.LARGE_BODY) == here  # small: no thread hop


def test_a_commits_body_is_the_json_githubs_contents_api_takes(big: str) -> None:
    text = big + '  - name: "ünïcode \\" quoted"\n'
    body = json.loads(put_file_body(text, message='runners: "scale"\nwhy', sha="abc", branch="runners/x"))
    assert body == {
        "message": 'runners: "scale"\nwhy',
        "sha": "abc",
        "branch": "runners/x",
        "content": base64.b64encode(text.encode()).decode(),
    }


def test_a_parsed_fleet_is_never_walked_by_the_cyclic_collector(bundled: ConfigFiles) -> None:
    # Each collection holds the GIL, the event loop's too, while it walks: passes over a
    # model of 50,000 sets (a collection of the fresh model, then full passes) kept
    # /healthz waiting 50-240 ms. Counted in objects the collector tracks, not timed.
    text = fleet(3_000, bundled.repositories) + "\n# not parsed before\n"
    gc.collect()
    before = len(gc.get_objects())
    parsed = config.parse(text, bundled.base)
    assert parsed.named("service-00042") and parsed.by_name  # the indexes are built too
    gc.collect()
    tracked = len(gc.get_objects())
    # The model is some 20,000 containers (mappings, lists, entries, index lists): a
    # handful of them (the Config, its Loaded records) is all a collection walks.
    assert tracked - before < 100, f"{tracked - before} more objects for the collector to walk"
    assert not any(gc.is_tracked(o) for o in (parsed.entries, parsed.entries[0], parsed.entries[0].raw))
    assert not any(gc.is_tracked(o) for o in (parsed.index["repository"], parsed.by_name["service-00042"]))
    assert parsed.entries[42].name == "service-00042" and parsed.entries[42].raw.line > 1
