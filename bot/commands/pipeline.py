"""The pure phases of answering a comment, shared by the app and ``simulate``: plan → decide.

Pure. :func:`plan` reads a comment once, against the values files, into a :class:`Plan`
that says what answering it needs from outside: whose permission on which repositories,
and the live state of which scale sets. The caller fetches those (the app from GitHub
and the cluster, concurrently; ``simulate`` has them given) and :func:`decide` answers, each
command authorised, then executed (checked and edited): one reply per command, the edited ``repositories.yaml`` (commands apply in order) and
the text of one pull request per touched scale set.

Who sees what (docs/commands.md): commenters with at least triage on the configuration
repository see the whole fleet; everyone else sees only the entries of the thread's own
repository and of repositories they may write to, in every reply: status, help and
every "did you mean".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.capacity.evidence import Observed
from bot.commands import evidence_text, render
from bot.commands.grammar import MAX_COMMANDS, Command, ParsedComment, Refusal, Refused, parse_comment
from bot.commands.permissions import WRITE_LEVELS, Permission, authorise, best, sees_fleet
from bot.commands.render import ChangeText, PullRequestText
from bot.fleet import names, scan
from bot.fleet.config import BaseConfig, Config, ConfigFiles, Effective, Entry, parse
from bot.fleet.schedules import ActiveBurst, Runners, parse_duration, runners_at
from bot.fleet.suggest import closest
from bot.fleet.validation import validate_change
from bot.fleet.yamledit import AddEntry, Edit, RemoveEntry, SetFields, UnsafeEdit, apply_edit, item_span
from bot.fleet.yamlload import LineMap, TooLarge, YamlError, load

TARGET_ACCEPTED = "a repository name, owner/name or scale set name listed in values/repositories.yaml"
OFFLINE_LIVE = render.sentence("live_offline.md")


@dataclass(frozen=True)
class Request:
    """Who asked, where, and with what permission.

    ``permission`` is the commenter's permission on the configuration repository (in
    ``simulate``: everywhere); ``permissions`` adds what GitHub said for target
    repositories, keyed by lower-case ``owner/name``.
    """

    comment: str
    user: str
    permission: Permission
    is_bot: bool = False
    repo: str | None = None
    source: str = "a simulated comment"
    closes: str | None = None
    permissions: Mapping[str, Permission] = field(default_factory=dict)
    # The clock and the bursts in force (the app's state), for burst and status.
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    bursts: Mapping[str, ActiveBurst] = field(default_factory=dict)
    # The Applications in Argo CD's namespace the fleet does not own, when the cluster was
    # read (an add must not take one's name; the root Applications are reserved anyway).
    applications: frozenset[str] = frozenset()
    # The job evidence of the sets status and recommend name, by scale set (docs/capacity.md).
    evidence: Mapping[str, Observed] = field(default_factory=dict)

    def permission_for(self, target: str | None) -> Permission:
        """The best of the permission on ``target`` and ``permission`` (the config repository's)."""
        on_target = self.permissions.get(target.lower(), "none") if target else "none"
        return best(on_target, self.permission)

    @property
    def sees_fleet(self) -> bool:
        return sees_fleet(self.permission)

    def sees(self, entry: Entry) -> bool:
        """Whether this commenter may learn that ``entry`` exists and how it is set (an
        organisation pool serves no one repository: only those who see the fleet)."""
        if self.sees_fleet or entry.repository is None:
            return self.sees_fleet
        full = entry.repository.lower()
        return full == (self.repo or "").lower() or self.permissions.get(full) in WRITE_LEVELS


@dataclass(frozen=True)
class BurstOrder:
    """What an accepted ``burst`` asks the app to do: start one (``until``) or end it (None)."""

    scale_set: str
    namespace: str
    min_runners: int
    max_runners: int | None
    until: datetime | None


@dataclass(frozen=True)
class Reply:
    """The answer to one command; ``change`` is set when it edits the configuration,
    ``burst`` when it starts or ends a burst.

    A change's reply ends with its next step, which only the pull request tells: it is
    rendered once, by :meth:`text_with` when that is known (``text`` says what the plan
    alone can: a pull request on the set's branch)."""

    command: str
    ok: bool
    body: str  # the whole reply, for anything but a change
    change: ChangeText | None = None
    burst: BurstOrder | None = None
    user: str = ""  # who asked, for a change's reply

    def text_with(self, next_step: str | None = None) -> str:
        if self.change is None:
            return self.body
        planned = render.sentence("next_planned.md", branch=names.branch(self.change.scale_set))
        return render.change_reply(self.command, self.user, self.change, next_step or planned)

    @property
    def text(self) -> str:
        return self.text_with()


@dataclass(frozen=True)
class Outcome:
    """Everything a comment leads to."""

    replies: list[Reply]
    old_text: str
    new_text: str | None
    pull_requests: list[PullRequestText] = field(default_factory=list)
    # The file with one set's changes alone, by scale set, where the decision made it (a
    # comment that changes one set: ``new_text``); the app commits it as it is.
    texts: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.replies)


