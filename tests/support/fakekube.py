"""A local HTTP server speaking the Kubernetes API paths runners-bot reads.

State moves by *look*: each time the Application is read a new look begins, and the
scenario decides what the cluster shows at that look (OutOfSync → Synced, Progressing →
Healthy, pods Pending → Running, or one of ARC's failure modes). Objects are shaped as
the API server returns them, so the official client deserialises them for real, and as
ARC 0.12.1 and Argo CD 3.x write them (read from their source):

- the listener pod lives in the controller namespace, is named after its
  AutoscalingListener ``<set>-<8 hex>-listener`` and, when its container exits, ARC
  deletes and recreates it under the *same name* (a new uid; ``restartPolicy: Never``);
- ARC's controllers record no Events; the Events there are the kubelet's and
  scheduler's (pods), and External Secrets' (the GitHub config secret's ExternalSecret);
- the scale set carries the chart's ``actions.github.com/values-hash`` (a hash of the
  values: any change, ``maxRunners`` included, changes it; ARC's
  ``gha-runner-scale-set/templates/autoscalingrunnerset.yaml``), ARC's
  ``runner-scale-set-id`` annotation once registered, and a ``status`` only once ARC has
  had a count to patch (``autoscalingrunnerset_controller.go`` patches it only when the
  EphemeralRunnerSet's ``CurrentReplicas`` differs from ``status.currentRunners``: an
  idle ``minRunners: 0`` set never gets one);
- each listener pod is owned by an AutoscalingListener that carries the values hash it
  was made for; ARC deletes a listener whose hash differs from the scale set's and makes a
  new one (new uid, same pod name), so right after an update the old one still runs;
- lists are served in pages (``limit``/``continue``) as the API server serves them
  (Kubernetes' "API concepts: retrieving large results sets in chunks"), and an object
  keeps the ``creationTimestamp`` the API server gave it when created.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Scenario = Callable[[int], dict[str, Any]]


def stamp(seconds_ago: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def application(
    name: str,
    *,
    sync: str,
    revision: str,
    health: str,
    phase: str | None = None,
    message: str = "",
    health_message: str = "",
) -> dict[str, Any]:
    status: dict[str, Any] = {"sync": {"status": sync, "revision": revision}, "health": {"status": health}}
    if health_message:
        status["health"]["message"] = health_message
    if phase:
        status["operationState"] = {"phase": phase, "message": message, "startedAt": stamp(30), "finishedAt": stamp()}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "uid": "a1", "resourceVersion": "1"},
        "spec": {"project": "default", "destination": {"namespace": f"arc-{name}"}},
        "status": status,
    }


def values_hash(*values: object) -> str:
    """The chart's hash of its values (``toJson .Values | sha256sum | trunc 63``)."""
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:63]


def runner_set(
    name: str,
    namespace: str,
    *,
    low: int,
    high: int,
    current: int = 0,
    pending: int = 0,
    failed: int = 0,
    registered: bool = True,
    counted: bool | None = None,
) -> dict[str, Any]:
    """The scale set as Argo CD applies it and ARC annotates it. ``counted``: whether ARC
    has ever patched its status (by default: when it has runners to count)."""
    annotations = {"actions.github.com/values-hash": values_hash(name, low, high)}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "annotations": annotations}
    if registered:  # autoscalingrunnerset_controller.go, once GitHub has the scale set
        annotations["runner-scale-set-id"] = "1"
        metadata["finalizers"] = ["autoscalingrunnerset.actions.github.com/finalizer"]
    found = {
        "apiVersion": "actions.github.com/v1alpha1",
        "kind": "AutoscalingRunnerSet",
        "metadata": metadata,
        "spec": {
            "githubConfigUrl": "https://github.com/acme/x",
            "githubConfigSecret": "arc-github-app",
            "minRunners": low,
            "maxRunners": high,
            "runnerScaleSetName": name,
        },
        "status": {
            "currentRunners": current,
            "pendingEphemeralRunners": pending,
            "runningEphemeralRunners": current - pending,
            "failedEphemeralRunners": failed,
        },
    }
    if not (counted if counted is not None else (current or pending or failed)):
        del found["status"]  # ARC never patched it: no count ever differed from 0
    return found


