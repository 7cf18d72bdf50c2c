"""The one module that talks to Kubernetes, with the official client.

It does exactly what the RBAC in charts/runners-bot grants: it lists and watches ArgoCD
Applications in ``ARGOCD_NAMESPACE``, and across namespaces AutoscalingRunnerSets, the
listener pods (controller namespace), runner pods and Warning events; its one write is
``spec.minRunners``/``spec.maxRunners`` of an AutoscalingRunnerSet run by the clock
(schedules and bursts).

The whole fleet is read in a constant number of requests, whatever its size: one list
per kind (:meth:`Kube.fleet`). :class:`ClusterWatch` keeps those lists current with
Kubernetes watches (list, then watch from its resourceVersion; reconnect; a 410 Gone
lists again), one per kind for every reader, and wakes them when something changed.
The client is synchronous, so calls run in threads. A cluster that cannot be reached
raises :class:`KubeUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from bot.commands.rollout import ClusterState

log = logging.getLogger(__name__)

LISTENER_SELECTOR = "actions.github.com/scale-set-name={}"
LISTENERS = "app.kubernetes.io/component=runner-scale-set-listener"
RUNNER_SELECTOR = "app.kubernetes.io/component=runner"
WARNINGS = "type=Warning"
SET_NAME = "actions.github.com/scale-set-name"
_RAISE = object()  # _call: a 404 is a failure like any other
TIMEOUT = 10


class KubeUnavailable(Exception):
    """The Kubernetes API could not be reached or refused the call."""


class NotDeployed(KubeUnavailable):
    """403 in a runner namespace: kube-apiserver answers it (not 404) until Argo CD has
    created the namespace and the RoleBinding that lets runners-bot read it. The set is
    not deployed yet; waiting is the answer."""


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

    def __init__(self, api: client.ApiClient, argocd_namespace: str, controller_namespace: str) -> None:
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
        call = self.core.list_namespaced_pod if what == "pods" else self.core.list_namespaced_event
        found = self._call(
            f"{what} in {namespace}",
            lambda: call(
                namespace, label_selector=label_selector, field_selector=field_selector, _request_timeout=TIMEOUT
            ),
            missing=None,
        )
        serialised: list[dict[str, Any]] = (
            [self.api.sanitize_for_serialization(i) for i in found.items] if found else []
        )
        return serialised

    def read(self, scale_set: str, namespace: str) -> ClusterState:
        """Six requests: Application, AutoscalingRunnerSet, listener pods, runner pods, and
        Warning events in the runner namespace and (of this set's objects) the controller's."""
        application = self._get("argoproj.io", self.argocd_namespace, "applications", scale_set)
        runner_set = self._get("actions.github.com", namespace, "autoscalingrunnersets", scale_set)
        objects = {
            "applications": [application] if application else [],
            "runner_sets": [runner_set] if runner_set else [],
            "listeners": self._list(
                "pods", self.controller_namespace, label_selector=LISTENER_SELECTOR.format(scale_set)
            ),
            "runners": self._list("pods", namespace, label_selector=RUNNER_SELECTOR),
            "events": self._list("events", namespace, field_selector=WARNINGS)
            + self._list("events", self.controller_namespace, field_selector=WARNINGS),
        }
        # One reading of the objects for one set and for the whole fleet: Fleet's.
        return Fleet(self.controller_namespace, objects).of(scale_set, namespace)

    # --- the whole fleet, one list per kind ----------------------------------------------

    def kinds(self) -> dict[str, Callable[..., Any]]:
        """The lists the fleet is read from, by kind: each takes the list/watch parameters."""
        return self._kinds

    def list_kind(self, kind: str) -> tuple[list[dict[str, Any]], str]:
        """Every object of ``kind`` as plain dicts, and the list's resourceVersion."""
        response = self._call(
            f"listing {kind}", lambda: self.kinds()[kind](_preload_content=False, _request_timeout=TIMEOUT)
        )
        data = json.loads(response.data)
        return list(data.get("items") or []), str((data.get("metadata") or {}).get("resourceVersion") or "")

    def fleet(self) -> Fleet:
        """The whole fleet in five requests, however many scale sets it has."""
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


class Fleet:
    """One view of the fleet's objects (lists of plain dicts by kind), indexed so that a
    scale set's :class:`ClusterState` costs no request and no scan of the whole fleet."""

    def __init__(self, controller_namespace: str, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.controller_namespace = controller_namespace
        self.applications = {_key(a)[1]: a for a in objects.get("applications", [])}
        self.runner_sets = {_key(r): r for r in objects.get("runner_sets", [])}
        self.listeners: dict[str, list[dict[str, Any]]] = {}
        for pod in objects.get("listeners", []):
            labels = (pod.get("metadata") or {}).get("labels") or {}
            self.listeners.setdefault(str(labels.get(SET_NAME, "")), []).append(pod)
        self.runners: dict[str, list[dict[str, Any]]] = {}
        for pod in objects.get("runners", []):
            self.runners.setdefault(_key(pod)[0], []).append(pod)
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.listener_events: dict[str, list[dict[str, Any]]] = {}
        for found in objects.get("events", []):
            namespace = _key(found)[0]
            if namespace == controller_namespace:
                involved = str((found.get("involvedObject") or {}).get("name", ""))
                self.listener_events.setdefault(_listener_set(involved), []).append(found)
            else:
                self.events.setdefault(namespace, []).append(found)

    def of(self, scale_set: str, namespace: str) -> ClusterState:
        """What this view shows of one scale set (as :meth:`Kube.read` would)."""
        return ClusterState(
            self.applications.get(scale_set),
            self.runner_sets.get((namespace, scale_set)),
            list(self.listeners.get(scale_set, [])),
            list(self.runners.get(namespace, [])),
            list(self.events.get(namespace, [])) + list(self.listener_events.get(scale_set, [])),
        )


class ClusterWatch:
    """The fleet's objects kept current by one Kubernetes watch per kind.

    Each kind is listed, then watched from the list's resourceVersion; a watch that ends
    (the server's timeout, a dropped connection) resumes from the last version seen, and
    one the server no longer can resume (410 Gone, or an ERROR event) lists again. Every
    change bumps :attr:`version` and wakes :meth:`changed`'s waiters. Threads, as the
    client is synchronous; :meth:`stop` ends them."""

    def __init__(self, kube: Kube, *, watch_seconds: int = 240, retry_seconds: float = 1.0) -> None:
        self.kube = kube
        self.watch_seconds = watch_seconds
        self.retry_seconds = retry_seconds
        self.version = 0
        self._problems: dict[str, str] = {}
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._listed: set[str] = set()
        self._responses: dict[str, Any] = {}
        self._fleet: tuple[int, Fleet] | None = None

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
        """The view as it is now (built once per change, shared by every reader)."""
        with self._lock:
            if self._fleet is not None and self._fleet[0] == self.version:
                return self._fleet[1]
            version = self.version
            objects = {kind: list(found.values()) for kind, found in self._objects.items()}
        found = Fleet(self.kube.controller_namespace, objects)
        self._fleet = (version, found)
        return found

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
                with self._lock:
                    self._objects[kind] = {_key(i): i for i in items}
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
        with self._lock:
            found = self._objects.setdefault(kind, {})
            if kind_of == "DELETED":
                found.pop(_key(obj), None)
            else:
                found[_key(obj)] = obj
        self._bump()
        return version