LiveState = Callable[[Effective], str]


@dataclass(frozen=True)
class Plan:
    """One comment, read once: its commands, and what answering them needs from outside.

    ``write_targets``: ``owner/name`` of each repository a config-changing command aims at
    (the permission there decides it). ``asks_about_fleet``: some reply may show entries
    (help, status, a target to resolve or suggest), so the commenter's permission on the
    configuration repository decides what it shows. ``status_sets``: the scale sets whose
    live state a ``status`` asks for."""

    comment: str
    items: tuple[Command | Refusal, ...]
    ignored: int
    files: ConfigFiles
    write_targets: tuple[str, ...] = ()
    status_sets: tuple[Effective, ...] = ()
    asks_about_fleet: bool = False
    evidence_sets: tuple[Effective, ...] = ()  # the sets the commands name: their job evidence is read

    def visible_evidence_sets(self, request: Request) -> list[Effective]:
        return [s for s in self.evidence_sets if request.sees_fleet or request.sees(_entry_of(s))]

    def visible_status_sets(self, request: Request) -> list[Effective]:
        """The status sets this commenter may see: only those are read from the cluster."""
        return [s for s in self.status_sets if request.sees_fleet or request.sees(_entry_of(s))]


def plan(comment: str, files: ConfigFiles, repo: str | None, parsed: ParsedComment | None = None) -> Plan:
    """Parse ``comment`` once (``parsed``: already done) and resolve what it names against ``files``."""
    parsed = parsed if parsed is not None else parse_comment(comment)
    try:
        config: Config | None = parse(files.repositories, files.base)
    except YamlError:
        config = None
    writes: list[str] = []
    statuses: dict[str, Effective] = {}
    observed: dict[str, Effective] = {}
    fleet = False
    for item in parsed.items:
        if not isinstance(item, Command) or config is None:
            continue
        declared = item.declared
        fleet = fleet or declared.shows_fleet
        try:
            if declared.target == "new repository":
                writes.append(_add_target(item, repo, config))
                continue
            entry = _resolve(config, item.target, repo, None)
        except Refused:
            fleet = True  # the refusal may suggest entries
            continue
        observed.setdefault(entry.scale_set, config.effective(entry))  # its evidence: replies, costs
        if declared.reads_live:
            statuses.setdefault(entry.scale_set, config.effective(entry))
        elif item.needs_write and entry.repository is not None:
            writes.append(entry.repository)
        elif item.needs_write:
            fleet = True  # an organisation pool: the configuration repository's permission decides
    return Plan(
        comment,
        tuple(parsed.items),
        parsed.ignored,
        files,
        tuple(dict.fromkeys(writes)),
        tuple(statuses.values()),
        fleet,
        tuple(observed.values()),
    )


def _entry_of(effective: Effective) -> Entry:
    return Entry(-1, LineMap(), effective.name, effective.org, None, None, None, None, None, pool=effective.pool)


def run(request: Request, files: ConfigFiles, live: LiveState | None = None) -> Outcome:
    """Plan and execute in one go, with the permissions ``request`` already holds (``simulate``, replays)."""
    return decide(plan(request.comment, files, request.repo), request, live)


