"""After merge: the rollout report, driven through the official Kubernetes client against a
local fake API server whose state moves over time, and the fake GitHub."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.runtime.settings import Settings
from tests.support import argocd_health
from tests.support import golden as support
from tests.support.app import CONFIG_REPO, TEAM_REPO, Harness, serve
from tests.support.fakekube import FakeKube, application, event, listener, runner, runner_set
from tests.support.webhook_payloads import comment_payload, pull_closed_payload, stamp

pytestmark = pytest.mark.anyio

SET, NS = "arc-api-runners", "arc-project-beta-api-runners"
SETTLE = 0.2  # seconds the listener must stay Ready (production: 30)
GOLDEN = Path(__file__).parent.parent / "golden" / "rollout"
Builder = Callable[[int, str], dict[str, Any]]


@pytest.fixture
async def rollout(settings: Settings, fake: Any, kube: Any) -> AsyncIterator[Harness]:
    tuned = dataclasses.replace(
        settings, kube_api=kube.url, rollout_interval=0.01, rollout_timeout=2.0, rollout_settle=SETTLE
    )
    async for harness in serve(tuned, fake):
        yield harness
    assert fake.violations == []


async def merge(harness: Harness, kube: FakeKube, builder: Builder) -> str:
    """Command, merge, and follow the rollout to its end."""
    sha = await merge_without_waiting(harness, kube, builder)
    await harness.app.watcher.idle()
    return sha


async def report_after_merge(harness: Harness, pull: dict[str, Any], sha: str) -> str:
    """Deliver ``pull``'s merge at ``sha``, follow the rollout to its end: the report's text."""
    payload = pull_closed_payload(CONFIG_REPO, pull["number"], pull["head"]["ref"], merged=True, merge_sha=sha)
    assert (await harness.send("pull_request", payload)).status_code == 202
    await harness.settle()
    await harness.app.watcher.idle()
    return str(report_on(harness, CONFIG_REPO, pull["number"])["body"])


def report_on(harness: Harness, repo: str, number: int) -> dict[str, Any]:
    (comment,) = [c for c in harness.fake.thread_comments(repo, number) if c["body"].startswith("🚀")]
    found: dict[str, Any] = comment
    return found


def normalised(body: str, sha: str) -> str:
    body = body.replace(sha[:7], "<sha>")
    body = re.sub(r"\| (\d+m \d\ds|\d+s) \|", "| <t> |", body)
    return re.sub(r"runners-bot:watch:[^ ]+", "runners-bot:watch:<key>", body)


def golden(name: str, body: str) -> None:
    support.golden(GOLDEN / f"{name}.md", body)


def healthy(look: int, sha: str) -> dict[str, Any]:
    synced = look >= 2
    # ARC replaces the listener a moment after the scale set's values change
    # (controllers/actions.github.com/autoscalingrunnerset_controller.go).
    made_for = runner_set(SET, NS, low=1, high=12 if look >= 4 else 10)
    return {
        "application": application(
            SET,
            sync="Synced" if synced else "OutOfSync",
            revision=sha if synced else "0" * 40,
            health="Healthy" if look >= 3 else "Progressing",
        ),
        "runner_set": runner_set(SET, NS, low=1, high=12 if look >= 3 else 10, current=1),
        "listeners": [listener(SET, 1 if look >= 4 else 0, of=made_for)],
        "runners": [runner(SET, NS, 1, "Running" if look >= 4 else "Pending")],
    }


async def test_healthy_rollout_goes_from_waiting_to_live(rollout: Harness, kube: FakeKube) -> None:
    sha = await merge(rollout, kube, healthy)
    comment = report_on(rollout, CONFIG_REPO, 100)
    assert any("⏳" in body for body in comment["_history"]), "the report showed progress before the end"
    golden("healthy", normalised(comment["body"], sha))
    thread = report_on(rollout, TEAM_REPO, 7)
    assert thread["body"].replace(thread["body"].splitlines()[-1], "") == comment["body"].replace(
        comment["body"].splitlines()[-1], ""
    )
    assert kube.lists <= 10 and kube.watches <= 10, "a list and a watch per kind, not a read per look"
    assert kube.looks > 4


@pytest.mark.parametrize(
    ("name", "builder"),
    [
        (
            "sync-failed",
            lambda look, sha: {
                "application": application(
                    SET,
                    sync="OutOfSync",
                    revision="0" * 40,
                    health="Healthy",
                    phase="Failed",
                    message="one or more objects failed to apply, reason: admission webhook denied the request",
                ),
            },
        ),
        (
            "degraded",
            lambda look, sha: {
                "application": application(
                    SET,
                    sync="Synced",
                    revision=sha,
                    health="Degraded",
                    health_message="Deployment has timed out progressing",
                ),
            },
        ),
        (
            "listener-churn",
            lambda look, sha: {
                "application": application(SET, sync="Synced", revision=sha, health="Healthy"),
                "runner_set": runner_set(SET, NS, low=1, high=12),
                # ARC deletes the failed pod and recreates it under the same name: a new uid each time.
                "listeners": [
                    listener(
                        SET,
                        look,
                        "Failed",
                        exit_message="failed to get runner scale set: 401 Unauthorized",
                        of=runner_set(SET, NS, low=1, high=12),
                    )
                ],
            },
        ),
        (
            "unschedulable",
            lambda look, sha: {
                "application": application(SET, sync="Synced", revision=sha, health="Healthy"),
                "runner_set": runner_set(SET, NS, low=1, high=12, current=1, pending=1),
                "listeners": [listener(SET, of=runner_set(SET, NS, low=1, high=12))],
                "runners": [
                    runner(SET, NS, 1, "Pending", age=600, unschedulable="0/3 nodes are available: 3 Insufficient cpu.")
                ],
            },
        ),
        (
            "image-pull",
            lambda look, sha: {
                "application": application(SET, sync="Synced", revision=sha, health="Healthy"),
                "runner_set": runner_set(SET, NS, low=1, high=12, current=1, pending=1),
                "listeners": [listener(SET, of=runner_set(SET, NS, low=1, high=12))],
                "runners": [runner(SET, NS, 1, "Pending", age=600, waiting="ImagePullBackOff")],
            },
        ),
        (
            "missing-secret",
            lambda look, sha: {
                "application": application(SET, sync="Synced", revision=sha, health="Progressing"),
                "runner_set": {**runner_set(SET, NS, low=1, high=12), "status": {}},
                "events": [
                    event(
                        NS,
                        "ExternalSecret",
                        "arc-github-app",
                        "UpdateFailed",
                        "error processing spec.data[0] (key: arc-github-app), err: Secret does not exist",
                        source="external-secrets",
                    )
                ],
            },
        ),
        (
            "bad-credentials",
            lambda look, sha: {
                "application": application(SET, sync="Synced", revision=sha, health="Healthy"),
                "runner_set": runner_set(SET, NS, low=1, high=12),
                "listeners": [
                    listener(
                        SET,
                        look,
                        "Failed" if look % 2 else "Pending",
                        exit_message="could not create listener: 401 Bad credentials",
                        of=runner_set(SET, NS, low=1, high=12),
                    )
                ],
            },
        ),
        (
            "stuck-at-time-limit",
            lambda look, sha: {
                "application": application(SET, sync="OutOfSync", revision="0" * 40, health="Progressing")
            },
        ),
    ],
)
async def test_failures_are_diagnosed(rollout: Harness, kube: FakeKube, name: str, builder: Builder) -> None:
    sha = await merge(rollout, kube, builder)
    golden(name, normalised(report_on(rollout, CONFIG_REPO, 100)["body"], sha))
    assert rollout.fake.count("GET", "/orgs/{org}/actions/runner-groups") == 0, "no pool: no runner group to ask"


async def test_unreachable_cluster_is_reported(rollout: Harness, kube: FakeKube) -> None:
    kube.unavailable = True
    sha = await merge(rollout, kube, healthy)
    comment = report_on(rollout, CONFIG_REPO, 100)
    assert any("cannot be reached" in body for body in comment["_history"])
    golden("unreachable", normalised(comment["body"], sha))


async def test_restart_mid_watch_resumes_and_reports_once(settings: Settings, fake: Any, kube: FakeKube) -> None:
    tuned = dataclasses.replace(
        settings,
        kube_api=kube.url,  # type: ignore[attr-defined]
        rollout_interval=0.01,
        rollout_timeout=30.0,
        rollout_settle=SETTLE,
    )
    restarted = False

    def stalls_until_restart(look: int, sha: str) -> dict[str, Any]:
        return healthy(look, sha) if restarted else healthy(0, sha)

    async for harness in serve(tuned, fake):
        await merge_without_waiting(harness, kube, stalls_until_restart)
        while kube.looks < 3:
            await asyncio.sleep(0.01)
        assert len(await harness.app.store.keys("watch:")) == 1
    restarted = True
    async for harness in serve(tuned, fake):
        await harness.app.watcher.idle()
        comments = [c for c in fake.thread_comments(CONFIG_REPO, 100) if c["body"].startswith("🚀")]
        assert len(comments) == 1, "the resumed watch edits the report it had posted"
        assert "✅ Live" in comments[0]["body"]
        assert await harness.app.store.keys("watch:") == []


async def merge_without_waiting(harness: Harness, kube: FakeKube, builder: Builder) -> str:
    await harness.send("issue_comment", comment_payload("/runners scale max=12"))
    await harness.settle()
    pull = harness.fake.merge(CONFIG_REPO, 100)
    sha = pull["merge_commit_sha"]
    kube.scenario = lambda look: builder(look, sha)
    payload = pull_closed_payload(CONFIG_REPO, 100, f"runners-bot/{SET}", merged=True, merge_sha=sha)
    assert (await harness.send("pull_request", payload)).status_code == 202
    await harness.settle()
    return str(sha)


async def test_redelivered_merge_does_not_start_a_second_watch(rollout: Harness, kube: FakeKube) -> None:
    sha = await merge(rollout, kube, healthy)
    payload = pull_closed_payload(CONFIG_REPO, 100, f"runners-bot/{SET}", merged=True, merge_sha=sha)
    await rollout.send("pull_request", payload)
    await rollout.settle()
    await rollout.app.watcher.idle()
    assert len([c for c in rollout.fake.thread_comments(CONFIG_REPO, 100) if c["body"].startswith("🚀")]) == 1


async def test_status_shows_live_state(rollout: Harness, kube: FakeKube) -> None:
    kube.scenario = lambda look: healthy(5, "abcdef1" + "0" * 33)
    await rollout.send("issue_comment", comment_payload("/runners status", user="reader"))
    await rollout.settle()
    (reply,) = rollout.fake.thread_comments(TEAM_REPO, 7)
    assert (
        "Live state: ArgoCD `Synced` at `abcdef1`, `Healthy`; scale set min `1`, max `12`, `1` current; listener `Running`; runners: 1 running, 0 pending."
        in reply["body"]
    )


async def test_status_of_a_set_argo_cd_has_not_deployed_yet(rollout: Harness, kube: FakeKube) -> None:
    """Its namespace and RoleBinding do not exist yet: the API server answers 403, which is
    not an unreachable cluster."""
    kube.scenario = lambda look: healthy(5, "abcdef1" + "0" * 33)
    kube.rbac.namespaced.pop(NS)
    kube.allow_forbidden = True
    await rollout.send("issue_comment", comment_payload("/runners status", user="reader"))
    await rollout.settle()
    (reply,) = rollout.fake.thread_comments(TEAM_REPO, 7)
    assert "Live state: not deployed yet" in reply["body"] and "cannot be reached" not in reply["body"]
    assert kube.forbidden, "the fake API server refused as kube-apiserver does"


async def test_status_without_cluster_says_so(harness: Harness) -> None:
    await harness.send("issue_comment", comment_payload("/runners status", user="reader"))
    await harness.settle()
    (reply,) = harness.fake.thread_comments(TEAM_REPO, 7)
    assert "Live state: not available (runners-bot has no cluster access configured)." in reply["body"]


async def test_without_cluster_access_a_merge_starts_no_watch(harness: Harness) -> None:
    """RUNNERS_BOT_KUBE=off (trying the app before there is a cluster): replies and pull
    requests as usual, but a merge is not followed, so no report calls a cluster down."""
    await harness.send("issue_comment", comment_payload("/runners scale max=12"))
    await harness.settle()
    sha = harness.fake.merge(CONFIG_REPO, 100)["merge_commit_sha"]
    payload = pull_closed_payload(CONFIG_REPO, 100, f"runners-bot/{SET}", merged=True, merge_sha=sha)
    assert (await harness.send("pull_request", payload)).status_code == 202
    await harness.settle()
    assert await harness.app.store.keys("watch:") == [], "no rollout followed"
    assert not [c for c in harness.fake.thread_comments(CONFIG_REPO, 100) if c["body"].startswith("🚀")]


async def test_no_request_while_nothing_changes(rollout: Harness, kube: FakeKube) -> None:
    # Stuck for the whole 2 s limit, the cluster moving 40 times: the watches bring the
    # changes, so the requests are the first list and watch of each kind, not one per look.
    def stuck(look: int, sha: str) -> dict[str, Any]:
        return {"application": application(SET, sync="OutOfSync", revision="0" * 40, health="Progressing")}

    await merge(rollout, kube, stuck)
    assert kube.looks >= 20
    assert kube.lists <= 10 and kube.watches <= 10, "the first list and watch of each kind (and a few renewals)"


async def test_a_later_synced_commit_that_includes_the_merge_counts(rollout: Harness, kube: FakeKube) -> None:
    """A second merge lands before Argo CD syncs the first: the synced revision is a later
    commit on main, which contains the merge. No false "stuck"."""
    later: list[str] = []

    def synced_later(look: int, sha: str) -> dict[str, Any]:
        if not later:
            later.append(rollout.fake.push(CONFIG_REPO, "README.md", "another change\n"))
        state = healthy(look, sha)
        state["application"]["status"]["sync"]["revision"] = later[0] if look >= 2 else "0" * 40
        return state

    sha = await merge(rollout, kube, synced_later)
    body = report_on(rollout, CONFIG_REPO, 100)["body"]
    assert "✅ Live" in body and f"revision `{later[0][:7]}`, which includes {sha[:7]}" in body
    compares = rollout.fake.count("GET", "/repos/{owner}/{repo}/compare/{basehead}")
    assert compares == 1, "asked once per revision"


async def test_an_unrelated_synced_commit_is_not_the_merge(rollout: Harness, kube: FakeKube) -> None:
    def other_branch(look: int, sha: str) -> dict[str, Any]:
        state = healthy(look, sha)
        state["application"]["status"]["sync"]["revision"] = (
            rollout.fake.repos[CONFIG_REPO.lower()].branches["main"] if look < 0 else "f" * 40
        )
        return state

    sha = await merge(rollout, kube, other_branch)
    body = report_on(rollout, CONFIG_REPO, 100)["body"]
    assert "✅ Live" not in body and f"at `{'f' * 7}`" in body and sha


async def test_a_planted_marker_neither_takes_over_nor_silences_the_report(rollout: Harness, kube: FakeKube) -> None:
    """Markers are predictable: a stranger who posts one first gets no say over the report."""
    await rollout.send("issue_comment", comment_payload("/runners scale max=12"))
    await rollout.settle()
    pull = rollout.fake.merge(CONFIG_REPO, 100)
    sha = pull["merge_commit_sha"]
    planted = f"🚀 all fine, nothing to see\n\n<!-- runners-bot:watch:{SET}@{sha}:0 -->\n"
    stranger = rollout.fake.add_comment(CONFIG_REPO, 100, planted, "mallory")
    kube.scenario = lambda look: healthy(look, sha)
    await rollout.send(
        "pull_request", pull_closed_payload(CONFIG_REPO, 100, f"runners-bot/{SET}", merged=True, merge_sha=sha)
    )
    await rollout.settle()
    await rollout.app.watcher.idle()
    assert rollout.fake.comments[stranger]["body"] == planted, "the stranger's comment is left alone"
    ours = [
        c for c in rollout.fake.thread_comments(CONFIG_REPO, 100) if c["id"] != stranger and c["body"].startswith("🚀")
    ]
    assert len(ours) == 1 and "✅ Live" in ours[0]["body"]


async def test_a_pull_request_closed_reopened_and_merged_is_followed(rollout: Harness, kube: FakeKube) -> None:
    await rollout.send("issue_comment", comment_payload("/runners scale max=12"))
    await rollout.settle()
    branch = f"runners-bot/{SET}"
    closed = pull_closed_payload(CONFIG_REPO, 100, branch, merged=False)
    closed["pull_request"]["updated_at"] = stamp(60)
    assert (await rollout.send("pull_request", closed)).status_code == 202
    await rollout.settle()
    pull = rollout.fake.merge(CONFIG_REPO, 100)  # reopened, then merged: the same pull request
    sha = pull["merge_commit_sha"]
    kube.scenario = lambda look: healthy(look, sha)
    merged = pull_closed_payload(CONFIG_REPO, 100, branch, merged=True, merge_sha=sha)
    merged["pull_request"]["updated_at"] = stamp()
    assert (await rollout.send("pull_request", merged)).status_code == 202, "not a duplicate of the first close"
    await rollout.settle()
    await rollout.app.watcher.idle()
    assert "✅ Live" in report_on(rollout, CONFIG_REPO, 100)["body"]


async def test_a_listener_arc_replaces_and_that_then_fails_on_401_is_never_live(
    rollout: Harness, kube: FakeKube
) -> None:
    """ARC (controllers/actions.github.com/autoscalingrunnerset_controller.go) deletes the
    AutoscalingListener whose values hash differs from the scale set's and makes a new
    one: right after the update the old listener still runs. The new one, with bad
    credentials, fails on GitHub's 401 and is recreated under the same name."""

    def replaced_then_refused(look: int, sha: str) -> dict[str, Any]:
        old, new = runner_set(SET, NS, low=1, high=10), runner_set(SET, NS, low=1, high=12)
        listeners = (
            [listener(SET, 0, of=old)]  # the old values' listener, Ready for a while
            if look < 12
            else [listener(SET, look, "Failed", exit_message="failed to create session: 401 Unauthorized", of=new)]
        )
        return {
            "application": application(SET, sync="Synced", revision=sha, health="Healthy"),
            "runner_set": runner_set(SET, NS, low=1, high=12, current=1),
            "listeners": listeners,
            "runners": [runner(SET, NS, 1)],
        }

    await merge(rollout, kube, replaced_then_refused)
    comment = report_on(rollout, CONFIG_REPO, 100)
    assert not any("✅ Live" in body for body in comment["_history"]), "the old listener is not the new values'"
    assert any("has not yet replaced the listener" in body for body in comment["_history"])
    assert "❌ **Listener running** failed" in comment["body"]
    assert "GitHub refuses the App's credentials (401" in comment["body"]


