"""Validation rules of both values files, each problem with its file and line."""

from __future__ import annotations

import pytest

from bot.fleet import names
from bot.fleet.config import ConfigFiles, parse
from bot.fleet.validation import runner_group_problems, validate
from tests.support.app import ROOT
from tests.support.golden import golden


def problems(repositories: str, base: str) -> list[str]:
    return [str(p) for p in validate(parse(repositories, base))]


def test_bundled_values_are_valid(bundled: ConfigFiles) -> None:
    assert problems(bundled.repositories, bundled.base) == []


def entry(extra: str = "", name: str = "alpha", scaling: str = "{minRunners: 1, maxRunners: 5}") -> str:
    return f"repositories:\n  - name: {name}\n    org: acme\n    scaling: {scaling}\n    profile: small\n{extra}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            entry(scaling="{minRunners: 1, maxRunner: 5}"),
            "values/repositories.yaml:4: unknown key 'maxRunner' in scaling of entry 'alpha': did you mean 'maxRunners'?",
        ),
        (
            entry("    profiel: small\n"),
            "values/repositories.yaml:6: unknown key 'profiel' in entry 'alpha': did you mean 'profile'?",
        ),
        (
            entry(scaling="{minRunners: 6, maxRunners: 5}"),
            "values/repositories.yaml:4: minRunners (6) is above maxRunners (5)",
        ),
        (
            entry(scaling="{minRunners: 0, maxRunners: 0}"),
            "values/repositories.yaml:4: maxRunners in scaling of entry 'alpha' must be at least 1",
        ),
        (
            entry(scaling="{minRunners: -1, maxRunners: 5}"),
            "values/repositories.yaml:4: minRunners in scaling of entry 'alpha' must be a whole number ≥ 0, not '-1'",
        ),
        (
            entry(scaling="{minRunners: '1', maxRunners: 5}"),
            "values/repositories.yaml:4: minRunners in scaling of entry 'alpha' must be a whole number ≥ 0, not '1'",
        ),
        (
            entry(scaling="{minRunners: 1, maxRunners: 51}"),
            "values/repositories.yaml:4: maxRunners 51 of entry 'alpha' is above the limit of 50",
        ),
        (
            entry(scaling="{minRunners: 11, maxRunners: 20}"),
            "values/repositories.yaml:4: minRunners 11 of entry 'alpha' is above the limit of 10",
        ),
        (entry().replace("profile: small", "profile: huge"), "values/repositories.yaml:5: unknown profile 'huge'"),
        (
            entry("    category: frontnd\n"),
            "values/repositories.yaml:6: unknown category 'frontnd' (did you mean 'frontend'?)",
        ),
        (entry(name="bad/name"), "values/repositories.yaml:2: name 'bad/name' is not a GitHub repository name"),
        (
            entry(name="'a\\nb'").replace("'a\\nb'", '"a\\nb"'),
            "values/repositories.yaml:2: name 'a\nb' is not a GitHub repository name",
        ),
        (entry(name="x" * 60), "is not a valid Kubernetes name (at most 63 characters)"),
        (
            entry(name="x" * 38),
            "values/repositories.yaml:2: scale set name '"
            + "x" * 38
            + "-runners' has 46 characters; ARC allows at most 45",
        ),
        (
            entry("    runnerScaleSetName: " + "a" * 46 + "\n"),
            "values/repositories.yaml:6: scale set name '" + "a" * 46 + "' has 46 characters; ARC allows at most 45",
        ),
        (entry().replace("org: acme", "org: -acme"), "values/repositories.yaml:3: org '-acme' is not a GitHub login"),
        (entry().replace("    org: acme\n", ""), "values/repositories.yaml:2: entry 'alpha' needs 'org'"),
        (entry(name="no"), "values/repositories.yaml:2: name must be a string: YAML reads unquoted yes/no"),
        (
            entry("    runnerScaleSetName: Bad_Name\n"),
            "values/repositories.yaml:6: scale set name 'Bad_Name' is not a valid Kubernetes name",
        ),
        (entry("    dind: yes please\n"), "values/repositories.yaml:6: dind of entry 'alpha' must be true or false"),
        (
            entry("    storage: {work: lots}\n"),
            "values/repositories.yaml:6: storage.work of entry 'alpha' must be a quantity",
        ),
        (
            entry("reposit: []\n"),
            "values/repositories.yaml:6: unknown key 'reposit' in repositories.yaml: did you mean 'repositories'?",
        ),
        (
            entry(scaling="{minRunners: 1, maxRunners: 5, maxRunners: 6}"),
            "values/repositories.yaml:4: duplicate key 'maxRunners'",
        ),
        ("repositories: {}\n", "values/repositories.yaml:1: 'repositories' must be a list of entries"),
        ("- a\n", "values/repositories.yaml:1: the file must be a mapping with a 'repositories' list"),
    ],
)
def test_problem_is_reported_with_line(text: str, expected: str, bundled: ConfigFiles) -> None:
    found = problems(text, bundled.base)
    assert any(expected in p for p in found), found