def decide(planned: Plan, request: Request, live: LiveState | None = None) -> Outcome:
    """Answer every command of ``planned`` for ``request`` (its permissions filled in)."""
    files = planned.files
    state = _State(files)
    replies = [_handle(item, request, state, live) for item in planned.items]
    if planned.ignored:
        note = render.ignored(MAX_COMMANDS, planned.ignored)
        replies.append(Reply(f"{planned.ignored} more commands", False, note))
    changed = state.text != files.repositories
    pulls = _pull_request_texts(replies, request, state.config) if changed else []
    return Outcome(
        replies=replies,
        old_text=files.repositories,
        new_text=state.text if changed else None,
        pull_requests=pulls,
        # Several sets' changes in one text would go into each set's pull request: those
        # are rebuilt one set at a time (replay).
        texts={pulls[0].scale_set: state.text} if len(pulls) == 1 else {},
    )


class _State:
    """The configuration as the commands so far have left it."""

    def __init__(self, files: ConfigFiles) -> None:
        self.text = files.repositories
        self.base_text = files.base
        self.error: str | None = None
        try:
            self.config: Config | None = parse(files.repositories, files.base)
        except TooLarge as exc:
            self.config, self.error = None, f"{exc.file} is too large: {exc.message}"
        except YamlError as exc:
            self.config, self.error = None, f"{exc.file} is not valid YAML (line {exc.line}: {exc.message})"

    def accept(self, new_text: str, edit: Edit, applications: frozenset[str] = frozenset()) -> None:
        """Take ``new_text`` (``edit`` applied) unless it adds a problem. Validation is in
        proportion to the change: the edited entry's rules and the uniqueness index."""
        before = self.config
        assert before is not None
        old, new = _positions(edit, len(before.entries))
        after = _edited(before, new_text, old, new) or parse(new_text, self.base_text)
        added = validate_change(before, after, old, new, applications)
        if added:
            raise Refused(
                "the result would not be valid: " + "; ".join(added),
                "a change that keeps values/repositories.yaml valid (see `runners-bot validate`)",
            )
        self.text, self.config = new_text, after


def _positions(edit: Edit, count: int) -> tuple[int | None, int | None]:
    """Index of the edited entry before and after the edit (None: absent)."""
    if isinstance(edit, AddEntry):
        return None, count
    if isinstance(edit, RemoveEntry):
        return edit.index, None
    return edit.index, edit.index


def _edited(before: Config, new_text: str, old: int | None, new: int | None) -> Config | None:
    """The model of ``new_text`` from ``before`` and a parse of the edited entry alone,
    or None when the layout asks for parsing the whole text."""
    if new is None:
        return before.edited(new_text, old or 0, None)
    span = item_span(new_text, new)
    if span is None:
        return None
    start, end = span
    try:
        # Leading newlines give the entry its real line numbers.
        items = load("\n" * scan.count(new_text, "\n", 0, start) + new_text[start:end]).data
    except YamlError:
        return None
    if not (isinstance(items, list) and len(items) == 1 and isinstance(items[0], LineMap)):
        return None
    return before.edited(new_text, new, items[0])


def _handle(item: Command | Refusal, request: Request, state: _State, live: LiveState | None) -> Reply:
    if isinstance(item, Refusal):
        return _refusal(item)
    try:
        if request.is_bot:
            _authorise(item, request, None)
        if state.config is None:
            raise Refused(state.error or "the configuration cannot be read", "a valid values/ directory")
        return _execute(item, request, state, live)
    except Refused as refused:
        return _refusal(refused.of(item.text))
    except UnsafeEdit as unsafe:
        accepted = "an edit runners-bot can make without touching anything else"
        return _refusal(Refusal(item.text, str(unsafe).rstrip("."), accepted))


def _refusal(refusal: Refusal) -> Reply:
    """Every refused command is answered alike, refused as it was parsed or as it ran."""
    return Reply(refusal.text, False, render.refusal(refusal.text, refusal.reason, refusal.accepted))


def _authorise(command: Command, request: Request, target: str | None) -> None:
    """Refuse unless the commenter may run ``command`` on ``target`` (``owner/name``)."""
    decision = authorise(command.verb, request.user, request.permission_for(target), is_bot=request.is_bot)
    if not decision.allowed:
        raise Refused(decision.reason, decision.needed)


