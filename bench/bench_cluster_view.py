"""The watched cluster view (bot.clients.kube.Fleet) at 1,000, 10,000 and 50,000 scale sets.

Each set has what ARC 0.12.1 and Argo CD make for it: an Application, an
AutoscalingRunnerSet, an AutoscalingListener and its pod, five runner pods and a Warning
event, each shaped as the API server serves it (managedFields, the chart's annotations,
the pod spec ARC renders). Three measures, against two baselines from the same run: the
view of the last round (what is read of each object kept as the API's dicts, in the same
index) and the one before it (whole objects by kind, the index rebuilt on every change):

1. Memory held by the view: tracemalloc after a full collection, and what it adds to a
   fresh process's RSS (the allocator's overhead included; the objects arrive one at a
   time as JSON text, as a watch delivers them).
2. The cost of one watch event: a runner pod turning Running. New: the index updated in
   place (:meth:`Fleet.put`). Baseline: the object stored, then the whole index rebuilt,
   as every reader's first look after a change did.
3. One look at every set (:meth:`Fleet.of`, as a dashboard update takes them): the view
   builds the API's dicts of a set per look; the last round's handed out the ones it held.

Whole objects are ~20 KB of Python each: at 50,000 sets that is over 8 GB, so that
baseline is measured at 1,000 and 10,000 sets only (its rebuild cost grows with the
object count, and is also timed at 50,000 on the slim objects).

Run: make bench-cluster
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.clients.kube import SET_NAME, Fleet, _key, _listener_set, keep

SIZES = (1_000, 10_000, 50_000)
BASELINE_UP_TO = 10_000
RUNNERS = 5
EVENTS = 200  # watch events timed per size
CONTROLLER = "arc-systems"


def slim(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The last round's view of ``obj``: the fields that are read, as the API's dicts."""
    return keep(kind, obj).api()


def _managed(manager: str, fields: int) -> list[dict[str, Any]]:
    body: dict[str, Any] = {f"f:field-{n}": {} for n in range(fields)}
    return [{"manager": manager, "operation": "Update", "apiVersion": "v1", "time": "2026-12-03T08:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": body, "f:status": body}}]  # fmt: skip


def _pod(name: str, namespace: str, labels: dict[str, str], image: str) -> dict[str, Any]:
    """A pod as the API server serves ARC's runner pod (its spec, status and managedFields)."""
    env = [{"name": f"RUNNER_VAR_{n}", "value": "x" * 40} for n in range(20)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"{abs(hash(name)):032x}",
            "resourceVersion": "123456",
            "creationTimestamp": "2026-12-03T08:00:00Z",
            "labels": {**labels, "pod-template-hash": "7c9d8f6b5", "app.kubernetes.io/part-of": "gha-runner-scale-set"},
            "annotations": {"actions.github.com/patch-id": "3", "actions.github.com/runner-spec-hash": "a" * 40},
            "ownerReferences": [{"apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
                                 "name": name, "uid": "b" * 32, "controller": True, "blockOwnerDeletion": True}],
            "managedFields": _managed("manager", 40) + _managed("kubelet", 40),
        },
        "spec": {
            "containers": [{"name": "runner", "image": image, "command": ["/home/runner/run.sh"], "env": env,
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                          "limits": {"cpu": "1", "memory": "2Gi"}},
                            "volumeMounts": [{"name": f"v{n}", "mountPath": f"/mnt/{n}"} for n in range(4)]}],
            "volumes": [{"name": f"v{n}", "emptyDir": {}} for n in range(4)],
            "tolerations": [{"key": "matchpoint.ai/runner-pool", "operator": "Equal", "value": "x",
                             "effect": "NoSchedule"}],
            "nodeSelector": {"matchpoint.ai/purpose": "github-runners"},
            "restartPolicy": "Never",
            "serviceAccountName": "default",
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-12-03T08:00:01Z"}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": "runner", "image": image, "imageID": f"{image}@sha256:{'c' * 64}",
                                   "containerID": f"containerd://{'d' * 64}", "ready": False, "restartCount": 0,
                                   "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}],
            "hostIP": "10.0.0.1",
            "podIP": "10.1.0.1",
            "qosClass": "Burstable",
            "startTime": "2026-12-03T08:00:00Z",
        },
    }  # fmt: skip


