"""Every key the app keeps in the store, in one place: each namespace's prefix, what it
holds, who writes it and how long it lives. Features build and read keys only through
these functions, so no feature reads another's records by a string of its own, and
housekeeping's list of what expires (:data:`EXPIRING`) cannot miss a renamed prefix.

| prefix | holds | written by | lives |
| --- | --- | --- | --- |
| ``pull:`` | a scale set's open bot pull request and the commands in it | pull requests | until it closes |
| ``burst:`` | a burst in force | the clock | until it ends |
| ``clock:`` | the installation the schedules read through; the cluster-write lock | the clock | for good |
| ``watch:`` | a rollout being followed | rollout reports | until it ends |
| ``rollout:last:`` | a set's last rollout verdict, for the dashboard | rollout reports | for good (one a set) |
| ``dashboard:`` | the dashboard issue, its body and pages | dashboard | for good |
| ``signal:`` | a poke for the lead replica | any replica | until the leader takes it |
| ``replies:`` | reply budgets, per user and per installation | comment commands | the retention period |
| ``redelivered:`` | deliveries asked for again | recovery | the retention period |
| ``jobs:waiting:`` | a job queued for a scale set and not yet taken (when it was queued) | capacity | until a runner takes it, at most the retention period |

The job evidence itself (per scale set and hour) is in tables of its own
(:meth:`bot.store.api.Store.count_job`), not under a key.

A right-sizing proposal is a delivery of its own (:func:`rightsizing`: one id per set and
evidence window), so the store's refusal of an id seen before is what keeps replicas and
restarts from proposing twice, and the dispatcher resumes one cut short.
"""

from __future__ import annotations

PULL = "pull:"
BURST = "burst:"
CLOCK_INSTALLATION = "clock:installation"
CLOCK_WRITES = "clock:writes"  # the lock on writing min/max to the cluster
WATCH = "watch:"
LAST_ROLLOUT = "rollout:last:"
DASHBOARD = "dashboard:"
SIGNAL = "signal:"
REPLIES = "replies:"
REDELIVERED = "redelivered:"

JOBS_WAITING = "jobs:waiting:"

EXPIRING = (REDELIVERED, REPLIES, JOBS_WAITING)  # only useful for a while: housekeeping forgets them


def pull(owner: str, repo: str, scale_set: str) -> str:
    """A scale set's open pull request in the configuration repository ``owner/repo``."""
    return f"{PULL}{owner}/{repo}:{scale_set}".lower()


def burst(scale_set: str) -> str:
    return BURST + scale_set


def watch(scale_set: str, merge_sha: str) -> str:
    return f"{WATCH}{scale_set}@{merge_sha}"


def last_rollout(scale_set: str) -> str:
    return LAST_ROLLOUT + scale_set


def dashboard(owner: str, repo: str) -> str:
    return f"{DASHBOARD}{owner}/{repo}".lower()


def signal(name: str) -> str:
    return SIGNAL + name


def user_replies(user: str) -> str:
    return f"{REPLIES}{user.lower()}"


def installation_replies(installation: int) -> str:
    # GitHub logins hold no ':', so no user's key can be this one.
    return f"{REPLIES}installation:{installation}"


def redelivered(guid: str) -> str:
    return REDELIVERED + guid


def job_waiting(set_key: str, job_id: int) -> str:
    """A job of scale set (or unmatched labels) ``set_key`` queued and not yet taken."""
    return f"{JOBS_WAITING}{set_key}|{job_id}"


def job_waiting_of(key: str) -> tuple[str, int]:
    """The set key and job id of a :func:`job_waiting` key."""
    set_key, _, job = key[len(JOBS_WAITING) :].rpartition("|")
    return set_key, int(job) if job.isdigit() else 0


def rightsizing(owner: str, repo: str, scale_set: str, window: int) -> str:
    """The delivery id of the right-sizing proposal for ``scale_set`` of the configuration
    repository ``owner/repo`` in evidence window number ``window`` (since the epoch)."""
    return f"rightsizing:{owner}/{repo}:{scale_set}@{window}".lower()
