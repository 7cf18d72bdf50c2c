"""The GitHub API calls metric's endpoint label is a template, never a value: every path of
GitHub's REST description (npm @octokit/openapi), filled with two different sets of
values, gets one label, so no stream of names, numbers or commit hashes adds series."""

from __future__ import annotations

import re

from bot.clients.github import endpoint
from tests.support.openapi_check import OpenAPI

SHA = ("6dcb09b5b57875f334f61aebed695e2e4193db5e", "0b3c9e3b8f1a4e2d7c6b5a4f3e2d1c0b9a8f7e6d")


def fill(template: str, values: tuple[str, str, str]) -> str:
    """``template`` with each parameter set: a name, a number or a hash; the last one may
    run over several segments where GitHub's path lets it (a file's path, a ref)."""
    names = re.findall(r"\{(\w+)\}", template)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        last = template.endswith(match.group(0)) and name in ("path", "ref")
        if name.endswith(("sha", "basehead", "ref")):
            return f"{SHA[0]}...{SHA[1]}" if name == "basehead" else values[2]
        return f"{values[0]}/{values[1]}" if last else values[names.index(name) % 2]

    return re.sub(r"\{(\w+)\}", value, template)


def test_every_github_path_gets_one_label_whatever_its_values() -> None:
    spec = OpenAPI()
    templates = sorted({op.template for op in spec.operations})
    labels = set()
    for template in templates:
        first = endpoint(fill(template, ("octo-org", "1296269", SHA[0])))
        second = endpoint(fill(template, ("Someone_Else.x", "42", SHA[1])))
        assert first == second, template
        assert "octo-org" not in first and "1296269" not in first and SHA[0] not in first, (template, first)
        labels.add(first)
    assert len(labels) <= len(templates)


def test_the_paths_that_carried_hashes() -> None:
    assert (
        endpoint(f"/api/v3/repos/acme/cfg/compare/{SHA[0]}...{SHA[1]}")
        == "/api/v3/repos/{owner}/{repo}/compare/{basehead}"
    )
    assert endpoint(f"/repos/acme/cfg/git/blobs/{SHA[0]}") == "/repos/{owner}/{repo}/git/blobs/{sha}"
    assert endpoint("/repos/acme/cfg/contents/values/repositories.yaml") == "/repos/{owner}/{repo}/contents/{path}"
    assert (
        endpoint("/repos/acme/cfg/collaborators/octocat/permission")
        == "/repos/{owner}/{repo}/collaborators/{id}/permission"
    )
    assert endpoint("/app/installations/42/access_tokens") == "/app/installations/{id}/access_tokens"