def objects(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, object) for every object of ``n`` scale sets, one at a time."""
    for i in range(n):
        scale_set, ns = f"set-{i}", f"arc-set-{i}"
        yield "applications", {
            "metadata": {"name": scale_set, "namespace": "argocd", "managedFields": _managed("argocd", 30)},
            "spec": {"source": {"helm": {"valuesObject": {"k": "v" * 2000}}}},
            "status": {"sync": {"status": "Synced", "revision": "a" * 40}, "health": {"status": "Healthy"},
                       "resources": [{"kind": "Pod", "name": f"r{n}", "health": {"status": "Healthy"}}
                                     for n in range(10)]},
        }  # fmt: skip
        yield "runner_sets", {
            "metadata": {"name": scale_set, "namespace": ns, "managedFields": _managed("argocd", 30),
                         "annotations": {"actions.github.com/values-hash": "e" * 63, "runner-scale-set-id": "7",
                                         "kubectl.kubernetes.io/last-applied-configuration": "x" * 3000}},
            "spec": {"minRunners": 1, "maxRunners": 5, "template": {"spec": {"containers": [{"name": "runner"}]}}},
            "status": {"currentRunners": RUNNERS},
        }  # fmt: skip
        yield "autoscaling_listeners", {
            "metadata": {"name": f"{scale_set}-6cd58d58-listener", "namespace": CONTROLLER, "uid": f"l{i}",
                         "annotations": {"actions.github.com/values-hash": "e" * 63},
                         "managedFields": _managed("manager", 20)},
            "spec": {"autoscalingRunnerSetName": scale_set, "autoscalingRunnerSetNamespace": ns},
        }  # fmt: skip
        yield "listeners", _pod(f"{scale_set}-6cd58d58-listener", CONTROLLER, {SET_NAME: scale_set}, "listener:0.12.1")
        for r in range(RUNNERS):
            labels = {"app.kubernetes.io/component": "runner", "actions-ephemeral-runner": "True"}
            yield "runners", _pod(f"{scale_set}-runner-{r}", ns, labels, "ghcr.io/actions/actions-runner:2.329.0")
        yield "events", {
            "metadata": {"name": f"{scale_set}-runner-0.1", "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": f"{scale_set}-runner-0", "namespace": ns},
            "reason": "FailedScheduling", "message": "0/3 nodes are available: 3 Insufficient cpu.",
            "type": "Warning", "count": 1, "source": {"component": "default-scheduler"},
            "lastTimestamp": "2026-12-03T08:00:00Z",
        }  # fmt: skip


class WholeView:
    """The baseline: whole objects by kind, and the index rebuilt from all of them after a
    change (as ClusterView.fleet() did before this round)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        self.objects.setdefault(kind, {})[_key(obj)] = obj

    def rebuild(self) -> dict[str, Any]:
        found = {kind: list(items.values()) for kind, items in self.objects.items()}
        listeners: dict[str, list[dict[str, Any]]] = {}
        for pod in found.get("listeners", []):
            listeners.setdefault(str(pod["metadata"].get("labels", {}).get(SET_NAME, "")), []).append(pod)
        runners: dict[str, list[dict[str, Any]]] = {}
        for pod in found.get("runners", []):
            runners.setdefault(_key(pod)[0], []).append(pod)
        events: dict[str, list[dict[str, Any]]] = {}
        for event in found.get("events", []):
            namespace = _key(event)[0]
            where = _listener_set(event["involvedObject"]["name"]) if namespace == CONTROLLER else namespace
            events.setdefault(where, []).append(event)
        return {
            "applications": {_key(a)[1]: a for a in found.get("applications", [])},
            "runner_sets": {_key(r): r for r in found.get("runner_sets", [])},
            "listeners": listeners,
            "runners": runners,
            "events": events,
        }


