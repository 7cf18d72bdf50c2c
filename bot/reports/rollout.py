"""Judging a rollout from what the cluster shows, and the checklist it becomes. Pure.

Stages, in order: merged → ArgoCD synced at the merge commit → healthy → scale set
updated → listener running → runners. Each is ⏳ (waiting), ✅ (with the time it took
since the merge) or ❌ (with the reason and the next thing to check). ARC's usual causes
are recognised as ARC 0.12.1 shows them: a listener recreated under the same name over
and over (new uid; GitHub credentials, URL, clock drift), a listener that never appears
(the GitHub config secret), runners Pending (node resources, selectors, image pulls).
ARC records no Kubernetes events itself; the kubelet's, the scheduler's and External
Secrets' warnings are read for the reason.

The listener is judged as ARC judges it (``autoscalingrunnerset_controller.go``): only
the AutoscalingListener whose ``actions.github.com/values-hash`` annotation equals the
scale set's is the one for the values now in force; ARC deletes any other and creates a
new one, and until it has, the old listener still runs the old values. Its pod (owned by
that listener) must then stay Ready without a restart for ``settle`` seconds: a listener
with bad credentials fails on GitHub's 401 within seconds of starting, so one Ready for
that long has passed GitHub's authentication.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.cluster.state import VALUES_HASH, ClusterState
from bot.commands import render

STAGES = ("merged", "synced", "healthy", "scale_set", "listener", "runners")
STAGE_LABELS = {
    "merged": "Pull request merged",
    "synced": "ArgoCD synced at the merge commit",
    "healthy": "ArgoCD reports healthy",
    "scale_set": "Scale set updated",
    "listener": "Listener running",
    "runners": "Runners",
}
CHURN = 4  # listener pods seen (uids) plus restarts: ARC recreating it without backoff
LISTENER_SETTLE = 30.0  # seconds the current listener stays Ready without a restart before it counts
NO_LISTENER_GRACE = 120.0  # seconds after the scale set is updated before a missing listener is explained
PENDING_GRACE = 120.0  # seconds a runner may stay Pending before it is a problem
NEXT_STEP = {
    "synced": "check the Application's sync errors: `kubectl -n argocd get application {set} -o yaml`",
    "healthy": "check the scale set's resources in ArgoCD's UI, or `kubectl -n {ns} get all`",
    "scale_set": "check the ARC controller's logs in arc-systems",
    "listener": "check the scale set's GitHub config secret (`kubectl -n {ns} get secret,externalsecret`), its githubConfigUrl, and node clock drift",
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
class RolloutMemory:
    """What a watch remembers between looks (persisted with the watch)."""

    ok_at: dict[str, float] = field(default_factory=dict)
    listeners_seen: list[str] = field(default_factory=list)  # uids: ARC reuses the pod's name
    contains: dict[str, bool] = field(default_factory=dict)  # synced revision → has the merge commit
    steady: dict[str, float] = field(default_factory=dict)  # "uid/restarts" → elapsed when first seen Ready
    # A pool's runner group, asked of GitHub at most once: whether asked, and when it is
    # missing, {"group", "org", "said"} (ARC shows that in its controller's logs only).
    asked_group: bool = False
    missing_group: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    state: str  # "wait", "ok", "fail"
    detail: str = ""
    seconds: float | None = None
    hint: str = ""  # the next step when it says more than the stage's usual one


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


def synced_revision(app: dict[str, Any] | None) -> str | None:
    """The commit Argo CD last synced, when it reports one as Synced."""
    revision = _get(app, "status", "sync", "revision")
    return str(revision) if revision and _get(app, "status", "sync", "status") == "Synced" else None


def _synced(expected: Expected, app: dict[str, Any] | None, memory: RolloutMemory) -> tuple[str, str]:
    if app is None:
        return "wait", "Application not created yet"
    phase = _get(app, "status", "operationState", "phase")
    if phase in ("Failed", "Error"):
        return (
            "fail",
            f"sync {phase.lower()}: {inert_quote(_get(app, 'status', 'operationState', 'message') or 'no message')}",
        )
    revision, status = _get(app, "status", "sync", "revision"), _get(app, "status", "sync", "status")
    if status == "Synced" and revision == expected.merge_sha:
        return "ok", f"revision {expected.merge_sha[:7]}"
    if status == "Synced" and memory.contains.get(str(revision)):
        return "ok", f"revision {inert_quote(str(revision)[:7])}, which includes {expected.merge_sha[:7]}"
    return "wait", f"{inert_quote(status or 'Unknown')} at {inert_quote(str(revision or '?')[:7])}"


def _healthy(app: dict[str, Any] | None, finding: Finding | None) -> tuple[str, str]:
    health = _get(app, "status", "health", "status") or "Unknown"
    if health == "Healthy":
        return "ok", ""
    if health == "Degraded":
        message = _get(app, "status", "health", "message")
        return "fail", f"Degraded: {inert_quote(message) if message else 'a resource of the scale set is failing'}"
    if finding is not None and finding.volume:
        # The claim's object cannot tell a missing class from one waiting for a consumer
        # (argocd-cm-health.yaml says Progressing for both); its ProvisioningFailed event can.
        return "fail", f"{inert_quote(health)}: {finding}"
    return "wait", inert_quote(health)


def _scale_set(expected: Expected, ars: dict[str, Any] | None) -> tuple[str, str]:
    if ars is None:
        return "wait", "AutoscalingRunnerSet not found yet"
    spec = ars.get("spec", {})
    got = (spec.get("minRunners"), spec.get("maxRunners"))
    if got == (expected.min_runners, expected.max_runners):
        return "ok", f"min {expected.min_runners}, max {expected.max_runners}"
    return (
        "wait",
        f"min {inert_quote(got[0])}, max {inert_quote(got[1])} (want {expected.min_runners}, {expected.max_runners})",
    )


# What a Warning event's text means for a scale set, most specific first: (pattern, diagnosis, permanent).
_FINDINGS = (
    (
        r"secret.*(not found|does not exist)|SecretSyncedError|could not get secret",
        "the GitHub config secret is missing or cannot be synced",
        True,
    ),
    (
        r"\b401\b|bad credentials|unauthorized|could not.*(jwt|token)",
        "GitHub refuses the App's credentials (401; check the App id, key, installation id and node clock)",
        True,
    ),
    (
        r"\b404\b|not found.*(github|runner ?group|installation)",
        "GitHub answers 404: the githubConfigUrl or the App's installation is wrong",
        True,
    ),
    (r"invalid.*(config url|githubconfigurl|url)", "the githubConfigUrl is not a valid GitHub URL", True),
    (
        r"ProvisioningFailed|storageclass.* not found",
        "a volume cannot be provisioned: its storage class is missing or fails "
        "(a cache needs a ReadWriteMany class that binds immediately: caches.storageClassName)",
        True,
    ),
    (r"exceeded quota|forbidden: .*quota", "a ResourceQuota in the namespace refuses the runner pods", False),
    (r"pull(ing)? image|ErrImagePull|ImagePullBackOff", "a runner image cannot be pulled", False),
    (r"FailedScheduling|Insufficient|didn't match|untolerated taint", "runner pods cannot be scheduled", False),
)


@dataclass(frozen=True)
class Finding:
    """The meaningful Warning event: what it means, and Kubernetes' own words."""

    meaning: str
    said: str
    permanent: bool

    @property
    def volume(self) -> bool:
        """A volume claim that cannot be provisioned (Kubernetes' ProvisioningFailed)."""
        return self.meaning.startswith("a volume")

    def __str__(self) -> str:
        return f"{self.meaning} (Kubernetes: {inert_quote(self.said)})"