async def test_a_listener_is_live_only_once_it_stayed_ready(rollout: Harness, kube: FakeKube) -> None:
    """Ready at once, then restarted: the settle time starts again with the restart."""

    def restarted(look: int, sha: str) -> dict[str, Any]:
        current = runner_set(SET, NS, low=1, high=12, current=1)
        return {
            "application": application(SET, sync="Synced", revision=sha, health="Healthy"),
            "runner_set": current,
            "listeners": [listener(SET, of=current, restarts=0 if look < 3 else 1)],
            "runners": [runner(SET, NS, 1)],
        }

    await merge(rollout, kube, restarted)
    comment = report_on(rollout, CONFIG_REPO, 100)
    assert any("it counts once Ready without a restart" in body for body in comment["_history"])
    assert "✅ Live" in comment["body"]


async def test_a_merged_add_with_min_0_ends_live(rollout: Harness, kube: FakeKube) -> None:
    """An idle minRunners 0 set: ARC registers it (runner-scale-set-id) and never writes
    its status (autoscalingrunnerset_controller.go); Argo CD's health, computed by the
    fleet's own Lua check from that object, and the report agree: live."""
    await rollout.send("issue_comment", comment_payload("/runners add Matchpoint-AI/payments", user="maintainer"))
    await rollout.settle()
    (pull,) = [p for p in rollout.fake.pulls[CONFIG_REPO.lower()] if p["state"] == "open"]
    scale_set, namespace = "payments-runners", "arc-payments-runners"
    assert pull["head"]["ref"] == f"runners-bot/{scale_set}"
    merged = rollout.fake.merge(CONFIG_REPO, pull["number"])
    sha = merged["merge_commit_sha"]

    def idle(look: int) -> dict[str, Any]:
        ars = runner_set(scale_set, namespace, low=0, high=5)
        assert "status" not in ars, "ARC never patched it"
        health, message = argocd_health.health(argocd_health.ARS, ars)
        return {
            "application": application(scale_set, sync="Synced", revision=sha, health=health, health_message=message),
            "runner_set": ars,
            "listeners": [listener(scale_set, of=ars)],
        }

    kube.scenario = idle
    body = await report_after_merge(rollout, pull, sha)
    assert "✅ Live" in body and "min 0: runners start with jobs" in body, body


