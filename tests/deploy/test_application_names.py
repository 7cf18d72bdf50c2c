"""The Application names no scale set may take are the repository's own: the names the bot
reserves match argocd/'s manifests, and the labels it reads to tell the fleet's own
Applications apart are the ones charts/runners-fleet renders.

Argo CD keys an Application by its name in its namespace (an Application is a namespaced
Kubernetes object, argo-cd's CRD ``applications.argoproj.io``): the fleet's Application
for a scale set named like a root Application would be that root Application."""

from __future__ import annotations

import yaml

from bot.fleet import names
from bot.fleet.config import ConfigFiles
from tests.support.app import ROOT
from tests.support.upstream import render_dir

MANIFESTS = sorted((ROOT / "argocd").glob("apps-*/*.yaml"))


def _applications() -> list[dict[str, object]]:
    docs = [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return [doc for doc in docs if doc.get("kind") == "Application"]


def test_reserved_names_are_the_root_applications_in_argocd() -> None:
    found = {app["metadata"]["name"] for app in _applications()}  # type: ignore[index]
    assert {p.parent.name for p in MANIFESTS} == {"apps-live", "apps-manual"}
    assert set(names.ROOT_APPLICATIONS) == found


def test_the_shard_pattern_follows_the_fleet_roots_release_name() -> None:
    """The fleet root renders its shards as ``<releaseName>-shard-NN``."""
    (fleet,) = [a for a in _applications() if a["spec"]["source"]["path"] == "charts/runners-fleet"]  # type: ignore[index]
    release = fleet["spec"]["source"]["helm"]["releaseName"]  # type: ignore[index]
    assert release in names.ROOT_APPLICATIONS
    assert names.FLEET_SHARD.fullmatch(f"{release}-shard-00")
    assert names.FLEET_SHARD.fullmatch(f"{release}-shard-31")
    assert not names.FLEET_SHARD.fullmatch(f"{release}-runners")


def test_the_fleet_labels_its_own_applications_as_the_bot_reads_them(bundled: ConfigFiles) -> None:
    values = {**yaml.safe_load(bundled.base), **yaml.safe_load(bundled.repositories)}
    rendered = render_dir(ROOT / "charts" / "runners-fleet", values, name="github-runners", namespace="argocd")
    children = [doc for doc in rendered if doc["kind"] == "Application" and "-shard-" not in doc["metadata"]["name"]]
    assert children
    assert names.foreign_applications(children) == frozenset()
