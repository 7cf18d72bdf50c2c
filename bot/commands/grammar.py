"""Parsing ``/runners`` commands out of a comment body (docs/commands.md). Pure, no I/O.

A command is a line starting with ``/runners`` (leading spaces allowed) in text that
GitHub shows as text: a paragraph or a heading, read as CommonMark reads it
(markdown-it-py). Fenced and indented code, block quotes, HTML blocks and comments are
not commands, so quoting, showing or hiding a command never runs it.
Each line becomes a :class:`Command` or a :class:`Refusal` that says what was wrong and
what would be accepted; the verbs, their usage and options are declared in
:mod:`bot.commands.registry`. Whether a target or profile exists is not known here: that
needs the configuration and is checked by :mod:`bot.commands.pipeline`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

from markdown_it import MarkdownIt

from bot.commands.registry import COMMANDS, Declaration
from bot.fleet import names
from bot.fleet.memo import bounded
from bot.fleet.schedules import parse_duration
from bot.fleet.suggest import closest

PREFIX = "/runners"
MAX_COMMANDS = 5
SCANS_KEPT = 1024 * 1024  # characters of comments whose command lines are kept
MAX_COUNT = 100_000
MAX_LINE = 500

Verb = str  # a declared verb (bot.commands.registry)
VERBS: tuple[Verb, ...] = COMMANDS.verbs
_SYNONYMS = {"minrunners": "min", "maxrunners": "max", "min-runners": "min", "max-runners": "max",
             "scale-set": "runnerscalesetname", "scaleset": "runnerscalesetname"}  # fmt: skip
_COUNT_KEYS = ("min", "max")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_KEY_VALUE = re.compile(r"^(?:--)?([A-Za-z][A-Za-z-]*)=(.*)$")
_FLAG = re.compile(r"^--([A-Za-z][A-Za-z-]*)$")


@dataclass(frozen=True)
class Command:
    """One well-formed command; ``options`` holds ints for min/max, strings otherwise."""

    verb: Verb
    text: str
    target: str | None = None
    options: dict[str, int | str] = field(default_factory=dict)

    @property
    def declared(self) -> Declaration:
        return COMMANDS[self.verb]

    @property
    def changes_config(self) -> bool:
        return self.declared.edits_config

    @property
    def needs_write(self) -> bool:
        """Commands that change the fleet: write permission on the target decides them."""
        return self.declared.needs_write

    @property
    def ends_burst(self) -> bool:
        return self.declared.off and self.options.get("off") == "off"


@dataclass(frozen=True)
class Refusal:
    """A command line that cannot run: why, and what would be accepted. The parser
    returns one for a line it refuses; a command refused as it runs raises one
    (:class:`Refused`)."""

    text: str
    reason: str
    accepted: str


class Refused(Exception):
    """A :class:`Refusal` raised from deep in running a command (resolving its target,
    checking its values), where the line is not known: whoever answers the line fills it
    in (:meth:`of`)."""

    def __init__(self, reason: str, accepted: str) -> None:
        super().__init__(reason)
        self.refusal = Refusal("", reason, accepted)

    def of(self, line: str) -> Refusal:
        """The refusal of ``line``."""
        return replace(self.refusal, text=line)


@dataclass(frozen=True)
class ParsedComment:
    """The commands of a comment, in order, and how many were left over the limit."""

    items: list[Command | Refusal]
    ignored: int = 0


def has_command(body: str) -> bool:
    """Cheap test used to drop comments before any parsing or GitHub call."""
    return PREFIX in body and any(line.lstrip().startswith(PREFIX) for line in command_lines(body))


def markdown_lines(body: str) -> list[str]:
    """Lines as GitHub's Markdown sees them: ended only by CRLF, CR or LF. Not by
    ``str.splitlines``' extra breaks (U+2028, U+0085, form feed...), which would let a
    quoted ``\u2028/runners …`` run as a line of its own."""
    return _LINE_BREAK.split(body)


def _chars(body: str) -> int:
    return len(body)


@bounded(SCANS_KEPT, _chars)
def command_lines(body: str) -> tuple[str, ...]:
    """Lines that may hold commands: in a paragraph or heading that is not in a block
    quote, as CommonMark parses the comment (a lazy continuation line of a quote belongs
    to the quote; a fence closes only with a bare fence; HTML and comments are not text).

    Memoised (within :data:`SCANS_KEPT` characters of comments): the webhook's check and
    the command runner ask for the same comment, which is scanned once."""
    if PREFIX not in body:
        return ()
    lines = markdown_lines(body)
    found: list[str] = []
    quotes = 0
    for token in _markdown().parse(body):
        if token.type == "blockquote_open":
            quotes += 1
        elif token.type == "blockquote_close":
            quotes -= 1
        elif token.type == "inline" and quotes == 0 and token.map is not None:
            found += [
                line for line in (s.strip(" \t") for s in lines[token.map[0] : token.map[1]]) if _is_command(line)
            ]
    return tuple(found)


def _is_command(line: str) -> bool:
    return line.startswith(PREFIX) and (len(line) == len(PREFIX) or line[len(PREFIX)] in " \t")


@functools.cache
def _markdown() -> MarkdownIt:
    # CommonMark, as GitHub's renderer (cmark-gfm) reads block structure; GitHub's table
    # extension only adds rows that hold "|", which no command line starts with.
    return MarkdownIt("commonmark")


def parse_comment(body: str) -> ParsedComment:
    """Every command of ``body``; at most :data:`MAX_COMMANDS`, the rest counted as ignored."""
    lines = command_lines(body)
    items = [parse_line(line) for line in lines[:MAX_COMMANDS]]
    return ParsedComment(items, max(len(lines) - MAX_COMMANDS, 0))


@functools.lru_cache(maxsize=256)
def parse_line(line: str) -> Command | Refusal:
    """One ``/runners …`` line.

    Memoised: a delivery reads each line once however many steps ask (planning, then
    rebuilding pull requests from the stored lines). Results are frozen."""
    return _parse_line(line)


def _parse_line(line: str) -> Command | Refusal:
    shown = line if len(line) <= 80 else line[:77] + "..."
    if len(line) > MAX_LINE:
        return Refusal(shown, f"the command is longer than {MAX_LINE} characters", _all_usage())
    words = line.split()[1:]
    if not words:
        return Refusal(line, "no subcommand given", _all_usage())
    declared = COMMANDS.find(words[0])
    if declared is None:
        verb_word = words[0].lower()
        return Refusal(shown, f"unknown subcommand {_show(words[0])}{_suggest(verb_word, VERBS)}", _all_usage())
    return _parse_args(declared, line, words[1:])


def _parse_args(declared: Declaration, line: str, words: list[str]) -> Command | Refusal:
    usage = declared.accepted
    positional: list[str] = []
    options: dict[str, int | str] = {}
    pending: str | None = None
    for word in words:
        if pending is not None:
            key, pending = pending, None
            problem = _set_option(declared, options, key, word)
        elif (flag := _FLAG.match(word)) is not None:
            pending, problem = flag.group(1), None
        elif (pair := _KEY_VALUE.match(word)) is not None:
            problem = _set_option(declared, options, pair.group(1), pair.group(2))
        else:
            positional.append(word)
            problem = None
        if problem:
            return Refusal(line, problem, usage)
    if pending is not None:
        return Refusal(line, f"{_show('--' + pending)} needs a value", usage)
    return _check_positional(declared, line, positional, options)


def _check_positional(
    declared: Declaration, line: str, positional: list[str], options: dict[str, int | str]
) -> Command | Refusal:
    verb, usage = declared.verb, declared.accepted
    if declared.off and positional and positional[-1].lower() == "off":
        if options:
            return Refusal(line, f"{verb} off takes no options", usage)
        positional, options = positional[:-1], {"off": "off"}
    takes_target = declared.target != "none"
    if len(positional) > (1 if takes_target else 0):
        extra = positional[1:] if takes_target else positional
        return Refusal(line, f"unexpected word {_show(extra[0])}", usage)
    target = positional[0] if positional else None
    if target is not None:
        problem = _target_problem(target)
        if problem:
            return Refusal(line, problem, usage)
    if declared.target == "new repository" and target is None:
        return Refusal(line, f"{verb} needs the repository to onboard", usage)
    problem = declared.check(options) if declared.check is not None else None
    if problem is not None:
        return Refusal(line, problem, usage)
    low, high = options.get("min"), options.get("max")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        return Refusal(line, f"min ({low}) is above max ({high})", "min=N max=M with N ≤ M")
    if isinstance(high, int) and high < 1:
        return Refusal(line, "max must be at least 1", "max=N with N ≥ 1 (use /runners remove to offboard)")
    return Command(verb, line, target, options)


def _set_option(declared: Declaration, options: dict[str, int | str], raw_key: str, value: str) -> str | None:
    key = _SYNONYMS.get(raw_key.lower(), raw_key.lower())
    allowed = declared.options
    if key not in allowed:
        known = ", ".join(f"{k}=" for k in allowed) or "no options"
        return f"unknown option {_show(raw_key)}{_suggest(key, allowed)} ({declared.verb} takes {known})"
    if key in options:
        return f"'{key}' is given twice"
    if key in _COUNT_KEYS:
        if not re.fullmatch(r"[0-9]{1,6}", value) or int(value) > MAX_COUNT:
            return f"{key} must be a whole number from 0 to {MAX_COUNT}, not {_show(value)}"
        options[key] = int(value)
    elif key == "dind":
        if value.lower() not in ("true", "false", "yes", "no"):
            return f"dind must be true or false, not {_show(value)}"
        options[key] = value.lower()
    elif key == "for":
        if parse_duration(value) is None:
            return f"for must be a duration such as 4h, 90m or 1h30m (at most 366d), not {_show(value)}"
        options[key] = value
    elif key in ("org", "runnerscalesetname"):
        problem = _name_problem(key, value)
        if problem is not None:
            return problem
        options[key] = value
    else:
        if not names.is_slug(value):
            return f"{key} {_show(value)} is not a valid name (lower-case letters, digits, '-' or '_')"
        options[key] = value
    return None


def _name_problem(key: str, value: str) -> str | None:
    if key == "org":
        return None if names.is_login(value) else f"org {_show(value)} is not a GitHub organisation or user name"
    return names.scale_set_problem(value)


def _target_problem(target: str) -> str | None:
    owner, _, name = target.rpartition("/")
    if owner and not names.is_login(owner):
        return f"{_show(target)} is not a repository: the owner part is not a GitHub name"
    if not names.is_repo_name(name):
        return (
            f"{_show(target)} is not a repository or scale set name "
            "(ASCII letters, digits, '.', '-' and '_', optionally as owner/name)"
        )
    return None


def _show(value: str) -> str:
    """User text echoed back inert: bounded, printable, inside a code span, so no
    @-mention, link, image or closing keyword in it is live."""
    clean = "".join(ch if ch.isprintable() and ch != "`" else "?" for ch in value)
    return f"`{clean if len(clean) <= 40 else clean[:37] + '...'}`"


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    found = closest(word, choices, n=1)
    return f" (did you mean '{found[0]}'?)" if found else ""


def _all_usage() -> str:
    return "; ".join(c.accepted for c in COMMANDS)
