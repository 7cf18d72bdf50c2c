"""Every ``/runners`` command, declared once (docs/commands.md). Pure, no I/O.

A :class:`Declaration` says all that the rest of the app needs to know about a command:
its usage and options (the grammar), its row of the help reply, who may run it (the
permission check), what planning it needs (the permissions, live state and bursts
gathered before deciding), how it is executed once authorised (:class:`Executor`) and
its metric label. Adding a command is a declaration here, its executor, its template and
its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.commands.pipeline import Call, Reply

OTHER = "other"  # the metric label of a line that names no declared command

Access = Literal["anyone", "write"]
# What the word after the verb names: nothing; an entry of repositories.yaml (optional:
# the thread's repository when it has one set); a repository to onboard (required).
Target = Literal["none", "entry", "new repository"]
Options = Mapping[str, int | str]


@dataclass(frozen=True)
class Executor:
    """How a command runs once authorised: the function of :mod:`bot.commands.pipeline`
    named ``name``, from the authorised :class:`~bot.commands.pipeline.Call` to its reply.

    Named, not imported: the pipeline imports the grammar, which reads these
    declarations, so it is looked up when a command runs, long after both are loaded."""

    name: str

    def __call__(self, call: Call) -> Reply:
        from bot.commands import pipeline

        function: Callable[[Call], Reply] = getattr(pipeline, self.name)
        return function(call)


@dataclass(frozen=True)
class Declaration:
    """One command.

    ``usage`` is its main form, in refusals and in the help table; ``also`` its other
    forms (refusals add them). ``check`` refuses option sets the generic grammar accepts
    but the command cannot run (None: none). ``off``: ``VERB [TARGET] off`` ends what it
    started. ``edits_config``: an accepted command is a change to repositories.yaml (a
    pull request). ``shows_fleet``: its reply may show entries, so the commenter's
    permission on the configuration repository is asked. ``reads_live``: planning
    fetches its set's live state and job evidence. ``reads_bursts``: the bursts in force
    are read before deciding. ``execute`` runs it once authorised."""

    verb: str
    usage: str
    summary: str
    options: tuple[str, ...] = ()
    target: Target = "entry"
    access: Access = "anyone"
    also: tuple[str, ...] = ()
    check: Callable[[Options], str | None] | None = None
    off: bool = False
    edits_config: bool = False
    shows_fleet: bool = False
    reads_live: bool = False
    reads_bursts: bool = False
    execute: Executor = field(kw_only=True)

    @property
    def accepted(self) -> str:
        """What a refusal of this command says would be accepted."""
        return ", or ".join((self.usage, *self.also))

    @property
    def needs_write(self) -> bool:
        """Write permission on the target (or the configuration repository) decides it."""
        return self.access == "write"

    @property
    def label(self) -> str:
        """The value of ``runners_bot_commands_total``'s ``verb`` label."""
        return self.verb


@dataclass(frozen=True)
class Registry:
    """The declared commands, in the help table's order."""

    commands: tuple[Declaration, ...]
    _by_verb: dict[str, Declaration] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        verbs = [c.verb for c in self.commands]
        if len(set(verbs)) != len(verbs) or OTHER in verbs:
            raise ValueError(f"verbs must be unique and not {OTHER!r}: {verbs}")
        object.__setattr__(self, "_by_verb", {c.verb: c for c in self.commands})

    def __iter__(self) -> Iterator[Declaration]:
        return iter(self.commands)

    def __getitem__(self, verb: str) -> Declaration:
        return self._by_verb[verb]

    def find(self, word: str) -> Declaration | None:
        return self._by_verb.get(word.lower())

    @property
    def verbs(self) -> tuple[str, ...]:
        return tuple(c.verb for c in self.commands)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every value the commands metric's ``verb`` label takes."""
        return (*(c.label for c in self.commands), OTHER)

    def label(self, line: str) -> str:
        """The metric label of a command line (or of anything else a reply answers)."""
        words = line.split()
        found = self.find(words[1]) if len(words) > 1 and words[0] == "/runners" else None
        return found.label if found is not None else OTHER

    def with_command(self, declaration: Declaration) -> Registry:
        return Registry((*self.commands, declaration))


def _something_to_change(options: Options) -> str | None:
    return None if options else "nothing to change: give min=N, max=N or profile=P"


def _a_whole_burst(options: Options) -> str | None:
    if "off" in options or ("min" in options and "for" in options):
        return None
    return "a burst needs min=N and for=DURATION (e.g. for=4h), or off to end one"


COMMANDS = Registry(
    (
        Declaration(
            "help",
            "/runners help",
            "this message",
            target="none",
            shows_fleet=True,
            execute=Executor("execute_help"),
        ),
        Declaration(
            "status",
            "/runners status [TARGET]",
            "configuration and live state of a scale set",
            shows_fleet=True,
            reads_live=True,
            reads_bursts=True,
            execute=Executor("execute_status"),
        ),
        Declaration(
            "scale",
            "/runners scale [TARGET] [min=N] [max=N] [profile=P]",
            "change scaling and/or resource profile",
            options=("min", "max", "profile"),
            access="write",
            check=_something_to_change,
            edits_config=True,
            execute=Executor("execute_scale"),
        ),
        Declaration(
            "add",
            "/runners add REPO [org=O] [profile=P] [category=C] [min=N] [max=N] [dind=true|false] "
            "[runnerScaleSetName=NAME]",
            "onboard a repository (`runnerScaleSetName` when `<repo>-runners` would pass ARC's 45 characters)",
            options=("org", "profile", "category", "min", "max", "dind", "runnerscalesetname"),
            target="new repository",
            access="write",
            edits_config=True,
            execute=Executor("execute_add"),
        ),
        Declaration(
            "remove",
            "/runners remove TARGET",
            "offboard a repository",
            access="write",
            edits_config=True,
            execute=Executor("execute_remove"),
        ),
        Declaration(
            "recommend",
            "/runners recommend [TARGET]",
            "a set's job evidence and proposed `minRunners`, `maxRunners` and warm windows",
            shows_fleet=True,
            reads_live=True,
            execute=Executor("execute_recommend"),
        ),
        Declaration(
            "burst",
            "/runners burst [TARGET] min=N [max=M] for=DURATION",
            "warm runners now, without a pull request, within the entry's reviewed `burst` bounds; "
            "`/runners burst [TARGET] off` ends it",
            options=("min", "max", "for"),
            access="write",
            also=("/runners burst [TARGET] off",),
            check=_a_whole_burst,
            off=True,
            reads_bursts=True,
            execute=Executor("execute_burst"),
        ),
    )
)
