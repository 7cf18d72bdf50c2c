"""Argo CD's custom health checks for the fleet (argocd/argocd-cm-health.yaml), run as Argo
CD runs them (``util/lua``): Lua with the live object as ``obj``, returning
``{status, message}``. Shared by the checks' own tests and by rollout scenarios whose
Application health must be what Argo CD would compute from the fake cluster's objects."""

from __future__ import annotations

from typing import Any

import yaml
from lupa import LuaRuntime

from tests.support.app import ROOT

CM = yaml.safe_load((ROOT / "argocd" / "argocd-cm-health.yaml").read_text(encoding="utf-8"))
PREFIX = "resource.customizations.health."
ARS = "actions.github.com_AutoscalingRunnerSet"


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(CM["data"][PREFIX + kind])
    return str(result["status"]), str(result["message"])
