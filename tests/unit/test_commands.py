"""The comment parser: grammar, quoting rules, limits and hostile input."""

from __future__ import annotations

import pytest

from bot.commands.grammar import MAX_COMMANDS, Command, Refusal, Refused, has_command, parse_comment, parse_line


def one(line: str) -> Command | Refusal:
    return parse_line(line)


@pytest.mark.parametrize(
    ("line", "verb", "target", "options"),
    [
        ("/runners help", "help", None, {}),
        ("/runners HELP", "help", None, {}),
        ("/runners status", "status", None, {}),
        ("/runners status Matchpoint-AI/project-beta", "status", "Matchpoint-AI/project-beta", {}),
        ("/runners scale max=20", "scale", None, {"max": 20}),
        (
            "/runners scale project-beta min=1 max=20 profile=large",
            "scale",
            "project-beta",
            {"min": 1, "max": 20, "profile": "large"},
        ),
        (
            "/runners scale arc-beta-runners --max 20 --profile=xlarge",
            "scale",
            "arc-beta-runners",
            {"max": 20, "profile": "xlarge"},
        ),
        ("/runners scale --maxRunners=4", "scale", None, {"max": 4}),
        (
            "/runners add new-repo org=acme profile=small category=general min=0 max=3",
            "add",
            "new-repo",
            {"org": "acme", "profile": "small", "category": "general", "min": 0, "max": 3},
        ),
        ("/runners add acme/new.repo_x", "add", "acme/new.repo_x", {}),
        ("/runners remove project-beta", "remove", "project-beta", {}),
    ],
)
def test_valid_commands(line: str, verb: str, target: str | None, options: dict[str, object]) -> None:
    assert one(line) == Command(verb, line, target, options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/runners", "no subcommand given"),
        ("/runners scael x max=2", "unknown subcommand `scael` (did you mean 'scale'?)"),
        ("/runners scale x", "nothing to change: give min=N, max=N or profile=P"),
        ("/runners scale x max=-3", "max must be a whole number from 0 to 100000, not `-3`"),
        ("/runners scale x max=ten", "max must be a whole number from 0 to 100000, not `ten`"),
        ("/runners scale x max=1e3", "max must be a whole number from 0 to 100000, not `1e3`"),
        ("/runners scale x max=99999999999999999999", "max must be a whole number from 0 to 100000"),
        ("/runners scale x max=0", "max must be at least 1"),
        ("/runners scale x min=5 max=2", "min (5) is above max (2)"),
        ("/runners scale x max=2 max=3", "'max' is given twice"),
        ("/runners scale x maxx=2", "unknown option `maxx` (did you mean 'max'?)"),
        ("/runners scale x --max", "`--max` needs a value"),
        ("/runners scale x profile=Large!", "profile `Large!` is not a valid name"),
        ("/runners scale x profile=../../etc", "profile `../../etc` is not a valid name"),
        ("/runners scale x y max=2", "unexpected word `y`"),
        ("/runners scale ../etc/passwd max=2", "is not a repository"),
        ("/runners scale 'quoted' max=2", "is not a repository or scale set name"),
        ("/runners scale a:b max=2", "is not a repository or scale set name"),
        ("/runners scale prоject-beta max=2", "is not a repository or scale set name"),  # Cyrillic о
        ("/runners scale project‐beta max=2", "is not a repository or scale set name"),  # U+2010 hyphen
        ("/runners add", "add needs the repository to onboard"),
        ("/runners add x org=-bad-", "org `-bad-` is not a GitHub organisation or user name"),
        ("/runners add x max=5 foo=bar", "unknown option `foo`"),
        ("/runners help me", "unexpected word `me`"),
        ("/runners remove x max=3", "unknown option `max`"),
        ("/runners scale x max=" + "9" * 600, "longer than 500 characters"),
    ],
)
def test_refusals_say_why_and_what_is_accepted(line: str, reason: str) -> None:
    result = one(line)
    assert isinstance(result, Refusal), result
    assert reason in result.reason
    assert result.accepted.startswith("/runners") or "N" in result.accepted


def test_a_command_refused_as_it_runs_raises_the_refusal_of_its_line() -> None:
    refused = Refused("unknown target `x`", "a repository name")
    line = "/runners scale x max=2"
    assert refused.of(line) == Refusal(line, "unknown target `x`", "a repository name")
    assert str(refused) == "unknown target `x`"


def test_echoed_user_text_cannot_break_markup() -> None:
    result = one("/runners scale x max=2 `evil`<script>=1")
    assert isinstance(result, Refusal)
    # One code span, nothing of the user's text outside it: the backticks became '?'.
    assert result.reason == "unexpected word `?evil?<script>=1`"


def test_code_blocks_and_quotes_are_not_commands() -> None:
    body = "\n".join(
        [
            "Earlier someone wrote:",
            "> /runners remove project-beta",
            "  > /runners scale x max=3",
            "```",
            "/runners remove project-beta",
            "```",
            "~~~~",
            "/runners remove project-beta",
            "```",
            "/runners remove still-in-the-tilde-fence",
            "~~~~",
            "   /runners status project-beta",
            "/runnersfoo bar",
            "text /runners help in a sentence",
        ]
    )
    parsed = parse_comment(body)
    assert parsed.items == [Command("status", "/runners status project-beta", "project-beta")]


