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
that are read are kept, as one small tuple per object (:func:`keep`), in an index that
each watch event updates in place (:class:`Fleet`). The client is synchronous, so calls run in threads. A cluster
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
from typing import Any, NamedTuple, TypeAlias

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


class ListingStopped(errors.TemporaryError):
    """A list given up between two pages because its reader is stopping: nothing failed,
    and the list is made again whenever the reader starts again."""


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

    def list_kind(self, kind: str, stopping: Callable[[], bool] = lambda: False) -> tuple[list[Kept], str]:
        """What is read of every object of ``kind`` (:func:`keep`), and the list's
        resourceVersion: page by page, so only one page of whole objects is held at a time.
        ``stopping`` is asked before each page: a fleet of 50,000 sets is hundreds of pages,
        which a stopping server must not wait for (:class:`ListingStopped`)."""
        items: list[Kept] = []
        token: str | None = None
        while True:
            if stopping():
                raise ListingStopped(kind)
            extra = {"_continue": token} if token else {}
            response = self._call(
                f"listing {kind}",
                functools.partial(
                    self.kinds()[kind], limit=self.page, _preload_content=False, _request_timeout=TIMEOUT, **extra
                ),
            )
            data = json.loads(response.data)
            items.extend(keep(kind, i) for i in data.get("items") or [])
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
# tools); what is read of it is a few hundred bytes. The view holds each object as one
# small tuple (a record per kind below) and hands readers the API's shape, built per look
# (:meth:`Fleet.of`): a dict costs 184 bytes before its first key, and 50,000 sets with 5
# runner pods each are 500,000 objects. Strings that repeat across the fleet (namespaces,
# set names, phases, reasons, values hashes, messages) are interned, and so are whole
# statuses (most runner pods are just "Running"), which readers only read.

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
    return sys.intern(text if len(text) <= keep else text[-keep:])


def _word(value: Any) -> str | None:
    """A value read as text, held once across the fleet (interned strings are freed with
    their last holder); None when absent."""
    return None if value is None else sys.intern(str(value))


def _some(found: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: found[k] for k in keys if isinstance(found, dict) and found.get(k) is not None}


def _meta(name: str, namespace: str) -> dict[str, Any]:
    """``metadata`` as the API serves it: name and namespace, when they have a value (a
    dict literal: a look builds ten of these a set, 50,000 sets per dashboard update)."""
    if name and namespace:
        return {"name": name, "namespace": namespace}
    return {k: v for k, v in (("name", name), ("namespace", namespace)) if v}


