"""Kubernetes RBAC as kube-apiserver applies it, for the fake API server: the rules the
charts actually render for runners-bot's ServiceAccount (its own chart's Roles and
ClusterRoles, and the RoleBinding the fleet puts in every runner namespace), so that a
call the charts do not grant is answered 403, as a real cluster answers it."""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from tests.support.app import ROOT
from tests.support.upstream import render_dir

SERVICE_ACCOUNT = ("runners-bot", "runners-bot")  # namespace, name
USER = f"system:serviceaccount:{SERVICE_ACCOUNT[0]}:{SERVICE_ACCOUNT[1]}"
_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<resource>[^/]+)(?:/(?P<name>[^/]+))?$"
)


@dataclass(frozen=True)
class Rule:
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]

    def allows(self, verb: str, group: str, resource: str) -> bool:
        return (
            (group in self.groups or "*" in self.groups)
            and (resource in self.resources or "*" in self.resources)
            and (verb in self.verbs or "*" in self.verbs)
        )


@dataclass
class Authoriser:
    """Rules bound cluster-wide, and rules bound in each namespace."""

    cluster: list[Rule] = field(default_factory=list)
    namespaced: dict[str, list[Rule]] = field(default_factory=dict)

    def allows(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        rules = self.cluster + (self.namespaced.get(namespace, []) if namespace else [])
        return any(r.allows(verb, group, resource) for r in rules)

    def check(self, method: str, path: str, watch: bool) -> dict[str, Any] | None:
        """None when allowed, else the Status body kube-apiserver answers with 403."""
        found = _PATH.match(path)
        if found is None:
            return None
        group = found.group("group") or ""
        resource, name, namespace = found.group("resource"), found.group("name"), found.group("namespace")
        verb = {"GET": "get" if name else ("watch" if watch else "list"), "PATCH": "patch", "PUT": "update",
                "POST": "create", "DELETE": "delete"}[method]  # fmt: skip
        if self.allows(verb, group, resource, namespace):
            return None
        qualified = f"{resource}.{group}" if group else resource
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        subject = f'{qualified} "{name}"' if name else qualified
        return {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden",
            "message": f'{subject} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in API group '
                       f'"{group}"{where}',
            "details": {"name": name or "", "group": group, "kind": resource}, "code": 403,
        }  # fmt: skip


def _rules(role: dict[str, Any]) -> list[Rule]:
    return [
        Rule(tuple(r.get("apiGroups", [])), tuple(r.get("resources", [])), tuple(r.get("verbs", [])))
        for r in role.get("rules", [])
    ]


def _binds_us(binding: dict[str, Any]) -> bool:
    return any(
        s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) == SERVICE_ACCOUNT
        for s in binding.get("subjects", [])
    )


@functools.cache
def _rendered() -> Authoriser:
    bot = render_dir(ROOT / "charts" / "runners-bot", {"github": {"appId": "1"}}, name="runners-bot",
                     namespace=SERVICE_ACCOUNT[0])  # fmt: skip
    roles = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in bot
             if d["kind"] in ("Role", "ClusterRole")}  # fmt: skip
    authoriser = Authoriser()

    def role(ref: dict[str, Any], namespace: str) -> list[Rule]:
        key = (ref["kind"], namespace if ref["kind"] == "Role" else "", ref["name"])
        return _rules(roles[key]) if key in roles else []

    for doc in bot:
        if doc["kind"] == "ClusterRoleBinding" and _binds_us(doc):
            authoriser.cluster += role(doc["roleRef"], "")
        elif doc["kind"] == "RoleBinding" and _binds_us(doc):
            namespace = doc["metadata"]["namespace"]
            authoriser.namespaced.setdefault(namespace, []).extend(role(doc["roleRef"], namespace))
    # The fleet: every runner namespace gets a RoleBinding of the reader ClusterRole
    # (charts/github-actions-runners, runnersBotAccess, from the fleet's valuesObject).
    values = {**yaml.safe_load((ROOT / "values" / "base-config.yaml").read_text(encoding="utf-8")),
              **yaml.safe_load((ROOT / "values" / "repositories.yaml").read_text(encoding="utf-8"))}  # fmt: skip
    for app in render_dir(ROOT / "charts" / "runners-fleet", values, name="github-runners", namespace="argocd"):
        access = app["spec"]["source"]["helm"]["valuesObject"].get("runnersBotAccess") or {}
        account = access.get("serviceAccount") or {}
        if access.get("enabled") and (account.get("namespace"), account.get("name")) == SERVICE_ACCOUNT:
            namespace = app["spec"]["destination"]["namespace"]
            ref = {"kind": "ClusterRole", "name": access["clusterRole"]}
            authoriser.namespaced.setdefault(namespace, []).extend(role(ref, ""))
    return authoriser


def rendered() -> Authoriser:
    """What the charts grant runners-bot (a copy a test may change: a namespace not deployed yet)."""
    return copy.deepcopy(_rendered())