async def test_a_cache_whose_storage_class_does_not_exist_fails_as_argo_cd_says(
    rollout: Harness, kube: FakeKube
) -> None:
    """Kubernetes (pkg/controller/volume/persistentvolume/pv_controller.go) treats a claim
    naming a missing class as Immediate and only emits ProvisioningFailed; the fleet's Lua
    check calls that claim Progressing (never Healthy), and the report names the class."""
    claim = {
        "metadata": {"name": f"{SET}-cache", "namespace": NS,
                     "labels": {"app.kubernetes.io/component": "runner-cache"}, "annotations": {}},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "nfs-rwx"},
        "status": {"phase": "Pending"},
    }  # fmt: skip
    health, message = argocd_health.health("PersistentVolumeClaim", claim)
    assert health != "Healthy"

    def missing_class(look: int, sha: str) -> dict[str, Any]:
        current = runner_set(SET, NS, low=1, high=12)
        return {
            "application": application(SET, sync="Synced", revision=sha, health=health, health_message=message),
            "runner_set": current,
            "listeners": [listener(SET, of=current)],
            "events": [
                event(
                    NS,
                    "PersistentVolumeClaim",
                    f"{SET}-cache",
                    "ProvisioningFailed",
                    'storageclass.storage.k8s.io "nfs-rwx" not found',
                    source="persistentvolume-controller",
                )
            ],
        }

    await merge(rollout, kube, missing_class)
    body = report_on(rollout, CONFIG_REPO, 100)["body"]
    assert "❌ **ArgoCD reports healthy** failed" in body and "nfs-rwx" in body and "storage class" in body
    assert "still waiting at the time limit" not in body, "named at once, not after the time limit"


