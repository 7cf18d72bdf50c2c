"""Argo CD's custom health checks for the fleet (argocd/argocd-cm-health.yaml), run as Argo
CD runs them: Lua with the live object as ``obj``, returning ``{status, message}``."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from tests.support.app import ROOT
from tests.support.fakekube import runner_set

CM = yaml.safe_load((ROOT / "argocd" / "argocd-cm-health.yaml").read_text(encoding="utf-8"))
PREFIX = "resource.customizations.health."


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(CM["data"][PREFIX + kind])
    return str(result["status"]), str(result["message"])


ARS = "actions.github.com_AutoscalingRunnerSet"


def test_every_customisation_names_a_real_kind() -> None:
    assert set(CM["data"]) == {PREFIX + ARS, PREFIX + "PersistentVolumeClaim"}


def test_a_fresh_scale_set_progresses_until_arc_reconciles_it() -> None:
    fresh = runner_set("arc-api-runners", "arc-x", low=1, high=5)
    del fresh["status"]
    assert health(ARS, fresh)[0] == "Progressing"


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
def test_scale_set_health_from_arcs_counts(counts: dict[str, int], expected: str) -> None:
    status, message = health(ARS, runner_set("arc-api-runners", "arc-x", **counts))
    assert status == expected, message


def _pvc(phase: str, *, component: str = "runner-cache", selected: bool = False) -> dict[str, Any]:
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
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "30Gi"}}},
        "status": {"phase": phase},
    }


def test_a_cache_waiting_for_its_first_consumer_is_not_stuck() -> None:
    assert health("PersistentVolumeClaim", _pvc("Pending"))[0] == "Healthy"
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
