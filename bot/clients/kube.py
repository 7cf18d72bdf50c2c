"""The one module that talks to Kubernetes, with the official client.

It does exactly what the RBAC in charts/runners-bot grants: it lists and watches ArgoCD
Applications in ``ARGOCD_NAMESPACE``, ARC's AutoscalingListeners and listener pods (the
controller namespace), and across namespaces AutoscalingRunnerSets, ARC's runner pods
(by ARC's label) and Warning events; its one write is
``spec.minRunners``/``spec.maxRunners`` of an AutoscalingRunnerSet run by the clock
(schedules and bursts).

The whole fleet is read in a constant number of requests, whatever its size: one list
per kind (:meth:`Kube.fleet`), in pages of :data:`PAGE` (``limit``/``continue``) so no
answer is held whole. :class:`ClusterView` keeps those lists current with Kubernetes
watches (list, then watch from its resourceVersion; reconnect; a 410 Gone lists again),
one per kind for every reader, and wakes them when something changed. Only the fields
that are read are kept (:func:`slim`), in an index that each watch event updates in
place (:class:`Fleet`). The client is synchronous, so calls run in threads. A cluster
that cannot be reached raises :class:`KubeUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from bot.cluster.state import VALUES_HASH, ClusterState
from bot.runtime import errors

log = logging.getLogger(__name__)

LISTENER_SELECTOR = "actions.github.com/scale-set-name={}"
LISTENERS = "app.kubernetes.io/component=runner-scale-set-listener"
# ARC's own labels on a runner pod (resourcebuilder.go, newEphemeralRunner and
# newEphemeralRunnerPod): other tools' pods may say component=runner too.
RUNNER_SELECTOR = "app.kubernetes.io/component=runner,actions-ephemeral-runner=True"
WARNINGS = "type=Warning"
SET_NAME = "actions.github.com/scale-set-name"
SCALE_SET_ID = "runner-scale-set-id"  # ARC's annotation once GitHub has registered the set
PAGE = 500  # objects per list page
MESSAGE = 500  # characters of a cluster message kept (reports show 300)
_RAISE = object()  # _call: a 404 is a failure like any other
TIMEOUT = 10


class KubeUnavailable(errors.TemporaryError):
    """The Kubernetes API could not be reached or refused the call. Temporary: the API
    server comes back, and what it refuses runners-bot is mostly its own access (its
    chart's RBAC), which a sync restores; a delivery that needs the cluster waits."""


class NotDeployed(KubeUnavailable):
    """403 in a runner namespace: kube-apiserver answers it (not 404) until Argo CD has
    created the namespace and the RoleBinding that lets runners-bot read it. The set is
    not deployed yet; waiting is the answer, so it stays temporary."""


def api_client(host: str | None = None) -> client.ApiClient:
    """In-cluster configuration, else ``KUBECONFIG``; ``host`` for a plain URL (tests, proxies)."""
    if host is not None:
        configuration = client.Configuration()
        configuration.host = host
        return client.ApiClient(configuration)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
    else:
        config.load_kube_config()
    return client.ApiClient()


class Kube:
    """Reads the state of one scale set."""

    def __init__(
        self, api: client.ApiClient, argocd_namespace: str, controller_namespace: str, *, page: int = PAGE
    ) -> None:
        self.page = page
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.api = api
        self.argocd_namespace = argocd_namespace
        self.controller_namespace = controller_namespace
        custom, core = self.custom, self.core
        # The lists the fleet is read from, by kind: each takes the list/watch parameters.
        self._kinds: dict[str, Callable[..., Any]] = {
            "applications": lambda **kw: custom.list_namespaced_custom_object(
                "argoproj.io", "v1alpha1", argocd_namespace, "applications", **kw
            ),
            "runner_sets": lambda **kw: custom.list_cluster_custom_object(
                "actions.github.com", "v1alpha1", "autoscalingrunnersets", **kw
            ),
            "autoscaling_listeners": lambda **kw: custom.list_namespaced_custom_object(
                "actions.github.com", "v1alpha1", controller_namespace, "autoscalinglisteners", **kw
            ),
            "listeners": lambda **kw: core.list_namespaced_pod(controller_namespace, label_selector=LISTENERS, **kw),
            "runners": lambda **kw: core.list_pod_for_all_namespaces(label_selector=RUNNER_SELECTOR, **kw),
            "events": lambda **kw: core.list_event_for_all_namespaces(field_selector=WARNINGS, **kw),
        }

    def _call(self, what: str, call: Callable[[], Any], *, missing: Any = _RAISE) -> Any:
        """``call()``, with the API's failures as :class:`KubeUnavailable` (404: ``missing``, if given)."""
        try:
            return call()
        except ApiException as exc:
            if exc.status == 404 and missing is not _RAISE:
                return missing
            if exc.status == 403:
                raise NotDeployed(
                    f"{what}: not readable yet (403: its namespace and RoleBinding come with the set)"
                ) from exc
            raise KubeUnavailable(f"{what}: {exc.status} {exc.reason}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"the Kubernetes API cannot be reached: {type(exc).__name__}") from exc

    def _get(self, group: str, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        found = self._call(
            f"{plural}/{name}",
            lambda: self.custom.get_namespaced_custom_object(
                group, "v1alpha1", namespace, plural, name, _request_timeout=TIMEOUT
            ),
            missing=None,
        )
        return found if isinstance(found, dict) else None

    def _list(
        self, what: str, namespace: str, label_selector: str | None = None, field_selector: str | None = None
    ) -> list[dict[str, Any]]:
        calls: dict[str, Callable[..., Any]] = {
            "pods": self.core.list_namespaced_pod,
            "events": self.core.list_namespaced_event,
            "autoscalinglisteners": lambda namespace, **kw: self.custom.list_namespaced_custom_object(
                "actions.github.com", "v1alpha1", namespace, "autoscalinglisteners", **kw
            ),
        }
        selectors = {"label_selector": label_selector, "field_selector": field_selector}
        found = self._call(
            f"{what} in {namespace}",
            lambda: calls[what](
                namespace,
                **{k: v for k, v in selectors.items() if v},
                _preload_content=False,
                _request_timeout=TIMEOUT,
            ),
            missing=None,
        )
        items: list[dict[str, Any]] = json.loads(found.data).get("items") or [] if found is not None else []
        return items

    def read(self, scale_set: str, namespace: str) -> ClusterState:
        """Seven requests: Application, AutoscalingRunnerSet, AutoscalingListeners, listener
        pods, runner pods, and Warning events in the runner namespace and (of this set's
        objects) the controller's."""
        application = self._get("argoproj.io", self.argocd_namespace, "applications", scale_set)
        runner_set = self._get("actions.github.com", namespace, "autoscalingrunnersets", scale_set)
        of_set = LISTENER_SELECTOR.format(scale_set)
        objects = {
            "applications": [application] if application else [],
            "runner_sets": [runner_set] if runner_set else [],
            "autoscaling_listeners": self._list("autoscalinglisteners", self.controller_namespace, of_set),
            "listeners": self._list("pods", self.controller_namespace, label_selector=of_set),
            "runners": self._list("pods", namespace, label_selector=RUNNER_SELECTOR),
            "events": self._list("events", namespace, field_selector=WARNINGS)
            + self._list("events", self.controller_namespace, field_selector=WARNINGS),
        }
        # One reading of the objects for one set and for the whole fleet: Fleet's.
        return Fleet(self.controller_namespace, objects, kept=False).of(scale_set, namespace)

    # --- the whole fleet, one list per kind ----------------------------------------------

    def kinds(self) -> dict[str, Callable[..., Any]]:
        """The lists the fleet is read from, by kind: each takes the list/watch parameters."""
        return self._kinds

    def list_kind(self, kind: str) -> tuple[list[dict[str, Any]], str]:
        """Every object of ``kind``, kept slim (:func:`slim`), and the list's resourceVersion:
        page by page, so only one page of whole objects is held at a time."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            extra = {"_continue": token} if token else {}
            response = self._call(
                f"listing {kind}",
                functools.partial(
                    self.kinds()[kind], limit=self.page, _preload_content=False, _request_timeout=TIMEOUT, **extra
                ),
            )
            data = json.loads(response.data)
            items.extend(slim(kind, i) for i in data.get("items") or [])
            meta = data.get("metadata") or {}
            token = meta.get("continue")
            if not token:  # every page carries the first page's resourceVersion
                return items, str(meta.get("resourceVersion") or "")

    def fleet(self) -> Fleet:
        """The whole fleet in one list per kind (a page per :data:`PAGE` objects), however
        many scale sets it has."""
        return Fleet(self.controller_namespace, {kind: self.list_kind(kind)[0] for kind in self.kinds()})

    async def afleet(self) -> Fleet:
        return await asyncio.to_thread(self.fleet)

    async def aread(self, scale_set: str, namespace: str) -> ClusterState:
        return await asyncio.to_thread(self.read, scale_set, namespace)

    async def application(self, name: str) -> dict[str, Any] | None:
        """The Application ``name`` in ``ARGOCD_NAMESPACE``, or None when there is none."""
        return await asyncio.to_thread(self._get, "argoproj.io", self.argocd_namespace, "applications", name)

    async def runner_set(self, scale_set: str, namespace: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._get, "actions.github.com", namespace, "autoscalingrunnersets", scale_set)

    def _set_runners(self, scale_set: str, namespace: str, low: int, high: int) -> None:
        body = {"spec": {"minRunners": low, "maxRunners": high}}  # a merge patch of these two fields only
        self._call(
            f"autoscalingrunnersets/{scale_set}",
            lambda: self.custom.patch_namespaced_custom_object(
                "actions.github.com",
                "v1alpha1",
                namespace,
                "autoscalingrunnersets",
                scale_set,
                body,
                _request_timeout=TIMEOUT,
            ),
        )

    async def set_runners(self, scale_set: str, namespace: str, low: int, high: int) -> None:
        """Set ``spec.minRunners``/``spec.maxRunners`` of one scale set, and nothing else."""
        await asyncio.to_thread(self._set_runners, scale_set, namespace, low, high)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _listener_set(name: str) -> str:
    """The scale set of a listener's object name, ``<set>-<8 hex>-listener``."""
    return name.rsplit("-", 2)[0] if name.endswith("-listener") else name


# --- only the fields the report, the dashboard and /runners status read ------------------
# A whole pod is ~20 KB of Python objects (managedFields, spec, annotations of others'
# tools); what is read of it is a few hundred bytes. Names and phases repeat across the
# fleet and are interned; so do whole statuses (most runner pods are just "Running"),
# which readers only read.

SHARED_MAX = 10_000  # distinct statuses kept for sharing; past it the table starts anew
_SHARED: dict[str, Any] = {}


def _shared(value: dict[str, Any]) -> dict[str, Any]:
    """One object for equal ``value``s across the fleet. Never mutate what it returns."""
    key = repr(value)
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= SHARED_MAX:
            _SHARED.clear()  # statuses of a past moment; those held stay shared as they are
        found = _SHARED.setdefault(key, value)  # atomic: watch threads slim concurrently
    return found  # type: ignore[no-any-return]


def _text(value: Any, keep: int = MESSAGE) -> str:
    """Cluster text cut to what a report shows (the end of it: an exit's last line matters)."""
    text = str(value or "")
    return text if len(text) <= keep else text[-keep:]


def _meta(obj: dict[str, Any], *extra: str) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {k: sys.intern(str(meta[k])) for k in ("name", "namespace", *extra) if meta.get(k)}


def _some(found: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: found[k] for k in keys if isinstance(found, dict) and found.get(k) is not None}


def _application(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status") or {}
    kept = {
        "sync": _some(status.get("sync"), ("status", "revision")),
        "health": _some(status.get("health"), ("status", "message")),
    }
    operation = status.get("operationState")
    if isinstance(operation, dict):
        kept["operationState"] = {"phase": operation.get("phase"), "message": _text(operation.get("message"))}
    return {"metadata": _meta(obj), "status": _shared(kept)}


def _runner_set(obj: dict[str, Any]) -> dict[str, Any]:
    meta = _meta(obj)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    meta["annotations"] = {k: annotations[k] for k in (VALUES_HASH, SCALE_SET_ID) if k in annotations}
    kept = {"metadata": meta, "spec": _shared(_some(obj.get("spec"), ("minRunners", "maxRunners")))}
    if isinstance(obj.get("status"), dict):
        kept["status"] = _shared(obj["status"])  # ARC's counts: a handful of integers
    return kept


def _autoscaling_listener(obj: dict[str, Any]) -> dict[str, Any]:
    meta = _meta(obj, "uid")
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    meta["annotations"] = {k: annotations[k] for k in (VALUES_HASH,) if k in annotations}
    spec = _some(obj.get("spec"), ("autoscalingRunnerSetName", "autoscalingRunnerSetNamespace"))
    return {"metadata": meta, "spec": spec}


def _terminated(found: Any) -> dict[str, Any]:
    kept = _some(found, ("reason", "exitCode"))
    kept["message"] = _text(found.get("message"))
    return kept


def _waiting(found: dict[str, Any]) -> dict[str, Any]:
    return {"reason": sys.intern(str(found.get("reason") or "")), "message": _text(found.get("message"))}


def _unscheduled(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "PodScheduled", "status": "False", "reason": c.get("reason"), "message": _text(c.get("message"))}
        for c in status.get("conditions") or []
        if isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("status") == "False"
    ]


def _container(status: dict[str, Any]) -> dict[str, Any]:
    state = status.get("state") or {}
    kept_state: dict[str, Any] = {}
    if isinstance(state.get("running"), dict):
        kept_state["running"] = _some(state["running"], ("startedAt",))
    if isinstance(state.get("waiting"), dict):
        kept_state["waiting"] = _waiting(state["waiting"])
    if isinstance(state.get("terminated"), dict):
        kept_state["terminated"] = _terminated(state["terminated"])
    kept = {
        "ready": bool(status.get("ready")),
        "restartCount": int(status.get("restartCount") or 0),
        "state": kept_state,
    }
    last = (status.get("lastState") or {}).get("terminated")
    if isinstance(last, dict):
        kept["lastState"] = {"terminated": _terminated(last)}
    return kept


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    meta = _meta(obj, "uid", "creationTimestamp")
    source = obj.get("metadata") or {}
    labels = source.get("labels") or {}
    if SET_NAME in labels:
        meta["labels"] = {SET_NAME: sys.intern(str(labels[SET_NAME]))}
    owners = [{"uid": str(ref.get("uid"))} for ref in source.get("ownerReferences") or [] if isinstance(ref, dict)]
    if owners:
        meta["ownerReferences"] = owners
    status = obj.get("status") or {}
    kept: dict[str, Any] = {"phase": sys.intern(str(status.get("phase") or ""))}
    unscheduled = _unscheduled(status)
    if unscheduled:
        kept["conditions"] = unscheduled
    containers = [_container(c) for c in status.get("containerStatuses") or [] if isinstance(c, dict)]
    if containers:
        kept["containerStatuses"] = containers
    return {"metadata": meta, "status": _shared(kept)}


def _runner_pod(obj: dict[str, Any]) -> dict[str, Any]:
    """A runner pod, 5 a set and more: what the runners check, the dashboard and why jobs
    wait read (rollout._runners, _pending_reason, age): its phase, when a Pending one was
    created, and why it cannot start (unscheduled, a container waiting). Not its uid,
    owners or restarts, read only of listener pods."""
    meta = _meta(obj)
    status = obj.get("status") or {}
    phase = sys.intern(str(status.get("phase") or ""))
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if phase == "Pending" and created:
        meta["creationTimestamp"] = sys.intern(str(created))
    kept: dict[str, Any] = {"phase": phase}
    unscheduled = _unscheduled(status)
    if unscheduled:
        kept["conditions"] = unscheduled
    waiting = [
        {"state": {"waiting": _waiting(c["state"]["waiting"])}}
        for c in status.get("containerStatuses") or []
        if isinstance(c, dict) and isinstance((c.get("state") or {}).get("waiting"), dict)
    ]
    if waiting:
        kept["containerStatuses"] = waiting
    return {"metadata": meta, "status": _shared(kept)}


def _event(obj: dict[str, Any]) -> dict[str, Any]:
    involved = obj.get("involvedObject") or {}
    return {
        "metadata": _meta(obj),
        "involvedObject": {k: sys.intern(str(involved.get(k) or "")) for k in ("kind", "name")},
        "reason": sys.intern(str(obj.get("reason") or "")),
        "message": _text(obj.get("message")),
        "lastTimestamp": obj.get("lastTimestamp") or (obj.get("metadata") or {}).get("creationTimestamp"),
    }


SLIM: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "applications": _application,
    "runner_sets": _runner_set,
    "autoscaling_listeners": _autoscaling_listener,
    "listeners": _pod,
    "runners": _runner_pod,
    "events": _event,
}


def slim(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``obj`` that are read, shaped as the API serves them."""
    return SLIM[kind](obj)


Bucket = dict[tuple[str, str], dict[str, Any]]


class Fleet:
    """One view of the fleet's objects (kept slim, :func:`slim`), indexed so that a scale
    set's :class:`ClusterState` costs no request and no scan of the whole fleet, and one
    watch event costs one index update (:meth:`put`, :meth:`drop`), not a rebuild.
    Thread-safe: the watch threads update it while the event loop reads it."""

    def __init__(
        self, controller_namespace: str, objects: dict[str, list[dict[str, Any]]] | None = None, *, kept: bool = True
    ) -> None:
        """``objects`` by kind; ``kept``: already slim (as :meth:`Kube.list_kind` returns them)."""
        self.controller_namespace = controller_namespace
        self._lock = threading.Lock()
        # kind → bucket (scale set or namespace) → object key → object
        self._index: dict[str, dict[str, Bucket]] = {kind: {} for kind in SLIM}
        self._where: dict[str, dict[tuple[str, str], str]] = {kind: {} for kind in SLIM}
        for kind, items in (objects or {}).items():
            self.replace(kind, items, kept=kept)

    def _bucket(self, kind: str, obj: dict[str, Any]) -> str:
        namespace, name = _key(obj)
        if kind in ("applications", "runner_sets"):
            return f"{namespace}/{name}" if kind == "runner_sets" else name
        if kind == "listeners":
            return str(((obj.get("metadata") or {}).get("labels") or {}).get(SET_NAME, ""))
        if kind == "autoscaling_listeners":
            return str((obj.get("spec") or {}).get("autoscalingRunnerSetName") or _listener_set(name))
        if kind == "events" and namespace == self.controller_namespace:
            return "@" + _listener_set(str((obj.get("involvedObject") or {}).get("name", "")))
        return namespace  # runner pods, events: by namespace

    def _put(self, kind: str, obj: dict[str, Any]) -> None:
        key = _key(obj)
        self._drop(kind, key)
        bucket = self._bucket(kind, obj)
        self._index[kind].setdefault(bucket, {})[key] = obj
        self._where[kind][key] = bucket

    def _drop(self, kind: str, key: tuple[str, str]) -> None:
        bucket = self._where[kind].pop(key, None)
        if bucket is not None:
            found = self._index[kind].get(bucket, {})
            found.pop(key, None)
            if not found:
                self._index[kind].pop(bucket, None)

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        """Add or update one object (as the API serves it; kept slim)."""
        kept = slim(kind, obj)
        with self._lock:
            self._put(kind, kept)

    def drop(self, kind: str, obj: dict[str, Any]) -> None:
        with self._lock:
            self._drop(kind, _key(obj))

    def replace(self, kind: str, items: list[dict[str, Any]], *, kept: bool = True) -> None:
        """Every object of ``kind`` anew (a list after a watch could not resume)."""
        objects = items if kept else [slim(kind, i) for i in items]
        with self._lock:
            self._index[kind], self._where[kind] = {}, {}
            for obj in objects:
                self._put(kind, obj)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind`` in the view, slim."""
        with self._lock:
            return [obj for bucket in self._index[kind].values() for obj in bucket.values()]

    def _one(self, kind: str, bucket: str) -> dict[str, Any] | None:
        return next(iter(self._index[kind].get(bucket, {}).values()), None)

    def _all(self, kind: str, bucket: str) -> list[dict[str, Any]]:
        return list(self._index[kind].get(bucket, {}).values())

    def of(self, scale_set: str, namespace: str) -> ClusterState:
        """What this view shows of one scale set (as :meth:`Kube.read` would)."""
        with self._lock:
            return ClusterState(
                self._one("applications", scale_set),
                self._one("runner_sets", f"{namespace}/{scale_set}"),
                self._all("listeners", scale_set),
                self._all("runners", namespace),
                self._all("events", namespace) + self._all("events", "@" + scale_set),
                self._all("autoscaling_listeners", scale_set),
            )


class ClusterView:
    """The fleet's objects kept current by one Kubernetes watch per kind.

    Each kind is listed, then watched from the list's resourceVersion; a watch that ends
    (the server's timeout, a dropped connection) resumes from the last version seen, and
    one the server no longer can resume (410 Gone, or an ERROR event) lists again. Every
    change bumps :attr:`version` and wakes :meth:`changed`'s waiters. Threads, as the
    client is synchronous; :meth:`stop` ends them. The view is one :class:`Fleet`, updated
    per event: readers share it, and no change rebuilds it."""

    def __init__(self, kube: Kube, *, watch_seconds: int = 240, retry_seconds: float = 1.0) -> None:
        self.kube = kube
        self.watch_seconds = watch_seconds
        self.retry_seconds = retry_seconds
        self.version = 0
        self._problems: dict[str, str] = {}
        self._fleet = Fleet(kube.controller_namespace)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._listed: set[str] = set()
        self._responses: dict[str, Any] = {}

    @property
    def problem(self) -> str | None:
        """Why the view may be stale (the first kind, in order, that cannot be read), or None."""
        return next((self._problems[k] for k in self.kube.kinds() if k in self._problems), None)

    @property
    def ready(self) -> bool:
        """Every kind was listed at least once (the view is whole)."""
        return len(self._listed) == len(self.kube.kinds())

    def start(self) -> None:
        if self._threads:
            return
        self._stopped.clear()
        for kind in self.kube.kinds():
            thread = threading.Thread(target=self._run, args=(kind,), name=f"watch-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopped.set()
        for response in list(self._responses.values()):
            # Shutting the socket down wakes a thread blocked reading it (closing the
            # response from here would wait for that very thread).
            sock = getattr(getattr(response, "connection", None), "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._listed.clear()

    def fleet(self) -> Fleet:
        """The view as it is now (kept current by the watches, shared by every reader)."""
        return self._fleet

    async def changed(self, since: int, timeout: float) -> int:
        """Wait until :attr:`version` passes ``since`` or ``timeout`` seconds pass; the version."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if self.version != since:
                return self.version
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)
        return self.version

    def _bump(self) -> None:
        with self._lock:
            self.version += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)

    def _run(self, kind: str) -> None:
        while not self._stopped.is_set():
            try:
                items, version = self.kube.list_kind(kind)
                self._fleet.replace(kind, items)
                with self._lock:
                    self._listed.add(kind)
                self._problems.pop(kind, None)
                self._bump()
                while version and not self._stopped.is_set():
                    version = self._watch(kind, version)
            except KubeUnavailable as exc:
                self._problems[kind] = str(exc)
                log.warning("watching %s: %s", kind, exc)
                self._bump()
            self._stopped.wait(self.retry_seconds)

    def _watch(self, kind: str, version: str) -> str:
        """One watch request from ``version``: the version to resume from, or "" to list again."""
        try:
            response = self.kube.kinds()[kind](
                watch=True,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_seconds,
                _preload_content=False,
                _request_timeout=(TIMEOUT, self.watch_seconds + TIMEOUT),
            )
        except ApiException as exc:
            if exc.status == 410:
                return ""
            raise KubeUnavailable(f"watching {kind}: {exc.status} {exc.reason}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"the Kubernetes API cannot be reached: {type(exc).__name__}") from exc
        self._responses[kind] = response
        try:
            for line in iter_resp_lines(response):
                if self._stopped.is_set():
                    break
                version = self._apply(kind, json.loads(line)) if line else version
                if not version:
                    return ""
        except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
            # AttributeError: urllib3's read of a response :meth:`stop` closed meanwhile
            log.info("watch of %s ended: %s", kind, type(exc).__name__)
        finally:
            self._responses.pop(kind, None)
            response.release_conn()
        return version

    def _apply(self, kind: str, event: dict[str, Any]) -> str:
        """Apply one watch event; the resourceVersion to resume from ("" to list again)."""
        kind_of, obj = event.get("type"), event.get("object") or {}
        if kind_of == "ERROR":
            return ""  # 410 Gone (the version is too old) or another failure: list again
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind_of == "BOOKMARK":
            return version
        if kind_of == "DELETED":
            self._fleet.drop(kind, obj)
        else:
            self._fleet.put(kind, obj)
        self._bump()
        return version