class DictView:
    """The last round's view: what is read of each object (:func:`slim`) kept as the API's
    dicts, filed by kind, bucket (scale set or namespace) and (namespace, name), with each
    object's bucket remembered; a look handed out the dicts it held."""

    def __init__(self) -> None:
        self.index: dict[str, dict[str, dict[tuple[str, str], dict[str, Any]]]] = {}
        self.where: dict[str, dict[tuple[str, str], str]] = {}

    @staticmethod
    def _bucket(kind: str, obj: dict[str, Any]) -> str:
        namespace, name = _key(obj)
        if kind == "applications":
            return name
        if kind == "runner_sets":
            return f"{namespace}/{name}"
        if kind == "listeners":
            return str(obj["metadata"].get("labels", {}).get(SET_NAME, ""))
        if kind == "autoscaling_listeners":
            return str(obj["spec"].get("autoscalingRunnerSetName") or _listener_set(name))
        if kind == "events" and namespace == CONTROLLER:
            return "@" + _listener_set(str(obj["involvedObject"].get("name", "")))
        return namespace

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        kept = slim(kind, obj)
        key, bucket = _key(kept), self._bucket(kind, kept)
        old = self.where.setdefault(kind, {}).pop(key, None)
        if old is not None:
            self.index[kind][old].pop(key, None)
        self.index.setdefault(kind, {}).setdefault(bucket, {})[key] = kept
        self.where[kind][key] = bucket

    def _all(self, kind: str, bucket: str) -> list[dict[str, Any]]:
        return list(self.index.get(kind, {}).get(bucket, {}).values())

    def of(self, scale_set: str, namespace: str) -> tuple[Any, ...]:
        """What :meth:`Fleet.of` returns, as a tuple."""
        return (
            next(iter(self._all("applications", scale_set)), None),
            next(iter(self._all("runner_sets", f"{namespace}/{scale_set}")), None),
            self._all("listeners", scale_set),
            self._all("runners", namespace),
            self._all("events", namespace) + self._all("events", "@" + scale_set),
            self._all("autoscaling_listeners", scale_set),
        )


def held(build: Callable[[], Any]) -> tuple[Any, float]:
    """What ``build`` returns, and the MiB it holds."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return built, (after - before) / 2**20


def new_view(n: int) -> Fleet:
    fleet = Fleet(CONTROLLER)
    for kind, obj in objects(n):
        fleet.put(kind, obj)
    return fleet


def dict_view(n: int) -> DictView:
    view = DictView()
    for kind, obj in objects(n):
        view.put(kind, obj)
    return view


def look_all(of: Callable[[str, str], object], n: int) -> float:
    """Seconds to look at every set once."""
    start = time.perf_counter()
    for i in range(n):
        of(f"set-{i}", f"arc-set-{i}")
    return time.perf_counter() - start


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rss_child(view: str, n: int) -> None:
    """In a fresh process: the MiB the view (``view`` or ``last``) adds to its RSS."""
    built: Fleet | DictView = Fleet(CONTROLLER) if view == "view" else DictView()
    gc.collect()
    before = rss_kib()
    for kind, obj in objects(n):
        built.put(kind, json.loads(json.dumps(obj)))
    gc.collect()
    print((rss_kib() - before) / 1024)


def rss_growth(view: str, n: int) -> float:
    here = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "bench.bench_cluster_view", "--rss-of", view, str(n)]
    return float(subprocess.run(command, capture_output=True, text=True, check=True, cwd=here).stdout)


def whole_view(n: int) -> WholeView:
    view = WholeView()
    for kind, obj in objects(n):
        view.put(kind, obj)
    return view


def running(n: int, i: int) -> dict[str, Any]:
    """The watch event's object: runner 0 of set ``i`` now Running."""
    pod = _pod(f"set-{i}-runner-0", f"arc-set-{i}", {"app.kubernetes.io/component": "runner"}, "runner")
    pod["status"]["phase"] = "Running"
    return pod


