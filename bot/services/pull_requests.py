"""Accepted ``scale``/``add``/``remove`` commands become one pull request per scale set.

Branch ``runners-bot/<scale-set>``, one open pull request per set. Every command that
went into a set's open pull request is remembered (state database), so a later command
rebuilds the whole change on top of the *current* default branch: the branch is reset
to the default head, one commit is made with the combined file, and title and body are
rewritten. The file's blob sha guards the write; a conflict re-reads, re-applies and
tries again (bounded). A branch that already exists is the idempotent case. A pull
request closed without merge is forgotten, so the next command opens a new one.

Commands for the same set are serialised by the store's lock, across every replica, so
two commands arriving together end in one pull request holding both. Each step is recorded on the
delivery, so a handler resumed after a crash neither commits nor opens twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from typing import Any

from bot.clients import config_source
from bot.clients.github import Conflict, GitHubUnavailable, Installation, Unreadable
from bot.commands import pipeline, render
from bot.fleet import names
from bot.fleet.config import REPOSITORIES_FILE
from bot.runtime import errors, offload
from bot.services import job_evidence
from bot.store import keys
from bot.store.api import Store
from bot.store.records import OpenPull, Requested

log = logging.getLogger(__name__)

PULL_REQUEST_LABELS = ["runners-bot"]
MAX_CONFLICTS = 3


@dataclass(frozen=True)
class Submitted:
    """The pull request a set's commands ended up in, or why there is none."""

    number: int | None
    url: str
    created: bool
    problem: str | None = None  # the reply's next step when there is none (templates/next_*.md)
    needs_label: bool = False

    @property
    def next_step(self) -> str:
        if self.number is None:
            return self.problem or ""
        return render.sentence(
            "next_opened.md" if self.created else "next_updated.md", number=self.number, url=self.url
        )


@dataclass(frozen=True)
class Target:
    """Where one delivery's pull request work goes: the installation, the configuration
    repository as last read, and the issue a pull request should close."""

    inst: Installation
    delivery_id: str
    owner: str
    repo: str
    snapshot: config_source.Snapshot
    closes: str | None = None


@dataclass(frozen=True)
class Decided:
    """A set's change as the decision made it: the whole file, and its pull request's text."""

    text: str
    pull: render.PullRequestText


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _replayed(target: Target, commands: list[Requested]) -> tuple[str, render.ChangeText] | None:
    """Every command of the set applied again on ``target.snapshot`` (None: nothing changes)."""
    new_text, change = pipeline.replay(target.snapshot.files, [(c.line, c.user, c.repo, c.target) for c in commands])
    if new_text is None or change is None:
        return None
    return new_text, change


