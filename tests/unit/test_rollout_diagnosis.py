"""The rollout's reading of ARC, pure: listener churn by uid, restarts and container
state; the meaningful Warning event among many."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.cluster.state import ClusterState
from bot.reports.rollout import (
    CHURN,
    NO_LISTENER_GRACE,
    Expected,
    RolloutMemory,
    _listener,
    assess,
    diagnose,
    listener_overdue,
)
from tests.support.fakekube import OWNER, application, event, listener, runner_set

SET, NS = "arc-api-runners", "arc-project-beta-api-runners"


def test_a_listener_recreated_under_the_same_name_is_churn() -> None:
    memory = RolloutMemory()
    for generation in range(CHURN):
        state, detail = _listener(
            [listener(SET, generation, "Failed", exit_message="401 Unauthorized")], memory, None, 0
        )
    assert state == "fail" and "recreated 3 times" in detail and "401 Unauthorized" in detail
    assert len(set(memory.listeners_seen)) == CHURN, "counted by uid: the name never changed"


def test_restarts_and_crash_loops_count_too() -> None:
    restarting = listener(SET, 0, "Running")
    restarting["status"]["containerStatuses"][0]["restartCount"] = CHURN - 1
    assert _listener([restarting], RolloutMemory(), None, 0)[0] == "fail"
    crashing = listener(SET, 0, "Running")
    crashing["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert _listener([crashing], RolloutMemory(), None, 0)[0] == "fail"


def test_one_recreation_is_not_yet_a_verdict() -> None:
    memory = RolloutMemory()
    _listener([listener(SET, 0, "Failed")], memory, None, 0)
    state, _ = _listener([listener(SET, 1, "Pending")], memory, None, 0)
    assert state == "wait"
    assert _listener([listener(SET, 1, "Running")], memory, None, 0)[0] == "ok"


@pytest.mark.parametrize(
    ("reason", "message", "meaning"),
    [
        ("UpdateFailed", "could not get secret data from provider", "GitHub config secret"),
        ("Failed", 'Failed to pull image "ghcr.io/actions/actions-runner:9": not found', "image cannot be pulled"),
        ("FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.", "cannot be scheduled"),
        ("FailedCreate", 'pods "x" is forbidden: exceeded quota: runners', "ResourceQuota"),
    ],
)
def test_events_are_read_for_their_meaning(reason: str, message: str, meaning: str) -> None:
    found = diagnose([event(NS, "Pod", f"{SET}-runner-1", reason, message)])
    assert found is not None and meaning in found.meaning and message[:20] in found.said


def test_the_most_telling_event_wins_over_noise() -> None:
    noise = event(NS, "Pod", "x", "BackOff", "Back-off restarting failed container")
    secret = event(NS, "ExternalSecret", "arc-github-app", "UpdateFailed", "Secret does not exist")
    found = diagnose([noise, secret])
    assert found is not None and found.permanent and "secret" in found.meaning
    assert diagnose([noise]) is None


HOSTILE = (
    "token=s3cr3t @Matchpoint-AI/admins [click](https://evil.example) ![x](https://t.example/p.png) <img src=x> #1 `"
)


def _outside_code(markdown: str) -> str:
    """The text of ``markdown`` outside inline code spans (what GitHub would render live)."""
    return re.sub(r"`[^`\n]*`", "", markdown)


def test_cluster_text_is_inert_in_every_report_cell_and_verdict() -> None:
    from bot.reports.rollout import Expected, assess, live_summary, render_report
    from tests.support.fakekube import application, pod, runner_set

    expected = Expected(SET, NS, "a" * 40, 1, 12)
    app = application(SET, sync="OutOfSync", revision=HOSTILE, health="Degraded", phase="Failed", message=HOSTILE,
                      health_message=HOSTILE)  # fmt: skip
    stuck = pod(f"{SET}-runner-1", NS, phase="Pending", labels={"app.kubernetes.io/component": "runner"},
                age=600, unschedulable=HOSTILE)  # fmt: skip
    failing = listener(SET, 0, "Failed", exit_message=HOSTILE)
    state = ClusterState(
        app,
        runner_set(SET, NS, low=1, high=12),
        [failing],
        [stuck],
        [event(NS, "Pod", "x", "FailedScheduling", HOSTILE)],
    )
    report = assess(expected, state, RolloutMemory(), 900.0, 1e10)
    body = render_report(report, expected, "title", final=True) + "\n" + live_summary(state)
    assert "s3cr3t" in body, "the cluster's words are shown..."
    live = _outside_code(body)
    for active in ("@Matchpoint-AI", "](https://", "<img", "s3cr3t"):
        assert active not in live, f"...but only inside code spans: {active!r} is live"


def test_a_cache_without_its_storage_class_is_named() -> None:
    found = diagnose(
        [event(NS, "PersistentVolumeClaim", "arc-beta-runners-cache", "ProvisioningFailed",
               'storageclass.storage.k8s.io "nfs-rwx" not found', source="persistentvolume-controller")]
    )  # fmt: skip
    assert found is not None and found.permanent and "storage class is missing" in found.meaning


def _state(ars: dict[str, Any], pods: list[dict[str, Any]]) -> ClusterState:
    """What the watch shows: the listener pods, and the AutoscalingListeners owning them."""
    return ClusterState(
        application("s", sync="Synced", revision="a" * 40, health="Healthy"),
        ars,
        [{k: v for k, v in p.items() if k != OWNER} for p in pods],
        [],
        [],
        [p[OWNER] for p in pods],
    )


def test_only_the_listener_arc_made_for_the_values_in_force_counts_once_settled() -> None:
    """ARC (controllers/actions.github.com/autoscalingrunnerset_controller.go) replaces a
    listener whose values hash differs from the scale set's: until it has, the old one
    still runs and proves nothing about the new values."""
    expected = Expected(SET, NS, "a" * 40, 0, 12)
    new = runner_set(SET, NS, low=0, high=12)
    old = runner_set(SET, NS, low=0, high=10)
    memory = RolloutMemory()

    def listener_stage(pods: list[dict[str, Any]], elapsed: float) -> Any:
        report = assess(expected, _state(new, pods), memory, elapsed, 0.0, settle=30.0)
        return next(s for s in report.stages if s.name == "listener")

    stale = listener_stage([listener(SET, 0, of=old)], 10.0)
    assert stale.state == "wait" and "not yet replaced" in stale.detail
    assert listener_stage([listener(SET, 1, of=new)], 20.0).state == "wait", "Ready, not yet for 30 s"
    assert listener_stage([listener(SET, 1, of=new, restarts=1)], 45.0).state == "wait", "a restart starts again"
    assert listener_stage([listener(SET, 1, of=new, restarts=1)], 75.0).state == "ok"


def test_github_is_asked_about_a_runner_group_once_the_listener_is_overdue() -> None:
    """ARC records nothing when a pool's runner group is missing: no listener, ever, for the
    values in force (the old one, made for the previous values, does not count)."""
    old = runner_set(SET, NS, low=0, high=10)
    new = runner_set(SET, NS, low=0, high=12, registered=False)
    memory = RolloutMemory(ok_at={"merged": 0.0, "synced": 5.0})
    assert not listener_overdue(_state(new, []), memory, 5.0 + NO_LISTENER_GRACE - 1, time_up=False)
    assert listener_overdue(_state(new, []), memory, 5.0 + NO_LISTENER_GRACE - 1, time_up=True), "the time limit"
    assert listener_overdue(_state(new, [listener(SET, 0, of=old)]), memory, 5.0 + NO_LISTENER_GRACE, time_up=False)
    assert not listener_overdue(_state(new, [listener(SET, 1, of=new)]), memory, 500.0, time_up=True), "it came up"
    assert not listener_overdue(_state(new, []), RolloutMemory(ok_at={"merged": 0.0}), 500.0, time_up=True), (
        "not synced"
    )
    memory.asked_group = True
    assert not listener_overdue(_state(new, []), memory, 500.0, time_up=True), "asked once"
    memory.missing_group = {"group": "big-builds", "org": "Matchpoint-AI", "said": "runner group 'big-builds' ..."}
    stage = next(s for s in assess(Expected(SET, NS, "a" * 40, 0, 12), _state(new, []), memory, 500.0, 0.0).stages
                 if s.name == "listener")  # fmt: skip
    assert stage.state == "fail" and "create runner group `big-builds` in organisation `Matchpoint-AI`" in stage.hint
