"""Every in-memory cache of the GitHub adapter has a stated bound (bot.clients.github), and
these tests reach it: whatever stream of commits, files, repositories and installations
arrives, a replica keeps at most that much. (The webhook counters' bound:
tests/app/test_hostile_input.py; the metric labels': tests/unit/test_metric_labels.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clients import github
from bot.fleet.config import ConfigFiles
from tests.support.app import CONFIG_REPO, Harness
from tests.support.fleets import fleet

pytestmark = pytest.mark.anyio

REPOSITORIES = "values/repositories.yaml"
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"


async def test_files_at_commits_are_kept_as_text_up_to_their_bound(harness: Harness, bundled: ConfigFiles) -> None:
    """Merges of a 2,000-entry file, each read at its commit: the text is kept (no base64
    answer for conditional requests beside it), up to FILE_BYTES, newest first."""
    owner, repo = CONFIG_REPO.split("/")
    inst = harness.app.github.installation(42)
    text = fleet(2_000, bundled.repositories)
    caches = harness.app.github.caches
    commits: list[str] = []
    while caches.files.size + len(text) <= github.FILE_BYTES or len(commits) < 60:
        commits.append(harness.fake.push(CONFIG_REPO, REPOSITORIES, f"{text}# merge {len(commits)}\n"))
        found = await inst.file(owner, repo, REPOSITORIES, commits[-1])
        assert found.text.endswith(f"# merge {len(commits) - 1}\n")
    assert len(commits) * len(text) > github.FILE_BYTES, "the bound was reached"
    assert github.FILE_BYTES - 2 * len(text) < caches.files.size <= github.FILE_BYTES
    assert len(caches.etags) == 0, "a read at a commit keeps no answer for a conditional request"
    calls = harness.fake.count("GET", CONTENTS)
    await inst.file(owner, repo, REPOSITORIES, commits[-1])
    assert harness.fake.count("GET", CONTENTS) == calls, "the newest is kept: no call at all"
    await inst.file(owner, repo, REPOSITORIES, commits[0])
    assert harness.fake.count("GET", CONTENTS) == calls + 1, "the oldest went first"


async def test_answers_kept_for_conditional_reads_stay_within_their_bound(harness: Harness) -> None:
    files = {f"f{n:02d}.txt": f"{n:02d}" * 450_000 for n in range(20)}  # 900 KB each, 1.2 MB as base64 JSON
    harness.fake.add_repo("acme/big", files)
    inst = harness.app.github.installation(42)
    for path in files:
        await inst.file("acme", "big", path)
    etags = harness.app.github.caches.etags
    assert sum(len(t) * 4 // 3 for t in files.values()) > github.ETAG_BYTES, "the bound was reached"
    assert github.ETAG_BYTES - 1_300_000 < etags.size <= github.ETAG_BYTES
    await inst.file("acme", "big", "f19.txt")
    assert harness.fake.calls[-1].status == 304, "the newest answer is kept: GitHub says not modified"
    await inst.file("acme", "big", "f00.txt")
    assert harness.fake.calls[-1].status == 200, "the oldest went first"


async def test_default_branches_and_installations_stay_within_their_bounds(harness: Harness) -> None:
    app = harness.app.github
    inst = app.installation(42)
    for n in range(github.MAX_BRANCHES + 1):
        harness.fake.add_repo(f"acme/r{n}", {"README.md": "x\n"})
        assert await inst.default_branch("acme", f"r{n}") == "main"
    assert len(app.caches.branches) == github.MAX_BRANCHES
    calls = harness.fake.count()
    await inst.default_branch("acme", f"r{github.MAX_BRANCHES}")
    assert harness.fake.count() == calls, "the newest is kept"
    await inst.default_branch("acme", "r0")
    assert harness.fake.count() == calls + 1, "the oldest went first"

    first = app.installation(1)
    for n in range(2, github.MAX_INSTALLATIONS + 2):
        app.installation(n)
    assert len(app.installations) == github.MAX_INSTALLATIONS
    assert app.installation(github.MAX_INSTALLATIONS + 1) is app.installation(github.MAX_INSTALLATIONS + 1)
    assert app.installation(1) is not first, "the least recently used client was let go"


def test_the_token_cache_drops_expired_tokens_and_stays_within_its_bound() -> None:
    """githubkit keeps a token until it is asked for again after it expired: installations
    that send nothing more would keep theirs for ever."""
    cache = github.TokenCacheStrategy().get_cache_storage()
    cache.set("expired", "t", timedelta(seconds=-1))
    cache.set("fresh", "t", timedelta(minutes=8))
    assert cache.get("fresh") == "t" and "expired" not in cache._cache
    for n in range(github.MAX_TOKENS + 10):
        cache.set(f"installation-{n}", "t", timedelta(minutes=8))
    assert len(cache._cache) == github.MAX_TOKENS
    assert cache.get("fresh") is None and cache.get(f"installation-{github.MAX_TOKENS + 9}") == "t"


async def test_retry_timers_that_ran_are_let_go(harness: Harness) -> None:
    import asyncio

    dispatcher, loop = harness.app.dispatcher, asyncio.get_running_loop()
    for n in range(200):
        due = loop.time() + 0.001
        dispatcher.schedule(f"gone-{n}", 0.001)  # ids no store holds: nothing to run
        while loop.time() <= due:
            await asyncio.sleep(0.001)
    assert dispatcher.timers <= 2
    await harness.settle()


def test_parsed_command_lines_are_kept_up_to_their_bound() -> None:
    from bot.commands.grammar import parse_line

    for n in range(300):  # over its maxsize
        parse_line(f"/runners status set-{n}")
    info = parse_line.cache_info()
    assert info.maxsize == 256 and info.currsize == info.maxsize
