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


def test_what_the_fleet_root_renders_is_its_own_or_reserved(bundled: ConfigFiles) -> None:
    """Rendered as the root Application renders it (its release name and valuesObject over
    the two value files): each scale set's Application carries the labels the bot reads as
    the fleet's own, and any other Application (a shard of the root) has a reserved name."""
    (fleet,) = [a for a in _applications() if a["spec"]["source"]["path"] == "charts/runners-fleet"]  # type: ignore[index]
    helm = fleet["spec"]["source"]["helm"]  # type: ignore[index]
    values = {**yaml.safe_load(bundled.base), **yaml.safe_load(bundled.repositories), **helm.get("valuesObject", {})}
    rendered = render_dir(ROOT / "charts" / "runners-fleet", values, name=helm["releaseName"], namespace="argocd")
    applications = [doc for doc in rendered if doc["kind"] == "Application"]
    own = {a["metadata"]["name"] for a in applications} - names.foreign_applications(applications)
    assert applications, "the fleet root renders Applications"
    for name in names.foreign_applications(applications):
        assert names.reserved_application(name) is not None, f"{name} is neither the fleet's own nor reserved"
    for name in own:
        assert names.reserved_application(name) is None, name
