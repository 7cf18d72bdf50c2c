"""Argo CD's custom health checks for the fleet (argocd/argocd-cm-health.yaml), run as Argo
CD runs them: Lua with the live object as ``obj``, returning ``{status, message}``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.argocd_health import ARS, CM, PREFIX, health
from tests.support.fakekube import runner_set


def test_every_customisation_names_a_real_kind() -> None:
    assert set(CM["data"]) == {PREFIX + ARS, PREFIX + "PersistentVolumeClaim"}


def test_a_fresh_scale_set_progresses_until_arc_reconciles_it() -> None:
    fresh = runner_set("arc-api-runners", "arc-x", low=0, high=5, registered=False)
    assert "status" not in fresh
    assert health(ARS, fresh)[0] == "Progressing"


def test_an_idle_min_0_set_arc_never_counted_is_healthy() -> None:
    """ARC (controllers/actions.github.com/autoscalingrunnerset_controller.go) patches the
    status only when the runner count differs from status.currentRunners: an idle
    minRunners 0 set is registered (runner-scale-set-id) and never gets a status."""
    idle = runner_set("arc-api-runners", "arc-x", low=0, high=5)
    assert "status" not in idle and "runner-scale-set-id" in idle["metadata"]["annotations"]
    status, message = health(ARS, idle)
    assert status == "Healthy" and "minRunners 0" in message
    warm = runner_set("arc-api-runners", "arc-x", low=2, high=5)
    assert health(ARS, warm) == ("Progressing", "Scaling up: 0 of at least 2 runners")


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"low": 0, "high": 5}, "Healthy"),
        ({"low": 2, "high": 5, "current": 2}, "Healthy"),
        ({"low": 2, "high": 5, "current": 1}, "Progressing"),
        ({"low": 1, "high": 5, "current": 2, "pending": 1, "failed": 1}, "Healthy"),
        ({"low": 1, "high": 5, "current": 0, "failed": 2}, "Degraded"),
    ],
)
def test_scale_set_health_from_arcs_counts(counts: dict[str, Any], expected: str) -> None:
    status, message = health(ARS, runner_set("arc-api-runners", "arc-x", **counts))
    assert status == expected, message


def _pvc(
    phase: str, *, component: str = "runner-cache", selected: bool = False, storage_class: str = "rwx"
) -> dict[str, Any]:
    # A pod was scheduled (selected-node) and the class's provisioner took the claim.
    annotations = (
        {"volume.kubernetes.io/selected-node": "node-1", "volume.kubernetes.io/storage-provisioner": "nfs.csi.k8s.io"}
        if selected
        else {}
    )
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "arc-beta-runners-cache",
            "labels": {"app.kubernetes.io/component": component},
            "annotations": annotations,
        },
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": "30Gi"}},
        },
        "status": {"phase": phase},
    }


def test_a_cache_whose_class_does_not_exist_is_not_healthy() -> None:
    """Kubernetes (pkg/controller/volume/persistentvolume/pv_controller.go) treats a claim
    naming a missing class as Immediate: no selected-node, no provisioner annotation, only
    ProvisioningFailed events. The object alone cannot tell it from a claim waiting for
    its first consumer, so neither is Healthy; the rollout report reads the event."""
    status, message = health("PersistentVolumeClaim", _pvc("Pending", storage_class="nfs-rwx"))
    assert status == "Progressing" and "nfs-rwx" in message and "ProvisioningFailed" in message
    assert health("PersistentVolumeClaim", _pvc("Pending", selected=True))[0] == "Progressing"
    assert health("PersistentVolumeClaim", _pvc("Bound"))[0] == "Healthy"
    assert health("PersistentVolumeClaim", _pvc("Lost"))[0] == "Degraded"


def test_a_cache_no_storage_class_can_provision_is_degraded() -> None:
    """A runner waits for it (selected-node) and no provisioner took it: the class is
    missing (Kubernetes: ProvisioningFailed, storageclass "nfs-rwx" not found)."""
    waiting = _pvc("Pending", selected=True)
    waiting["metadata"]["annotations"].pop("volume.kubernetes.io/storage-provisioner", None)
    status, message = health("PersistentVolumeClaim", waiting)
    assert status == "Degraded" and "No provisioner for storage class" in message
    waiting["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] = "nfs.csi.k8s.io"
    assert health("PersistentVolumeClaim", waiting)[0] == "Progressing", "provisioning under way"


def test_other_volumes_keep_argo_cds_usual_verdict() -> None:
    assert health("PersistentVolumeClaim", _pvc("Pending", component="database"))[0] == "Progressing"
