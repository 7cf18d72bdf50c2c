"""Judging a rollout from what the cluster shows, and the checklist it becomes. Pure.

Stages, in order: merged → ArgoCD synced at the merge commit → healthy → scale set
updated → listener running → runners. Each is ⏳ (waiting), ✅ (with the time it took
since the merge) or ❌ (with the reason and the next thing to check). ARC's usual causes
are recognised: a listener recreated over and over (GitHub credentials, URL, clock
drift), runners Pending (node resources, selectors, image pulls).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import render
from bot.kube import ClusterState

STAGES = ("merged", "synced", "healthy", "scale_set", "listener", "runners")
LABELS = {
    "merged": "Pull request merged",
    "synced": "ArgoCD synced at the merge commit",
    "healthy": "ArgoCD reports healthy",
    "scale_set": "Scale set updated",
    "listener": "Listener running",
    "runners": "Runners",
}
CHURN = 4  # distinct listener pods seen: ARC recreating it without backoff
PENDING_GRACE = 120.0  # seconds a runner may stay Pending before it is a problem
NEXT_STEP = {
    "synced": "check the Application's sync errors: `kubectl -n argocd get application {set} -o yaml`",
    "healthy": "check the scale set's resources in ArgoCD's UI, or `kubectl -n {ns} get all`",
    "scale_set": "check the ARC controller's logs in arc-systems",
    "listener": "check the GitHub config secret and URL of the scale set, and node clock drift",
    "runners": "check `kubectl -n {ns} describe pods` for scheduling and image events",
}


@dataclass(frozen=True)
class Expected:
    """What the merged change should lead to."""

    scale_set: str
    namespace: str
    merge_sha: str
    min_runners: int
    max_runners: int


@dataclass
class Memory:
    """What a watch remembers between looks (persisted with the watch)."""

    ok_at: dict[str, float] = field(default_factory=dict)
    listeners_seen: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    name: str
    state: str  # "wait", "ok", "fail"
    detail: str = ""
    seconds: float | None = None


@dataclass(frozen=True)
class Report:
    stages: list[Stage]
    unreachable: str | None = None

    @property
    def done(self) -> bool:
        return all(s.state == "ok" for s in self.stages)

    @property
    def failed(self) -> bool:
        return any(s.state == "fail" for s in self.stages)


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _synced(expected: Expected, app: dict[str, Any] | None) -> tuple[str, str]:
    if app is None:
        return "wait", "Application not created yet"
    phase = _get(app, "status", "operationState", "phase")
    if phase in ("Failed", "Error"):
        return "fail", f"sync {phase.lower()}: {_get(app, 'status', 'operationState', 'message') or 'no message'}"
    revision, status = _get(app, "status", "sync", "revision"), _get(app, "status", "sync", "status")
    if status == "Synced" and revision == expected.merge_sha:
        return "ok", f"revision {expected.merge_sha[:7]}"
    return "wait", f"{status or 'Unknown'} at {str(revision or '?')[:7]}"


def _healthy(app: dict[str, Any] | None) -> tuple[str, str]:
    health = _get(app, "status", "health", "status") or "Unknown"
    if health == "Healthy":
        return "ok", ""
    if health == "Degraded":
        return (
            "fail",
            f"Degraded: {_get(app, 'status', 'health', 'message') or 'a resource of the scale set is failing'}",
        )
    return "wait", health


def _scale_set(expected: Expected, ars: dict[str, Any] | None) -> tuple[str, str]:
    if ars is None:
        return "wait", "AutoscalingRunnerSet not found yet"
    spec = ars.get("spec", {})
    got = (spec.get("minRunners"), spec.get("maxRunners"))
    if got == (expected.min_runners, expected.max_runners):
        return "ok", f"min {expected.min_runners}, max {expected.max_runners}"
    return "wait", f"min {got[0]}, max {got[1]} (want {expected.min_runners}, {expected.max_runners})"


def _listener(pods: list[dict[str, Any]], memory: Memory) -> tuple[str, str]:
    for pod in pods:
        name = str(_get(pod, "metadata", "name"))
        if name not in memory.listeners_seen:
            memory.listeners_seen.append(name)
    if len(memory.listeners_seen) >= CHURN:
        return "fail", (
            f"the listener was recreated {len(memory.listeners_seen) - 1} times: ARC cannot talk to GitHub "
            "(GitHub config secret or URL wrong, or clock drift)"
        )
    running = [p for p in pods if _get(p, "status", "phase") == "Running"]
    if running:
        return "ok", str(_get(running[0], "metadata", "name"))
    return "wait", "no listener pod yet" if not pods else f"listener {_get(pods[0], 'status', 'phase') or 'starting'}"


def _pending_reason(pod: dict[str, Any]) -> str | None:
    for condition in _get(pod, "status", "conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"{condition.get('reason', 'Unschedulable')}: {condition.get('message', '')}".strip()
    for status in _get(pod, "status", "containerStatuses") or []:
        waiting = _get(status, "state", "waiting")
        if waiting and waiting.get("reason") in (
            "ImagePullBackOff",
            "ErrImagePull",
            "CrashLoopBackOff",
            "CreateContainerConfigError",
        ):
            return f"{waiting['reason']}: {waiting.get('message', '')}".strip()
    return None


def _age(pod: dict[str, Any], now: float) -> float:
    created = _get(pod, "metadata", "creationTimestamp")
    try:
        return now - datetime.fromisoformat(str(created)).timestamp()
    except ValueError:
        return 0.0


def _runners(expected: Expected, pods: list[dict[str, Any]], ars: dict[str, Any] | None, now: float) -> tuple[str, str]:
    phases = [_get(p, "status", "phase") for p in pods]
    running, pending = phases.count("Running"), phases.count("Pending")
    counts = f"{running} running, {pending} pending"
    if ars is not None:
        failed = _get(ars, "status", "failedEphemeralRunners") or 0
        counts += f", {failed} failed" if failed else ""
    pending_pods = [p for p in pods if _get(p, "status", "phase") == "Pending"]
    stuck = [reason for p in pending_pods if (reason := _pending_reason(p))]
    if stuck and any(_age(p, now) >= PENDING_GRACE for p in pending_pods):
        return "fail", f"{counts}; runner pods cannot start: {stuck[0]}"
    if running >= expected.min_runners:
        return "ok", counts if expected.min_runners else f"{counts} (min 0: runners start with jobs)"
    return "wait", f"{counts} (want {expected.min_runners} running)" + (f"; {stuck[0]}" if stuck else "")


def assess(expected: Expected, state: ClusterState, memory: Memory, elapsed: float, now: float) -> Report:
    """The checklist for ``state``, seen ``elapsed`` seconds after the merge, at epoch ``now``."""
    memory.ok_at.setdefault("merged", 0.0)
    checks = {
        "merged": ("ok", f"commit {expected.merge_sha[:7]}"),
        "synced": _synced(expected, state.application),
        "healthy": _healthy(state.application),
        "scale_set": _scale_set(expected, state.runner_set),
        "listener": _listener(state.listeners, memory),
        "runners": _runners(expected, state.runners, state.runner_set, now),
    }
    stages = []
    blocked = False
    for name in STAGES:
        status, detail = checks[name]
        if blocked and status == "ok":
            status, detail = "wait", "after the stages above"  # not done before the ones it depends on
        if status == "ok":
            memory.ok_at.setdefault(name, elapsed)
        stages.append(Stage(name, status, detail, memory.ok_at.get(name) if status == "ok" else None))
        blocked = blocked or status != "ok"
    return Report(stages)


def live_summary(state: ClusterState) -> str:
    """``/runners status``'s live part: ArgoCD, the scale set, the listener, the runners."""
    app, ars = state.application, state.runner_set
    argo = (
        f"ArgoCD {_get(app, 'status', 'sync', 'status') or 'Unknown'} at `{str(_get(app, 'status', 'sync', 'revision') or '?')[:7]}`, "
        f"{_get(app, 'status', 'health', 'status') or 'Unknown'}"
        if app
        else "no ArgoCD Application"
    )
    spec = (ars or {}).get("spec", {})
    status = (ars or {}).get("status", {})
    scale = (
        f"scale set min {spec.get('minRunners')}, max {spec.get('maxRunners')}, {status.get('currentRunners', 0)} current"
        if ars
        else "no AutoscalingRunnerSet"
    )
    listeners = [_get(p, "status", "phase") for p in state.listeners]
    listener = f"listener {listeners[0]}" if listeners else "no listener pod"
    phases = [_get(p, "status", "phase") for p in state.runners]
    runners = f"runners: {phases.count('Running')} running, {phases.count('Pending')} pending"
    pending = [reason for p in state.runners if (reason := _pending_reason(p))]
    tail = f" (pending because {pending[0]})" if pending else ""
    return f"Live state: {argo}; {scale}; {listener}; {runners}{tail}."