def _execute(command: Command, request: Request, state: _State, live: LiveState | None) -> Reply:
    config = state.config
    assert config is not None
    target = command.declared.target
    entry = None
    if target == "none":
        _authorise(command, request, None)
    elif target == "new repository":
        # Authorised before anything about the target is said (whether it has runners).
        _authorise(command, request, _add_target(command, request.repo, config))
    else:
        entry = _resolve(config, command.target, request.repo, request)
        # A pool serves many repositories: write on one of them is not enough, only on the
        # configuration repository (None: its permission alone decides).
        _authorise(command, request, entry.repository)
    return command.declared.execute(Call(command, request, state, live, entry))


@dataclass(frozen=True)
class Call:
    """An authorised command, with what its executor needs: the configuration as the
    commands before it left it and the entry it names (its declaration's target)."""

    command: Command
    request: Request
    state: _State
    live: LiveState | None
    resolved: Entry | None

    @property
    def config(self) -> Config:
        assert self.state.config is not None  # _handle refuses a comment on an unreadable one
        return self.state.config

    @property
    def entry(self) -> Entry:
        assert self.resolved is not None  # the declaration's target is an entry
        return self.resolved


# The executors the declarations name (bot.commands.registry.Executor), run once authorised.
def execute_help(call: Call) -> Reply:
    request, config = call.request, call.config
    visible = [e for e in config.entries if request.sees(e)]
    return Reply(call.command.text, True, render.help_reply(config, visible, complete=request.sees_fleet))


def execute_status(call: Call) -> Reply:
    command, request, live = call.command, call.request, call.live
    effective = call.config.effective(call.entry)
    clock = _runners_now(effective, request) if effective.runs_by_the_clock else None
    text = render.status_reply(command.text, effective, live(effective) if live else OFFLINE_LIVE, clock)
    return Reply(command.text, True, text)


def execute_scale(call: Call) -> Reply:
    command, config, entry = call.command, call.config, call.entry
    return _change(command, call.request, call.state, _plan_scale(command, config, entry), entry.name or "")


def execute_add(call: Call) -> Reply:
    edit, name = _plan_add(call.command, call.request, call.config)
    return _change(call.command, call.request, call.state, edit, name)


def execute_remove(call: Call) -> Reply:
    entry = call.entry
    return _change(call.command, call.request, call.state, RemoveEntry(entry.index, entry.name or ""), entry.name or "")


def execute_recommend(call: Call) -> Reply:
    command, config = call.command, call.config
    effective = config.effective(call.entry)
    evidence = call.request.evidence.get(effective.scale_set)
    return Reply(
        command.text, True, evidence_text.recommend_text(command.text, effective, evidence, config.base_config)
    )


def execute_burst(call: Call) -> Reply:
    return _burst(call.command, call.request, call.config.effective(call.entry))


def _runners_now(effective: Effective, request: Request) -> Runners:
    burst = request.bursts.get(effective.scale_set)
    return runners_at(effective.min_runners, effective.max_runners, list(effective.schedules), burst, request.now)


def _burst(command: Command, request: Request, effective: Effective) -> Reply:
    """A burst within the entry's reviewed ``burst`` bounds, or its end."""
    if command.ends_burst:
        active = request.bursts.get(effective.scale_set)
        was_on = active is not None and request.now < active.until
        order = BurstOrder(effective.scale_set, effective.namespace, 0, None, None)
        text = render.burst_ended_reply(command.text, effective.scale_set, was_on=was_on)
        return Reply(command.text, True, text, burst=order)
    order = _burst_order(command, request, effective)
    assert order.until is not None
    text = render.burst_reply(command.text, effective.scale_set, order.min_runners, order.max_runners, order.until)
    return Reply(command.text, True, text, burst=order)


