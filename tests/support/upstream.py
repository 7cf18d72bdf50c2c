"""The real things the fleet deploys through, for tests: ARC 0.12.1's charts and CRDs,
Argo CD's Application CRD and External Secrets' CRDs (never copied into the repository).

Where they come from:

- ``ARC_CHARTS_DIR``: a folder holding ``gha-runner-scale-set`` and
  ``gha-runner-scale-set-controller`` (the unmodified upstream charts, CRDs in the
  controller's ``crds/``). Else the ``.tgz`` files ``helm dependency build`` left in our
  charts' ``charts/`` folders, where the network allowed it.
- ``UPSTREAM_DIR``: the folder with ``argo-cd-*/application-crd.yaml`` and
  ``external-secrets-*/crds/``.

``make test`` and ``.ci/run`` point both at ``../shared/upstream`` when it exists. A
test that needs a missing one is skipped locally and fails under ``CI=true``: CI must
never pass by skipping the real thing.
"""

from __future__ import annotations

import copy
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from tests.support.app import ROOT

CHARTS = ROOT / "charts"
ARC_VERSION = "0.12.1"
SUBCHARTS = {
    "github-actions-runners": "gha-runner-scale-set",
    "github-actions-controller": "gha-runner-scale-set-controller",
}


# How to get the upstream artefacts, for the skip message (README, "Running the tests").
FETCH = (
    "`make test` uses ../shared/upstream when it is there; elsewhere run `python3 scripts/fetch_upstream.py DIR` "
    "(needs helm and terraform), then UPSTREAM_DIR=DIR ARC_CHARTS_DIR=DIR/arc-0.12.1/charts make test"
)


def missing(what: str) -> None:
    """Skip (developer machine) or fail (CI) a test whose upstream artefact is absent."""
    message = f"{what} not found: {FETCH}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def arc_chart(name: str) -> Path:
    """The folder (or .tgz) of one of ARC's charts."""
    folder = os.environ.get("ARC_CHARTS_DIR")
    if folder and (Path(folder) / name / "Chart.yaml").exists():
        return Path(folder) / name
    for umbrella, sub in SUBCHARTS.items():
        packaged = CHARTS / umbrella / "charts" / f"{sub}-{ARC_VERSION}.tgz"
        if sub == name and packaged.exists():
            return packaged
    missing(f"ARC's chart {name} {ARC_VERSION}")
    raise AssertionError  # unreachable: missing() raises


def upstream_file(pattern: str) -> Path:
    folder = os.environ.get("UPSTREAM_DIR")
    found = sorted(Path(folder).glob(pattern)) if folder else []
    if not found:
        missing(f"upstream file {pattern}")
    return found[0]


class RealCharts:
    """Our umbrella charts assembled with ARC's real charts in their ``charts/`` folder,
    in a temporary directory (the repository is left as it is)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._loaded: dict[str, Any] = {}

    def path(self, umbrella: str) -> Path:
        target = self.workdir / umbrella
        if not target.exists():
            shutil.copytree(CHARTS / umbrella, target, ignore=shutil.ignore_patterns("charts"))
            source = arc_chart(SUBCHARTS[umbrella])
            (target / "charts").mkdir()
            if source.suffix == ".tgz":
                with tarfile.open(source) as archive:
                    archive.extractall(target / "charts", filter="data")
            else:
                shutil.copytree(source, target / "charts" / source.name)
        return target

    def render(self, umbrella: str, values: dict[str, Any], *, name: str, namespace: str) -> list[dict[str, Any]]:
        """Every manifest ``helm template`` would print (CRDs and NOTES aside)."""
        return render_dir(self.path(umbrella), values, name=name, namespace=namespace)

    def lint(self, umbrella: str) -> dict[str, Any]:
        result: dict[str, Any] = helm_python.lint(self.path(umbrella), {}, strict=True)
        return result


def render_dir(chart: Path, values: dict[str, Any], *, name: str, namespace: str) -> list[dict[str, Any]]:
    loaded = helm_python.Chart.load(chart)
    try:
        out = loaded.render(copy.deepcopy(values), name=name, namespace=namespace)
    finally:
        loaded.close()
    return [
        doc
        for path, text in sorted(out.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def real_charts() -> Iterator[RealCharts]:
    with tempfile.TemporaryDirectory(prefix="real-charts-") as workdir:
        yield RealCharts(Path(workdir))


# --- CRD schemas as JSON Schema ----------------------------------------------------------


def _strict(schema: Any) -> Any:
    """A CRD's structural schema as a strict JSON Schema: unknown fields are errors (as
    ``kubectl apply --validate=strict`` reports them), int-or-string accepts both."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if schema.get("nullable"):
        out.pop("nullable")
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
    return out


@cache
def _validators(crd_file: Path) -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    found = {}
    for crd in yaml.safe_load_all(crd_file.read_text(encoding="utf-8")):
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served"):
                continue
            schema = _strict(version["schema"]["openAPIV3Schema"])
            schema["properties"]["metadata"] = {"type": "object"}
            api_version = f"{spec['group']}/{version['name']}"
            found[(api_version, spec["names"]["kind"])] = jsonschema.Draft7Validator(schema)
    return found


@cache
def _unpacked(archive: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="arc-chart-"))
    with tarfile.open(archive) as packed:
        packed.extractall(target, filter="data")
    return target / archive.name.rsplit("-", 1)[0]


def crd_files() -> list[Path]:
    arc = arc_chart("gha-runner-scale-set-controller")
    if arc.suffix == ".tgz":
        arc = _unpacked(arc)
    return [
        *sorted((arc / "crds").glob("*.yaml")),
        upstream_file("argo-cd-*/application-crd.yaml"),
        *sorted(upstream_file("external-secrets-*/crds").glob("*.yaml")),
    ]


def crd_errors(doc: dict[str, Any]) -> list[str]:
    """What the upstream CRD of ``doc``'s kind refuses in it (an unknown kind is an error)."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    for path in crd_files():
        validator = _validators(path).get(key)
        if validator is not None:
            return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    return [f"no served upstream CRD for {key}"]
