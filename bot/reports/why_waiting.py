"""Why jobs wait while everything looks healthy: the cause the bot can see, with the next
step. Pure: from a set's job evidence (jobs waiting now, the oldest's wait) and one look
at the cluster (:class:`bot.cluster.state.ClusterState`), most specific first:

1. the scale set is gone on GitHub's side: ARC's listener fails with 404 until the scale
   set is re-created (FACTS: ARC 0.12 does not re-create it by itself);
2. the listener is crash-looping or recreated over and over: ARC cannot authenticate to
   GitHub (with bad credentials the controller recreates the listener without backoff,
   its pods end in Error, never CrashLoopBackOff), so the GitHub config secret is wrong;
3. no listener at all: no job reaches the runners;
4. the set is at its max: as many runners as ``maxRunners`` are running or pending;
5. the set has a runner group: the repository may not be in it;
and, for jobs no set serves, which labels and the closest set (:func:`unmatched`).
"""

from __future__ import annotations

import re
from typing import Any

from bot.capacity.evidence import Observed
from bot.cluster.state import ClusterState
from bot.commands.evidence_text import duration
from bot.fleet.config import Effective

WAIT_THRESHOLD = 300.0  # a job queued five minutes has a cause worth naming
P95_THRESHOLD = 300.0  # the dashboard lists sets whose window's p95 wait passes this


def _phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _restarts(pods: list[dict[str, Any]]) -> int:
    return sum(
        int(s.get("restartCount") or 0) for p in pods for s in (p.get("status") or {}).get("containerStatuses") or []
    )


def cause(effective: Effective, observed: Observed | None, state: ClusterState | None) -> str | None:
    """Why ``effective``'s jobs wait, when one has waited over :data:`WAIT_THRESHOLD`."""
    if observed is None or not observed.waiting or observed.oldest_wait < WAIT_THRESHOLD:
        return None
    jobs = f"{observed.waiting} job{'s' if observed.waiting != 1 else ''}"
    head = f"{jobs} waiting, the oldest for {duration(observed.oldest_wait)}: "
    secret = f"`{effective.github_config_secret}` in namespace `{effective.namespace}`"
    if state is not None:
        said = " ".join(f"{e.get('reason', '')}: {e.get('message', '')}" for e in state.events)
        listeners = state.listeners
        if re.search(r"\b404\b|scale ?set.*not found", said, re.IGNORECASE):
            return head + (
                "the scale set is gone on GitHub's side (ARC gets 404 until it is re-created): "
                "delete the AutoscalingRunnerSet so Argo CD re-creates it, and ARC registers the scale set again"
            )
        failed = [p for p in listeners if _phase(p) in ("Failed", "Error")]
        if failed or _restarts(listeners) or re.search(r"\b401\b|bad credentials|unauthorized", said, re.IGNORECASE):
            return head + (
                "the listener is crash-looping (ARC recreates it while GitHub refuses its credentials): "
                f"check the GitHub config secret {secret} (App id, installation id, private key) and the nodes' clock"
            )
        if not any(_phase(p) == "Running" for p in listeners):
            return head + (
                f"no listener is running, so no job reaches these runners: check the GitHub config secret {secret} "
                "and the controller's logs"
            )
        busy = sum(1 for p in state.runners if _phase(p) in ("Running", "Pending"))
        if busy >= effective.max_runners:
            return head + _at_max(effective)
        if effective.runner_group:
            return head + (
                f"the set is below its max with a running listener: is the repository in runner group "
                f"`{effective.runner_group}`? (organisation settings → Actions → Runner groups)"
            )
        return None
    last = max(observed.rows, key=lambda row: row.hour, default=None)
    if last is not None and last.concurrency >= effective.max_runners:
        return head + _at_max(effective)
    return None


def _at_max(effective: Effective) -> str:
    return (
        f"the set is at its max ({effective.max_runners} runners): raise maxRunners "
        f"(`/runners recommend {effective.scale_set}` proposes a value from the evidence)"
    )


def unmatched(label_sets: dict[str, tuple[int, str | None]]) -> list[str]:
    """Lines for jobs no set serves: ``labels -> (jobs waiting or seen, closest set)``."""
    found = []
    for labels, (count, closest) in sorted(label_sets.items()):
        near = f"; the closest set is `{closest}` (`runs-on` must be exactly a set's name)" if closest else ""
        found.append(f"{count} job{'s' if count != 1 else ''} for `runs-on: {labels}`, which no scale set serves{near}")
    return found
