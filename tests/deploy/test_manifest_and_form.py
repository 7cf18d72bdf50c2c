"""The GitHub App manifest and the onboarding issue form."""

from __future__ import annotations

import yaml

from bot.features.onboarding import LABEL as ONBOARDING_LABEL
from bot.features.onboarding import fields, parse_form
from tests.support.app import ROOT
from tests.support.webhook_payloads import rendered_form


def test_app_manifest_is_least_privilege() -> None:
    manifest = yaml.safe_load((ROOT / "app.yml").read_text(encoding="utf-8"))
    assert set(manifest) <= {
        "name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description",
        "public", "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update",
    }  # fmt: skip
    assert manifest["default_permissions"] == {
        "contents": "write",
        "pull_requests": "write",
        "issues": "write",
        "metadata": "read",
        "actions": "read",  # workflow_job deliveries (docs/capacity.md)
        "organization_self_hosted_runners": "read",  # a pool's missing runner group in its rollout report
    }
    assert manifest["default_events"] == ["issue_comment", "issues", "pull_request", "workflow_job"]
    assert manifest["hook_attributes"]["url"].endswith("/api/github/webhooks")


def test_issue_form_ships_in_both_places() -> None:
    template = (ROOT / "templates" / "onboarding-form.yml").read_bytes()
    assert (ROOT / ".github" / "ISSUE_TEMPLATE" / "runners-onboarding.yml").read_bytes() == template
    form = yaml.safe_load(template)
    assert form["labels"] == [ONBOARDING_LABEL]
    ids = [item["id"] for item in form["body"] if "id" in item]
    assert ids == ["repository", "org", "category", "profile", "min", "max", "docker", "justification"]


def test_form_fields_are_read_back() -> None:
    body = rendered_form({"Repository": "svc", "Organisation": "acme", "Justification": "line one\n\nline two"})
    got = fields(body.replace("\n", "\r\n"))
    assert got["repository"] == "svc" and got["org"] == "acme" and got["category"] == ""
    assert got["justification"] == "line one\r\n\r\nline two".replace("\r\n", "\n")


def test_complete_form_becomes_add_command() -> None:
    answers = {
        "Repository": "svc", "Organisation": "acme", "Category": "frontend", "Resource profile": "medium",
        "Minimum runners": "0", "Maximum runners": "4", "Needs Docker": "No", "Justification": "CI",
    }  # fmt: skip
    result = parse_form(rendered_form(answers))
    assert result.problems == []
    assert result.command == "/runners add acme/svc profile=medium category=frontend min=0 max=4 dind=false"


def test_form_problems_are_each_named() -> None:
    result = parse_form(rendered_form({"Repository": "../etc", "Organisation": "-x-", "Minimum runners": "-1"}))
    assert result.command is None
    text = "\n".join(result.problems)
    for expected in ("**Category** is missing", "**Resource profile** is missing", "**Maximum runners** is missing", "**Repository** `../etc`",
                     "**Organisation** `-x-`", "**Minimum runners** must be a whole number"):  # fmt: skip
        assert expected in text


COMPLETE = {
    "Repository": "svc", "Organisation": "acme", "Category": "frontend", "Resource profile": "medium",
    "Minimum runners": "0", "Maximum runners": "4", "Needs Docker": "No", "Justification": "CI",
}  # fmt: skip


def test_a_form_with_problems_suggests_only_what_passed_its_check() -> None:
    """The reply suggested `/runners add Matchpoint-AI/bad name! ... max=lots`: the invalid
    answers as typed, a command the app would refuse, and text of anyone's set into it."""
    answers = {**COMPLETE, "Repository": "bad name!", "Maximum runners": "lots`@x", "Category": "",
               "Needs Docker": "Maybe"}  # fmt: skip
    result = parse_form(rendered_form(answers))
    assert result.command is None
    assert result.suggestion == "acme/REPO profile=medium category=C min=0 max=N dind=true|false"
    assert "bad name" not in result.suggestion and "lots" not in result.suggestion
    # The typed values are named only in the problems, each inert in a code span.
    assert "**Maximum runners** must be a whole number from 1 to 100,000, not `lots'@x`" in result.problems
    result = parse_form(rendered_form({**COMPLETE, "Minimum runners": "6", "Maximum runners": "2"}))
    assert result.problems == ["**Minimum runners** (6) is above **Maximum runners** (2)"]
    assert result.suggestion == "acme/svc profile=medium category=frontend min=6 max=N dind=false"
    result = parse_form(rendered_form({**COMPLETE, "Organisation": "-x-", "Repository": "r" * 38}))
    assert result.suggestion == f"{'r' * 38} org=O profile=medium category=frontend min=0 max=4 dind=false " + (
        "runnerScaleSetName=NAME"
    )


def test_a_textarea_cannot_answer_other_fields_or_add_commands() -> None:
    """The justification repeats a heading and adds a command line: both stay its own text."""
    evil = "CI\n\n### Repository\n\nother-repo\n/runners remove project-beta\n### Maximum runners\n\n50"
    result = parse_form(rendered_form({**COMPLETE, "Justification": evil}))
    assert result.command == "/runners add acme/svc profile=medium category=frontend min=0 max=4 dind=false"
    assert "/runners remove" in fields(rendered_form({**COMPLETE, "Justification": evil}))["justification"]


def test_one_line_fields_refuse_newlines_and_choices_are_slugs() -> None:
    bad = {**COMPLETE, "Organisation": "acme\n/runners remove x", "Resource profile": "![x](https://e.vil/x.png)",
           "Category": "front end", "Needs Docker": "Yes please"}  # fmt: skip
    result = parse_form(rendered_form(bad))
    assert result.command is None
    text = "\n".join(result.problems)
    for expected in (
        "**Organisation** must be one line",
        "**Resource profile** `",
        "**Category** `",
        "**Needs Docker** must be Yes or No",
    ):
        assert expected in text, text
    assert "![x](" not in text.replace("`![x](https://e.vil/x.png)`", "")


def test_form_refuses_a_name_arc_cannot_deploy() -> None:
    result = parse_form(rendered_form({**COMPLETE, "Repository": "r" * 38}))
    assert result.command is None
    assert any("ARC allows at most 45" in p and "at most 37 characters" in p for p in result.problems), result.problems


def test_form_refuses_a_repository_whose_scale_set_is_a_root_application() -> None:
    """Argo CD keys Applications by name in their namespace: repository "github" gives the
    scale set github-runners, the fleet's own root Application (argocd/apps-live/fleet.yaml)."""
    result = parse_form(rendered_form({**COMPLETE, "Repository": "github"}))
    assert result.command is None
    (problem,) = result.problems
    assert problem.startswith("**Repository** `github` gives the scale set `github-runners`, the name of ")
    assert "comment `/runners add github runnerScaleSetName=NAME` instead" in problem
