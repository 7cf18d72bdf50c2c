"""Which scale set a ``workflow_job`` belongs to, as ARC 0.12 matches it. Pure.

GitHub hands a job to a runner scale set only when the job's ``runs-on`` is the set's
name: ARC 0.12's scale sets take no other labels ("You cannot use additional labels to
target runners created by ARC. You can only use the installation name of the runner
scale set", docs.github.com, "Using ARC runners in a workflow"; labels beyond the name
arrive in ARC 0.14). So a job belongs to a set when its labels are exactly one label
equal to the set's name (GitHub compares labels case-insensitively), and the job's
repository is one the set is registered for: the set's ``githubConfigUrl`` is the
repository's URL (a repository's set) or its organisation's (an organisation pool), on
the same GitHub server. Anything else is *unmatched*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.fleet.suggest import closest

ACTIONS = ("queued", "waiting", "in_progress", "completed")


@dataclass(frozen=True)
class Job:
    """The parts of one ``workflow_job`` delivery the evidence needs."""

    id: int
    action: str
    repository_url: str  # the repository's html_url: server, organisation and name
    labels: tuple[str, ...]
    created: float
    started: float | None
    completed: float | None
    ran: bool  # a runner took it (a job cancelled while queued never ran)

    @property
    def wait(self) -> float | None:
        """Queue wait: ``started_at - created_at`` (SPEC §8), for a job that ran."""
        if not self.ran or self.started is None:
            return None
        return max(0.0, self.started - self.created)


@dataclass(frozen=True)
class SetRef:
    """A scale set as the evidence keys it: its name and the URL it registers at."""

    scale_set: str
    config_url: str  # <githubUrl>/<org> (a pool) or <githubUrl>/<org>/<repo>
    pool: bool

    @property
    def key(self) -> str:
        return set_key(self.config_url, self.scale_set)

    def serves(self, job: Job) -> bool:
        if len(job.labels) != 1 or job.labels[0].lower() != self.scale_set.lower():
            return False
        url, repo = self.config_url.lower().rstrip("/"), job.repository_url.lower().rstrip("/")
        if self.pool:
            return repo.startswith(url + "/") and "/" not in repo[len(url) + 1 :]
        return repo == url


def set_key(config_url: str, scale_set: str) -> str:
    """The evidence's key of a set: where it registers (server and organisation) and its name."""
    return f"{config_url.lower().rstrip('/')}#{scale_set.lower()}"


def unmatched_key(repository_url: str, labels: Iterable[str]) -> str:
    """The key of jobs no set serves: their organisation's URL and their labels."""
    org_url = repository_url.lower().rstrip("/").rsplit("/", 1)[0]
    return f"{org_url}?{','.join(sorted(label.lower() for label in labels))}"


def is_unmatched(key: str) -> bool:
    return "?" in key and "#" not in key


def labels_of(key: str) -> tuple[str, tuple[str, ...]]:
    """An unmatched key's organisation URL and labels."""
    org_url, _, labels = key.partition("?")
    return org_url, tuple(filter(None, labels.split(",")))


def serving(job: Job, sets: Iterable[SetRef]) -> SetRef | None:
    return next((s for s in sets if s.serves(job)), None)


def closest_set(labels: Iterable[str], sets: Iterable[SetRef]) -> str | None:
    """The set whose name is nearest any of ``labels`` (for "did you mean")."""
    names = {s.scale_set for s in sets}
    found = [match for label in labels for match in closest(label, names, n=1)]
    return found[0] if found else None


def job_of(payload: Mapping[str, Any]) -> Job | None:
    """The job of a ``workflow_job`` payload; None when it lacks what the evidence needs."""
    action = payload.get("action")
    job, repository = payload.get("workflow_job"), payload.get("repository")
    if action not in ACTIONS or not isinstance(job, Mapping) or not isinstance(repository, Mapping):
        return None
    labels, url, created = job.get("labels"), repository.get("html_url"), _time(job.get("created_at"))
    if (
        not isinstance(job.get("id"), int)
        or not isinstance(labels, list)
        or not isinstance(url, str)
        or created is None
    ):
        return None
    return Job(
        id=int(job["id"]),
        action=str(action),
        repository_url=url,
        labels=tuple(str(label) for label in labels),
        created=created,
        started=_time(job.get("started_at")),
        completed=_time(job.get("completed_at")),
        ran=job.get("runner_name") is not None or job.get("runner_id") is not None,
    )


def _time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# GitHub-hosted runners' labels: such jobs never wait for a scale set
# (docs.github.com, "GitHub-hosted runners reference": ubuntu-*, windows-*, macos-*).
_HOSTED = ("ubuntu-", "windows-", "macos-")


def hosted(labels: Iterable[str]) -> bool:
    return any(label.lower().startswith(_HOSTED) for label in labels)