def _burst_order(command: Command, request: Request, effective: Effective) -> BurstOrder:
    allowance = effective.burst
    if allowance is None:
        raise Refused(
            f"`{effective.scale_set}` declares no burst allowance",
            "a `burst:` (minRunners, maxRunners, maxDuration) in its entry of values/repositories.yaml, "
            "merged through review once",
        )
    low, high = int(command.options["min"]), command.options.get("max")
    span = parse_duration(str(command.options["for"]))
    assert span is not None  # the parser checked it
    bounds = render.burst_text(allowance)
    too_many = isinstance(high, int) and allowance.max_runners is not None and high > allowance.max_runners
    if low > allowance.min_runners or too_many:
        raise Refused(
            f"the burst asks for more than `{effective.scale_set}` allows ({bounds})", f"values within {bounds}"
        )
    if span > allowance.max_duration:
        raise Refused(
            f"for={command.options['for']} is longer than `{effective.scale_set}` allows ({bounds})",
            f"for=DURATION within {bounds}",
        )
    top = high if isinstance(high, int) else allowance.max_runners
    if top is not None and top < low:
        raise Refused(f"max ({top}) would be below min ({low})", f"max=M with M ≥ {low}")
    _only_raises(effective, request, low, top)
    return BurstOrder(effective.scale_set, effective.namespace, low, top, request.now + span)


def _only_raises(effective: Effective, request: Request, low: int, top: int | None) -> None:
    """A burst adds warm runners without review; taking capacity away is a change that
    needs one (a pull request). So neither bound may fall below what is in force now."""
    now = _runners_now(effective, request)
    if low < now.min_runners or (top is not None and top < now.max_runners):
        raise Refused(
            f"a burst only raises capacity, and `{effective.scale_set}` has min {now.min_runners}, "
            f"max {now.max_runners} in force now ({now.source})",
            f"min=N with N ≥ {now.min_runners} and max=M with M ≥ {now.max_runners}; "
            "`/runners scale` (a reviewed pull request) to lower them",
        )


def _change(command: Command, request: Request, state: _State, edit: Edit, name: str) -> Reply:
    config = state.config
    assert config is not None
    before = _effective_by_name(config, name)
    state.accept(apply_edit(state.text, edit), edit, request.applications)
    after = _effective_by_name(state.config, name) if command.verb != "remove" else None
    known = after or before
    scale_set = known.scale_set if known else ""
    change = ChangeText(command.verb, name, scale_set, before, after)
    return Reply(command.text, True, "", change, user=request.user)


def _effective_by_name(config: Config | None, name: str) -> Effective | None:
    for entry in config.entries if config else []:
        if entry.name == name:
            return config.effective(entry) if config else None
    return None


def _resolve(config: Config, target: str | None, repo: str | None, request: Request | None) -> Entry:
    """:func:`resolve_target` among the entries ``request`` sees (None: all), looked up in
    the configuration's index when one entry answers, so that naming a set costs that
    set, not the fleet; the whole list is read only to refuse and suggest."""
    sees = request.sees if request is not None else None
    if target is not None:
        found = config.named(target)
    elif repo is not None:
        found = [e for e in config.index["repository"].get(repo.lower(), []) if e.repository is not None]
    else:
        found = []
    found = [e for e in found if e.name and (sees is None or sees(e))]
    if len(found) == 1:
        return found[0]
    return resolve_target([e for e in config.entries if sees is None or sees(e)], target, repo)


def resolve_target(entries: list[Entry], target: str | None, repo: str | None) -> Entry:
    """The entry among ``entries`` a command means; raises a refusal naming the closest of them."""
    entries = [e for e in entries if e.name]
    if target is None:
        if repo is None:
            raise Refused("no target given", f"{TARGET_ACCEPTED}, e.g. {_listed(entries)}")
        here = [e for e in entries if (e.repository or "").lower() == repo.lower()]
        if len(here) == 1:
            return here[0]
        why = f"{repo} has {len(here)} scale sets" if here else f"{repo} has no runner scale set"
        raise Refused(f"{why}, so the command must name one", f"{TARGET_ACCEPTED}, e.g. {_listed(here or entries)}")
    wanted = target.lower()
    found = [e for e in entries if wanted in (e.name.lower() if e.name else "", e.full_name.lower(), e.scale_set)]
    if len(found) == 1:
        return found[0]
    if found:
        options = ", ".join(f"`{e.full_name}`" for e in found)
        raise Refused(f"{render.inert(target)} matches {len(found)} entries", f"one of {options}")
    candidates = [e.name or "" for e in entries] + [e.scale_set for e in entries]
    near = closest(target, candidates)
    hint = f"; closest: {', '.join(f'`{n}`' for n in near)}" if near else ""
    raise Refused(f"unknown target {render.inert(target)}{hint}", TARGET_ACCEPTED)