def initial(expected: Expected) -> Report:
    """Before the first look: merged, everything else waiting."""
    stages = [Stage("merged", "ok", f"commit {expected.merge_sha[:7]}", 0.0)]
    stages += [Stage(name, "wait", "not looked at yet") for name in STAGES[1:]]
    return Report(stages)


def timed_out(report: Report) -> Report:
    """The report at the time limit: every stage still waiting is stuck (unless the
    cluster could not be seen at all, which the verdict says instead)."""
    if report.unreachable:
        return report
    stages = [
        Stage(s.name, "fail", f"{s.detail}; still waiting at the time limit", None) if s.state == "wait" else s
        for s in report.stages
    ]
    return Report(stages, report.unreachable)


def elapsed_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _cell(text: str) -> str:
    """Cluster text made safe for a Markdown table cell."""
    return render.code(text).replace("|", "\\|")


def render_report(report: Report, expected: Expected, title: str, final: bool) -> str:
    icons = {"wait": "⏳", "ok": "✅", "fail": "❌"}
    rows = "\n".join(
        render.fill(
            "rollout_row.md",
            stage=LABELS[s.name],
            icon=icons[s.state],
            detail=_cell(s.detail),
            took=elapsed_text(s.seconds),
        ).rstrip("\n")
        for s in report.stages
    )
    failed = next((s for s in report.stages if s.state == "fail"), None)
    if failed is not None:
        hint = NEXT_STEP.get(failed.name, "").format(set=expected.scale_set, ns=expected.namespace)
        verdict = f"❌ **{LABELS[failed.name]}** failed: {failed.detail.rstrip('.')}.\n\nNext: {hint}."
    elif report.done:
        verdict = f"✅ Live: `runs-on: {expected.scale_set}` now gets the new settings."
    elif report.unreachable and final:
        verdict = (
            f"❌ The cluster could not be reached until the time limit ({report.unreachable}).\n\n"
            "Next: check runners-bot's access to the Kubernetes API (service account and RBAC in-cluster, or KUBECONFIG)."
        )
    elif report.unreachable:
        verdict = f"⚠️ The cluster cannot be reached right now ({report.unreachable}); still trying."
    else:
        verdict = "⏳ Waiting for the rollout."
    return render.fill("rollout.md", title=title, rows=rows, verdict=verdict)
