"""The fleet at 50,000 scale sets: the root Application renders shard Applications, each
shard renders the scale sets whose name hashes to it, and no Application's status or
render passes what Kubernetes and Argo CD accept.

- etcd refuses an object over 1.5 MiB (its ``--max-request-bytes`` default, 1,572,864,
  which the API server's writes must fit): an Application lists every resource it manages
  in ``status.resources`` and, after a sync, again in ``status.operationState.syncResult
  .resources`` (Argo CD's Application CRD); Argo CD users report Application updates
  failing at about 3,000 resources.
- The repo-server returns a render as one gRPC message (``ARGOCD_GRPC_MAX_SIZE_MB``); at
  about 4 KB an Application the unsharded fleet is 200 MB at 50,000.

Rendering 50,000 Applications takes minutes, so the test renders two shards in full from
the whole 50,000-entry values (their membership is the chart's own hash), checks that
Python's copy of the hash agrees on them, and sizes the other shards from it.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from functools import cache
from typing import Any

import helm_python
import pytest
import yaml

from bot.fleet.config import ConfigFiles
from tests.deploy.test_fleet import FLEET, fleet_values, valid
from tests.support.app import ROOT
from tests.support.fleets import entry, entry_values
from tests.support.upstream import crd_errors, render_dir

ETCD_LIMIT = 1_572_864  # bytes: etcd's default --max-request-bytes
# What we allow one shard's status: room left for conditions, history and the rest.
STATUS_BUDGET = ETCD_LIMIT * 2 // 3
# One render, well under the repo-server's gRPC limit (ARGOCD_GRPC_MAX_SIZE_MB, 200 MB by default).
RENDER_BUDGET = 20 * 2**20
SETS = 50_000
ROOT_APP = yaml.safe_load((ROOT / "argocd" / "apps-live" / "fleet.yaml").read_text(encoding="utf-8"))


def shard_of(scale_set: str, count: int) -> int:
    """charts/runners-fleet's fleet.shardOf: adler32sum of the sha256sum (hex) of the name."""
    return zlib.adler32(hashlib.sha256(scale_set.encode()).hexdigest().encode()) % count


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's output, parsed with libyaml (thousands of Applications)."""
    chart = helm_python.Chart.load(FLEET)
    try:
        out = chart.render(values, name=ROOT_APP["spec"]["source"]["helm"]["releaseName"], namespace="argocd")
    finally:
        chart.close()
    return [d for text in out.values() for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d]


def shard_values(base: dict[str, Any], shard_app: dict[str, Any]) -> dict[str, Any]:
    """What a shard Application hands Helm: the same value files, then its valuesObject."""
    helm = shard_app["spec"]["source"]["helm"]
    assert helm["valueFiles"] == ROOT_APP["spec"]["source"]["helm"]["valueFiles"]
    return {**base, **helm["valuesObject"]}


def status(children: list[str]) -> dict[str, Any]:
    """An Application's status after a sync of ``children`` (Argo CD's Application CRD:
    status.resources and operationState.syncResult.resources, as Argo CD 3.x writes them)."""
    resource = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application", "namespace": "argocd"}
    return {
        "resources": [
            {
                **resource,
                "name": n,
                "status": "Synced",
                "health": {"status": "Healthy", "lastTransitionTime": "2026-12-03T08:00:00Z"},
            }
            for n in children
        ],
        "sync": {"status": "Synced", "revision": "0" * 40},
        "health": {"status": "Healthy", "lastTransitionTime": "2026-12-03T08:00:00Z"},
        "operationState": {
            "operation": {"sync": {"revision": "0" * 40}},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": "2026-12-03T08:00:00Z",
            "finishedAt": "2026-12-03T08:01:00Z",
            "syncResult": {
                "revision": "0" * 40,
                "resources": [
                    {
                        **resource,
                        "name": n,
                        "status": "Synced",
                        "message": f"application.argoproj.io/{n} serverside-applied",
                        "hookPhase": "Running",
                        "syncPhase": "Sync",
                    }
                    for n in children
                ],
            },
        },
    }


