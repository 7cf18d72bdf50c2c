"""A synthetic trace's jobs sent to the app as GitHub sends them: ``workflow_job``
deliveries (queued, in_progress, completed) per run, signed, through the webhook."""

from __future__ import annotations

import asyncio
import time

from tests.support.app import TEAM_REPO, Harness
from tests.support.jobtraces import DAY, Run
from tests.support.webhook_payloads import workflow_job_payload


def last_monday() -> float:
    """Monday 00:00 UTC of last week: the whole week lies in the window."""
    today = int(time.time() // DAY) * DAY
    weekday = (int(today // DAY) + 3) % 7  # 1970-01-01 was a Thursday
    return today - weekday * DAY - 7 * DAY


async def send_runs(harness: Harness, runs: list[Run], labels: list[str], repo: str = TEAM_REPO) -> None:
    async def one(run: Run) -> None:
        for action, started, completed in (
            ("queued", None, None),
            ("in_progress", run.started, None),
            ("completed", run.started, run.completed),
        ):
            payload = workflow_job_payload(
                action,
                job_id=run.id,
                labels=labels,
                created=run.created,
                started=started,
                completed=completed,
                repo=repo,
            )
            assert (await harness.send("workflow_job", payload)).status_code == 202

    for start in range(0, len(runs), 25):
        await asyncio.gather(*(one(run) for run in runs[start : start + 25]))
    await harness.settle()
