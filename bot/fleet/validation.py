"""Rules that keep both values files valid; every problem names its file and line.

Pure: takes a :class:`bot.fleet.config.Config`, returns problems. Unknown keys are problems
(with the closest known key suggested) so that a typo such as ``maxRunner`` never
passes silently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from bot.fleet import names, schedules
from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, Config, Entry, unique_keys
from bot.fleet.suggest import closest
from bot.fleet.yamlload import LineMap

ENTRY_KEYS = (
    "name", "org", "category", "runnerScaleSetName", "scaling", "profile",
    "labels", "storage", "environment", "dind", "schedules", "burst", "scope", "runnerGroup",
)  # fmt: skip
SCOPES = ("repository", "organization")
ENVIRONMENT_KEYS = ("githubUrl", "githubConfigSecret", "githubConfigSecrets", "githubServerTLS")
SCALING_KEYS = ("minRunners", "maxRunners")
STORAGE_KEYS = ("work", "cache")
REPOSITORIES_TOP = ("repositories", "globalOverrides", "environments")
BASE_TOP = ("scaling", "dind", "categories", "caches", "pricing")
PRICING_KEYS = ("currency", "vcpuHour", "gibHour", "profiles")  # docs/capacity.md
CACHES_KEYS = ("storageClassName",)
BASE_SCALING = ("defaults", "limits", "profiles")
PROFILE_KEYS = ("cpu", "memory", "storage")
RESOURCE_KEYS = ("request", "limit")
CATEGORY_KEYS = ("description", "profile", "dind")

_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding, printed as ``FILE:LINE: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def is_extension_key(key: object) -> bool:
    """Top-level ``x-…`` keys hold YAML anchors shared by entries, as in Compose files."""
    return isinstance(key, str) and key.startswith("x-")


class _Report:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def keys(self, data: LineMap, allowed: tuple[str, ...], where: str, top: bool = False) -> None:
        for key in data:
            if key in allowed or (top and is_extension_key(key)):
                continue
            hint = closest(str(key), allowed, n=1)
            also = f"did you mean '{hint[0]}'? " if hint else ""
            self.add(
                data.line_of(key),
                f"unknown key '{key}' in {where}: {also}known keys: {', '.join(allowed)}",
            )

    def mapping(self, parent: LineMap, key: str, where: str, required: bool = False) -> LineMap | None:
        value = parent.get(key)
        if isinstance(value, LineMap):
            return value
        if value is not None or required:
            self.add(parent.line_of(key), f"'{key}' in {where} must be a mapping")
        return None


def validate(config: Config, applications: Collection[str] = ()) -> list[Problem]:
    """Every problem of both files, sorted by file and line. ``applications``: the names of
    the Applications in Argo CD's namespace the fleet does not own, when the cluster was
    asked (the repository's root Applications are reserved either way)."""
    repos = _Report(REPOSITORIES_FILE)
    base = _Report(BASE_CONFIG_FILE)
    for line, key in config.repositories.duplicates:
        repos.add(line, f"duplicate key '{key}': YAML keeps only the last one")
    for line, key in config.base.duplicates:
        base.add(line, f"duplicate key '{key}': YAML keeps only the last one")
    _check_base(config, base)
    _check_repositories(config, repos)
    for entry in config.entries:
        _check_application(entry, repos, applications)
    return sorted(repos.problems + base.problems)


def _check_base(config: Config, report: _Report) -> None:
    raw = config.base.data
    if not isinstance(raw, LineMap):
        report.add(1, "the file must be a mapping with 'scaling', 'dind' and 'categories'")
        return
    report.keys(raw, BASE_TOP, "base-config", top=True)
    scaling = report.mapping(raw, "scaling", "base-config", required=True)
    if scaling is not None:
        report.keys(scaling, BASE_SCALING, "scaling")
        _check_base_scaling(config, scaling, report)
    dind = report.mapping(raw, "dind", "base-config")
    dind_profiles = report.mapping(dind, "profiles", "dind") if dind is not None else None
    for name, profile in (dind_profiles or LineMap()).items():
        _check_resources(
            report, dind_profiles or LineMap(), str(name), profile, keys=("cpu", "memory"), what="dind profile"
        )
    caches = report.mapping(raw, "caches", "base-config")
    if caches is not None:
        report.keys(caches, CACHES_KEYS, "caches")
        if not isinstance(caches.get("storageClassName"), str):
            report.add(
                caches.line_of("storageClassName"), "caches.storageClassName must name a ReadWriteMany storage class"
            )
    pricing = report.mapping(raw, "pricing", "base-config")
    if pricing is not None:
        _check_pricing(pricing, report)
    categories = report.mapping(raw, "categories", "base-config")
    for name, category in (categories or LineMap()).items():
        _check_category(config, report, categories or LineMap(), str(name), category)


def _check_base_scaling(config: Config, scaling: LineMap, report: _Report) -> None:
    defaults = report.mapping(scaling, "defaults", "scaling")
    if defaults is not None:
        report.keys(defaults, (*SCALING_KEYS, "profile"), "scaling.defaults")
        _check_counts(report, defaults, "scaling.defaults")
        profile = defaults.get("profile")
        if profile is not None and profile not in config.base_config.profiles:
            report.add(defaults.line_of("profile"), _unknown("profile", profile, config.base_config.profiles))
    limits = report.mapping(scaling, "limits", "scaling")
    if limits is not None:
        report.keys(limits, SCALING_KEYS, "scaling.limits")
        for key in SCALING_KEYS:
            value = limits.get(key)
            if value is not None and not _is_count(value):
                report.add(limits.line_of(key), f"scaling.limits.{key} must be a whole number ≥ 0")
    profiles = report.mapping(scaling, "profiles", "scaling", required=True)
    if profiles is not None and not profiles:
        report.add(profiles.line, "scaling.profiles must define at least one profile")
    for name, profile in (profiles or LineMap()).items():
        _check_resources(report, profiles or LineMap(), str(name), profile, keys=PROFILE_KEYS, what="profile")


def _check_resources(
    report: _Report, parent: LineMap, name: str, profile: Any, *, keys: tuple[str, ...], what: str
) -> None:
    line = parent.line_of(name)
    if not names.is_slug(name):
        report.add(line, f"{what} name '{name}' must be lower-case letters, digits, '-' or '_'")
    if not isinstance(profile, LineMap):
        report.add(line, f"{what} '{name}' must be a mapping with {', '.join(keys)}")
        return
    report.keys(profile, keys, f"{what} '{name}'")
    for key in keys:
        value = profile.get(key)
        if key == "storage":
            if value is not None and not _is_quantity(value):
                report.add(profile.line_of(key), f"{what} '{name}' storage '{value}' is not a quantity such as 20Gi")
            continue
        if not isinstance(value, LineMap):
            report.add(profile.line_of(key), f"{what} '{name}' needs {key}: {{request: …, limit: …}}")
            continue
        report.keys(value, RESOURCE_KEYS, f"{what} '{name}' {key}")
        for part in RESOURCE_KEYS:
            if not _is_quantity(value.get(part)):
                report.add(value.line_of(part), f"{what} '{name}' {key}.{part} must be a quantity such as 500m or 4Gi")


def _check_category(config: Config, report: _Report, parent: LineMap, name: str, category: Any) -> None:
    if not isinstance(category, LineMap):
        report.add(parent.line_of(name), f"category '{name}' must be a mapping with {', '.join(CATEGORY_KEYS)}")
        return
    report.keys(category, CATEGORY_KEYS, f"category '{name}'")
    profile = category.get("profile")
    if profile is not None and profile not in config.base_config.profiles:
        report.add(category.line_of("profile"), _unknown("profile", profile, config.base_config.profiles))
    dind = category.get("dind")
    if dind is not None and dind not in config.base_config.dind_profiles:
        report.add(category.line_of("dind"), _unknown("dind profile", dind, config.base_config.dind_profiles))


def _check_repositories(config: Config, report: _Report) -> None:
    raw = config.repositories.data
    if not isinstance(raw, LineMap):
        report.add(1, "the file must be a mapping with a 'repositories' list")
        return
    report.keys(raw, REPOSITORIES_TOP, "repositories.yaml", top=True)
    if not isinstance(raw.get("repositories"), list):
        report.add(raw.line_of("repositories"), "'repositories' must be a list of entries")
        return
    for entry in config.entries:
        _check_entry(config, entry, report)
    _check_unique(config.entries, report)
    _check_environments(raw, report)


def _check_entry(config: Config, entry: Entry, report: _Report) -> None:
    raw = entry.raw
    if not raw:
        report.add(entry.line, f"entry {entry.index + 1} must be a mapping with at least name and org")
        return
    where = f"entry '{entry.name or entry.index + 1}'"
    report.keys(raw, ENTRY_KEYS, where)
    _check_identity(entry, report, where)
    _check_go_strings(config, entry, report)
    scaling = report.mapping(raw, "scaling", where)
    if scaling is not None:
        report.keys(scaling, SCALING_KEYS, f"scaling of {where}")
        _check_counts(report, scaling, f"scaling of {where}")
        _check_limits(config, scaling, report, where)
    base = config.base_config
    for key, known, what in (("profile", base.profiles, "profile"), ("category", base.categories, "category")):
        value = raw.get(key)
        if value is not None and value not in known:
            report.add(raw.line_of(key), _unknown(what, value, known))
    _check_extras(raw, report, where)
    _check_volumes_and_docker(config, entry, report, where)
    _check_schedules(config, entry, report, where)
    _check_scope(config, entry, report, where)


def _check_scope(config: Config, entry: Entry, report: _Report, where: str) -> None:
    """An organisation pool's keys, and credentials for the entry's organisation."""
    raw = entry.raw
    if "scope" in raw and raw.get("scope") not in SCOPES:
        report.add(raw.line_of("scope"), f"scope of {where} must be {' or '.join(SCOPES)}, not {raw.get('scope')!r}")
    if "runnerGroup" in raw and (entry.runner_group is None or not entry.pool):
        report.add(
            raw.line_of("runnerGroup"),
            f"runnerGroup of {where} must be a runner group's name, on an organisation pool (scope: organization)",
        )
    missing = _org_without_credentials(config, entry)
    if missing is not None:
        report.add(raw.line_of("org"), missing)


def _org_without_credentials(config: Config, entry: Entry) -> str | None:
    """One GitHub App installation serves one organisation: when the fleet spans several,
    every organisation but the first (in file order, which the default
    ``githubConfigSecret`` serves) needs ``githubConfigSecrets.<org>`` in each environment."""
    orgs = config.organisations
    if entry.org is None or len(orgs) < 2 or entry.org == orgs[0]:
        return None
    lacking = [env for env, target in config.environments.items() if entry.org not in target.secrets]
    if not lacking and config.environments:
        return None
    where = (
        ", ".join(f"environments.{env}.githubConfigSecrets" for env in lacking)
        or "environments.<env>.githubConfigSecrets"
    )
    return (
        f"org '{entry.org}' has no GitHub App credentials of its own: the default githubConfigSecret serves "
        f"'{orgs[0]}' (one App installation serves one organisation); add '{entry.org}: <Secret name>' to {where}"
    )


def _check_environments(top: LineMap, report: _Report) -> None:
    found = top.get("environments")
    if not isinstance(found, LineMap):
        return
    for name in found:
        raw = report.mapping(found, name, "environments")
        if raw is None:
            continue
        report.keys(raw, ENVIRONMENT_KEYS, f"environments.{name}")
        url = raw.get("githubUrl")
        if url is not None and not (isinstance(url, str) and re.fullmatch(r"https://[^/\s]+(/[^\s]*)?", url)):
            report.add(
                raw.line_of("githubUrl"),
                f"environments.{name}.githubUrl must be an https:// URL, such as https://github.com or your GitHub Enterprise Server's",
            )
        elif isinstance(url, str) and (root := _server_root(url)) != url.rstrip("/"):
            report.add(
                raw.line_of("githubUrl"),
                f"environments.{name}.githubUrl '{url}' is not the server's root: ARC registers at <githubUrl>/<org> "
                "or <githubUrl>/<org>/<repository> and accepts only one or two path segments after the host "
                f"(anything more fails in its controller log only); write githubUrl: {root}",
            )
        secrets = raw.get("githubConfigSecrets")
        if secrets is not None and not (
            isinstance(secrets, LineMap) and all(isinstance(v, str) for v in secrets.values())
        ):
            report.add(
                raw.line_of("githubConfigSecrets"),
                f"environments.{name}.githubConfigSecrets must map organisations to Secret names",
            )
        _check_server_tls(raw, name, report)


def _check_server_tls(environment: LineMap, name: str, report: _Report) -> None:
    """``githubServerTLS`` is passed to ARC's gha-runner-scale-set chart as it is: a
    ConfigMap key holding the Enterprise Server's CA, and where runners mount it."""
    tls = environment.get("githubServerTLS")
    if tls is None:
        return
    ref = tls.get("certificateFrom") if isinstance(tls, LineMap) else None
    ref = ref.get("configMapKeyRef") if isinstance(ref, LineMap) else None
    mount = tls.get("runnerMountPath") if isinstance(tls, LineMap) else None
    if not (
        isinstance(ref, LineMap)
        and set(tls) <= {"certificateFrom", "runnerMountPath"}
        and all(isinstance(ref.get(k), str) and ref.get(k) for k in ("name", "key"))
        and (mount is None or (isinstance(mount, str) and mount.startswith("/")))
    ):
        report.add(
            environment.line_of("githubServerTLS"),
            f"environments.{name}.githubServerTLS must be {{certificateFrom: {{configMapKeyRef: {{name: …, key: …}}}}, "
            "runnerMountPath: /…}} (ARC's githubServerTLS)",
        )


def _server_root(url: str) -> str:
    """``https://HOST``: what githubUrl must be (no path, query or fragment)."""
    return re.sub(r"^(https://[^/?#\s]+).*$", r"\1", url)


def _check_application(entry: Entry, report: _Report, applications: Collection[str]) -> None:
    """The scale set names the entry's Argo CD Application: not one the fleet does not own."""
    if entry.name is None or names.scale_set_problem(entry.scale_set):
        return  # no name, or one the identity rules refuse already
    problem = names.application_problem(entry.scale_set, applications)
    if problem is None:
        return
    explicit = entry.runner_scale_set_name is not None
    report.add(
        entry.raw.line_of("runnerScaleSetName" if explicit else "name"),
        f"{problem}; choose another {'runnerScaleSetName' if explicit else 'name, or give the entry a runnerScaleSetName'} "
        f"(any valid name but {names.reserved_names_text()})",
    )


def runner_group_problems(config: Config, groups: Mapping[str, Collection[str] | str]) -> list[Problem]:
    """The organisation pools whose ``runnerGroup`` GitHub does not list for their
    organisation. ``groups``: each organisation's runner group names as GitHub listed them,
    or why they could not be listed. ARC looks the group up by name when it registers the
    pool and, when there is none, retries forever with no Kubernetes event (its controller
    log only), so the pool never comes up."""
    report = _Report(REPOSITORIES_FILE)
    for entry in config.entries:
        if not entry.pool or entry.runner_group is None or entry.org is None or entry.org not in groups:
            continue
        found, line = groups[entry.org], entry.raw.line_of("runnerGroup")
        where = f"runnerGroup '{entry.runner_group}' of entry '{entry.name}'"
        if isinstance(found, str):
            report.add(line, f"{where} could not be checked: {found}")
        elif runner_group_missing(entry.runner_group, found):
            report.add(line, runner_group_message(entry.runner_group, entry.org, found) + f" ({where})")
    return sorted(report.problems)


def runner_group_missing(group: str, found: Collection[str]) -> bool:
    """True when ``found`` (an organisation's runner groups) has no group ``group``; ARC
    compares group names without regard to case."""
    return group.casefold() not in {name.casefold() for name in found}


def runner_group_message(group: str, org: str, found: Collection[str]) -> str:
    """Why a pool with ``runnerGroup: group`` never comes up, and what would be accepted."""
    listed = ", ".join(sorted(found)) or "none"
    return (
        f"runner group '{group}' does not exist in organisation '{org}': ARC retries registering the pool forever "
        f"and no runner comes up; create it (organisation settings → Actions → Runner groups) or use one of "
        f"the organisation's groups: {listed}"
    )


def _check_identity(entry: Entry, report: _Report, where: str) -> None:
    raw = entry.raw
    if entry.name is None and "name" in raw:
        # YAML 1.1 reads unquoted yes/no/on/off and numbers as non-strings.
        report.add(
            raw.line_of("name"),
            "name must be a string: YAML reads unquoted yes/no/on/off/true/false and numbers as other types; put the name in quotes",
        )
    elif entry.name is None:
        report.add(raw.line_of("name"), f"{where} needs 'name', the GitHub repository name")
    elif not names.is_repo_name(entry.name):
        report.add(
            raw.line_of("name"),
            f"name '{entry.name}' is not a GitHub repository name (letters, digits, '.', '-', '_'; at most 100)",
        )
    elif not names.is_label(entry.namespace):
        report.add(
            raw.line_of("name"),
            f"name '{entry.name}' gives namespace '{entry.namespace}', which is not a valid Kubernetes name (at most {names.MAX_LABEL} characters)",
        )
    if entry.org is None:
        report.add(raw.line_of("org"), f"{where} needs 'org', the GitHub owner")
    elif not names.is_login(entry.org):
        report.add(
            raw.line_of("org"),
            f"org '{entry.org}' is not a GitHub login (letters, digits and single hyphens; at most 39)",
        )
    if "runnerScaleSetName" in raw and entry.runner_scale_set_name is None:
        report.add(raw.line_of("runnerScaleSetName"), f"runnerScaleSetName of {where} must be a string")
    elif entry.name is not None and (problem := names.scale_set_problem(entry.scale_set)):
        hint = (
            ""
            if entry.runner_scale_set_name
            else (
                f"; give the entry a shorter runnerScaleSetName (or `/runners add {entry.name} runnerScaleSetName=NAME`)"
            )
        )
        report.add(raw.line_of("runnerScaleSetName" if entry.runner_scale_set_name else "name"), problem + hint)


def _check_go_strings(config: Config, entry: Entry, report: _Report) -> None:
    """Helm reads these files with Go YAML: a plain ``y``, ``on`` or ``1e3`` is a boolean or a
    number there even where PyYAML reads a string, and the fleet stops rendering."""
    for key in ("name", "org", "runnerScaleSetName"):
        value = entry.raw.get(key)
        if not isinstance(value, str) or not names.go_yaml_not_string(value):
            continue  # the common case: nothing to look up
        line = entry.raw.line_of(key)
        lines = config.repositories_lines
        written = re.search(rf"\b{key}:[ \t]*(\S)", lines[line - 1] if 0 < line <= len(lines) else "")
        if written is None or written.group(1) not in "'\"":
            report.add(
                line,
                f'{key} {value} is read by Helm (Go YAML) as a boolean or number, not a string: write it in quotes, {key}: "{value}"',
            )


def _check_extras(raw: LineMap, report: _Report, where: str) -> None:
    labels = raw.get("labels")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        report.add(raw.line_of("labels"), f"labels of {where} must be a list of strings")
    storage = report.mapping(raw, "storage", where)
    if storage is not None:
        report.keys(storage, STORAGE_KEYS, f"storage of {where}")
        for key in STORAGE_KEYS:
            if key in storage and not _is_quantity(storage[key]):
                report.add(storage.line_of(key), f"storage.{key} of {where} must be a quantity such as 35Gi")
    environment = report.mapping(raw, "environment", where)
    for key, value in (environment or {}).items():
        if not isinstance(key, str) or isinstance(value, (list, dict)):
            report.add(
                environment.line_of(key) if environment else raw.line,
                f"environment of {where} maps names to plain values",
            )
    if "dind" in raw and not isinstance(raw["dind"], bool):
        report.add(raw.line_of("dind"), f"dind of {where} must be true or false")


def _check_volumes_and_docker(config: Config, entry: Entry, report: _Report, where: str) -> None:
    """What the fleet renders for this entry must be deployable: an RWX class for a
    shared cache, a dind profile for a Docker daemon."""
    effective = config.effective(entry)
    storage = entry.raw.get("storage")
    if effective.cache is not None and config.base_config.cache_storage_class is None and isinstance(storage, LineMap):
        report.add(
            storage.line_of("cache"),
            f"storage.cache of {where} is shared by all its runner pods, on any node, so it needs a ReadWriteMany storage class: "
            f"set caches.storageClassName in {BASE_CONFIG_FILE}, or remove storage.cache",
        )
    dind_profiles = config.base_config.dind_profiles
    if effective.dind and effective.dind_profile not in dind_profiles:
        report.add(
            entry.raw.line_of("dind") if "dind" in entry.raw else entry.line,
            f"{where} gets a Docker daemon but dind profile '{effective.dind_profile}' is not defined: "
            f"valid dind profiles are {', '.join(sorted(dind_profiles)) or 'none'}",
        )


def _check_schedules(config: Config, entry: Entry, report: _Report, where: str) -> None:
    limits = config.base_config.scaling_limits
    caps = (limits.min_runners, limits.max_runners) if limits else (None, None)
    for (key, mapping), message in schedules.problems(entry.raw, caps):
        line = mapping.line_of(key) if isinstance(mapping, LineMap) else entry.line
        report.add(line, f"{message} ({where})")


def _check_counts(report: _Report, scaling: LineMap, where: str) -> None:
    values = {key: scaling.get(key) for key in SCALING_KEYS}
    for key, value in values.items():
        if value is not None and not _is_count(value):
            report.add(scaling.line_of(key), f"{key} in {where} must be a whole number ≥ 0, not '{value}'")
    low, high = values["minRunners"], values["maxRunners"]
    if _is_count(high) and high < 1:
        report.add(scaling.line_of("maxRunners"), f"maxRunners in {where} must be at least 1")
    if _is_count(low) and _is_count(high) and low > high:
        report.add(scaling.line_of("minRunners"), f"minRunners ({low}) is above maxRunners ({high}) in {where}")


def _check_limits(config: Config, scaling: LineMap, report: _Report, where: str) -> None:
    limits = config.base_config.scaling_limits
    if limits is None:
        return
    for key, cap in (("minRunners", limits.min_runners), ("maxRunners", limits.max_runners)):
        value = scaling.get(key)
        if cap is not None and _is_count(value) and value > cap:
            report.add(
                scaling.line_of(key),
                f"{key} {value} of {where} is above the limit of {cap} (scaling.limits in {BASE_CONFIG_FILE})",
            )


def _check_unique(entries: list[Entry], report: _Report) -> None:
    seen: dict[str, dict[str, Entry]] = {"repository": {}, "scale set": {}, "namespace": {}}
    for entry in entries:
        if entry.name is None:
            continue
        for kind, key in unique_keys(entry).items():
            first = seen[kind].setdefault(key, entry)
            if first is not entry:
                _report_taken(report, kind, key, entry, first)


def _report_taken(report: _Report, kind: str, key: str, entry: Entry, first: Entry) -> None:
    extra = " (names are compared after normalising case, '.' and '_')" if kind == "namespace" else ""
    report.add(
        entry.line,
        f"{kind} '{key}' of entry '{entry.name}' is already used by entry '{first.name}' on line {first.line}{extra}",
    )


def validate_change(
    before: Config, after: Config, old: int | None, new: int | None, applications: Collection[str] = ()
) -> list[str]:
    """The problems an edit of one entry adds, in proportion to the change: the rules of
    that entry, before (``old``) and after (``new``; None when absent), and the file-wide
    uniqueness rules looked up in each configuration's index. Messages come without line
    numbers, so that an entry that merely moved is not a new problem. ``applications`` as
    for :func:`validate`."""
    found = Counter(_entry_problems(after, new, applications)) - Counter(_entry_problems(before, old, applications))
    return sorted(found)


def _entry_problems(config: Config, index: int | None, applications: Collection[str]) -> list[str]:
    if index is None:
        return []
    entry = config.entries[index]
    report = _Report(REPOSITORIES_FILE)
    _check_entry(config, entry, report)
    _check_application(entry, report, applications)
    if entry.name is not None:
        for kind, key in unique_keys(entry).items():
            others = [e for e in config.index[kind].get(key, []) if e.index != entry.index]
            if others:
                _report_taken(report, kind, key, entry, others[0])
    return [re.sub(r"line \d+", "line ?", p.message) for p in report.problems]


def _unknown(what: str, value: object, known: Iterable[str]) -> str:
    options = sorted(known)
    hint = closest(str(value), options, n=1)
    also = f" (did you mean '{hint[0]}'?)" if hint else ""
    return f"unknown {what} '{value}'{also}: valid {what}s are {', '.join(options) or 'none'}"


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_quantity(value: object) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool) and bool(_QUANTITY.fullmatch(str(value)))


