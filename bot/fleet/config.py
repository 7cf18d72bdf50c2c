"""Typed model of ``values/repositories.yaml`` and ``values/base-config.yaml``.

Building the model never fails on content: fields of the wrong type become ``None``
and :mod:`bot.fleet.validation` reports them with their lines. Effective values (what a
scale set really gets once defaults, categories and profiles apply) are computed
here, so the bot's PR bodies and the fleet chart agree on one definition.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.fleet import names, scan
from bot.fleet.collector import untracked
from bot.fleet.memo import bounded
from bot.fleet.schedules import BurstAllowance, Window, allowance, windows
from bot.fleet.yamlload import LineMap, Loaded, TooLarge, YamlError, load

REPOSITORIES_FILE = "values/repositories.yaml"
BASE_CONFIG_FILE = "values/base-config.yaml"
DEFAULT_DIND_PROFILE = "standard"
DEFAULT_GITHUB = "https://github.com"
DEFAULT_SECRET = "arc-github-app"  # charts/runners-fleet's default githubConfigSecret
# Source text the parsed models kept may stand for: one model per live commit (the
# head's; an older one is dead after a merge) above 3,000 sets, a few small ones below.
# A model and its indexes take about 2 MiB per 1,000 sets.
MODELS_KEPT = 1024 * 1024
FLEET_ENVIRONMENT = "prod"  # charts/runners-fleet's fleet.environment, as the root Application sets it  # the daemon's size for an entry whose category names none


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _map(value: Any) -> LineMap:
    return value if isinstance(value, LineMap) else LineMap()


@dataclass(frozen=True, slots=True)
class Entry:
    """One element of ``repositories``: a repository and its runner scale set."""

    index: int
    raw: LineMap
    name: str | None
    org: str | None
    category: str | None
    runner_scale_set_name: str | None
    min_runners: int | None
    max_runners: int | None
    profile: str | None
    # Lines this entry moved since ``raw`` was parsed (an edit above it in the same text).
    line_shift: int = 0
    # ``scope: organization``: one scale set for the whole organisation (an organisation
    # pool), registered at <githubUrl>/<org>; ``name`` is the pool's name.
    pool: bool = False
    runner_group: str | None = None

    @classmethod
    def from_raw(cls, index: int, raw: Any) -> Entry:
        data = _map(raw)
        scaling = _map(data.get("scaling"))
        return cls(
            index=index,
            raw=data,
            name=_str(data.get("name")),
            org=_str(data.get("org")),
            category=_str(data.get("category")),
            runner_scale_set_name=_str(data.get("runnerScaleSetName")),
            min_runners=_int(scaling.get("minRunners")),
            max_runners=_int(scaling.get("maxRunners")),
            profile=_str(data.get("profile")),
            pool=data.get("scope") == "organization",
            runner_group=_str(data.get("runnerGroup")),
        )

    @property
    def line(self) -> int:
        return self.raw.line + self.line_shift

    @property
    def scale_set(self) -> str:
        if self.runner_scale_set_name:
            return self.runner_scale_set_name
        return names.normalise(self.name or "") if self.pool else names.default_scale_set(self.name or "")

    @property
    def namespace(self) -> str:
        return names.namespace(self.name or "")

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.name}"

    @property
    def repository(self) -> str | None:
        """``owner/name`` of the repository whose runners these are; None for a pool, which
        serves a whole organisation (and so is changed by configuration writers only)."""
        return None if self.pool else self.full_name


@dataclass(frozen=True)
class Profile:
    """Runner container resources of one ``scaling.profiles`` entry."""

    name: str
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    storage: str

    @classmethod
    def from_raw(cls, name: str, raw: Any) -> Profile:
        data = _map(raw)
        cpu, memory = _map(data.get("cpu")), _map(data.get("memory"))
        return cls(
            name=name,
            cpu_request=str(cpu.get("request", "")),
            cpu_limit=str(cpu.get("limit", "")),
            memory_request=str(memory.get("request", "")),
            memory_limit=str(memory.get("limit", "")),
            storage=str(data.get("storage", "")),
        )


@dataclass(frozen=True)
class ScalingLimits:
    """``scaling.limits``: the most one entry may ask for."""

    min_runners: int | None
    max_runners: int | None


@dataclass(frozen=True)
class BaseConfig:
    """The parts of ``base-config.yaml`` that commands and validation use."""

    raw: LineMap
    default_min: int
    default_max: int
    default_profile: str | None
    scaling_limits: ScalingLimits | None
    profiles: dict[str, Profile]
    categories: dict[str, LineMap]
    dind_profiles: dict[str, LineMap]
    cache_storage_class: str | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> BaseConfig:
        data = _map(raw)
        scaling = _map(data.get("scaling"))
        defaults = _map(scaling.get("defaults"))
        limits = scaling.get("limits")
        profiles = _map(scaling.get("profiles"))
        return cls(
            raw=data,
            default_min=_int(defaults.get("minRunners")) or 0,
            default_max=_int(defaults.get("maxRunners")) or 1,
            default_profile=_str(defaults.get("profile")),
            scaling_limits=(
                ScalingLimits(_int(_map(limits).get("minRunners")), _int(_map(limits).get("maxRunners")))
                if isinstance(limits, LineMap)
                else None
            ),
            profiles={str(k): Profile.from_raw(str(k), v) for k, v in profiles.items()},
            categories={str(k): _map(v) for k, v in _map(data.get("categories")).items()},
            dind_profiles={str(k): _map(v) for k, v in _map(_map(data.get("dind")).get("profiles")).items()},
            cache_storage_class=_str(_map(data.get("caches")).get("storageClassName")),
        )


@dataclass(frozen=True)
class GitHubTarget:
    """``environments.<env>``: the GitHub ARC registers with (github.com or an Enterprise
    Server) and the credentials Secret of each organisation (one App installation serves
    one organisation)."""

    url: str = DEFAULT_GITHUB
    secret: str = DEFAULT_SECRET
    secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: Any) -> GitHubTarget:
        data = _map(raw)
        secrets = _map(data.get("githubConfigSecrets"))
        return cls(
            url=(_str(data.get("githubUrl")) or DEFAULT_GITHUB).rstrip("/"),
            secret=_str(data.get("githubConfigSecret")) or DEFAULT_SECRET,
            secrets={str(k): str(v) for k, v in secrets.items() if isinstance(v, str)},
        )

    def url_of(self, org: str, repository: str | None) -> str:
        return f"{self.url}/{org}" + (f"/{repository}" if repository is not None else "")

    def secret_of(self, org: str) -> str:
        return self.secrets.get(org, self.secret)


@dataclass(frozen=True)
class Effective:
    """What one scale set really runs with, once defaults and profiles apply."""

    name: str
    org: str
    scale_set: str
    namespace: str
    min_runners: int
    max_runners: int
    profile: str
    resources: Profile | None
    storage: str
    dind: bool = False
    dind_profile: str | None = None
    cache: str | None = None
    schedules: tuple[Window, ...] = ()
    burst: BurstAllowance | None = None
    github_config_url: str = ""
    github_config_secret: str = DEFAULT_SECRET
    runner_group: str | None = None
    pool: bool = False

    @property
    def runs_by_the_clock(self) -> bool:
        """Whether the app, not Argo CD, sets this set's min/max (schedules or bursts)."""
        return bool(self.schedules) or self.burst is not None


