"""The cluster's view shared by every rollout and the dashboard (bot.clients.kube.ClusterView),
through the official client against the fake API server's lists and watches: one list
and one watch per kind, changes within a moment, a 410 Gone lists again, an outage is
named and then recovered from."""

from __future__ import annotations

import gc
import json
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.clients.kube import ClusterView, Fleet, Kube, api_client
from tests.support.fakekube import OWNER, FakeKube, application, event, listener, pod, runner, runner_set
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

SETS = {f"set-{n}": f"arc-set-{n}" for n in range(20)}


def fleet(healthy: Callable[[], bool]) -> Callable[[int], dict[str, Any]]:
    def state(_look: int) -> dict[str, Any]:
        health = "Healthy" if healthy() else "Progressing"
        return {
            "applications": [application(s, sync="Synced", revision="a" * 40, health=health) for s in SETS],
            "runner_sets": [runner_set(s, ns, low=1, high=5) for s, ns in SETS.items()],
            "listeners": [listener(s) for s in SETS],
            "runners": [runner(s, ns, 1) for s, ns in SETS.items()],
        }

    return state


@pytest.fixture
def watching(kube: FakeKube) -> Iterator[tuple[ClusterView, FakeKube, list[bool]]]:
    healthy = [False]
    kube.scenario = fleet(lambda: healthy[0])
    watch = ClusterView(
        Kube(api_client(kube.url), "argocd", "arc-systems"),  # type: ignore[attr-defined]
        watch_seconds=1,
        retry_seconds=0.1,
    )
    watch.start()
    try:
        yield watch, kube, healthy
    finally:
        watch.stop()


def health(watch: ClusterView, name: str) -> str:
    app = watch.fleet().of(name, SETS[name]).application or {}
    return str(app.get("status", {}).get("health", {}).get("status"))


async def test_the_whole_fleet_in_one_list_per_kind_then_watches(
    watching: tuple[ClusterView, FakeKube, list[bool]],
) -> None:
    watch, kube, healthy = watching
    await until(lambda: watch.ready)
    state = watch.fleet().of("set-7", "arc-set-7")
    assert state.runner_set is not None and [p["metadata"]["name"] for p in state.listeners] == [
        "set-7-6cd58d58-listener"
    ]
    assert len(state.runners) == 1
    assert 5 <= kube.lists <= 10, "a list per kind (again after a dropped watch), not one per set: 20 here"
    assert kube.watches <= 10, "and one watch per kind (renewed when the server ends it)"
    seen = watch.version
    requests = len(kube.requests)
    healthy[0] = True
    await watch.changed(seen, 5.0)
    await until(lambda: health(watch, "set-19") == "Healthy")
    assert len(kube.requests) - requests <= 10, "the change came through the open watches, not new lists"


async def test_a_watch_too_old_to_resume_lists_again(watching: tuple[ClusterView, FakeKube, list[bool]]) -> None:
    watch, kube, healthy = watching
    await until(lambda: watch.ready)
    listed = kube.lists
    kube.compact()  # etcd forgot the history: the next resume gets 410 Gone
    await until(lambda: kube.lists > listed)
    healthy[0] = True
    await until(lambda: health(watch, "set-3") == "Healthy")


async def test_an_outage_is_named_and_recovered_from(watching: tuple[ClusterView, FakeKube, list[bool]]) -> None:
    watch, kube, healthy = watching
    await until(lambda: watch.ready)
    kube.unavailable = True
    await until(lambda: watch.problem is not None)
    assert "503" in str(watch.problem)
    healthy[0] = True
    kube.unavailable = False
    await until(lambda: watch.problem is None and health(watch, "set-0") == "Healthy")


def _heavy(found: dict[str, Any]) -> dict[str, Any]:
    """``found`` as a busy cluster serves it: other tools' annotations, managedFields."""
    found["metadata"]["annotations"] = {f"example.com/note-{n}": "x" * 1000 for n in range(20)}
    found["metadata"]["managedFields"] = [{"manager": "kubelet", "fieldsV1": {"f:status": {"x" * 50: {}}}}] * 20
    return found