def test_duplicates_after_normalisation_are_reported(bundled: ConfigFiles) -> None:
    text = (
        "repositories:\n  - name: My.Repo\n    org: acme\n    runnerScaleSetName: a-runners\n"
        "  - name: my_repo\n    org: acme\n    runnerScaleSetName: b-runners\n"
    )
    found = problems(text, bundled.base)
    assert found == [
        "values/repositories.yaml:5: namespace 'arc-my-repo-runners' of entry 'my_repo' is already used by entry 'My.Repo' on line 2"
        " (names are compared after normalising case, '.' and '_')"
    ]


def test_duplicate_repository_and_scale_set(bundled: ConfigFiles) -> None:
    text = "repositories:\n  - {name: a, org: acme}\n  - {name: A, org: ACME}\n  - {name: b, org: acme, runnerScaleSetName: a-runners}\n"
    found = problems(text, bundled.base)
    assert (
        "values/repositories.yaml:3: repository 'acme/a' of entry 'A' is already used by entry 'a' on line 2" in found
    )
    assert (
        "values/repositories.yaml:4: scale set 'a-runners' of entry 'b' is already used by entry 'a' on line 2" in found
    )


def test_base_config_problems(bundled: ConfigFiles) -> None:
    base = bundled.base.replace("limit: 12Gi", "limit: twelve").replace(
        "profile: large\n    dind: heavy", "profile: larg\n    dind: heavy"
    )
    found = problems(bundled.repositories, base)
    assert any(p.startswith("values/base-config.yaml:") and "memory.limit must be a quantity" in p for p in found), (
        found
    )
    assert any("unknown profile 'larg' (did you mean 'large'?)" in p for p in found), found


def test_no_limits_means_no_limit(bundled: ConfigFiles) -> None:
    base = bundled.base.replace("  limits:\n    minRunners: 10\n    maxRunners: 50\n", "")
    assert problems(entry(scaling="{minRunners: 1, maxRunners: 500}"), base) == []


def test_anchors_shared_through_extension_keys_are_valid(bundled: ConfigFiles) -> None:
    text = "x-std: &std {minRunners: 1, maxRunners: 5}\nrepositories:\n  - {name: a, org: acme, scaling: *std}\n  - {name: b, org: acme, scaling: *std}\n"
    assert problems(text, bundled.base) == []


def test_limit_of_45_characters_is_exact(bundled: ConfigFiles) -> None:
    assert problems(entry(name="x" * 37), bundled.base) == []
    assert problems(entry("    runnerScaleSetName: " + "a" * 45 + "\n"), bundled.base) == []


def test_docker_needs_a_dind_profile(bundled: ConfigFiles) -> None:
    base = bundled.base.replace("    standard:\n", "    std:\n")
    found = problems(entry("    dind: true\n"), base)
    assert found == [
        "values/repositories.yaml:6: entry 'alpha' gets a Docker daemon but dind profile 'standard' is not defined: "
        "valid dind profiles are heavy, std"
    ]
    assert problems(entry("    dind: false\n"), base) == []


