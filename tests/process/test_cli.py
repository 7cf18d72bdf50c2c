"""``runners-bot simulate`` and ``validate`` as docs/commands.md describes them: flags, JSON fields, exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from tests.support.app import ROOT
from tests.support.fleets import fleet

CORPUS = Path(__file__).parent.parent / "corpus"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["simulate", "--config-dir", str(ROOT), "--format", "json", "--user", "octocat", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "values", tmp_path / "values")
    return tmp_path


def test_scale_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "/runners scale project-beta-frontend max=20")
    assert code == 0
    assert {"ok", "diff", "new_text", "pr", "reply"} <= set(out)
    assert out["ok"] is True
    assert out["pr"]["branch"] == "runners-bot/arc-frontend-runners"
    assert out["pr"]["title"] == "runners: scale project-beta-frontend (max 15 → 20)"
    assert "-      maxRunners: 15\n+      maxRunners: 20\n" in out["diff"]
    original = (ROOT / "values" / "repositories.yaml").read_text(encoding="utf-8")
    assert out["new_text"] == original.replace("maxRunners: 15", "maxRunners: 20")
    assert "@octocat" in out["reply"]


def test_no_command_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "thanks, looks good\n> /runners remove project-beta")
    assert code == 0
    assert out["new_text"] is None and out["pr"] is None and out["reply"] is None and out["diff"] == ""


@pytest.mark.parametrize("comment", ["/runners help", "/runners status project-beta"])
def test_read_only_commands(capsys: pytest.CaptureFixture[str], comment: str) -> None:
    code, out = run_json(capsys, "--permission", "read", "--repo", "Matchpoint-AI/project-beta", comment)
    assert code == 0
    assert out["ok"] is True and out["new_text"] is None and out["pr"] is None and out["reply"]


@pytest.mark.parametrize(
    "comment",
    [
        "/runners help",
        "/runners status project-beta-api",
        "/runners status project-beta-ap",
        "/runners status",
        "/runners scale arc-api-runners max=3",
        "/runners add Matchpoint-AI/project-beta-api",
    ],
)
def test_strangers_learn_nothing_about_other_repositories(capsys: pytest.CaptureFixture[str], comment: str) -> None:
    """On a public repository anyone may comment; below triage on the config
    repository, no reply names another repository's entry."""
    _, out = run_json(capsys, "--permission", "read", "--repo", "someone/public-repo", comment)
    secrets = (
        "project-beta-api",
        "arc-api-runners",
        "project-beta-frontend",
        "arc-frontend-runners",
        "arc-beta-runners",
    )
    for secret in secrets:
        if secret not in comment:  # the commenter's own words may be echoed back
            assert secret not in out["reply"], out["reply"]
    assert "already has runners" not in out["reply"]
    _, seen = run_json(capsys, "--permission", "triage", "--repo", "someone/public-repo", "/runners help")
    assert "arc-api-runners" in seen["reply"]


def test_status_shows_configuration_only(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = run_json(capsys, "/runners status project-beta")
    assert "configuration only" in out["reply"]


def test_refusal_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "--permission", "triage", "/runners scale project-beta max=12")
    assert code == 1
    assert out["ok"] is False and out["new_text"] is None and out["pr"] is None
    assert "triage permission" in out["reply"]


def test_repo_lets_target_be_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "--repo", "Matchpoint-AI/project-beta-api", "/runners scale max=11")
    assert code == 0 and out["pr"]["branch"] == "runners-bot/arc-api-runners"


def test_without_repo_target_must_be_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "/runners scale max=11")
    assert code == 1 and "no target given" in out["reply"]


def test_commands_apply_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    comment = (
        "/runners scale project-beta max=12\n/runners add new-svc category=frontend\n/runners scale project-beta min=2"
    )
    code, out = run_json(capsys, comment)
    assert code == 0
    assert (
        "maxRunners: 12" in out["new_text"]
        and "minRunners: 2" in out["new_text"]
        and "name: new-svc" in out["new_text"]
    )
    assert [p["branch"] for p in out["prs"]] == ["runners-bot/arc-beta-runners", "runners-bot/new-svc-runners"]
    assert out["reply"].count("✅") == 3


