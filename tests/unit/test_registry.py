"""One declaration a command (bot.commands.registry) drives the grammar, the help reply,
the permission check and the commands metric."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import generate_latest

from bot.commands import pipeline
from bot.commands.grammar import Command, Refusal, parse_line
from bot.commands.permissions import authorise
from bot.commands.registry import COMMANDS, OTHER, Declaration, Executor, Registry
from bot.commands.render import help_reply
from bot.fleet.config import ConfigFiles, parse
from bot.runtime.metrics import Metrics

DRAIN = Declaration(
    "drain",
    "/runners drain TARGET [for=DURATION]",
    "stop taking new jobs until the running ones end",
    options=("for",),
    access="write",
    execute=Executor("execute_drain"),
)


def exposition(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_a_declared_command_is_in_the_help_reply_and_the_metrics(bundled: ConfigFiles) -> None:
    commands = COMMANDS.with_command(DRAIN)
    config = parse(bundled.repositories, bundled.base)

    text = help_reply(config, config.entries, complete=True, commands=commands)
    assert "| `/runners drain TARGET [for=DURATION]` | stop taking new jobs until the running ones end |" in text
    assert "`scale`, `add`, `remove`, `burst` and `drain` need write, maintain or admin permission" in text
    assert "/runners drain" not in help_reply(config, config.entries, complete=True)

    metrics = Metrics(declared=commands)
    assert 'runners_bot_commands_total{outcome="ok",verb="drain"} 0.0' in exposition(metrics)
    metrics.count_command("/runners drain arc-frontend-runners for=1h", ok=True)
    assert 'runners_bot_commands_total{outcome="ok",verb="drain"} 1.0' in exposition(metrics)
    assert 'verb="drain"' not in exposition(Metrics())


@pytest.mark.parametrize("declared", COMMANDS.commands, ids=lambda d: d.verb)
def test_every_command_is_counted_under_its_own_verb(declared: Declaration) -> None:
    """``burst`` and ``recommend`` were counted as ``other``: the label was a list of its own."""
    metrics = Metrics()
    metrics.count_command(f"/runners {declared.verb.upper()} something", ok=False)
    assert f'runners_bot_commands_total{{outcome="refused",verb="{declared.verb}"}} 1.0' in exposition(metrics)


@pytest.mark.parametrize("line", ["/runners", "/runners drain x", "/runnersburst", "3 more commands", ""])
def test_anything_else_is_counted_as_other(line: str) -> None:
    assert COMMANDS.label(line) == OTHER


def test_the_metric_has_a_series_per_declared_verb_from_the_start() -> None:
    text = exposition(Metrics())
    for label in (*COMMANDS.verbs, OTHER):
        for outcome in ("ok", "refused"):
            assert f'runners_bot_commands_total{{outcome="{outcome}",verb="{label}"}} 0.0' in text


@pytest.mark.parametrize("declared", COMMANDS.commands, ids=lambda d: d.verb)
def test_each_declaration_names_an_executor_of_the_pipeline(declared: Declaration) -> None:
    """The executor is named, not imported (the pipeline imports the grammar): the name
    must be a function of the pipeline's."""
    assert callable(getattr(pipeline, declared.execute.name, None))


@pytest.mark.parametrize("declared", COMMANDS.commands, ids=lambda d: d.verb)
def test_the_permission_check_follows_the_declaration(declared: Declaration) -> None:
    assert authorise(declared.verb, "octocat", "read").allowed is not declared.needs_write
    assert authorise(declared.verb, "octocat", "write").allowed


@pytest.mark.parametrize("declared", COMMANDS.commands, ids=lambda d: d.verb)
def test_the_grammar_takes_the_declared_options_and_no_other(declared: Declaration) -> None:
    refused = parse_line(f"/runners {declared.verb} colour=blue")
    assert isinstance(refused, Refusal) and refused.accepted == declared.accepted
    known = ", ".join(f"{k}=" for k in declared.options) or "no options"
    assert f"({declared.verb} takes {known})" in refused.reason


def test_a_command_needs_a_declaration_to_parse() -> None:
    """The parser's verbs are the declared ones: a verb nobody declared is refused."""
    refused = parse_line("/runners drain x")
    assert isinstance(refused, Refusal) and "unknown subcommand `drain`" in refused.reason
    for declared in COMMANDS:
        assert declared.usage in refused.accepted
    parsed = parse_line("/runners burst api off")
    assert isinstance(parsed, Command) and parsed.ends_burst and parsed.declared is COMMANDS["burst"]


def test_verbs_are_declared_once() -> None:
    with pytest.raises(ValueError, match="unique"):
        COMMANDS.with_command(dataclasses.replace(DRAIN, verb="status"))
    with pytest.raises(ValueError, match="unique"):
        Registry((dataclasses.replace(DRAIN, verb=OTHER),))
