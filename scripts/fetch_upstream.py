#!/usr/bin/env python3
"""Fetch the upstream artefacts the tests render and validate through, into the layout
tests/support/upstream.py reads (``UPSTREAM_DIR``): ARC's charts and CRDs, Argo CD's Application
CRD, External Secrets' CRDs, and the Rackspace Spot provider's schema.

Run where the network reaches ghcr.io, GitHub and the Terraform registry (GitHub
Actions: .github/workflows/ci.yml calls it), then point the tests at the folder:

    python3 scripts/fetch_upstream.py "$RUNNER_TEMP/upstream"
    UPSTREAM_DIR="$RUNNER_TEMP/upstream" ARC_CHARTS_DIR="$RUNNER_TEMP/upstream/arc-0.12.1/charts" make test

Needs helm (OCI pulls), terraform and curl-free Python (urllib). Each artefact is
unmodified, except the provider's schema: ``terraform providers schema -json`` turned
into the small table the tests read (attributes required, optional and read-only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

ARC = "0.12.1"
ARGO_CD = "v3.5.1"
EXTERNAL_SECRETS = "v2.9.0"
SPOT = "0.1.4"
ARC_CHARTS = "oci://ghcr.io/actions/actions-runner-controller-charts"
RAW = "https://raw.githubusercontent.com"

# Every path this script writes, relative to the target folder: tests/deploy/test_upstream_layout.py
# checks that each pattern tests/support/upstream.py and the tests look for matches one of them.
LAYOUT = (
    f"arc-{ARC}/charts/gha-runner-scale-set/Chart.yaml",
    f"arc-{ARC}/charts/gha-runner-scale-set-controller/Chart.yaml",
    f"arc-{ARC}/charts/gha-runner-scale-set-controller/crds/actions.github.com_autoscalingrunnersets.yaml",
    f"argo-cd-{ARGO_CD}/application-crd.yaml",
    *(
        f"external-secrets-{EXTERNAL_SECRETS}/crds/external-secrets.io_{kind}.yaml"
        for kind in ("externalsecrets", "clusterexternalsecrets", "secretstores", "clustersecretstores")
    ),
    f"terraform-provider-spot-v{SPOT}/schema.json",
)


def download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=60) as answer:  # fixed https URLs above
        target.write_bytes(answer.read())
    print(f"  {target}", flush=True)


def arc_charts(folder: Path) -> None:
    charts = folder / f"arc-{ARC}" / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    for chart in ("gha-runner-scale-set", "gha-runner-scale-set-controller"):
        subprocess.run(
            ["helm", "pull", f"{ARC_CHARTS}/{chart}", "--version", ARC, "--untar", "--untardir", str(charts)],
            check=True,
        )
        print(f"  {charts / chart}", flush=True)


def crds(folder: Path) -> None:
    download(f"{RAW}/argoproj/argo-cd/{ARGO_CD}/manifests/crds/application-crd.yaml",
             folder / f"argo-cd-{ARGO_CD}" / "application-crd.yaml")  # fmt: skip
    for path in LAYOUT:
        if path.startswith("external-secrets-"):
            name = path.rsplit("/", 1)[-1]
            download(
                f"{RAW}/external-secrets/external-secrets/{EXTERNAL_SECRETS}/config/crds/bases/{name}", folder / path
            )


def type_name(attribute: dict[str, Any]) -> str:
    """An attribute's type as the provider's documentation writes it."""
    nested = attribute.get("nested_type")
    if nested is not None:
        return {"single": "Attributes", "list": "Attributes List", "set": "Attributes Set"}.get(
            nested.get("nesting_mode", "single"), "Attributes"
        )
    kind = attribute.get("type")
    simple = {"string": "String", "number": "Number", "bool": "Boolean"}
    if isinstance(kind, str):
        return simple.get(kind, kind)
    if isinstance(kind, list) and len(kind) == 2 and isinstance(kind[1], str):
        return (
            f"{ {'map': 'Map', 'list': 'List', 'set': 'Set'}.get(kind[0], kind[0]) } of {simple.get(kind[1], kind[1])}"
        )
    return "Dynamic"


def table(block: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """One resource's attributes by kind, with its nested attributes under their names."""
    out: dict[str, dict[str, dict[str, str]]] = {"(top)": {}}
    for name, attribute in sorted(block.get("attributes", {}).items()):
        role = "required" if attribute.get("required") else "optional" if attribute.get("optional") else "read-only"
        out["(top)"].setdefault(role, {})[name] = type_name(attribute)
        nested = attribute.get("nested_type")
        if nested is not None:
            inner = table({"attributes": nested.get("attributes", {})})["(top)"]
            out[name] = inner
    return out


def provider_schema(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "main.tf").write_text(
            'terraform {\n  required_providers {\n    spot = {\n      source  = "rackerlabs/spot"\n'
            f'      version = "{SPOT}"\n    }}\n  }}\n}}\n',
            encoding="utf-8",
        )
        subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=work, check=True, stdout=sys.stderr)
        found = subprocess.run(
            ["terraform", "providers", "schema", "-json"], cwd=work, check=True, capture_output=True, text=True
        )
    schemas = json.loads(found.stdout)["provider_schemas"]
    (provider,) = [s for name, s in schemas.items() if name.endswith("rackerlabs/spot")]
    result = {}
    for kind, key in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
        for name, schema in sorted(provider.get(key, {}).items()):
            result[f"{kind} {name}"] = table(schema["block"])
    target = folder / f"terraform-provider-spot-v{SPOT}" / "schema.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"  {target}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to put them (UPSTREAM_DIR)")
    folder = parser.parse_args().folder
    print(f"Fetching upstream artefacts into {folder}:", flush=True)
    arc_charts(folder)
    crds(folder)
    provider_schema(folder)
    absent = [path for path in LAYOUT if not (folder / path).exists()]
    if absent:
        print(f"fetch_upstream: missing after the fetch: {', '.join(absent)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