def test_mixed_outcome_exits_1_but_keeps_accepted_change(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "/runners scale project-beta max=12\n/runners scale nowhere max=3")
    assert code == 1
    assert "maxRunners: 12" in out["new_text"]


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--config-dir", str(ROOT), "/runners scale project-beta max=12"]) == 0
    out = capsys.readouterr().out
    assert (
        "=== diff ===" in out
        and "=== pull request (runners-bot/arc-beta-runners) ===" in out
        and "=== reply ===" in out
    )


def test_write_changes_only_the_line(config_dir: Path) -> None:
    path = config_dir / "values" / "repositories.yaml"
    before = path.read_bytes()
    assert main(["simulate", "--config-dir", str(config_dir), "--write", "/runners scale project-beta max=12"]) == 0
    assert path.read_bytes() == before.replace(b"maxRunners: 8", b"maxRunners: 12")


def test_write_keeps_crlf(config_dir: Path) -> None:
    path = config_dir / "values" / "repositories.yaml"
    path.write_bytes((CORPUS / "04-crlf" / "input.yaml").read_bytes())
    assert main(["simulate", "--config-dir", str(config_dir), "--write", "/runners scale alpha max=7"]) == 0
    assert path.read_bytes() == (CORPUS / "04-crlf" / "input.yaml").read_bytes().replace(
        b"maxRunners: 5", b"maxRunners: 7"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["simulate"],
        ["simulate", "--permission", "owner", "/runners help"],
        ["simulate", "--format", "yaml", "/runners help"],
        ["simulate", "--repo", "no-slash", "/runners help"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2


def test_validate_bundled() -> None:
    assert main(["validate", "--config-dir", str(ROOT)]) == 0


def test_validate_reports_file_and_line(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_dir / "values" / "repositories.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        .replace("maxRunners: 10", "maxRunner: 10")
        .replace("profile: medium", "profile: meduim"),
        encoding="utf-8",
    )
    assert main(["validate", "--config-dir", str(config_dir)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "values/repositories.yaml:21: unknown profile 'meduim' (did you mean 'medium'?): valid profiles are large, medium, small, xlarge",
        "values/repositories.yaml:35: unknown key 'maxRunner' in scaling of entry 'project-beta-api': did you mean 'maxRunners'? known keys: minRunners, maxRunners",
    ]


def test_validate_groups_a_message_many_entries_share(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first few of a repeated message as FILE:LINE: message, then one line for the rest."""
    path = config_dir / "values" / "repositories.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("profile: large", "profile: huge"), encoding="utf-8")
    entries = "".join(f"  - {{name: extra-{n}, org: Matchpoint-AI, profile: huge}}\n" for n in range(5))
    path.write_text(path.read_text(encoding="utf-8").replace("repositories:\n", "repositories:\n" + entries, 1))
    assert main(["validate", "--config-dir", str(config_dir)]) == 1
    lines = capsys.readouterr().out.splitlines()
    message = "unknown profile 'huge': valid profiles are large, medium, small, xlarge"
    assert lines == [
        f"values/repositories.yaml:13: {message}",
        f"values/repositories.yaml:14: {message}",
        f"values/repositories.yaml:15: {message}",
        f"... and 4 more entries: {message}",
    ]
    assert main(["validate", "--config-dir", str(config_dir), "--format", "github"]) == 1
    annotations = capsys.readouterr().out.splitlines()
    assert annotations[-1] == f"::error file=values/repositories.yaml,line=13::... and 4 more entries: {message}"


def test_the_generated_fleet_validates(config_dir: Path) -> None:
    """The 10,000-entry fleet the tests and benchmarks measure on is a valid one."""
    path = config_dir / "values" / "repositories.yaml"
    path.write_text(fleet(10_000, path.read_text(encoding="utf-8")), encoding="utf-8")
    assert main(["validate", "--config-dir", str(config_dir)]) == 0


def test_validate_unparseable_yaml(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config_dir / "values" / "base-config.yaml").write_text("scaling:\n  profiles: [unclosed\n", encoding="utf-8")
    assert main(["validate", "--config-dir", str(config_dir)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("values/base-config.yaml:")


def test_validate_corpus_inputs_load(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Every corpus style is a readable configuration, not only an editable one.
    shutil.copytree(ROOT / "values", tmp_path / "values")
    for case in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        shutil.copy(case / "input.yaml", tmp_path / "values" / "repositories.yaml")
        main(["validate", "--config-dir", str(tmp_path)])
        out = capsys.readouterr().out
        assert "not valid YAML" not in out, (case.name, out)


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "runners-bot"
    result = subprocess.run(
        [str(exe), "simulate", "--format", "json", "/runners help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert "simulate" in subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout


def test_add_refuses_a_name_arc_cannot_deploy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "/runners add acme/" + "r" * 38)
    assert code == 1 and out["new_text"] is None
    assert "has 46 characters; ARC allows at most 45" in out["reply"]
    assert f"`/runners add {'r' * 38} runnerScaleSetName=NAME`" in out["reply"], "what would be accepted"


@pytest.mark.parametrize("word", ["y", "on", "1e3", "0o17", "09"])
def test_add_quotes_names_helm_would_not_read_as_strings(word: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, f"/runners add Matchpoint-AI/{word}")
    assert code == 0, out["reply"]
    assert f'- name: "{word}"' in out["new_text"]
    assert yaml.safe_load(out["new_text"])["repositories"][-1]["name"] == word


def test_a_value_shared_from_the_edited_entry_is_edited_and_the_others_keep_theirs(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "repositories:\n"
        "  - {name: alpha, org: acme, scaling: &shared {minRunners: 1, maxRunners: 5}, profile: small}\n"
        "  - {name: beta, org: acme, scaling: *shared, profile: small}\n"
        "  - {name: gamma, org: acme, scaling: {<<: *shared, maxRunners: 7}, profile: small}\n"
    )
    (config_dir / "values" / "repositories.yaml").write_text(text, encoding="utf-8")
    code = main(["simulate", "--config-dir", str(config_dir), "--format", "json", "/runners scale alpha max=9"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["reply"]
    before, after = yaml.safe_load(text)["repositories"], yaml.safe_load(out["new_text"])["repositories"]
    assert after[0]["scaling"] == {"minRunners": 1, "maxRunners": 9}
    assert after[1:] == before[1:]
    assert sum(1 for line in out["diff"].splitlines() if line.startswith("+") and not line.startswith("+++")) == 2


def test_validate_as_github_annotations(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_dir / "values" / "repositories.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("maxRunners: 15", "maxRunner: 15"), encoding="utf-8")
    assert main(["validate", "--config-dir", str(config_dir), "--format", "github"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"::error file=values/repositories\.yaml,line=\d+::unknown key 'maxRunner'.*", line), line


def test_add_for_an_organisation_without_credentials_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """One App installation serves one organisation: ARC would register Other-Org's runners
    with an App that is not installed there."""
    code, out = run_json(capsys, "/runners add api org=Other-Org")
    assert code == 1 and out["new_text"] is None
    assert "org 'Other-Org' has no GitHub App credentials of its own" in out["reply"]
    assert "environments.prod.githubConfigSecrets" in out["reply"]


def test_output_closed_early_ends_quietly(config_dir: Path) -> None:
    """`simulate ... | head`: the reader goes away mid-output; no traceback, exit 141 as
    for SIGPIPE (docs/commands.md)."""
    from tests.support.fleets import fleet

    path = config_dir / "values" / "repositories.yaml"
    path.write_text(fleet(2_000, path.read_text(encoding="utf-8")), encoding="utf-8")  # ~700 KB of JSON out
    exe = Path(sys.executable).parent / "runners-bot"
    command = [
        str(exe),
        "simulate",
        "--config-dir",
        str(config_dir),
        "--format",
        "json",
        "/runners add Matchpoint-AI/new-svc",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"{")
    process.stdout.close()  # what `head -1` does after its line
    error = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141 and error == "", error