def _listed(entries: list[Entry]) -> str:
    shown = ", ".join(f"`{e.name}`" for e in entries[:5]) or "none"
    return shown + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")


def _plan_scale(command: Command, config: Config, entry: Entry) -> SetFields:
    opts = command.options
    current = config.effective(entry)
    low = opts.get("min")
    high = opts.get("max")
    profile = opts.get("profile")
    _check_counts(config, low if isinstance(low, int) else None, high if isinstance(high, int) else None, current)
    if isinstance(profile, str):
        _check_known("profile", profile, config.base_config.profiles)
    new = (
        low if isinstance(low, int) else current.min_runners,
        high if isinstance(high, int) else current.max_runners,
        profile if isinstance(profile, str) else current.profile,
    )
    if new == (current.min_runners, current.max_runners, current.profile):
        raise Refused(
            f"nothing to change: {entry.name} already has min {current.min_runners}, max {current.max_runners}, profile {current.profile}",
            "a value different from the current one",
        )
    return SetFields(
        entry.index,
        entry.name or "",
        low if isinstance(low, int) else None,
        high if isinstance(high, int) else None,
        profile if isinstance(profile, str) else None,
    )


def _check_counts(config: Config, low: int | None, high: int | None, current: Effective | None) -> None:
    limits = config.base_config.scaling_limits
    for label, value, cap in (
        ("min", low, limits.min_runners if limits else None),
        ("max", high, limits.max_runners if limits else None),
    ):
        if value is not None and cap is not None and value > cap:
            raise Refused(
                f"{label}={value} is above the limit of {cap}",
                f"{label}=N with N ≤ {cap} (scaling.limits in values/base-config.yaml)",
            )
    new_low = low if low is not None else (current.min_runners if current else config.base_config.default_min)
    new_high = high if high is not None else (current.max_runners if current else config.base_config.default_max)
    if new_low > new_high:
        raise Refused(
            f"min {new_low} would be above max {new_high}",
            f"min=N with N ≤ {new_high}, or max in the same command (e.g. min={new_low} max={new_low})",
        )