def diagnose(events: list[dict[str, Any]]) -> Finding | None:
    """The most telling Warning event: the most specific finding, the latest of its kind."""
    latest_first = sorted(events, key=lambda e: str(e.get("lastTimestamp") or ""), reverse=True)
    for pattern, meaning, permanent in _FINDINGS:
        for ev in latest_first:
            text = f"{ev.get('reason', '')}: {ev.get('message', '')}"
            if re.search(pattern, text, re.IGNORECASE):
                where = f"{_get(ev, 'involvedObject', 'kind')}/{_get(ev, 'involvedObject', 'name')}"
                return Finding(meaning, f"{where} {text}"[:300], permanent)
    return None


def _termination(pods: list[dict[str, Any]]) -> str:
    for pod in pods:
        for status in _get(pod, "status", "containerStatuses") or []:
            ended = _get(status, "state", "terminated") or _get(status, "lastState", "terminated")
            if ended:
                message = str(ended.get("message") or "").strip().splitlines()
                return inert_quote(f"{ended.get('reason') or 'exited'} (exit {ended.get('exitCode', '?')})") + (
                    f": {inert_quote(message[-1])}" if message else ""
                )
    return ""


def current_listeners(state: ClusterState) -> tuple[list[dict[str, Any]], bool]:
    """The listener pods made for the values now in force, and whether an older listener
    is still in view (ARC has not replaced it yet). ARC keeps the AutoscalingListener whose
    values hash equals the scale set's and deletes any other
    (``autoscalingrunnerset_controller.go``); its pod names it as owner."""
    wanted = _get(state.runner_set, "metadata", "annotations", VALUES_HASH)
    if not wanted:
        return list(state.listeners), False  # not rendered by ARC's chart: no hash to compare
    owners = {
        str(_get(found, "metadata", "uid"))
        for found in state.autoscaling_listeners
        if _get(found, "metadata", "annotations", VALUES_HASH) == wanted
    }
    current = [
        pod
        for pod in state.listeners
        if any(str(ref.get("uid")) in owners for ref in _get(pod, "metadata", "ownerReferences") or [])
    ]
    stale = not owners and bool(state.autoscaling_listeners or state.listeners)
    return current, stale


