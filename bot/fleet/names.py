"""Naming rules: GitHub names accepted in commands and files, and the Kubernetes names derived from them.

Pure functions, no I/O. The naming convention (docs/configuration.md): scale set = ``runnerScaleSetName`` or ``<name>-runners``,
namespace ``arc-<name>-runners``, ArgoCD Application = scale set name; every derived
name is an RFC 1123 label.
"""

from __future__ import annotations

import re

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


def namespace(name: str) -> str:
    """The namespace a repository's runners live in."""
    return f"arc-{normalise(name)}-runners"


def branch(scale_set: str) -> str:
    """The branch of a scale set's pull request."""
    return BRANCH_PREFIX + scale_set
