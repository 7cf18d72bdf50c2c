"""Naming rules: GitHub names accepted in commands and files, and the Kubernetes names derived from them.

Pure functions, no I/O. The naming convention (docs/configuration.md): scale set = ``runnerScaleSetName`` or ``<name>-runners``,
namespace ``arc-<name>-runners``, ArgoCD Application = scale set name; every derived
name is an RFC 1123 label, and no scale set takes the name of an Application the fleet
does not own (its root Applications, their shards, anything else in Argo CD's namespace).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

# GitHub: repository names are ASCII letters, digits, '.', '-', '_' (at most 100);
# logins are letters, digits and single inner hyphens (at most 39).
_REPO_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
_LOGIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NOT_LABEL_CHARS = re.compile(r"[^a-z0-9-]+")
# Profiles and categories: a label that may hold '_' too (they name YAML keys, not objects).
_SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?")

MAX_LABEL = 63
# ARC 0.12.1's chart refuses longer scale set names: the listener is named
# "<set>-<8-char hash>-listener" and must stay within 63.
MAX_SCALE_SET = 45
BRANCH_PREFIX = "runners-bot/"  # the branches of the app's pull requests, one a scale set
RUNNERS_SUFFIX = "-runners"

# Argo CD keys an Application by its name in its namespace (argocd): the fleet's Application
# for a scale set named like another Application is that Application, and the fleet's
# sync (prune: true) overwrites it. These are the repository's own root Applications, the
# metadata.name of every file in argocd/apps-live and argocd/apps-manual (a deploy test
# holds the two together), reserved even when the cluster cannot be asked.
ROOT_APPLICATIONS = ("arc-controller", "github-runners", "runners-bot")
# The fleet root renders its shards as "<root>-shard-NN" (charts/runners-fleet).
FLEET_SHARD = re.compile(r"github-runners-shard-[0-9]+")
# The labels charts/runners-fleet gives the Application of each scale set: the ones the
# fleet owns (a scale set may take its own Application's name back).
FLEET_LABELS = {"app.kubernetes.io/part-of": "runners-fleet", "app.kubernetes.io/managed-by": "runners-bot"}


# Helm reads values with Go YAML (YAML 1.1 rules of its own): these plain
# scalars are booleans, nulls or numbers there, where PyYAML may read some as strings.
_GO_NOT_STRING = re.compile(
    r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|~|null|Null|NULL"
    r"|[-+]?(?:0[0-7_]*|[1-9][0-9_]*|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|0[bB][01_]+)"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)


def go_yaml_not_string(text: str) -> bool:
    """True when Go YAML (Helm) reads ``text``, written plain, as anything but a string."""
    return text == "" or bool(_GO_NOT_STRING.fullmatch(text))


def is_repo_name(value: str) -> bool:
    """True for a name GitHub accepts as a repository name."""
    return bool(_REPO_RE.fullmatch(value)) and value not in {".", ".."}


def is_login(value: str) -> bool:
    """True for a name GitHub accepts as a user or organisation login."""
    return bool(_LOGIN_RE.fullmatch(value))


def is_label(value: str) -> bool:
    """True for an RFC 1123 label: lower-case alphanumerics and '-', at most 63."""
    return bool(_LABEL_RE.fullmatch(value))


def is_slug(value: str) -> bool:
    """True for a profile or category name: lower-case alphanumerics, '-' and '_', at most 63."""
    return bool(_SLUG_RE.fullmatch(value))


def normalise(name: str) -> str:
    """The Kubernetes spelling of a repository name: lower case, '.' and '_' become '-'."""
    return _NOT_LABEL_CHARS.sub("-", name.lower()).strip("-")


def default_scale_set(name: str) -> str:
    """The scale set name used when an entry sets no ``runnerScaleSetName``."""
    return f"{normalise(name)}{RUNNERS_SUFFIX}"


def scale_set_problem(scale_set: str) -> str | None:
    """Why ARC cannot deploy a scale set of this name, or None when it can."""
    if not is_label(scale_set):
        return f"scale set name '{scale_set}' is not a valid Kubernetes name (lower-case letters, digits and '-', at most {MAX_LABEL})"
    if len(scale_set) > MAX_SCALE_SET:
        return f"scale set name '{scale_set}' has {len(scale_set)} characters; ARC allows at most {MAX_SCALE_SET}"
    return None


def reserved_application(scale_set: str, taken: Collection[str] = ()) -> str | None:
    """What ``scale_set`` collides with when it is the name of an Application the fleet does
    not own: a root Application, a shard of the fleet's root, or one of ``taken`` (listed
    from the cluster); None when the name is free."""
    if scale_set in ROOT_APPLICATIONS:
        return "one of this repository's root Applications (argocd/)"
    if FLEET_SHARD.fullmatch(scale_set):
        return "a shard of the fleet's root Application"
    if scale_set in taken:
        return "an Application already in Argo CD's namespace that the fleet does not own"
    return None


def application_problem(scale_set: str, taken: Collection[str] = ()) -> str | None:
    """Why the fleet cannot name an Application ``scale_set``, or None when it can."""
    clash = reserved_application(scale_set, taken)
    if clash is None:
        return None
    return (
        f"scale set name '{scale_set}', which is also the name of {clash}: Argo CD keys Applications by name "
        "in its namespace, so the fleet's Application for this scale set would overwrite it"
    )


def reserved_names_text() -> str:
    """The names no scale set may take, for a refusal's "accepted"."""
    roots = ", ".join(f"`{n}`" for n in ROOT_APPLICATIONS)
    return f"{roots}, `github-runners-shard-NN` or another Application in Argo CD's namespace"


def foreign_applications(applications: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The names of the Applications (Kubernetes objects, as listed) the fleet does not own:
    those without the labels charts/runners-fleet gives a scale set's Application."""
    found = set()
    for application in applications:
        meta = application.get("metadata") or {}
        labels = meta.get("labels") or {}
        if any(labels.get(key) != value for key, value in FLEET_LABELS.items()):
            found.add(str(meta.get("name") or ""))
    return frozenset(found - {""})


def namespace(name: str) -> str:
    """The namespace a repository's runners live in."""
    return f"arc-{normalise(name)}-runners"


def branch(scale_set: str) -> str:
    """The branch of a scale set's pull request."""
    return BRANCH_PREFIX + scale_set