def pod(
    name: str,
    namespace: str,
    *,
    phase: str,
    labels: dict[str, str],
    age: float = 0,
    unschedulable: str | None = None,
    waiting: str | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": []}
    if unschedulable:
        status["conditions"].append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable}
        )
    if waiting:
        status["containerStatuses"] = [
            {"name": "runner", "image": "ghcr.io/actions/actions-runner:2.329.0", "imageID": "", "ready": False, "restartCount": 0,
             "state": {"waiting": {"reason": waiting, "message": f"Back-off pulling image: {waiting}"}}}
        ]  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": stamp(age)},
        "spec": {"containers": [{"name": "runner", "image": "ghcr.io/actions/actions-runner:2.329.0"}]},
        "status": status,
    }


LISTENER_HASH = "6cd58d58"
OWNER = "_owner"  # not an API field: the AutoscalingListener a listener pod belongs to


def autoscaling_listener(scale_set: str, values: str) -> dict[str, Any]:
    """The AutoscalingListener ARC makes for the scale set's values hash ``values``."""
    return {
        "apiVersion": "actions.github.com/v1alpha1",
        "kind": "AutoscalingListener",
        "metadata": {
            "name": f"{scale_set}-{LISTENER_HASH}-listener",
            "namespace": "arc-systems",
            "uid": hashlib.sha256(f"{scale_set}/{values}".encode()).hexdigest()[:32],
            "labels": {"actions.github.com/scale-set-name": scale_set,
                       "actions.github.com/scale-set-namespace": f"arc-{scale_set}"},
            "annotations": {"actions.github.com/values-hash": values},
        },
        "spec": {"autoscalingRunnerSetName": scale_set, "autoscalingRunnerSetNamespace": f"arc-{scale_set}"},
    }  # fmt: skip


def listener(
    scale_set: str,
    generation: int = 0,
    phase: str = "Running",
    exit_message: str = "",
    *,
    of: dict[str, Any] | None = None,
    restarts: int = 0,
) -> dict[str, Any]:
    """The listener pod as ARC names and labels it; ``generation`` counts recreations (new
    uid); ``of``: the scale set whose values its AutoscalingListener was made for."""
    labels = {
        "actions.github.com/scale-set-name": scale_set,
        "actions.github.com/scale-set-namespace": f"arc-{scale_set}",
        "app.kubernetes.io/component": "runner-scale-set-listener",
        "app.kubernetes.io/part-of": "gha-runner-scale-set",
    }
    found = pod(f"{scale_set}-{LISTENER_HASH}-listener", "arc-systems", phase=phase, labels=labels)
    found["metadata"]["uid"] = f"00000000-0000-4000-8000-{generation:012d}"
    values = str(((of or {}).get("metadata") or {}).get("annotations", {}).get("actions.github.com/values-hash", ""))
    owner = autoscaling_listener(scale_set, values)
    found["metadata"]["ownerReferences"] = [
        {"apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingListener", "controller": True,
         "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    ]  # fmt: skip
    found[OWNER] = owner  # the fake serves it with the pod (FakeKube._state)
    found["spec"]["restartPolicy"] = "Never"
    found["spec"]["containers"][0]["name"] = "listener"
    state: dict[str, Any] = {"running": {"startedAt": stamp()}}
    if phase == "Failed":
        state = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "message": exit_message,
                "startedAt": stamp(5),
                "finishedAt": stamp(),
            }
        }
    found["status"]["containerStatuses"] = [
        {"name": "listener", "image": "ghcr.io/actions/gha-runner-scale-set-controller:0.12.1", "imageID": "",
         "ready": phase == "Running", "restartCount": restarts, "state": state}
    ]  # fmt: skip
    return found


def event(
    namespace: str, kind: str, name: str, reason: str, message: str, *, source: str = "kubelet"
) -> dict[str, Any]:
    """A Warning Event as the API server lists it."""
    return {
        "metadata": {"name": f"{name}.{abs(hash(message)) % 10**8:x}", "namespace": namespace},
        "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 3,
        "source": {"component": source},
        "firstTimestamp": stamp(60),
        "lastTimestamp": stamp(),
    }


def runner(scale_set: str, namespace: str, number: int, phase: str = "Running", **extra: Any) -> dict[str, Any]:
    """A runner pod with ARC's labels (resourcebuilder.go: newEphemeralRunner sets the
    component, newEphemeralRunnerPod ``actions-ephemeral-runner``)."""
    labels = {"app.kubernetes.io/component": "runner", "actions-ephemeral-runner": "True",
              "actions.github.com/scale-set-name": scale_set}  # fmt: skip
    return pod(f"{scale_set}-runner-{number}", namespace, phase=phase, labels=labels, **extra)