def status_bytes(app: dict[str, Any], children: list[str], *, check: bool = False) -> int:
    synced = {**app, "status": status(children)}
    if check:
        assert crd_errors(synced) == [], crd_errors(synced)[:3]
    return len(json.dumps(synced, separators=(",", ":")))


@cache
def big_fleet() -> dict[str, Any]:
    """The bundled values with 50,000 generated entries instead of its own."""
    values = fleet_values((ROOT / "values" / "repositories.yaml").read_text(encoding="utf-8"))
    return {**values, "repositories": [entry_values(i) for i in range(SETS)]}


def test_the_generated_entries_are_what_their_yaml_says() -> None:
    for i in (0, 1, 4_999, 49_999):
        assert yaml.safe_load(entry(i)) == [entry_values(i)]


def test_the_shipped_root_is_sharded_within_its_bound_at_50000_sets() -> None:
    values = {**big_fleet(), **ROOT_APP["spec"]["source"]["helm"]["valuesObject"]}
    shards = render(values)
    count = values["fleet"]["shards"]["count"]
    assert [s["metadata"]["name"] for s in shards] == [f"github-runners-shard-{i:02d}" for i in range(count)]
    for shard in shards:
        valid(shard)
    assert status_bytes(ROOT_APP, [s["metadata"]["name"] for s in shards], check=True) < STATUS_BUDGET

    members: dict[int, list[str]] = {i: [] for i in range(count)}
    entries = big_fleet()["repositories"]
    names = [f"{e['name']}-runners" for e in entries]
    for name in names:
        members[shard_of(name, count)].append(name)

    bound = shards[0]["spec"]["source"]["helm"]["valuesObject"]["fleet"]["shards"]["maxPerShard"]
    per_app = 0
    for index in (0, 1):
        rendered = render(shard_values(big_fleet(), shards[index]))
        assert [a["metadata"]["name"] for a in rendered] == members[index], "the chart's hash is shard_of()"
        size = sum(len(json.dumps(a, separators=(",", ":"))) for a in rendered)
        per_app = max(per_app, -(-size // len(rendered)))
        assert size < RENDER_BUDGET
        for app in rendered[:3]:
            valid(app)
    assert 2_000 < per_app < 8_000, per_app
    for index, children in members.items():
        assert len(children) <= bound, f"shard {index} holds {len(children)}, more than {bound}"
        assert len(children) * per_app < RENDER_BUDGET, index
        assert status_bytes(shards[index], children, check=index == 0) < STATUS_BUDGET, index
    # What sharding prevents: the whole fleet in one root Application.
    assert status_bytes(ROOT_APP, names) > ETCD_LIMIT and SETS * per_app > 100 * 2**20


def test_every_entry_is_in_exactly_one_shard_under_its_own_name(bundled: ConfigFiles) -> None:
    """The bot finds a scale set's Application by the scale set's name: sharding keeps it."""
    values = fleet_values(bundled.repositories, bundled.base)
    unsharded = [a["metadata"]["name"] for a in render_dir(FLEET, values, name="github-runners", namespace="argocd")]
    values["fleet"] = {"shards": {"count": 4}}
    shards = render_dir(FLEET, values, name="github-runners", namespace="argocd")
    assert len(shards) == 4 and all(
        "resources-finalizer.argocd.argoproj.io" in s["metadata"]["finalizers"] for s in shards
    )
    found = []
    for shard in shards:
        valid(shard)
        index = shard["spec"]["source"]["helm"]["valuesObject"]["fleet"]["shards"]["index"]
        children = render_dir(FLEET, shard_values(values, shard), name="github-runners", namespace="argocd")
        assert all(shard_of(c["metadata"]["name"], 4) == index for c in children)
        found += [c["metadata"]["name"] for c in children]
    assert sorted(found) == sorted(unsharded)


def test_a_render_over_the_bound_fails_and_says_what_to_do(bundled: ConfigFiles) -> None:
    values = fleet_values(bundled.repositories, bundled.base)
    values["fleet"] = {"shards": {"maxPerShard": 2}}
    with pytest.raises(helm_python.HelmRenderError, match=r"3 scale sets .* raise fleet.shards.count"):
        render_dir(FLEET, values, name="github-runners", namespace="argocd")