class PullRequests:
    """Opens and updates the pull requests of one configuration repository."""

    def __init__(self, store: Store, evidence_days: float = 14.0) -> None:
        self.store = store
        self.evidence_days = evidence_days  # the job evidence's window, for the cost lines

    async def submit(
        self, target: Target, scale_set: str, requested: list[Requested], decided: Decided | None = None
    ) -> Submitted:
        """Put ``requested`` into the set's pull request, opening one if needed.

        ``target.snapshot`` is the default branch as the caller just read it; it is read
        again only after a write conflict. ``decided`` is what the decision made of
        ``requested`` on that snapshot: committed as it is when the set has no open pull
        request (nothing else to combine), else the change is rebuilt."""
        key = keys.pull(target.owner, target.repo, scale_set)
        async with self.store.lock(key):
            done = await self.store.step(target.delivery_id, f"pull:{scale_set}")
            if done is not None:
                number, url = done.split(" ", 1)
                # Resumed: whether it was opened now is not known, and labelling is idempotent.
                return Submitted(int(number), url, created=False, needs_label=True)
            saved = await self.store.get(key)
            current = OpenPull.load(saved) if saved else None
            known = current.commands if current else []
            commands = known + [r for r in requested if r not in known]
            if current is not None and target.closes is None:
                target = replace(target, closes=current.closes)
            try:
                result = await self._write(target, scale_set, current, commands, None if known else decided)
            except Unreadable as exc:
                problem = render.sentence("next_unreadable.md", path=exc.path, reason=exc.reason)
                return Submitted(None, "", False, problem=problem)
            if result.number is not None:
                await self.store.record(target.delivery_id, f"pull:{scale_set}", f"{result.number} {result.url}")
            return result

    async def _write(
        self,
        target: Target,
        scale_set: str,
        current: OpenPull | None,
        commands: list[Requested],
        decided: Decided | None,
    ) -> Submitted:
        branch = names.branch(scale_set)
        for attempt in range(MAX_CONFLICTS):
            if attempt:
                fresh = await config_source.latest(target.inst, target.owner, target.repo)
                target = replace(target, snapshot=fresh)
            if attempt == 0 and decided is not None:
                new_text, text = decided.text, decided.pull
            else:
                replayed = _replayed(target, commands)
                if replayed is None:
                    return Submitted(None, "", False, problem=render.sentence("next_no_change.md"))
                new_text, change = replayed
                cost = await job_evidence.cost_section(self.store, self.evidence_days, target.snapshot.files, change)
                text = render.pull_request(change, [(c.user, c.source) for c in commands], target.closes, cost)
            try:
                await self._commit(target, branch, new_text, text.commit_message)
            except Conflict as exc:
                log.info("retrying after a write conflict: %s", exc)
                continue
            pull = await self._pull(target, branch, current, text)
            state = OpenPull(int(pull["number"]), str(pull["html_url"]), branch, commands, target.closes)
            await self.store.put(keys.pull(target.owner, target.repo, scale_set), state.dump())
            created = current is None or current.number != state.number
            return Submitted(state.number, state.url, created=created, needs_label=created)
        raise errors.TemporaryError(f"{REPOSITORIES_FILE} kept changing under runners-bot; will try again", 30)

    async def _commit(self, target: Target, branch: str, text: str, message: str) -> None:
        # Keyed by the content: resumed after a crash, the delivery skips a commit it made
        # only if nothing was added since (another command for the set, perhaps handled by
        # another replica, changes the content and so needs a commit of its own).
        step = f"commit:{branch}:{await offload.large(_digest, text, size=len(text))}"
        if await self.store.step(target.delivery_id, step) is not None:
            return
        inst, owner, repo, snapshot = target.inst, target.owner, target.repo, target.snapshot
        if not await inst.create_branch(owner, repo, branch, snapshot.commit):
            # The branch exists (an open pull request, or a stale one): rebuild it on the head.
            await inst.reset_branch(owner, repo, branch, snapshot.commit)
        commit = await inst.put_file(
            owner, repo, REPOSITORIES_FILE, text=text, sha=snapshot.repositories_sha, branch=branch, message=message
        )
        await self.store.record(target.delivery_id, step, commit)

    async def _pull(
        self, target: Target, branch: str, current: OpenPull | None, text: render.PullRequestText
    ) -> dict[str, Any]:
        inst, owner, repo = target.inst, target.owner, target.repo
        if current is not None:
            updated = await inst.update_pull(owner, repo, current.number, title=text.title, body=text.body)
            if updated.get("state") == "open":
                return updated
        created = await inst.create_pull(
            owner, repo, head=branch, base=target.snapshot.base, title=text.title, body=text.body
        )
        if created is None:
            # Opened before the state database knew (a crash, or a restored database).
            existing = await inst.open_pull(owner, repo, branch)
            if existing is None:
                raise GitHubUnavailable(f"GitHub says a pull request exists for {branch} but lists none", 10)
            return await inst.update_pull(owner, repo, int(existing["number"]), title=text.title, body=text.body)
        return created

    async def label(self, target: Target, result: Submitted) -> None:
        """Label a pull request this delivery opened (after the reply: the commenter hears
        first; the label is for finding it later)."""
        if result.number is not None and result.needs_label:
            await target.inst.label(target.owner, target.repo, result.number, PULL_REQUEST_LABELS)

    async def closed(self, config: tuple[str, str], scale_set: str, number: int) -> OpenPull | None:
        """A bot pull request was closed (merged or not): the next command starts a new one.

        Returns what was remembered of it (who asked, where), or None."""
        key = keys.pull(*config, scale_set)
        async with self.store.lock(key):
            saved = await self.store.get(key)
            if saved and OpenPull.load(saved).number == number:
                await self.store.delete(key)
                return OpenPull.load(saved)
            return None