def _listener(
    pods: list[dict[str, Any]],
    memory: RolloutMemory,
    finding: Finding | None,
    waited: float,
    *,
    elapsed: float = 0.0,
    settle: float = 0.0,
) -> tuple[str, str]:
    for pod in pods:
        uid = str(_get(pod, "metadata", "uid") or _get(pod, "metadata", "name"))
        if uid not in memory.listeners_seen:
            memory.listeners_seen.append(uid)
    statuses = [s for p in pods for s in _get(p, "status", "containerStatuses") or []]
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    recreated = max(len(memory.listeners_seen) - 1, 0) + restarts
    crashing = any(_get(s, "state", "waiting", "reason") == "CrashLoopBackOff" for s in statuses)
    last = _termination(pods)
    # No event explains it (ARC records none): the listener's own last words may.
    told = str(finding) if finding else next((m for p, m, _ in _FINDINGS if re.search(p, last, re.IGNORECASE)), "")
    why = f"; last exit: {last}" if last else ""
    why += f"; {told}" if told else ""
    if recreated >= CHURN - 1 or crashing:
        return "fail", (
            f"the listener was recreated {recreated} times: ARC cannot talk to GitHub "
            f"(GitHub config secret or URL wrong, or clock drift){why}"
        )
    ready = [s for s in statuses if isinstance(_get(s, "state", "running"), dict) and s.get("ready") is not False]
    if ready and len(ready) == len(statuses) and all(_get(p, "status", "phase") == "Running" for p in pods):
        # Ready since when, by this pod and restart count: a restart starts the wait again.
        uids = "+".join(str(_get(p, "metadata", "uid") or _get(p, "metadata", "name")) for p in pods)
        since = memory.steady.setdefault(f"{uids}/{restarts}", elapsed)
        if elapsed - since >= settle:
            return "ok", inert_quote(_get(pods[0], "metadata", "name"))
        return "wait", (
            f"listener {inert_quote(_get(pods[0], 'metadata', 'name'))} Ready; "
            f"it counts once Ready without a restart for {settle:g}s"
        )
    if finding is not None and finding.permanent:
        return "fail", f"no running listener: {finding}"
    if not pods and waited >= NO_LISTENER_GRACE:
        return "wait", (
            "no listener yet: ARC creates it once it reaches GitHub with the scale set's GitHub config secret; "
            "ARC reports why not only in its controller's logs"
        )
    return (
        "wait",
        "no listener pod yet"
        if not pods
        else f"listener {inert_quote(_get(pods[0], 'status', 'phase') or 'starting')}{why}",
    )