# The kinds the fake stores, and how the API names them in a list.
LIST_KINDS = {"applications": "ApplicationList", "runner_sets": "AutoscalingRunnerSetList", "pods": "PodList",
              "events": "EventList", "autoscaling_listeners": "AutoscalingListenerList"}  # fmt: skip


PAGES_KEPT = 1024  # continue tokens the fake answers (older ones: 410 Expired, as after compaction)


@dataclass
class FakeKube:
    """Serves a scenario; ``requests`` records (time, path) of every request.

    With a scenario the cluster moves on a clock: every ``tick`` seconds a new *look*
    begins and the scenario says what the cluster shows then. Lists and watches are
    served as the API server serves them: a list carries its resourceVersion, a watch
    from it streams ADDED/MODIFIED/DELETED events (and BOOKMARKs) until its
    ``timeoutSeconds``, and a watch from a version older than the history kept
    (:meth:`compact`) gets an ERROR event with 410 Gone."""

    scenario: Scenario | None = None
    unavailable: bool = False
    requests: list[tuple[float, str]] = field(default_factory=list)
    looks: int = 0
    tick: float = 0.05
    delay: float = 0.0  # seconds each request takes (benchmarks: a real API server's latency)
    # Without a scenario: scale sets as stored objects, which PATCH (merge patch) changes.
    runner_sets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    writes: list[tuple[str, str, str, Any]] = field(default_factory=list)  # method, path, content type, body
    fail_patches: int = 0
    # Who may do what (tests/support/kube_rbac.py): None lets every request through.
    rbac: Any = None
    allow_forbidden: bool = False  # a test that makes RBAC refuse on purpose

    def __post_init__(self) -> None:
        self.version = 1
        self.stored: dict[str, dict[tuple[str, str], dict[str, Any]]] = {kind: {} for kind in LIST_KINDS}
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []  # version, kind, type, object
        self.oldest = 0  # watches from a version before this are answered 410 Gone
        self.watches = 0
        self.lists = 0
        self.forbidden: list[str] = []  # requests RBAC refused (method and path)
        # continue token → the list's snapshot, where the page starts, its resourceVersion
        self._pages: dict[str, tuple[list[dict[str, Any]], int, int]] = {}
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self.closing = False
        self._ticker = threading.Thread(target=self._advance, daemon=True)
        self._ticker.start()
        self.app = self._authorised(
            Starlette(
                routes=[
                    Route("/apis/argoproj.io/v1alpha1/namespaces/{namespace}/applications/{name}", self._application),
                    Route("/apis/argoproj.io/v1alpha1/namespaces/{namespace}/applications", self._list("applications")),
                    Route(
                        "/apis/actions.github.com/v1alpha1/namespaces/{namespace}/autoscalingrunnersets/{name}",
                        self._runner_set,
                        methods=["GET", "PATCH", "PUT", "POST", "DELETE"],
                    ),
                    Route("/apis/actions.github.com/v1alpha1/autoscalingrunnersets", self._list("runner_sets")),
                    Route(
                        "/apis/actions.github.com/v1alpha1/namespaces/{namespace}/autoscalinglisteners",
                        self._list("autoscaling_listeners"),
                    ),
                    Route("/api/v1/namespaces/{namespace}/pods", self._list("pods")),
                    Route("/api/v1/pods", self._list("pods")),
                    Route("/api/v1/namespaces/{namespace}/events", self._list("events")),
                    Route("/api/v1/events", self._list("events")),
                ]
            )
        )

    def _authorised(self, app: Any) -> Any:
        """``app`` behind the API server's authorisation: 403 for what RBAC does not grant."""

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and self.rbac is not None:
                query = dict(parse_qsl(scope.get("query_string", b"").decode()))
                refused = self.rbac.check(scope["method"], scope["path"], query.get("watch") in ("true", "1"))
                if refused is not None:
                    self.forbidden.append(f"{scope['method']} {scope['path']}")
                    await JSONResponse(refused, status_code=403)(scope, receive, send)
                    return
            await app(scope, receive, send)

        return asgi

    # --- the cluster moving on a clock ------------------------------------------------

    def _state(self) -> dict[str, list[dict[str, Any]]]:
        """What the cluster holds now, by kind."""
        if self.scenario is None:
            return {"runner_sets": list(self.runner_sets.values())}
        state = self.scenario(max(self.looks - 1, 0))
        listeners = [{k: v for k, v in p.items() if k != OWNER} for p in state.get("listeners", [])]
        owners = {_key(p[OWNER]): p[OWNER] for p in state.get("listeners", []) if OWNER in p}
        for found in state.get("autoscaling_listeners", []):
            owners[_key(found)] = found
        return {
            "applications": state.get("applications") or ([state["application"]] if state.get("application") else []),
            "runner_sets": state.get("runner_sets") or ([state["runner_set"]] if state.get("runner_set") else []),
            "pods": listeners + state.get("runners", []),
            "events": state.get("events", []),
            "autoscaling_listeners": list(owners.values()),
        }

    def sync(self) -> None:
        """Store what the cluster holds now, recording a watch event for each change."""
        with self._lock:
            now = self._state()
            for kind in LIST_KINDS:
                wanted = {_key(o): o for o in now.get(kind, [])}
                for key, obj in wanted.items():
                    old = self.stored[kind].get(key)
                    if old is None or _without_version(old) != _without_version(obj):
                        self._record(kind, "ADDED" if old is None else "MODIFIED", key, obj)
                for key in [k for k in self.stored[kind] if k not in wanted]:
                    self._record(kind, "DELETED", key, self.stored[kind][key])

    def _record(self, kind: str, change: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
        self.version += 1
        copy = json.loads(json.dumps(obj))
        copy.setdefault("metadata", {})["resourceVersion"] = str(self.version)
        old = (self.stored[kind].get(key) or {}).get("metadata") or {}
        if change == "MODIFIED" and old.get("uid") == copy["metadata"].get("uid") and "creationTimestamp" in old:
            # The API server sets creationTimestamp when it creates an object; an update keeps it.
            copy["metadata"]["creationTimestamp"] = old["creationTimestamp"]
        if change == "DELETED":
            del self.stored[kind][key]
        else:
            self.stored[kind][key] = copy
        self.history.append((self.version, kind, change, copy))

    def compact(self) -> None:
        """Forget the watch history, as etcd compaction does: older watches get 410 Gone."""
        with self._lock:
            self.history.clear()
            self._pages.clear()
            self.oldest = self.version + 1

    def _advance(self) -> None:
        while not self.closing:
            if self.scenario is not None:
                self.looks += 1
            self.sync()
            time.sleep(self.tick)

    def _started(self, request: Request) -> bool:
        """Record the request; False when the cluster is down. A scenario starts its clock."""
        self.requests.append((time.monotonic(), request.url.path))
        if self.delay:
            time.sleep(self.delay)
        if self.unavailable:
            return False
        if self.scenario is None:
            self.sync()
        while self.scenario is not None and self.looks == 0:
            time.sleep(0.005)
        return True

    # --- lists and watches --------------------------------------------------------------

    def _list(self, kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            watching = request.query_params.get("watch") in ("true", "1")
            if watching:
                self.watches += 1
            else:
                self.lists += 1
            if not await asyncio.to_thread(self._started, request):
                return JSONResponse({"kind": "Status", "message": "service unavailable", "code": 503}, status_code=503)
            wanted = _matcher(request)
            if watching:
                return self._watch(kind, request, wanted)
            token = request.query_params.get("continue")
            limit = int(request.query_params.get("limit") or 0)
            with self._lock:
                if token:
                    # A continue token resumes the first page's snapshot at its resourceVersion, and
                    # stays valid until compaction (it encodes the version and the next key: a
                    # client may send it again), as the API server's do (apiserver storage/etcd3).
                    if token not in self._pages:
                        gone = {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410,
                                "message": "The provided continue parameter is too old"}  # fmt: skip
                        return JSONResponse(gone, status_code=410)
                    snapshot, start, version = self._pages[token]
                else:
                    snapshot = sorted((o for o in self.stored[kind].values() if wanted(o)), key=_key)
                    start, version = 0, self.version
                end = start + limit if limit else len(snapshot)
                items = snapshot[start:end]
                metadata: dict[str, Any] = {"resourceVersion": str(version)}
                if end < len(snapshot):
                    metadata["continue"] = f"{kind}-{version}-{next(self._tokens)}"
                    self._pages[metadata["continue"]] = (snapshot, end, version)
                    while len(self._pages) > PAGES_KEPT:  # etcd compacts every 5 minutes; a test runs longer
                        del self._pages[next(iter(self._pages))]
            body = {"apiVersion": "v1", "kind": LIST_KINDS[kind], "metadata": metadata, "items": items}
            return JSONResponse(body)

        return endpoint

    def _watch(self, kind: str, request: Request, wanted: Callable[[dict[str, Any]], bool]) -> Response:
        since = int(request.query_params.get("resourceVersion") or 0)
        until = time.monotonic() + float(request.query_params.get("timeoutSeconds") or 60)

        async def stream() -> AsyncIterator[bytes]:
            seen = since
            if since < self.oldest:
                gone = {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410,
                        "message": f"too old resource version: {since} ({self.oldest})"}  # fmt: skip
                yield (json.dumps({"type": "ERROR", "object": gone}) + "\n").encode()
                return
            while time.monotonic() < until and not self.closing and not self.unavailable:
                with self._lock:
                    fresh = [h for h in self.history if h[0] > seen]
                for version, found_kind, change, obj in fresh:
                    seen = version
                    if found_kind == kind and wanted(obj):
                        yield (json.dumps({"type": change, "object": obj}) + "\n").encode()
                await asyncio.sleep(0.01)

        return StreamingResponse(stream(), media_type="application/json")

    # --- single objects ---------------------------------------------------------------

    def _now(self, request: Request) -> dict[str, Any] | None:
        if not self._started(request) or self.scenario is None:
            return None
        return self.scenario(max(self.looks - 1, 0))

    def _one(self, kind: str, request: Request) -> JSONResponse:
        """One object of the scenario's cluster by namespace and name, as a GET answers."""
        with self._lock:
            found = self.stored[kind].get((request.path_params["namespace"], request.path_params["name"]))
        if found is not None:
            return JSONResponse(found)
        plural = "applications.argoproj.io" if kind == "applications" else "autoscalingrunnersets.actions.github.com"
        return self._not_found(plural, request.path_params["name"])

    @staticmethod
    def _not_found(kind: str, name: str) -> JSONResponse:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": f'{kind} "{name}" not found',
            "reason": "NotFound",
            "code": 404,
        }
        return JSONResponse(body, status_code=404)

    async def _application(self, request: Request) -> JSONResponse:
        state = await asyncio.to_thread(self._now, request)
        if state is None:
            return JSONResponse({"kind": "Status", "message": "service unavailable", "code": 503}, status_code=503)
        return self._one("applications", request)

    async def _runner_set(self, request: Request) -> JSONResponse:
        key = (request.path_params["namespace"], request.path_params["name"])
        if self.scenario is None and not self.unavailable:
            return await self._stored_runner_set(request, key)
        state = await asyncio.to_thread(self._now, request)
        if state is None:
            return JSONResponse({"kind": "Status", "code": 503}, status_code=503)
        return self._one("runner_sets", request)

    async def _stored_runner_set(self, request: Request, key: tuple[str, str]) -> JSONResponse:
        self.requests.append((time.monotonic(), request.url.path))
        found = self.runner_sets.get(key)
        if request.method != "GET":
            body = json.loads(await request.body())
            self.writes.append((request.method, request.url.path, request.headers.get("content-type", ""), body))
            if request.method != "PATCH" or found is None:
                return JSONResponse({"kind": "Status", "code": 405}, status_code=405)
            if self.fail_patches:
                self.fail_patches -= 1
                return JSONResponse(
                    {"kind": "Status", "message": "etcdserver: request timed out", "code": 500}, status_code=500
                )
            _merge(found, body)
            self.sync()
        if found is None:
            return self._not_found("autoscalingrunnersets.actions.github.com", key[1])
        return JSONResponse(found)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _without_version(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def _matcher(request: Request) -> Callable[[dict[str, Any]], bool]:
    """The request's namespace, label selector (k=v, comma-separated) and field selector
    (``type=Warning``), as one predicate."""
    namespace = request.path_params.get("namespace")
    labels = [part.partition("=") for part in request.query_params.get("labelSelector", "").split(",") if part]
    fields = [part.partition("=") for part in request.query_params.get("fieldSelector", "").split(",") if part]

    def wanted(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if namespace is not None and meta.get("namespace") != namespace:
            return False
        if any((meta.get("labels") or {}).get(k) != v for k, _, v in labels):
            return False
        return all(str(obj.get(k)) == v for k, _, v in fields)

    return wanted


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