@pytest.mark.parametrize("word", ["y", "n", "on", "off", "1e3", "0o17", "09", "0x1f", "1_000"])
def test_names_helm_reads_as_non_strings_must_be_quoted(word: str, bundled: ConfigFiles) -> None:
    text = f"repositories:\n  - name: {word}\n    org: acme\n"
    found = problems(text, bundled.base)
    assert any(p.startswith("values/repositories.yaml:2:") and "Go YAML" in p for p in found) or any(
        "name must be a string" in p for p in found
    ), found
    assert not [
        p for p in problems(f'repositories:\n  - name: "{word}"\n    org: acme\n', bundled.base) if "Go YAML" in p
    ]


def test_a_derived_name_over_arcs_limit_suggests_runner_scale_set_name(bundled: ConfigFiles) -> None:
    long_name = "a-repository-name-long-enough-to-pass-arcs-limit"
    entry = f"  - name: {long_name}\n    org: acme\n    scaling: {{minRunners: 0, maxRunners: 2}}\n    profile: small\n"
    text = bundled.repositories.replace("repositories:\n", "repositories:\n" + entry, 1)
    problems = [p.message for p in validate(parse(text, bundled.base))]
    assert any(
        "ARC allows at most 45" in p and f"/runners add {long_name} runnerScaleSetName=NAME" in p for p in problems
    )


# --- names and settings ARC or Argo CD would break on silently -----------------------------


@pytest.mark.parametrize(
    ("written", "root"),
    [
        ("https://ghes.example.com/api/v3", "https://ghes.example.com"),
        ("https://ghes.example.com/", None),
        ("https://ghes.example.com:8443", None),
        ("https://ghes.example.com/acme", "https://ghes.example.com"),
        ("https://ghes.example.com?x=1", "https://ghes.example.com"),
    ],
)
def test_github_url_must_be_the_server_root(written: str, root: str | None, bundled: ConfigFiles) -> None:
    """ARC 0.12.1 github/actions/config.go, ParseGitHubConfigFromURL: after the host it takes
    one path segment (an organisation) or two (organisation/repository, or enterprises/<e>)
    and nothing else, and it says so only in the controller's log. The fleet appends
    /<org>[/<repository>] to githubUrl, so githubUrl itself must have no path."""
    text = entry() + f"environments:\n  prod:\n    githubUrl: {written}\n"
    found = problems(text, bundled.base)
    if root is None:
        assert found == []
        return
    assert found == [
        f"values/repositories.yaml:8: environments.prod.githubUrl '{written}' is not the server's root: ARC registers "
        "at <githubUrl>/<org> or <githubUrl>/<org>/<repository> and accepts only one or two path segments after the "
        f"host (anything more fails in its controller log only); write githubUrl: {root}"
    ]


@pytest.mark.parametrize(
    ("extra", "name", "line", "scale_set"),
    [
        ("", "github", 2, "github-runners"),  # the fleet's root Application, argocd/apps-live/fleet.yaml
        ("    runnerScaleSetName: runners-bot\n", "alpha", 6, "runners-bot"),  # argocd/apps-manual/runners-bot.yaml
        ("    runnerScaleSetName: arc-controller\n", "alpha", 6, "arc-controller"),  # argocd/apps-live/controller.yaml
        ("    runnerScaleSetName: github-runners-shard-07\n", "alpha", 6, "github-runners-shard-07"),  # a root's shard
        ("    scope: organization\n", "runners-bot", 2, "runners-bot"),  # a pool's scale set is its name
    ],
)
def test_a_scale_set_may_not_take_a_root_applications_name(
    extra: str, name: str, line: int, scale_set: str, bundled: ConfigFiles
) -> None:
    """Argo CD keys an Application by its name within its namespace (an Application is a
    namespaced Kubernetes object; argo-cd docs, "Applications in any namespace"): the
    fleet's Application for a scale set named like a root Application *is* that
    Application, and the fleet's sync (prune: true) overwrites it."""
    found = problems(entry(extra, name=name), bundled.base)
    assert len(found) == 1, found
    assert found[0].startswith(
        f"values/repositories.yaml:{line}: scale set name '{scale_set}', which is also the name of "
    ), found
    assert "Argo CD keys Applications by name in its namespace" in found[0]
    assert "any valid name but `arc-controller`, `github-runners`, `runners-bot`, `github-runners-shard-NN`" in found[0]