def _pending_reason(pod: dict[str, Any]) -> str | None:
    for condition in _get(pod, "status", "conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return inert_quote(f"{condition.get('reason', 'Unschedulable')}: {condition.get('message', '')}".strip())
    for status in _get(pod, "status", "containerStatuses") or []:
        waiting = _get(status, "state", "waiting")
        if waiting and waiting.get("reason") in (
            "ImagePullBackOff",
            "ErrImagePull",
            "CrashLoopBackOff",
            "CreateContainerConfigError",
        ):
            return inert_quote(f"{waiting['reason']}: {waiting.get('message', '')}".strip())
    return None


def age(pod: dict[str, Any], now: float) -> float:
    """Seconds since the pod was created."""
    created = _get(pod, "metadata", "creationTimestamp")
    try:
        return now - datetime.fromisoformat(str(created)).timestamp()
    except ValueError:
        return 0.0


def _runners(
    expected: Expected, pods: list[dict[str, Any]], ars: dict[str, Any] | None, now: float, finding: Finding | None
) -> tuple[str, str]:
    phases = [_get(p, "status", "phase") for p in pods]
    running, pending = phases.count("Running"), phases.count("Pending")
    counts = f"{running} running, {pending} pending"
    if ars is not None:
        failed = _get(ars, "status", "failedEphemeralRunners") or 0
        counts += f", {failed} failed" if failed else ""
    pending_pods = [p for p in pods if _get(p, "status", "phase") == "Pending"]
    stuck = [reason for p in pending_pods if (reason := _pending_reason(p))]
    if stuck and any(age(p, now) >= PENDING_GRACE for p in pending_pods):
        return "fail", f"{counts}; runner pods cannot start: {stuck[0]}"
    if finding is not None and not finding.permanent and running < expected.min_runners:
        return "wait", f"{counts} (want {expected.min_runners} running); {finding}"
    if running >= expected.min_runners:
        return "ok", counts if expected.min_runners else f"{counts} (min 0: runners start with jobs)"
    return "wait", f"{counts} (want {expected.min_runners} running)" + (f"; {stuck[0]}" if stuck else "")


def assess(
    expected: Expected,
    state: ClusterState,
    memory: RolloutMemory,
    elapsed: float,
    now: float,
    *,
    settle: float = LISTENER_SETTLE,
) -> Report:
    """The checklist for ``state``, seen ``elapsed`` seconds after the merge, at epoch ``now``;
    the listener counts once Ready without a restart for ``settle`` seconds."""
    memory.ok_at.setdefault("merged", 0.0)
    finding = diagnose(state.events)
    scale_set = _scale_set(expected, state.runner_set)
    waited = elapsed - memory.ok_at.get("scale_set", elapsed) if scale_set[0] == "ok" else 0.0
    pods, stale = current_listeners(state)
    if memory.missing_group and not pods:
        listener = ("fail", memory.missing_group["said"])  # GitHub said so: ARC will not make one
    elif stale and not pods:
        listener = ("wait", "ARC has not yet replaced the listener of the previous values (values hash differs)")
    else:
        listener = _listener(pods, memory, finding, waited, elapsed=elapsed, settle=settle)
    checks = {
        "merged": ("ok", f"commit {expected.merge_sha[:7]}"),
        "synced": _synced(expected, state.application, memory),
        "healthy": _healthy(state.application, finding),
        "scale_set": scale_set,
        "listener": listener,
        "runners": _runners(expected, state.runners, state.runner_set, now, finding),
    }
    stages = []
    blocked = False
    for name in STAGES:
        status, detail = checks[name]
        if status == "fail" and state.application is None:
            # Nothing is judged failed before Argo CD has created the Application: what the
            # cluster shows then is older than this change (and the kinds' watches do not
            # arrive together, so the Application may simply not be in view yet).
            status = "wait"
        if blocked and status == "ok":
            status, detail = "wait", "after the stages above"  # not done before the ones it depends on
        if status == "ok":
            memory.ok_at.setdefault(name, elapsed)
        hint = (
            _group_hint(memory.missing_group)
            if name == "listener" and status == "fail" and memory.missing_group
            else ""
        )
        stages.append(Stage(name, status, detail, memory.ok_at.get(name) if status == "ok" else None, hint))
        blocked = blocked or status != "ok"
    return Report(stages)


def listener_overdue(state: ClusterState, memory: RolloutMemory, elapsed: float, *, time_up: bool) -> bool:
    """Whether the listener has stayed away long enough to ask GitHub why: Argo CD synced the
    change :data:`NO_LISTENER_GRACE` seconds ago (or the report's time limit has come) and
    ARC has made no listener for the values in force. ARC records nothing when it cannot
    find a pool's runner group (``GetRunnerGroupByName`` fails and the reconcile retries),
    so only GitHub can say so."""
    synced = memory.ok_at.get("synced")
    if synced is None or memory.asked_group:
        return False
    pods, _ = current_listeners(state)
    return not pods and (time_up or elapsed - synced >= NO_LISTENER_GRACE)


def _group_hint(missing: dict[str, str]) -> str:
    return render.fill(
        "rollout_runner_group.md", group=render.code(missing["group"]), org=render.code(missing["org"])
    ).strip()


def live_summary(state: ClusterState) -> str:
    """``/runners status``'s live part: ArgoCD, the scale set, the listener, the runners."""
    app, ars = state.application, state.runner_set
    argo = (
        f"ArgoCD {inert_quote(_get(app, 'status', 'sync', 'status') or 'Unknown')} at {inert_quote(str(_get(app, 'status', 'sync', 'revision') or '?')[:7])}, "
        f"{inert_quote(_get(app, 'status', 'health', 'status') or 'Unknown')}"
        if app
        else "no ArgoCD Application"
    )
    spec = (ars or {}).get("spec", {})
    status = (ars or {}).get("status", {})
    scale = (
        f"scale set min {inert_quote(spec.get('minRunners'))}, max {inert_quote(spec.get('maxRunners'))}, {inert_quote(status.get('currentRunners', 0))} current"
        if ars
        else "no AutoscalingRunnerSet"
    )
    listeners = [_get(p, "status", "phase") for p in state.listeners]
    listener = f"listener {inert_quote(listeners[0])}" if listeners else "no listener pod"
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
        Stage(s.name, "fail", f"{s.detail}; still waiting at the time limit", None, s.hint) if s.state == "wait" else s
        for s in report.stages
    ]
    return Report(stages, report.unreachable)