def _check_known(what: str, value: str, known: Mapping[str, object]) -> None:
    if value not in known:
        near = closest(value, known, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise Refused(f"unknown {what} {render.inert(value)}{hint}", f"{what}={'|'.join(sorted(known))}")


def _add_target(command: Command, repo: str | None, config: Config) -> str:
    """``owner/name`` of the repository an ``add`` onboards."""
    owner, _, name = (command.target or "").rpartition("/")
    org = str(command.options.get("org") or owner or _default_org(config, repo) or "")
    if not org:
        raise Refused(
            "the owner of the repository is not known", f"{command.declared.usage}, e.g. org=<owner> or <owner>/<name>"
        )
    return f"{org}/{name}"


def _plan_add(command: Command, request: Request, config: Config) -> tuple[AddEntry, str]:
    org, _, name = _add_target(command, request.repo, config).partition("/")
    opts = command.options
    existing = [
        e for e in config.entries if e.name and e.name.lower() == name.lower() and (e.org or "").lower() == org.lower()
    ]
    if existing:
        raise Refused(f"{org}/{name} already has runners (`{existing[0].scale_set}`)", "`/runners scale` to change it")
    category = opts.get("category")
    if isinstance(category, str):
        _check_known("category", category, config.base_config.categories)
    category_profile = config.base_config.categories.get(str(category or ""), LineMap()).get("profile")
    profile = opts.get("profile") or category_profile
    profile = str(profile or config.base_config.default_profile or "")
    _check_known("profile", profile, config.base_config.profiles)
    low, high = opts.get("min"), opts.get("max")
    _check_counts(config, low if isinstance(low, int) else None, high if isinstance(high, int) else None, None)
    explicit = opts.get("runnerscalesetname")
    problem = (
        names.scale_set_problem(str(explicit)) if explicit else names.scale_set_problem(names.default_scale_set(name))
    )
    if problem is not None:
        raise Refused(
            f"{render.inert(name)} gives {problem}",
            f"a shorter scale set name of your choice: `/runners add {name} runnerScaleSetName=NAME` "
            f"(at most {names.MAX_SCALE_SET} characters)",
        )
    _check_application(name, add_scale_set(command), request.applications)
    data: dict[str, object] = {"name": name, "org": org}
    if category:
        data["category"] = category
    if explicit:
        data["runnerScaleSetName"] = explicit
    data["scaling"] = {
        "minRunners": low if isinstance(low, int) else config.base_config.default_min,
        "maxRunners": high if isinstance(high, int) else config.base_config.default_max,
    }
    data["profile"] = profile
    if "dind" in opts:
        data["dind"] = opts["dind"] in ("true", "yes")
    return AddEntry(data), name


def add_scale_set(command: Command) -> str:
    """The scale set, and so the Argo CD Application, an ``add`` names."""
    explicit = command.options.get("runnerscalesetname")
    return str(explicit) if explicit else names.default_scale_set((command.target or "").rpartition("/")[2])


def _check_application(name: str, scale_set: str, applications: frozenset[str]) -> None:
    """Refuse a scale set named like an Application the fleet does not own (Argo CD keys
    Applications by name: the fleet's would overwrite it)."""
    problem = names.application_problem(scale_set, applications)
    if problem is not None:
        raise Refused(
            f"{render.inert(name)} gives {problem}",
            f"a scale set name of your choice: `/runners add {name} runnerScaleSetName=NAME`, any valid name but "
            f"{names.reserved_names_text()}",
        )


def _default_org(config: Config, repo: str | None) -> str | None:
    if repo:
        return repo.split("/", 1)[0]
    orgs = {e.org for e in config.entries if e.org}
    return orgs.pop() if len(orgs) == 1 else None


def replay(
    files: ConfigFiles, commands: list[tuple[str, str, str | None, str | None]]
) -> tuple[str | None, ChangeText | None]:
    """Apply already-authorised command lines ``(line, user, repository of the thread,
    org/name it was authorised for)`` in order to ``files``.

    Used to rebuild a pull request's change on top of the current default branch. A
    command that no longer applies (its entry is gone, nothing left to change) is
    skipped. Returns the new repositories.yaml (None if nothing changes) and the combined
    change of the scale set: first state before → last state after.
    """
    text = files.repositories
    combined: ChangeText | None = None
    for line, user, repo, target in commands:
        outcome = run(Request(comment=line, user=user, permission="admin", repo=repo), ConfigFiles(text, files.base))
        changes = [reply.change for reply in outcome.replies if reply.change is not None]
        if target is not None and any(c.full_name.lower() != target.lower() for c in changes):
            # The line now means another entry than the one it was authorised for (the
            # entry was renamed, removed or re-added elsewhere): it is not replayed.
            continue
        for change in changes:
            combined = _combine(combined, change)
        if outcome.new_text is not None:
            text = outcome.new_text
    return (text if text != files.repositories else None), combined


def _combine(first: ChangeText | None, change: ChangeText) -> ChangeText:
    if first is None:
        return change
    verb = change.verb if change.verb != "scale" or first.verb == "scale" else first.verb
    return ChangeText(verb, change.name, change.scale_set, first.before, change.after)


def _pull_request_texts(replies: list[Reply], request: Request, config: Config | None) -> list[PullRequestText]:
    """One pull request per scale set: first state before → last state after, with its cost."""
    merged: dict[str, ChangeText] = {}
    for reply in replies:
        if reply.change is not None:
            merged[reply.change.scale_set] = _combine(merged.get(reply.change.scale_set), reply.change)
    base = config.base_config if config is not None else BaseConfig.from_raw(None)
    return [
        render.pull_request(
            c,
            [(request.user, request.source)],
            request.closes,
            evidence_text.cost_section(c, base, request.evidence.get(c.scale_set)),
        )
        for c in merged.values()
    ]