async def test_only_arcs_objects_and_only_the_fields_read_are_kept(kube: FakeKube) -> None:
    """Pods of other tools that also say component=runner are not ARC's
    (resourcebuilder.go labels ARC's runner pods actions-ephemeral-runner=True), and of
    ARC's own objects only what the report and the dashboard read is held."""
    foreign = [
        _heavy(pod(f"ci-{n}", "other-team", phase="Running", labels={"app.kubernetes.io/component": "runner"}))
        for n in range(30)
    ]
    kube.scenario = lambda _look: {
        "runner_sets": [runner_set("set-1", "arc-set-1", low=1, high=5)],
        "listeners": [_heavy(listener("set-1"))],
        "runners": [_heavy(runner("set-1", "arc-set-1", 1)), *foreign],
        "events": [event("arc-set-1", "Pod", "set-1-runner-1", "FailedScheduling", "0/3 nodes" + "." * 5000)],
    }
    watch = ClusterView(Kube(api_client(kube.url), "argocd", "arc-systems"), watch_seconds=1, retry_seconds=0.1)  # type: ignore[attr-defined]
    watch.start()
    try:
        await until(lambda: watch.ready)
        state = watch.fleet().of("set-1", "arc-set-1")
        assert watch.fleet().of("", "other-team").runners == [], "other tools' pods are not even listed"
        (kept,) = state.runners
        assert kept["metadata"]["name"] == "set-1-runner-1" and kept["status"]["phase"] == "Running"
        assert "annotations" not in kept["metadata"] and "managedFields" not in kept["metadata"]
        assert len(json.dumps(kept)) < 1000 < len(json.dumps(_heavy(runner("set-1", "arc-set-1", 1))))
        assert len(json.dumps(state.listeners[0])) < 1000
        (warning,) = state.events
        assert warning["reason"] == "FailedScheduling" and len(warning["message"]) <= 500
    finally:
        watch.stop()


def test_a_runner_pod_keeps_only_what_is_read_and_equal_statuses_are_held_once() -> None:
    """Runner pods are most of the view (5 a set and more): of them only the phase, a
    Pending one's age and why it cannot start are read (rollout._runners, the dashboard,
    why jobs wait); not the uid, owners or running containers, read of listener pods."""
    fleet = Fleet("arc-systems")
    for n in (1, 2):
        found = _heavy(runner("set-1", "arc-set-1", n))
        found["metadata"] |= {"uid": f"uid-{n}", "ownerReferences": [{"kind": "EphemeralRunner", "uid": "e"}]}
        found["status"]["containerStatuses"] = [{"name": "runner", "ready": True, "restartCount": 0,
                                                 "state": {"running": {"startedAt": "2026-12-03T08:00:00Z"}}}]  # fmt: skip
        fleet.put("runners", found)
    fleet.put("runners", runner("set-1", "arc-set-1", 3, phase="Pending", age=600, waiting="ImagePullBackOff"))
    first, second, pending = sorted(fleet.of("set-1", "arc-set-1").runners, key=lambda p: p["metadata"]["name"])
    assert first == {"metadata": {"name": "set-1-runner-1", "namespace": "arc-set-1"}, "status": {"phase": "Running"}}
    assert first["status"] is second["status"], "one status object for equal statuses"
    assert pending["metadata"]["creationTimestamp"]
    (waiting,) = pending["status"]["containerStatuses"]
    assert waiting == {
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image: ImagePullBackOff"}}
    }


def _one_set(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, object) of one scale set as the API serves them: fresh strings, as a JSON
    answer's are (json.loads shares none of them)."""
    scale_set, namespace = f"set-{n}", f"arc-set-{n}"
    found = runner_set(scale_set, namespace, low=1, high=5, current=5)
    owned = listener(scale_set, of=found)
    objects = [
        ("applications", application(scale_set, sync="Synced", revision="a" * 40, health="Healthy")),
        ("runner_sets", found),
        ("autoscaling_listeners", owned.pop(OWNER)),
        ("listeners", owned),
        *(("runners", runner(scale_set, namespace, r, phase="Pending" if r == 4 else "Running")) for r in range(5)),
        ("events", event(namespace, "Pod", f"{scale_set}-runner-4", "FailedScheduling", "0/3 nodes are available")),
        ("events", event("arc-systems", "Pod", owned["metadata"]["name"], "BackOff", "Back-off restarting")),
    ]
    return ((kind, json.loads(json.dumps(obj))) for kind, obj in objects)


def test_the_view_holds_a_set_with_five_runner_pods_in_a_few_kilobytes() -> None:
    """50,000 sets with 5 runner pods each must fit the chart's 512Mi with the model: each
    object is held as one small tuple and given to readers as the API shapes it (a dict
    per object and field held 8 KB a set)."""
    sets = 300
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        view = Fleet("arc-systems")
        for n in range(sets):
            for kind, obj in _one_set(n):
                view.put(kind, obj)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    state = view.of("set-7", "arc-set-7")
    assert state.application is not None and state.runner_set is not None
    assert len(state.runners) == 5 and len(state.listeners) == len(state.autoscaling_listeners) == 1
    assert len(state.events) == 2
    assert held / sets < 4096, f"{held / sets:,.0f} bytes a set"


