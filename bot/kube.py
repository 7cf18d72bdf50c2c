"""The one module that talks to Kubernetes, with the official client.

It does exactly what the RBAC in charts/runners-bot grants: it reads ArgoCD Applications
in ``ARGOCD_NAMESPACE``, AutoscalingRunnerSets, pods (the listener in the controller
namespace, runners in the scale set's namespace) and Warning events in both; its one
write is ``spec.minRunners``/``spec.maxRunners`` of an AutoscalingRunnerSet run by the
clock (schedules and bursts). The client is synchronous, so calls run in a thread. A
cluster that cannot be reached raises :class:`KubeUnavailable`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

LISTENER_SELECTOR = "actions.github.com/scale-set-name={}"
RUNNER_SELECTOR = "app.kubernetes.io/component=runner"
WARNINGS = "type=Warning"
_RAISE = object()  # _call: a 404 is a failure like any other
TIMEOUT = 10


class KubeUnavailable(Exception):
    """The Kubernetes API could not be reached or refused the call."""


@dataclass(frozen=True)
class ClusterState:
    """What one look at the cluster saw for a scale set (raw objects as plain dicts)."""

    application: dict[str, Any] | None
    runner_set: dict[str, Any] | None
    listeners: list[dict[str, Any]]
    runners: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)


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

    def _call(self, what: str, call: Callable[[], Any], *, missing: Any = _RAISE) -> Any:
        """``call()``, with the API's failures as :class:`KubeUnavailable` (404: ``missing``, if given)."""
        try:
            return call()
        except ApiException as exc:
            if exc.status == 404 and missing is not _RAISE:
                return missing
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
        listeners = self._list("pods", self.controller_namespace, label_selector=LISTENER_SELECTOR.format(scale_set))
        runners = self._list("pods", namespace, label_selector=RUNNER_SELECTOR)
        events = self._list("events", namespace, field_selector=WARNINGS)
        for found in self._list("events", self.controller_namespace, field_selector=WARNINGS):
            if str(found.get("involvedObject", {}).get("name", "")).startswith(f"{scale_set}-"):
                events.append(found)  # the listener's: <set>-<hash>-listener
        return ClusterState(application, runner_set, listeners, runners, events)

    async def aread(self, scale_set: str, namespace: str) -> ClusterState:
        return await asyncio.to_thread(self.read, scale_set, namespace)

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