def elapsed_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def inert_quote(value: object) -> str:
    """What the cluster said, as an inert code span: Argo CD's, Helm's and Kubernetes'
    messages can carry configuration values, so no mention, link, image or HTML in them
    may come alive in a reply."""
    return render.inert(str(value))


def _cell(text: str) -> str:
    """A stage's detail in a Markdown table cell (cluster text in it is already inert)."""
    return text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def render_report(report: Report, expected: Expected, title: str, final: bool) -> str:
    icons = {"wait": "⏳", "ok": "✅", "fail": "❌"}
    rows = "\n".join(
        render.fill(
            "rollout_row.md",
            stage=STAGE_LABELS[s.name],
            icon=icons[s.state],
            detail=_cell(s.detail),
            took=elapsed_text(s.seconds),
        ).rstrip("\n")
        for s in report.stages
    )
    failed = next((s for s in report.stages if s.state == "fail"), None)
    if failed is not None:
        hint = failed.hint or NEXT_STEP.get(failed.name, "").format(set=expected.scale_set, ns=expected.namespace)
        verdict = f"❌ **{STAGE_LABELS[failed.name]}** failed: {failed.detail.rstrip('.')}.\n\nNext: {hint}."
    elif report.done:
        verdict = f"✅ Live: `runs-on: {expected.scale_set}` now gets the new settings."
    elif report.unreachable and final:
        verdict = (
            f"❌ The cluster could not be reached until the time limit ({inert_quote(report.unreachable)}).\n\n"
            "Next: check runners-bot's access to the Kubernetes API (service account and RBAC in-cluster, or KUBECONFIG)."
        )
    elif report.unreachable:
        verdict = f"⚠️ The cluster cannot be reached right now ({inert_quote(report.unreachable)}); still trying."
    else:
        verdict = "⏳ Waiting for the rollout."
    return render.fill("rollout.md", title=title, rows=rows, verdict=verdict)