def test_every_object_can_be_dropped_and_a_look_gets_its_own_copy() -> None:
    """A DELETED event removes the object wherever the view filed it (a listener's objects
    in the controller's namespace are filed by scale set), and a reader changing what a
    look returned changes nothing in the view."""
    view = Fleet("arc-systems")
    objects = list(_one_set(1))
    for kind, obj in objects:
        view.put(kind, obj)
    first = view.of("set-1", "arc-set-1")
    assert first.events[1]["involvedObject"]["name"] == "set-1-6cd58d58-listener"
    first.listeners[0]["metadata"]["name"] = "vandalised"
    assert view.of("set-1", "arc-set-1").listeners[0]["metadata"]["name"] == "set-1-6cd58d58-listener"
    for kind, obj in objects:
        view.drop(kind, obj)
    gone = view.of("set-1", "arc-set-1")
    assert (gone.application, gone.runner_set) == (None, None)
    assert gone.listeners == gone.runners == gone.events == gone.autoscaling_listeners == []
    assert all(view.objects(kind) == [] for kind, _ in objects)


async def test_lists_come_in_pages_and_the_view_is_updated_in_place(kube: FakeKube) -> None:
    """The API server serves a list in pages (limit/continue: Kubernetes' "API concepts",
    retrieving large results sets in chunks); each watch event then updates the one view."""
    healthy = [False]
    kube.scenario = fleet(lambda: healthy[0])
    watch = ClusterView(
        Kube(api_client(kube.url), "argocd", "arc-systems", page=7),  # type: ignore[attr-defined]
        watch_seconds=1,
        retry_seconds=0.1,
    )
    watch.start()
    try:
        await until(lambda: watch.ready)
        assert all(watch.fleet().of(s, ns).runner_set is not None for s, ns in SETS.items()), "every page"
        assert kube.lists >= 6 + 4 * 2, "20 objects of four kinds in pages of 7: three pages each"
        view = watch.fleet()
        healthy[0] = True
        await until(lambda: health(watch, "set-19") == "Healthy")
        assert watch.fleet() is view, "the same view, updated per event, not rebuilt"
    finally:
        watch.stop()


def test_two_paged_lists_of_one_kind_interleaved_each_see_every_object(kube: FakeKube) -> None:
    """Continue tokens are the API server's, not a queue: two clients paging the same kind
    at once each get every object once, and a page asked for again is served again (a
    client retrying a timed-out page), until compaction expires it (410)."""
    kube.scenario = fleet(lambda: True)
    url = f"{kube.url}/api/v1/pods"  # type: ignore[attr-defined]
    with httpx.Client() as client:
        first = [client.get(url, params={"limit": 7}).json() for _ in range(2)]
        tokens = [page["metadata"]["continue"] for page in first]
        assert tokens[0] != tokens[1], "each list its own token"
        again = [client.get(url, params={"limit": 7, "continue": tokens[0]}).json() for _ in range(2)]
        assert again[0]["items"] == again[1]["items"], "a page asked for twice is the same page"
        names: list[list[str]] = []
        for start in first:
            page, seen = start, [p["metadata"]["name"] for p in start["items"]]
            while token := page["metadata"].get("continue"):
                page = client.get(url, params={"limit": 7, "continue": token}).json()
                seen += [p["metadata"]["name"] for p in page["items"]]
            names.append(seen)
        assert names[0] == names[1] and len(set(names[0])) == len(names[0]) == len(kube.stored["pods"])
        kube.compact()
        assert client.get(url, params={"limit": 7, "continue": tokens[1]}).status_code == 410


async def test_stopping_gives_up_a_list_between_pages(kube: FakeKube) -> None:
    """A fleet of 50,000 sets is hundreds of pages: stopping the view (a server shutting
    down, within its grace period) ends each list at the page in flight, not at the last."""
    kube.scenario = fleet(lambda: True)
    kube.delay = 1.0  # 20 to 40 objects a kind in pages of 1: 20 to 40 s a kind, more than stop waits
    watch = ClusterView(Kube(api_client(kube.url), "argocd", "arc-systems", page=1), retry_seconds=0.1)  # type: ignore[attr-defined]
    watch.start()
    await until(lambda: kube.lists >= 5, "the first pages")
    before = kube.lists
    watch.stop()
    kinds = len(watch.kube.kinds())
    assert kube.lists <= before + kinds, "at most the page each kind had in flight, then nothing"
    alive = [t.name for t in threading.enumerate() if t.name.startswith("watch-") and t.is_alive()]
    assert not alive, f"still listing after stop: {alive}"
    assert not watch.ready
