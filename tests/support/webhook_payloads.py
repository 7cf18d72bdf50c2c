"""Webhook deliveries built from GitHub's own examples (npm ``@octokit/webhooks-examples``).

An example is taken as GitHub published it and only the fields a scenario needs are
set (comment body and author, repository, issue number, installation), then signed
like GitHub signs it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

EXAMPLES = (
    Path(__file__).parent.parent.parent
    / "node_modules"
    / "@octokit"
    / "webhooks-examples"
    / "api.github.com"
    / "index.json"
)


@functools.cache
def _index() -> dict[str, list[dict[str, Any]]]:
    if not EXAMPLES.exists():
        raise FileNotFoundError(f"{EXAMPLES} is missing: run `make setup` (npm install) first")
    return {entry["name"]: entry["examples"] for entry in json.loads(EXAMPLES.read_text(encoding="utf-8"))}


def example(event: str, action: str | None = None) -> dict[str, Any]:
    """A deep copy of GitHub's first example of ``event`` (with ``action``), preferring one with an installation."""
    candidates = [e for e in _index()[event] if action is None or e.get("action") == action]
    candidates.sort(key=lambda e: "installation" not in e)
    return copy.deepcopy(candidates[0])


def stamp(seconds_ago: float = 0.0) -> str:
    """A time as GitHub writes it in payloads; a live delivery's is a moment ago."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def _owner(example_repo: dict[str, Any], full_name: str) -> None:
    owner, name = full_name.split("/")
    example_repo["name"], example_repo["full_name"] = name, full_name
    example_repo["owner"]["login"] = owner


def comment_payload(
    body: str,
    *,
    user: str = "octocat",
    user_type: str = "User",
    repo: str = "Matchpoint-AI/project-beta-api",
    number: int = 7,
    comment_id: int = 555,
    installation: int = 42,
    action: str = "created",
) -> dict[str, Any]:
    payload = example("issue_comment", action)
    payload["comment"].update(
        id=comment_id,
        body=body,
        html_url=f"https://github.com/{repo}/issues/{number}#issuecomment-{comment_id}",
        created_at=stamp(),
        updated_at=stamp(),
    )
    payload["comment"]["user"].update(login=user, type=user_type)
    payload["sender"].update(login=user, type=user_type)
    payload["issue"]["number"] = number
    _owner(payload["repository"], repo)
    payload["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    return payload


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(
    secret: str, event: str, payload: dict[str, Any] | bytes, delivery_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a signed delivery, as GitHub sends it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/abc123",
        "x-github-event": event,
        "x-github-delivery": delivery_id or str(uuid.uuid4()),
        "x-github-hook-id": "1",
        "x-hub-signature-256": sign(secret, body),
    }
    return body, headers


def pull_closed_payload(
    repo: str, number: int, branch: str, *, merged: bool, merge_sha: str | None = None
) -> dict[str, Any]:
    payload = example("pull_request", "closed")
    pull = payload["pull_request"]
    pull.update(number=number, merged=merged, merge_commit_sha=merge_sha, state="closed", updated_at=stamp())
    pull["head"]["ref"] = branch
    payload["number"] = number
    _owner(payload["repository"], repo)
    payload["sender"].update(login="maintainer", type="User")
    payload["installation"] = {"id": 42, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    return payload


def issue_opened_payload(
    repo: str, number: int, body: str, *, user: str = "octocat", label: str = "runners-onboarding"
) -> dict[str, Any]:
    payload = example("issues", "opened")
    issue = payload["issue"]
    issue.update(number=number, body=body, html_url=f"https://github.com/{repo}/issues/{number}", updated_at=stamp())
    issue["labels"] = [
        {"id": 1, "node_id": "x", "url": "", "name": label, "color": "ededed", "default": False, "description": None}
    ]
    issue["user"].update(login=user, type="User")
    payload["sender"].update(login=user, type="User")
    _owner(payload["repository"], repo)
    payload["installation"] = {"id": 42, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    return payload


# A complete onboarding form's answers, as a developer fills it in (templates/onboarding-form.yml)
ONBOARDING_FORM = {
    "Repository": "payments-service",
    "Organisation": "Matchpoint-AI",
    "Category": "backend",
    "Resource profile": "large",
    "Minimum runners": "1",
    "Maximum runners": "6",
    "Needs Docker": "Yes",
    "Justification": "Integration tests use testcontainers.",
}


def rendered_form(answers: dict[str, str]) -> str:
    """An issue body as GitHub renders an issue form (``### Label`` then the answer)."""
    order = [
        "Repository",
        "Organisation",
        "Category",
        "Resource profile",
        "Minimum runners",
        "Maximum runners",
        "Needs Docker",
        "Justification",
    ]
    return "\n\n".join(f"### {label}\n\n{answers.get(label) or '_No response_'}" for label in order)


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def workflow_job_payload(
    action: str,
    *,
    job_id: int,
    labels: list[str],
    created: float,
    started: float | None = None,
    completed: float | None = None,
    repo: str = "Matchpoint-AI/project-beta-api",
    installation: int = 42,
) -> dict[str, Any]:
    """GitHub's ``workflow_job`` example of ``action`` with the scenario's job: its id,
    ``runs-on`` labels, times, repository; a runner only once one took it."""
    payload = example("workflow_job", action)
    job = payload["workflow_job"]
    ran = action in ("in_progress", "completed")
    job.update(
        id=job_id,
        labels=labels,
        created_at=_iso(created),
        started_at=_iso(started if started is not None else created),
        completed_at=_iso(completed),
        status=action if action != "waiting" else "waiting",
        runner_id=5 if ran else None,
        runner_name=f"runner-{job_id}" if ran else None,
    )
    _owner(payload["repository"], repo)
    payload["repository"]["html_url"] = f"https://github.com/{repo}"
    payload["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    return payload