@dataclass(frozen=True)
class Config:
    """Both values files, parsed; ``loaded`` keeps duplicate-key findings."""

    repositories_text: str
    base_text: str
    repositories: Loaded
    base: Loaded
    entries: list[Entry] = field(default_factory=list)
    base_config: BaseConfig = field(default_factory=lambda: BaseConfig.from_raw(None))

    @functools.cached_property
    def repositories_lines(self) -> list[str]:
        return self.repositories_text.split("\n")

    @functools.cached_property
    def index(self) -> Mapping[str, Mapping[str, list[Entry]]]:
        """Entries by each name that must be unique (built once per configuration; an
        edited one's is its origin's with the edited entry's names changed)."""
        found: dict[str, dict[str, list[Entry]]] = {"repository": {}, "scale set": {}, "namespace": {}}
        for entry in self.entries:
            if entry.name is not None:
                for kind, key in unique_keys(entry).items():
                    listed = found[kind].get(key)
                    if listed is None:  # three lists a set, as long-lived as the model
                        listed = found[kind][key] = untracked([])
                    listed.append(entry)
        return {kind: untracked(by_key) for kind, by_key in found.items()}

    @functools.cached_property
    def by_name(self) -> dict[str, list[Entry]]:
        """Entries by their repository's name, lower case (built once per configuration)."""
        found: dict[str, list[Entry]] = {}
        for entry in self.entries:
            if entry.name:
                listed = found.get(entry.name.lower())
                if listed is None:
                    listed = found[entry.name.lower()] = untracked([])
                listed.append(entry)
        return untracked(found)

    def named(self, name: str) -> list[Entry]:
        """The entries a command's ``name`` may mean: by the repository's name, owner/name
        or scale set, from the indexes (no pass over the entries)."""
        wanted = name.lower()
        found = [
            *self.by_name.get(wanted, []),
            *self.index["repository"].get(wanted, []),
            *self.index["scale set"].get(wanted, []),
        ]
        return list({id(e): e for e in found}.values())

    def edited(self, new_text: str, index: int, raw: LineMap | None) -> Config:
        """The model of ``new_text``, which differs from this configuration's text only in
        entry ``index``: replaced by ``raw`` (parsed alone, with its real line numbers),
        added (``index`` one past the end), or removed (``raw`` None). Nothing else is
        parsed again; entries below the change keep their data and move their lines."""
        delta = scan.count(new_text, "\n") - scan.count(self.repositories_text, "\n")
        # An entry edited in place without a line more or less (a scale) moves nothing:
        # the entries below are the same objects, and the edit costs the entry, not the fleet.
        unmoved = raw is not None and delta == 0
        below = (
            self.entries[index + 1 :]
            if unmoved
            else [
                untracked(
                    dataclasses.replace(
                        e, index=e.index + (0 if raw is not None else -1), line_shift=e.line_shift + delta
                    )
                )
                for e in self.entries[index + 1 :]
            ]
        )
        changed = [Entry.from_raw(index, raw)] if raw is not None else []
        entries = untracked([*self.entries[:index], *changed, *below])
        top = LineMap(_map(self.repositories.data))
        top.line, top.key_lines = _map(self.repositories.data).line, _map(self.repositories.data).key_lines
        top["repositories"] = [e.raw for e in entries]
        config = Config(
            repositories_text=new_text,
            base_text=self.base_text,
            repositories=Loaded(top, self.repositories.duplicates),
            base=self.base,
            entries=entries,
            base_config=self.base_config,
        )
        if (unmoved or index == len(self.entries)) and "index" in self.__dict__:
            old = self.entries[index] if index < len(self.entries) else None
            config.__dict__["index"] = _reindexed(self.index, old, changed[0])
        return config

    @functools.cached_property
    def organisations(self) -> list[str]:
        """The entries' organisations, in the order they first appear (read once per
        configuration: every entry's check asks for them)."""
        return list(dict.fromkeys(e.org for e in self.entries if e.org))

    @functools.cached_property
    def environments(self) -> dict[str, GitHubTarget]:
        """``environments.<env>`` of repositories.yaml: where and with what ARC registers."""
        found = _map(_map(self.repositories.data).get("environments"))
        return {str(name): GitHubTarget.from_raw(raw) for name, raw in found.items()}

    def target(self, environment: str = FLEET_ENVIRONMENT) -> GitHubTarget:
        return self.environments.get(environment) or GitHubTarget.from_raw(None)

    def effective(self, entry: Entry) -> Effective:
        base = self.base_config
        github = self.target()
        category = base.categories.get(entry.category or "", LineMap())
        profile = entry.profile or _str(category.get("profile")) or base.default_profile or ""
        resources = base.profiles.get(profile)
        storage = _map(entry.raw.get("storage"))
        work, cache = storage.get("work"), storage.get("cache")
        category_dind = _str(category.get("dind"))
        # One rule with charts/runners-fleet: a category with a dind profile gives a
        # Docker daemon unless the entry says dind: false; others get one with dind: true.
        dind = entry.raw["dind"] is True if "dind" in entry.raw else category_dind is not None
        return Effective(
            name=entry.name or "",
            org=entry.org or "",
            scale_set=entry.scale_set,
            namespace=entry.namespace,
            min_runners=entry.min_runners if entry.min_runners is not None else base.default_min,
            max_runners=entry.max_runners if entry.max_runners is not None else base.default_max,
            profile=profile,
            resources=resources,
            # Same rule as charts/runners-fleet: an entry's storage.work wins over its profile's.
            storage=str(work or (resources.storage if resources else "")),
            dind=dind,
            dind_profile=(category_dind or DEFAULT_DIND_PROFILE) if dind else None,
            cache=str(cache) if cache is not None else None,
            schedules=tuple(windows(entry.raw.get("schedules"))),
            burst=allowance(entry.raw.get("burst")),
            github_config_url=github.url_of(entry.org or "", None if entry.pool else entry.name or ""),
            github_config_secret=github.secret_of(entry.org or ""),
            runner_group=entry.runner_group,
            pool=entry.pool,
        )