def _named(obj: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Name, namespace (interned) and the whole metadata of ``obj``."""
    meta = obj.get("metadata") or {}
    return sys.intern(str(meta.get("name") or "")), sys.intern(str(meta.get("namespace") or "")), meta


class _Application(NamedTuple):
    """An Argo CD Application: its sync, health and last operation, as the synced and
    healthy checks read them."""

    name: str
    namespace: str
    status: dict[str, Any]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> _Application:
        status = obj.get("status") or {}
        kept = {
            "sync": _some(status.get("sync"), ("status", "revision")),
            "health": _some(status.get("health"), ("status", "message")),
        }
        operation = status.get("operationState")
        if isinstance(operation, dict):
            kept["operationState"] = {"phase": operation.get("phase"), "message": _text(operation.get("message"))}
        name, namespace, _ = _named(obj)
        return cls(name, namespace, _shared(kept))

    def api(self) -> dict[str, Any]:
        return {"metadata": _meta(self.name, self.namespace), "status": self.status}


class _RunnerSet(NamedTuple):
    """An AutoscalingRunnerSet: its min/max, ARC's counts and the annotations read."""

    name: str
    namespace: str
    values_hash: str | None  # the chart's annotation, which ARC copies onto the AutoscalingListener
    set_id: str | None  # ARC's, once GitHub registered the set
    spec: dict[str, Any]
    status: dict[str, Any] | None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> _RunnerSet:
        name, namespace, meta = _named(obj)
        annotations = meta.get("annotations") or {}
        status = obj.get("status")
        return cls(
            name,
            namespace,
            _word(annotations.get(VALUES_HASH)),
            _word(annotations.get(SCALE_SET_ID)),
            _shared(_some(obj.get("spec"), ("minRunners", "maxRunners"))),
            _shared(status) if isinstance(status, dict) else None,  # ARC's counts: a handful of integers
        )

    def api(self) -> dict[str, Any]:
        meta = _meta(self.name, self.namespace)
        meta["annotations"] = annotations = {}
        if self.values_hash is not None:
            annotations[VALUES_HASH] = self.values_hash
        if self.set_id is not None:
            annotations[SCALE_SET_ID] = self.set_id
        kept = {"metadata": meta, "spec": self.spec}
        if self.status is not None:
            kept["status"] = self.status
        return kept


class _AutoscalingListener(NamedTuple):
    """An AutoscalingListener: which scale set and values it was made for, and its uid
    (its pod names it as owner)."""

    name: str
    namespace: str
    uid: str | None
    values_hash: str | None
    set_name: str | None
    set_namespace: str | None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> _AutoscalingListener:
        name, namespace, meta = _named(obj)
        spec = obj.get("spec") or {}
        return cls(
            name,
            namespace,
            _word(meta.get("uid")),
            _word((meta.get("annotations") or {}).get(VALUES_HASH)),
            _word(spec.get("autoscalingRunnerSetName")),
            _word(spec.get("autoscalingRunnerSetNamespace")),
        )

    def bucket(self, controller_namespace: str) -> str:
        return self.set_name or _listener_set(self.name)

    def api(self) -> dict[str, Any]:
        meta = _meta(self.name, self.namespace)
        if self.uid:
            meta["uid"] = self.uid
        meta["annotations"] = {VALUES_HASH: self.values_hash} if self.values_hash is not None else {}
        spec = {}
        if self.set_name is not None:
            spec["autoscalingRunnerSetName"] = self.set_name
        if self.set_namespace is not None:
            spec["autoscalingRunnerSetNamespace"] = self.set_namespace
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


class _ListenerPod(NamedTuple):
    """A listener pod: its phase, containers (restarts, how they ended), uid and owners
    (which AutoscalingListener made it), as the listener check reads them."""

    name: str
    namespace: str
    uid: str | None
    created: str | None
    set_name: str | None  # ARC's label: the scale set it listens for
    owners: tuple[str, ...]  # the uids of its ownerReferences
    status: dict[str, Any]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> _ListenerPod:
        name, namespace, meta = _named(obj)
        # Interned: the owner's uid is its AutoscalingListener's, held once for both.
        owners = tuple(
            sys.intern(str(ref.get("uid"))) for ref in meta.get("ownerReferences") or [] if isinstance(ref, dict)
        )
        status = obj.get("status") or {}
        kept: dict[str, Any] = {"phase": sys.intern(str(status.get("phase") or ""))}
        unscheduled = _unscheduled(status)
        if unscheduled:
            kept["conditions"] = unscheduled
        containers = [_container(c) for c in status.get("containerStatuses") or [] if isinstance(c, dict)]
        if containers:
            kept["containerStatuses"] = containers
        created = meta.get("creationTimestamp")
        return cls(
            name,
            namespace,
            _word(meta.get("uid")),
            _word(created) if created else None,
            _word((meta.get("labels") or {}).get(SET_NAME)),
            owners,
            _shared(kept),
        )

    def bucket(self, controller_namespace: str) -> str:
        return self.set_name or ""

    def api(self) -> dict[str, Any]:
        meta = _meta(self.name, self.namespace)
        if self.uid:
            meta["uid"] = self.uid
        if self.created:
            meta["creationTimestamp"] = self.created
        if self.set_name is not None:
            meta["labels"] = {SET_NAME: self.set_name}
        if self.owners:
            meta["ownerReferences"] = [{"uid": uid} for uid in self.owners]
        return {"metadata": meta, "status": self.status}


class _RunnerPod(NamedTuple):
    """A runner pod, 5 a set and more: what the runners check, the dashboard and why jobs
    wait read (rollout._runners, _pending_reason, age): its phase, when a Pending one was
    created, and why it cannot start (unscheduled, a container waiting). Not its uid,
    owners or restarts, read only of listener pods."""

    name: str
    namespace: str
    created: str | None  # of a Pending pod only
    status: dict[str, Any]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> _RunnerPod:
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        phase = sys.intern(str(status.get("phase") or ""))
        created = meta.get("creationTimestamp") if phase == "Pending" else None
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
        # The name is the pod's own (not interned: one holder, and an interned string costs a table entry).
        return cls(
            str(meta.get("name") or ""),
            sys.intern(str(meta.get("namespace") or "")),
            _word(created) if created else None,
            _shared(kept),
        )

    def bucket(self, controller_namespace: str) -> str:
        return self.namespace

    def api(self) -> dict[str, Any]:
        meta = _meta(self.name, self.namespace)
        if self.created:
            meta["creationTimestamp"] = self.created
        return {"metadata": meta, "status": self.status}


class _Event(NamedTuple):
    """A Warning event: what it is about, its reason and (the end of) its message."""

    name: str
    namespace: str
    kind: str  # of the object it is about
    about: str  # that object's name
    reason: str
    message: str
    last: str | None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> _Event:
        meta = obj.get("metadata") or {}
        involved = obj.get("involvedObject") or {}
        return cls(
            str(meta.get("name") or ""),  # its own (interning a unique name costs a table entry)
            sys.intern(str(meta.get("namespace") or "")),
            sys.intern(str(involved.get("kind") or "")),
            sys.intern(str(involved.get("name") or "")),
            sys.intern(str(obj.get("reason") or "")),
            _text(obj.get("message")),
            _word(obj.get("lastTimestamp") or meta.get("creationTimestamp")),
        )

    def bucket(self, controller_namespace: str) -> str:
        """By namespace; an event of the controller's namespace by its listener's scale set."""
        if self.namespace == controller_namespace:
            return sys.intern("@" + _listener_set(self.about))
        return self.namespace

    def api(self) -> dict[str, Any]:
        return {
            "metadata": _meta(self.name, self.namespace),
            "involvedObject": {"kind": self.kind, "name": self.about},
            "reason": self.reason,
            "message": self.message,
            "lastTimestamp": self.last,
        }


# One object as the view holds it.
Kept: TypeAlias = _Application | _RunnerSet | _AutoscalingListener | _ListenerPod | _RunnerPod | _Event

KEPT: dict[str, Callable[[dict[str, Any]], Kept]] = {
    "applications": _Application.of,
    "runner_sets": _RunnerSet.of,
    "autoscaling_listeners": _AutoscalingListener.of,
    "listeners": _ListenerPod.of,
    "runners": _RunnerPod.of,
    "events": _Event.of,
}


def keep(kind: str, obj: dict[str, Any]) -> Kept:
    """What the view holds of ``obj``: the fields that are read."""
    return KEPT[kind](obj)


# One object of the kind per scale set, found by its key: an Application by name (listed
# in one namespace), an AutoscalingRunnerSet by namespace and name.
_SINGLE: dict[str, Callable[[str, str], Any]] = {
    "applications": lambda namespace, name: name,
    "runner_sets": lambda namespace, name: (namespace, name),
}
Group = dict[str, Any]  # object name → what is kept of it


class Fleet:
    """One view of the fleet's objects (what is read of them, :func:`keep`), indexed so
    that a scale set's :class:`ClusterState` costs no request and no scan of the whole
    fleet, and one watch event costs one index update (:meth:`put`, :meth:`drop`), not a
    rebuild. Thread-safe: the watch threads update it while the event loop reads it."""

    def __init__(
        self, controller_namespace: str, objects: dict[str, list[Any]] | None = None, *, kept: bool = True
    ) -> None:
        """``objects`` by kind; ``kept``: already kept (as :meth:`Kube.list_kind` returns them)."""
        self.controller_namespace = controller_namespace
        self._lock = threading.Lock()
        # Applications and scale sets: key → object. Other kinds are held in groups, one
        # per scale set or namespace (bucket → object name → object); an object whose
        # bucket is not its namespace has it remembered in _where, by (namespace, name).
        # Names are unique in a group: each holds one namespace's objects (listeners,
        # AutoscalingListeners and their events are listed in the controller's only).
        self._single: dict[str, dict[Any, Any]] = {kind: {} for kind in _SINGLE}
        self._groups: dict[str, dict[str, Group]] = {kind: {} for kind in KEPT if kind not in _SINGLE}
        self._where: dict[str, dict[tuple[str, str], str]] = {kind: {} for kind in self._groups}
        for kind, items in (objects or {}).items():
            self.replace(kind, items, kept=kept)

    def _put(self, kind: str, obj: Any) -> None:
        if kind in _SINGLE:
            self._single[kind][_SINGLE[kind](obj.namespace, obj.name)] = obj
            return
        self._drop(kind, obj.namespace, obj.name)
        bucket = obj.bucket(self.controller_namespace)
        self._groups[kind].setdefault(bucket, {})[obj.name] = obj
        if bucket != obj.namespace:
            self._where[kind][obj.namespace, obj.name] = bucket

    def _drop(self, kind: str, namespace: str, name: str) -> None:
        if kind in _SINGLE:
            self._single[kind].pop(_SINGLE[kind](namespace, name), None)
            return
        bucket = self._where[kind].pop((namespace, name), namespace)
        found = self._groups[kind].get(bucket)
        if found is not None:
            found.pop(name, None)
            if not found:
                del self._groups[kind][bucket]

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        """Add or update one object (as the API serves it; what is read of it is kept)."""
        found = keep(kind, obj)
        with self._lock:
            self._put(kind, found)

    def drop(self, kind: str, obj: dict[str, Any]) -> None:
        with self._lock:
            self._drop(kind, *_key(obj))

    def replace(self, kind: str, items: list[Any], *, kept: bool = True) -> None:
        """Every object of ``kind`` anew (a list after a watch could not resume)."""
        objects = items if kept else [KEPT[kind](i) for i in items]
        with self._lock:
            if kind in _SINGLE:
                self._single[kind] = {}
            else:
                self._groups[kind], self._where[kind] = {}, {}
            for obj in objects:
                self._put(kind, obj)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind`` in the view, shaped as the API serves what is kept."""
        with self._lock:
            if kind in _SINGLE:
                found = list(self._single[kind].values())
            else:
                found = [obj for group in self._groups[kind].values() for obj in group.values()]
        return [obj.api() for obj in found]

    def _all(self, kind: str, bucket: str) -> list[Any]:
        return list(self._groups[kind].get(bucket, {}).values())

    def of(self, scale_set: str, namespace: str) -> ClusterState:
        """What this view shows of one scale set (as :meth:`Kube.read` would)."""
        with self._lock:
            application = self._single["applications"].get(scale_set)
            runner_set = self._single["runner_sets"].get((namespace, scale_set))
            found = [
                self._all("listeners", scale_set),
                self._all("runners", namespace),
                self._all("events", namespace) + self._all("events", "@" + scale_set),
                self._all("autoscaling_listeners", scale_set),
            ]
        # The records never change (an update replaces them): built into dicts outside the lock.
        listeners, runners, events, autoscaling = ([obj.api() for obj in objects] for objects in found)
        return ClusterState(
            application.api() if application else None,
            runner_set.api() if runner_set else None,
            listeners,
            runners,
            events,
            autoscaling,
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
                items, version = self.kube.list_kind(kind, self._stopped.is_set)
                self._fleet.replace(kind, items)
                with self._lock:
                    self._listed.add(kind)
                self._problems.pop(kind, None)
                self._bump()
                while version and not self._stopped.is_set():
                    version = self._watch(kind, version)
            except ListingStopped:
                return
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