def per_event(apply: Callable[[dict[str, Any]], object], n: int) -> float:
    """Median seconds of one watch event applied (and the view made readable)."""
    events = [running(n, (k * 7919) % n) for k in range(EVENTS)]
    times = []
    for obj in events:
        start = time.perf_counter()
        apply(obj)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def update(fleet: Fleet, obj: dict[str, Any]) -> None:
    """The new view: one event, then a reader's look."""
    fleet.put("runners", obj)
    fleet.of("set-0", "arc-set-0")


def rebuild(view: WholeView, slimmed: bool, obj: dict[str, Any]) -> None:
    """The baseline: one event, then the rebuild a reader's look needed."""
    view.put("runners", slim("runners", obj) if slimmed else obj)
    view.rebuild()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rss-of", nargs=2, metavar=("VIEW", "SETS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_of:
        rss_child(args.rss_of[0], int(args.rss_of[1]))
        return 0
    rows = []
    for n in args.sizes:
        rss, last_rss = rss_growth("view", n), rss_growth("last", n)
        fleet, mib = held(functools.partial(new_view, n))
        cost = per_event(functools.partial(update, fleet), n)
        look = look_all(fleet.of, n)
        assert fleet.of("set-1", "arc-set-1").runner_set is not None
        del fleet
        last, last_mib = held(functools.partial(dict_view, n))
        last_look = look_all(last.of, n)
        del last
        if n <= BASELINE_UP_TO:
            whole, base_mib = held(functools.partial(whole_view, n))
            base_cost = per_event(functools.partial(rebuild, whole, False), n)
            del whole
        else:
            # Too large to hold whole here: the rebuild timed on the slim objects, memory not run.
            whole = WholeView()
            for kind, obj in objects(n):
                whole.put(kind, slim(kind, obj))
            base_mib = float("nan")
            base_cost = per_event(functools.partial(rebuild, whole, True), n)
            del whole
        gc.collect()
        rows.append((n, mib, last_mib, base_mib, cost, base_cost, look, last_look, rss, last_rss))
        print(f"  measured {n:,} sets", file=sys.stderr, flush=True)
    print(f"\nEach set: Application, scale set, AutoscalingListener, listener pod, {RUNNERS} runner pods, 1 event")
    print("Baselines (same run): the last round's view (the API's dicts of what is read, same index);")
    print("whole objects, the index rebuilt on every change\n")
    header = (
        f"{'sets':>7} {'view MiB':>9} {'per 1k':>7} {'last round MiB':>15} {'ratio':>6} {'whole MiB':>10} {'ratio':>6} "
        f"{'RSS MiB':>8} {'per 1k':>7} {'last round':>11} "
        f"{'event µs':>9} {'rebuild µs':>11} {'ratio':>8} {'look all ms':>12} {'last round ms':>14} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for n, mib, last_mib, base_mib, cost, base_cost, look, last_look, rss, last_rss in rows:
        whole = "not run" if math.isnan(base_mib) else f"{base_mib:,.0f}"
        ratio = "—" if math.isnan(base_mib) else f"{base_mib / mib:.1f}×"
        print(
            f"{n:>7,} {mib:>9.1f} {mib * 1000 / n:>7.2f} {last_mib:>15.1f} {last_mib / mib:>5.1f}× {whole:>10} {ratio:>6} "
            f"{rss:>8.0f} {rss * 1000 / n:>7.2f} {last_rss:>11.0f} "
            f"{cost * 1e6:>9.1f} {base_cost * 1e6:>11,.0f} {base_cost / cost:>7,.0f}× "
            f"{look * 1e3:>12.0f} {last_look * 1e3:>14.0f} {look / last_look:>5.1f}×"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