def test_a_scale_set_may_not_take_the_name_of_an_application_in_the_cluster(bundled: ConfigFiles) -> None:
    config = parse(entry("    runnerScaleSetName: team-app\n"), bundled.base)
    assert validate(config) == []
    (found,) = validate(config, applications={"team-app"})
    assert "an Application already in Argo CD's namespace that the fleet does not own" in found.message
    assert found.line == 6


def test_the_fleets_own_applications_are_not_foreign() -> None:
    """The labels charts/runners-fleet puts on a scale set's Application mark it the fleet's;
    anything else in the namespace (the roots, their shards, other teams') is foreign."""
    own = {"metadata": {"name": "alpha-runners", "labels": dict(names.FLEET_LABELS)}}
    shard = {"metadata": {"name": "github-runners-shard-00", "labels": {"app.kubernetes.io/part-of": "runners-fleet"}}}
    other = {"metadata": {"name": "team-app"}}
    assert names.foreign_applications([own, shard, other]) == {"github-runners-shard-00", "team-app"}


POOL = (
    "repositories:\n  - name: shared\n    org: acme\n    scope: organization\n    runnerGroup: big-builds\n"
    "  - name: alpha\n    org: acme\n"
)


def test_a_pools_runner_group_must_exist_in_its_organisation(bundled: ConfigFiles) -> None:
    """ARC 0.12.1 controllers/actions.github.com/autoscalingrunnerset_controller.go looks the
    group up by name (github/actions/client.go GetRunnerGroupByName: "no runner group found
    with name"), returns the error and is requeued for ever, with no Kubernetes event."""
    config = parse(POOL, bundled.base)
    assert runner_group_problems(config, {"acme": ["Default", "Big-Builds"]}) == []  # ARC compares without case
    (missing,) = runner_group_problems(config, {"acme": ["Default", "small"]})
    assert str(missing) == (
        "values/repositories.yaml:5: runner group 'big-builds' does not exist in organisation 'acme': ARC retries "
        "registering the pool forever and no runner comes up; create it (organisation settings → Actions → Runner "
        "groups) or use one of the organisation's groups: Default, small (runnerGroup 'big-builds' of entry 'shared')"
    )
    (unchecked,) = runner_group_problems(config, {"acme": "GitHub answered 403"})
    assert unchecked.message == "runnerGroup 'big-builds' of entry 'shared' could not be checked: GitHub answered 403"
    assert runner_group_problems(config, {}) == []  # not asked: nothing said


def test_golden_of_the_names_and_settings_refused(bundled: ConfigFiles) -> None:
    """Every new problem's text, as `runners-bot validate` prints it."""
    text = (
        "repositories:\n  - name: github\n    org: acme\n"
        "  - name: tools\n    org: acme\n    runnerScaleSetName: github-runners-shard-03\n"
        "  - name: team\n    org: acme\n    runnerScaleSetName: team-app\n"
        + POOL.removeprefix("repositories:\n")
        + "environments:\n  prod:\n    githubUrl: https://ghes.example.com/api/v3\n"
    )
    config = parse(text, bundled.base)
    found = sorted(validate(config, applications={"team-app"}) + runner_group_problems(config, {"acme": ["Default"]}))
    golden(ROOT / "tests" / "golden" / "names" / "validate.txt", "".join(f"{p}\n" for p in found))