POOL_ENTRY = (
    "  - name: shared-linux\n    org: Matchpoint-AI\n    scope: organization\n"
    "    runnerGroup: big-builds\n    scaling: {minRunners: 0, maxRunners: 3}\n"
)


@pytest.mark.parametrize("groups", [["Default"], ["Default", "Big-Builds"]])
async def test_a_pool_whose_runner_group_is_missing_ends_failed_naming_it(
    rollout: Harness, kube: FakeKube, groups: list[str]
) -> None:
    """ARC 0.12.1 (controllers/actions.github.com/autoscalingrunnerset_controller.go) looks
    the pool's runnerGroup up by name before it registers the scale set; without such a
    group the reconcile fails and is retried for ever, with no Kubernetes event, no
    ``runner-scale-set-id`` and no listener. Only GitHub can say why: asked once, when the
    listener is overdue."""
    fake = rollout.fake
    repositories = fake.file(CONFIG_REPO, "values/repositories.yaml")
    fake.push(
        CONFIG_REPO,
        "values/repositories.yaml",
        repositories.replace("repositories:\n", f"repositories:\n{POOL_ENTRY}", 1),
    )
    fake.runner_groups["matchpoint-ai"] = groups
    await rollout.send("issue_comment", comment_payload("/runners scale shared-linux max=4", user="maintainer"))
    await rollout.settle()
    (pull,) = [p for p in fake.pulls[CONFIG_REPO.lower()] if p["state"] == "open"]
    assert pull["head"]["ref"] == "runners-bot/shared-linux", pull["head"]["ref"]
    merged = fake.merge(CONFIG_REPO, pull["number"])
    sha = merged["merge_commit_sha"]

    def unregistered(look: int) -> dict[str, Any]:
        ars = runner_set("shared-linux", "arc-shared-linux-runners", low=0, high=4, registered=False)
        health, message = argocd_health.health(argocd_health.ARS, ars)
        return {
            "application": application(
                "shared-linux", sync="Synced", revision=sha, health=health, health_message=message
            ),
            "runner_set": ars,
        }

    kube.scenario = unregistered
    body = await report_after_merge(rollout, pull, sha)
    assert fake.count("GET", "/orgs/{org}/actions/runner-groups") == 1, "asked once, when the listener was overdue"
    if "Big-Builds" in groups:
        assert "runner group" not in body and "still waiting at the time limit" in body, body
    else:
        assert "❌ **Listener running** failed: runner group 'big-builds' does not exist" in body, body
        golden("runner-group-missing", normalised(body, sha))