def _reindexed(
    index: Mapping[str, Mapping[str, list[Entry]]], old: Entry | None, new: Entry
) -> Mapping[str, Mapping[str, list[Entry]]]:
    """``index`` with ``old`` replaced by ``new`` (or ``new`` added): only their names are
    looked at, the rest is ``index`` itself underneath."""
    found: dict[str, Mapping[str, list[Entry]]] = {}
    for kind, by_key in index.items():
        changes: dict[str, list[Entry]] = {}
        if old is not None and old.name is not None:
            key = unique_keys(old)[kind]
            changes[key] = [e for e in by_key.get(key, []) if e is not old]
        if new.name is not None:
            key = unique_keys(new)[kind]
            listed = changes.get(key, by_key.get(key, []))
            changes[key] = sorted([*listed, new], key=lambda e: e.index)
        found[kind] = ChainMap(changes, by_key)  # type: ignore[arg-type]  # read only
    return found


def unique_keys(entry: Entry) -> dict[str, str]:
    """What must differ between entries: repository, scale set and namespace."""
    return {
        "repository": f"{entry.org}/{entry.name}".lower(),
        "scale set": entry.scale_set,
        "namespace": entry.namespace,
    }


@bounded(MODELS_KEPT, lambda repositories_text, base_text: len(repositories_text) + len(base_text))
def parse(repositories_text: str, base_text: str) -> Config:
    """Build the model; raise :class:`bot.fleet.yamlload.YamlError` on unreadable YAML.

    Memoised: one comment asks for the same texts several times (targets, permissions,
    the pipeline, replays), the dashboard and the schedules for the head's, and a large
    file costs a second to parse. Bounded by the texts' size (:data:`MODELS_KEPT`): the
    head's model is always kept, older ones only while small. Nobody mutates a Config,
    so sharing it is safe; exceptions are not cached and are raised again."""
    repositories, base = _load(repositories_text, REPOSITORIES_FILE), _load(base_text, BASE_CONFIG_FILE)
    top = _map(repositories.data)
    items = top.get("repositories")
    # Out of the cyclic collector's walks, as the loaded data they stand on
    # (bot.fleet.collector): each walk of a model of 50,000 sets held the event loop's
    # GIL for 50-200 ms.
    entries = untracked(
        [untracked(Entry.from_raw(i, raw)) for i, raw in enumerate(items if isinstance(items, list) else [])]
    )
    return Config(
        repositories_text=repositories_text,
        base_text=base_text,
        repositories=repositories,
        base=base,
        entries=entries,
        base_config=BaseConfig.from_raw(base.data),
    )


def _load(text: str, file: str) -> Loaded:
    try:
        return load(text)
    except TooLarge as exc:
        raise TooLarge(exc.size, exc.limit, file) from None
    except YamlError as exc:
        raise YamlError(exc.line, exc.message, file) from None


@dataclass(frozen=True)
class ConfigFiles:
    """The text of both values files, as read from a directory or a repository."""

    repositories: str
    base: str

    @classmethod
    def read(cls, config_dir: Path) -> ConfigFiles:
        return cls(
            repositories=_read_text(config_dir / REPOSITORIES_FILE),
            base=_read_text(config_dir / BASE_CONFIG_FILE),
        )


def _read_text(path: Path) -> str:
    # newline="" keeps CRLF line endings exactly as they are on disk.
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()