def test_unclosed_fence_hides_the_rest() -> None:
    assert parse_comment("```\n/runners help\n").items == []


def test_at_most_five_commands_the_rest_counted() -> None:
    body = "\n".join(f"/runners status repo-{i}" for i in range(8))
    parsed = parse_comment(body)
    assert len(parsed.items) == MAX_COMMANDS
    assert parsed.ignored == 3


def test_crlf_bodies() -> None:
    assert parse_comment("hello\r\n/runners help\r\n").items == [Command("help", "/runners help")]


def test_has_command_is_cheap_and_agrees() -> None:
    assert has_command("please\n/runners help")
    assert not has_command("```\n/runners help\n```")
    assert not has_command("just text " * 10_000)


def test_huge_comment_is_bounded() -> None:
    body = ("/runners status x\n" * 10_000) + "x" * 1_000_000
    parsed = parse_comment(body)
    assert len(parsed.items) == MAX_COMMANDS and parsed.ignored == 9_995


@pytest.mark.parametrize(
    "body",
    [
        "> quoted ask\u2028/runners remove project-beta",  # U+2028 is no line break on GitHub
        "> quoted ask\u0085/runners remove project-beta",
        "> quoted ask\x0c/runners remove project-beta",
        "> a quoted paragraph\n/runners remove project-beta",  # lazy continuation: still quoted
        "> a quoted paragraph\r/runners remove project-beta",
        "text\u2028/runners remove project-beta",
    ],
)
def test_lines_are_lines_as_github_draws_them(body: str) -> None:
    assert parse_comment(body).items == []


# What GitHub renders as code, hides, or quotes: none of it runs (CommonMark's rules).
NOT_COMMANDS = [
    "```\n/runners help\n```bash\n/runners remove project-beta\n```",  # only a bare fence closes
    "~~~\n/runners help\n~~~ python\n/runners remove project-beta\n~~~",
    "- a list item\n\n  ```\n  /runners remove project-beta\n  ```",  # a fence inside a list item
    "1. step one\n   ```\n   /runners remove project-beta\n   ```",
    "<!-- /runners remove project-beta -->",  # an HTML comment: hidden
    "<!--\n/runners remove project-beta\n-->",
    "text\n\n<!-- a note\n\n/runners remove project-beta\n-->",  # a comment spans blank lines
    "a paragraph\n\n    /runners remove project-beta",  # an indented code block
    "    /runners remove project-beta",
    "<details>\n/runners remove project-beta\n</details>",  # an HTML block
    "> - quoted list\n>   /runners remove project-beta",
    "> ```\n> /runners remove project-beta\n> ```",
    ">> nested quote\n/runners remove project-beta",  # lazy continuation of a nested quote
    "- item\n\n  > quoted in a list\n  /runners remove project-beta",
    "````\n```\n/runners remove project-beta\n````",  # a shorter fence does not close a longer one
]


@pytest.mark.parametrize("body", NOT_COMMANDS)
def test_what_github_shows_as_code_hides_or_quotes_never_runs(body: str) -> None:
    assert parse_comment(body).items == [] and not has_command(body)


# Text GitHub shows as text: these run.
COMMANDS = [
    "- a list item\n\n  /runners help",  # a paragraph inside a list item
    "Please:\n    /runners help",  # a paragraph's continuation line, however indented
    "```\ncode\n```\n/runners help",
    "> quoted\n\n/runners help",
    "<!-- a note -->\n\n/runners help",
    "/runners help\n---",  # a setext heading shows the line as text
]


@pytest.mark.parametrize("body", COMMANDS)
def test_what_github_shows_as_text_runs(body: str) -> None:
    (command,) = parse_comment(body).items
    assert isinstance(command, Command) and command.verb == "help"


def test_a_blank_line_ends_the_quote() -> None:
    (command,) = parse_comment("> quoted\n\n/runners help").items
    assert isinstance(command, Command) and command.verb == "help"


@pytest.mark.parametrize(
    ("line", "echoed"),
    [
        ("/runners scale x min=@org/team", "`@org/team`"),
        ("/runners scale x profile=![x](https://e.vil/p.png)", "`![x](https://e.vil/p.png)`"),
        ("/runners frobnicate", "`frobnicate`"),
        ("/runners add acme/x org=fixes#1", "`fixes#1`"),
    ],
)
def test_echoed_values_are_inert(line: str, echoed: str) -> None:
    (refusal,) = parse_comment(line).items
    assert isinstance(refusal, Refusal) and echoed in refusal.reason


def test_add_takes_an_explicit_scale_set_name_arc_can_deploy() -> None:
    (command,) = parse_comment("/runners add a-long-repository-name runnerScaleSetName=short-runners").items
    assert isinstance(command, Command) and command.options["runnerscalesetname"] == "short-runners"
    (refused,) = parse_comment("/runners add repo runnerScaleSetName=" + "x" * 46).items
    assert isinstance(refused, Refusal) and "ARC allows at most 45" in refused.reason
