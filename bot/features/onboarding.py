"""Feature: onboarding by issue form.

An issue opened from ``templates/onboarding-form.yml`` (recognised by its label) is read
field by field and handled like ``/runners add`` with those fields; the pull request
closes the issue. A form with missing or invalid fields gets one reply naming each
problem, from its author's reply budget as a refused comment's is. An issue opened by a
bot, or by another App on a user's behalf, is not obeyed. The form file is the single
source of the field labels.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from bot.clients.kube import Kube
from bot.commands import render
from bot.commands.grammar import MAX_COUNT
from bot.fleet import names
from bot.services import Services
from bot.services.command_runner import CommandRunner, admit, spend_once
from bot.services.pull_requests import PullRequests
from bot.store.api import Delivery
from bot.webhooks.routing import Handler, Route, by_app, by_bot
from bot.webhooks.threads import Thread, once, reply

FORM = "onboarding-form.yml"
LABEL = "runners-onboarding"  # the form's label: an issue opened with it is a request
NO_RESPONSE = "_No response_"
_HEADING = re.compile(r"^###\s+(.+?)\s*$")


@dataclass(frozen=True)
class FormResult:
    """The ``/runners add`` line the form asks for, or the problems that stop it and the
    line to comment once they are fixed (placeholders where the answers failed)."""

    command: str | None
    problems: list[str]
    suggestion: str


@functools.cache
def _form() -> list[dict[str, object]]:
    form = yaml.safe_load((render.TEMPLATE_DIR / FORM).read_text(encoding="utf-8"))
    return [item for item in form["body"] if "id" in item]


def _labels() -> dict[str, str]:
    """Heading label → field id, from the form itself."""
    return {item["attributes"]["label"]: str(item["id"]) for item in _form()}  # type: ignore[index]


def _one_line_fields() -> dict[str, str]:
    """Field id → label of every input and dropdown: their answers are one line."""
    return {str(i["id"]): i["attributes"]["label"] for i in _form() if i["type"] != "textarea"}  # type: ignore[index]


def fields(body: str) -> dict[str, str]:
    """The answers of a rendered issue form: field id → text ('' when not answered).

    The first heading of each field wins: a textarea that repeats a heading (``### Repository``)
    adds text to itself, it does not answer another field again."""
    labels = _labels()
    found: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in [*re.split(r"\r\n|\r|\n", body), "### \x00end"]:
        heading = _HEADING.match(line)
        field_id = labels.get(heading.group(1)) if heading else None
        if heading and field_id not in found and (field_id is not None or line == "### \x00end"):
            if current is not None:
                value = "\n".join(lines).strip()
                found[current] = "" if value == NO_RESPONSE else value
            current, lines = field_id, []
        elif current is not None:
            lines.append(line)
    return found


_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")
_LOWEST = {"min": 0, "max": 1}  # a max of 0 is what remove is for
# The add grammar's placeholder for each field (bot/commands/registry.py's usage): what the
# suggested command shows where an answer did not pass its check.
_PLACEHOLDERS = {"repository": "REPO", "org": "org=O", "profile": "profile=P", "category": "category=C",
                 "min": "min=N", "max": "max=N", "docker": "dind=true|false"}  # fmt: skip


def _valid(key: str, value: str) -> bool:
    """Whether the answer ``value`` of field ``key`` passes the field's own check."""
    if not value or "\n" in value:
        return False
    if key == "repository":
        return names.is_repo_name(value)
    if key == "org":
        return names.is_login(value)
    if key in ("category", "profile"):
        return names.is_slug(value)
    if key in ("min", "max"):  # as the add grammar takes them
        return _WHOLE_NUMBER.fullmatch(value) is not None and _LOWEST[key] <= int(value) <= MAX_COUNT
    if key == "docker":
        return value in ("Yes", "No")
    return True


def _min_above_max(answers: dict[str, str]) -> bool:
    low, high = answers.get("min", ""), answers.get("max", "")
    return _valid("min", low) and _valid("max", high) and int(low) > int(high)


def _field_problems(answers: dict[str, str]) -> list[str]:
    problems = [f"**{label}** is missing" for label, key in _labels().items() if not answers.get(key)]
    for key, label in _one_line_fields().items():
        if "\n" in answers.get(key, ""):
            problems.append(f"**{label}** must be one line")
    repo, org = answers.get("repository", ""), answers.get("org", "")
    if repo and not _valid("repository", repo):
        problems.append(
            f"**Repository** `{render.code(repo)}` is not a GitHub repository name (letters, digits, '.', '-', '_')"
        )
    elif repo and (problem := names.scale_set_problem(names.default_scale_set(repo))):
        longest = names.MAX_SCALE_SET - len(names.RUNNERS_SUFFIX)
        problems.append(f"**Repository** gives {render.code(problem)}: use a name of at most {longest} characters")
    elif repo and (clash := names.reserved_application(scale_set := names.default_scale_set(repo))):
        # A repository name (checked above) is safe in a code span as it is.
        problems.append(
            f"**Repository** `{repo}` gives the scale set `{scale_set}`, the name of {clash}, which the fleet's "
            f"Application would overwrite (Argo CD keys Applications by name): comment `/runners add {repo} "
            f"runnerScaleSetName=NAME` instead, with any valid name but {names.reserved_names_text()}"
        )
    if org and not _valid("org", org):
        problems.append(f"**Organisation** `{render.code(org)}` is not a GitHub organisation or user name")
    for key, label in (("category", "Category"), ("profile", "Resource profile")):
        value = answers.get(key, "")
        if value and not _valid(key, value):
            problems.append(f"**{label}** `{render.code(value)}` is not one of the form's choices")
    for key, label in (("min", "Minimum runners"), ("max", "Maximum runners")):
        value = answers.get(key, "")
        if value and not _valid(key, value):
            problems.append(
                f"**{label}** must be a whole number from {_LOWEST[key]} to {MAX_COUNT:,}, not `{render.code(value)}`"
            )
    if _min_above_max(answers):
        problems.append(f"**Minimum runners** ({answers['min']}) is above **Maximum runners** ({answers['max']})")
    if answers.get("docker") and not _valid("docker", answers["docker"]):
        problems.append(f"**Needs Docker** must be Yes or No, not `{render.code(answers['docker'])}`")
    return problems


def _command_parts(answers: dict[str, str]) -> list[str]:
    """The ``/runners add`` arguments the form asks for: each answer that passed its check,
    the grammar's placeholder for each missing or invalid one (never the typed text)."""
    good = {key: value for key, value in answers.items() if _valid(key, value)}
    if _min_above_max(answers):
        del good["max"]  # the grammar refuses min above max: the max becomes a placeholder
    repo = good.get("repository", _PLACEHOLDERS["repository"])
    parts = [f"{good['org']}/{repo}" if "org" in good else repo]
    if "org" not in good:
        parts.append(_PLACEHOLDERS["org"])
    for key in ("profile", "category", "min", "max"):
        parts.append(f"{key}={good[key]}" if key in good else _PLACEHOLDERS[key])
    docker = good.get("docker")
    parts.append(f"dind={'true' if docker == 'Yes' else 'false'}" if docker else _PLACEHOLDERS["docker"])
    if "repository" in good and (
        names.scale_set_problem(scale_set := names.default_scale_set(repo)) or names.reserved_application(scale_set)
    ):
        parts.append("runnerScaleSetName=NAME")  # the repository's own scale set name cannot be deployed
    return parts


def parse_form(body: str) -> FormResult:
    """Pure: check every field, then build the command from checked fields only."""
    answers = fields(body)
    problems = _field_problems(answers)
    parts = _command_parts(answers)
    command = None if problems else "/runners add " + " ".join(parts)
    return FormResult(command, problems, " ".join(parts))


async def handle(services: Services, pulls: PullRequests, delivery: Delivery, kube: Kube | None = None) -> None:
    payload = delivery.payload
    issue, repository = payload["issue"], payload["repository"]
    user = issue.get("user") or {}
    result = parse_form(str(issue.get("body") or ""))
    thread = Thread(
        owner=repository["owner"]["login"],
        repo=repository["name"],
        number=int(issue["number"]),
        comment_id=None,
        comment_url=str(issue.get("html_url", "")),
        user=str(user.get("login", "")),
        is_bot=user.get("type") == "Bot",
        body=result.command or "",
    )
    if result.command is None:
        if delivery.installation is None:
            return
        inst = services.github.installation(delivery.installation)
        if not await admit(services, inst, delivery, thread):
            return  # the author's (or the installation's) reply budget is spent
        text = render.fill(
            "reply_onboarding_invalid.md",
            problems="\n".join(f"- {p}" for p in result.problems),
            suggestion=result.suggestion,
        )
        try:
            await reply(services.store, inst, delivery, thread, index=0, text=text)
            await once(
                services.store,
                delivery.id,
                "reaction:final",
                lambda: inst.react_to_issue(thread.owner, thread.repo, thread.number, "-1"),
            )
        finally:  # a form that changes nothing costs a reply, as a refused comment does
            await spend_once(services, delivery, thread)
        return
    # An add needs the cluster's Application names (none of them may be taken), not the clock.
    await CommandRunner(services, pulls, kube).run(
        delivery, thread, closes=f"{thread.owner}/{thread.repo}#{thread.number}"
    )


def accepts(payload: Mapping[str, Any]) -> str | None:
    issue = payload.get("issue")
    labels = issue.get("labels", []) if isinstance(issue, Mapping) else []
    if not any(isinstance(label, Mapping) and label.get("name") == LABEL for label in labels):
        return "not an onboarding request"
    if by_bot(payload.get("sender")) or by_bot(issue.get("user") if isinstance(issue, Mapping) else None):
        return "opened by a bot"
    if isinstance(issue, Mapping) and by_app(issue):
        return "opened through a GitHub App"
    return None


ROUTES = (Route("onboarding", "issues", "opened", accepts),)


def handlers(services: Services, pulls: PullRequests, kube: Kube | None = None) -> dict[str, Handler]:
    return {"onboarding": functools.partial(handle, services, pulls, kube=kube)}