SHOWN_PER_MESSAGE = 3


def grouped(problems: list[Problem], shown: int = SHOWN_PER_MESSAGE) -> tuple[list[Problem], list[tuple[int, Problem]]]:
    """The problems to print, in order, and for each message found more than ``shown``
    times in one file its first problem with the count of those left out: a rule broken
    by thousands of entries is one finding, not thousands of identical lines."""
    seen: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], Problem] = {}
    printed = []
    for problem in problems:
        key = (problem.file, problem.message)
        seen[key] += 1
        first.setdefault(key, problem)
        if seen[key] <= shown:
            printed.append(problem)
    return printed, [(seen[key] - shown, first[key]) for key in first if seen[key] > shown]


def _check_pricing(pricing: LineMap, report: _Report) -> None:
    """``pricing``: prices are numbers of at least 0 (a typo would make every cost wrong)."""
    report.keys(pricing, PRICING_KEYS, "pricing")
    per_profile = pricing.get("profiles")
    prices = [(pricing, key) for key in ("vcpuHour", "gibHour") if key in pricing]
    if isinstance(per_profile, LineMap):
        prices += [(per_profile, key) for key in per_profile]
    for where, key in prices:
        value = where.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            report.add(where.line_of(key), f"pricing {key} must be a price of at least 0, not {value!r}")
