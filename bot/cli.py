"""The ``runners-bot`` command line: ``simulate``, ``validate``, ``setup`` and ``serve`` (docs/commands.md).

Exit codes: 0 accepted / valid / created, 1 refused / invalid / stopped, 2 usage error
(argparse's own) or something the command cannot work with (a file it cannot read or
write, a port taken), told in one line; 141 the reader closed the output early (``| head``),
as for a process ended by SIGPIPE; ``serve``: 3 when it cannot listen (uvicorn's own).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.commands import pipeline
from bot.commands.permissions import PERMISSIONS
from bot.fleet import diffs
from bot.fleet.config import REPOSITORIES_FILE, Config, ConfigFiles, parse
from bot.fleet.validation import Problem, grouped, runner_group_problems, validate
from bot.fleet.yamlload import YamlError

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
EXIT_PIPE = 128 + 13  # what a shell reports for a process ended by SIGPIPE

DESCRIPTION = """\
runners-bot: GitOps for self-hosted GitHub Actions runners.
Developers comment `/runners …` on issues and pull requests; the app edits
values/repositories.yaml and opens a pull request for maintainers to merge."""

SIMULATE_EPILOG = """\
examples:
  runners-bot simulate "/runners scale project-beta-frontend max=20"
  runners-bot simulate --repo Matchpoint-AI/project-beta-api "/runners scale min=2 profile=xlarge"
  runners-bot simulate --format json --permission read "/runners add new-service"

exit status: 0 every command accepted (or no command), 1 a command refused, 2 usage error"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runners-bot", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"runners-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser(
        "simulate",
        help="run a comment through the app's plan and decide phases offline and show the diff, PR and reply",
        description="Run COMMENT through the same plan → decide phases as the app, "
        "offline, against the values/ of --config-dir. Nothing is written unless --write is given.",
        epilog=SIMULATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("comment", metavar="COMMENT", help="the comment body, e.g. '/runners scale my-repo max=10'")
    _config_dir(sim)
    sim.add_argument("--repo", metavar="OWNER/NAME", help="repository the comment is made in (lets TARGET be left out)")
    sim.add_argument("--user", default=getpass.getuser(), help="login of the commenter (default: the local user)")
    sim.add_argument(
        "--permission", choices=PERMISSIONS[1:], default="write", help="the commenter's permission (default: write)"
    )
    sim.add_argument("--write", action="store_true", help="write the new values/repositories.yaml")
    sim.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    val = sub.add_parser(
        "validate",
        help="check values/repositories.yaml and values/base-config.yaml",
        description="Check both values files. Each problem is printed as FILE:LINE: message "
        "(with --format github, as a GitHub Actions error annotation on that line); a message more than three "
        "entries share is printed three times, then once as '... and N more entries: message'. "
        "Exit 0 when valid, 1 when not.",
    )
    _config_dir(val)
    val.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="text: FILE:LINE: message; github: ::error workflow commands (annotations in a pull request)",
    )
    val.add_argument(
        "--runner-groups",
        action="store_true",
        help="also ask GitHub whether each organisation pool's runnerGroup exists (ARC retries a missing one for "
        "ever, with no Kubernetes event), with the token in GITHUB_TOKEN (organisation permission 'Self-hosted "
        "runners: read', or admin:org for a classic token) at GITHUB_API_URL (default https://api.github.com)",
    )

    setup = sub.add_parser(
        "setup",
        help="create the GitHub App from app.yml in one click and write .env",
        description="Serve a local page whose one button posts app.yml (with your webhook URL) to GitHub's "
        "new-App page; when GitHub sends the browser back, exchange the code for the App's id, private key and "
        "webhook secret, write them to .env and a key file (mode 0600) and print the kubectl command for the chart.",
    )
    setup.add_argument(
        "--for",
        dest="purpose",
        choices=("runners-bot", "arc"),
        default="runners-bot",
        help="runners-bot: this app (app.yml, writes .env); arc: Actions Runner Controller's own App (arc-app.yml: "
        "runner registration permissions, no webhook; writes its key and prints the Secret and where the "
        "installation id is)",
    )
    setup.add_argument("--webhook-url", help="public URL of runners-bot's /api/github/webhooks (--for runners-bot)")
    setup.add_argument("--github-url", default="https://github.com", help="GitHub, or your Enterprise Server's URL")
    setup.add_argument("--api-url", help="REST API root (default: from --github-url)")
    setup.add_argument("--org", help="create the App for this organisation (default: your user account)")
    setup.add_argument("--config-repo", help="OWNER/NAME of the configuration repository, for RUNNERS_CONFIG_REPO")
    setup.add_argument("--name", default="runners-bot", help="the App's name (unique on GitHub)")
    setup.add_argument("--port", type=_port, default=3333, help="local port of the setup page (default: 3333)")
    setup.add_argument("--env-file", type=Path, default=Path(".env"), help="where to write the settings")
    setup.add_argument(
        "--key-file",
        type=Path,
        help="where to write the private key, a file that must not exist yet (default: runners-bot.private-key.pem; "
        "--for arc: arc-github-app.ORG.private-key.pem, or arc-github-app.private-key.pem without --org)",
    )

    sub.add_parser(
        "serve",
        help="run the GitHub App webhook server",
        description="Run the webhook server: POST /api/github/webhooks, GET /healthz, /readyz, /metrics. "
        "Configured by the environment and a .env file in the working directory: GITHUB_WEBHOOK_SECRET "
        "(required), RUNNERS_CONFIG_REPO (required), GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY or "
        "GITHUB_APP_PRIVATE_KEY_PATH, GITHUB_API_URL, RUNNERS_BOT_STATE (SQLite, one replica) or "
        "RUNNERS_BOT_DATABASE_URL (PostgreSQL, shared by replicas), ARGOCD_NAMESPACE, ARC_CONTROLLER_NAMESPACE, "
        "HOST, PORT (default 3000), LOG_LEVEL; tuning (RUNNERS_BOT_WORKERS, RUNNERS_BOT_RECOVERY_INTERVAL, "
        "RUNNERS_BOT_ROLLOUT_TIMEOUT, RUNNERS_BOT_REPLY_LIMIT, RUNNERS_BOT_RETENTION_DAYS, RUNNERS_BOT_CLOCK_INTERVAL, "
        "RUNNERS_BOT_DASHBOARD, RUNNERS_BOT_DASHBOARD_INTERVAL, RUNNERS_BOT_LEASE_SECONDS, "
        "RUNNERS_BOT_INSTALLATION_REPLY_LIMIT, ...) in docs/operating.md. "
        "Exit 2 when a setting is missing or malformed, 3 when it cannot listen on HOST:PORT.",
    )
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _config_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="directory holding values/ (default: current directory)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except BrokenPipeError:
        # The reader has what it wanted (`| head`): nothing to say, and nothing more to print.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"runners-bot {args.command}: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return code


def _run(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        return simulate(args)
    if args.command == "serve":
        from bot.server import run_server

        return run_server()
    if args.command == "setup":
        return _setup(args)
    return validate_command(args.config_dir, args.format, runner_groups=args.runner_groups)


def _setup(args: argparse.Namespace) -> int:
    from bot.app_setup import SetupOptions, default_key_file, run_setup

    if args.config_repo is not None and args.config_repo.count("/") != 1:
        print("runners-bot setup: --config-repo must be OWNER/NAME", file=sys.stderr)
        return EXIT_USAGE
    if args.purpose == "runners-bot" and not args.webhook_url:
        print("runners-bot setup: --webhook-url is required (the public URL of /api/github/webhooks)", file=sys.stderr)
        return EXIT_USAGE
    arc = args.purpose == "arc"
    options = SetupOptions(
        github_url=args.github_url, api_url=args.api_url, org=args.org,
        config_repo=args.config_repo, name=args.name if not (arc and args.name == "runners-bot") else "arc-runners",
        port=args.port, env_file=args.env_file, purpose=args.purpose, webhook_url=args.webhook_url or "",
        key_file=args.key_file or default_key_file(args.purpose, args.org),
    )  # fmt: skip
    return run_setup(options)


def _read(config_dir: Path) -> ConfigFiles | None:
    try:
        return ConfigFiles.read(config_dir)
    except OSError as exc:
        print(f"runners-bot: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return None


def simulate(args: argparse.Namespace) -> int:
    if args.repo is not None and args.repo.count("/") != 1:
        print("runners-bot simulate: --repo must be OWNER/NAME", file=sys.stderr)
        return EXIT_USAGE
    files = _read(args.config_dir)
    if files is None:
        return EXIT_USAGE
    request = pipeline.Request(comment=args.comment, user=args.user, permission=args.permission, repo=args.repo)
    outcome = pipeline.run(request, files)
    diff = diffs.unified(
        outcome.old_text, outcome.new_text or outcome.old_text, f"a/{REPOSITORIES_FILE}", f"b/{REPOSITORIES_FILE}"
    )
    if args.write and outcome.new_text is not None:
        with (args.config_dir / REPOSITORIES_FILE).open("w", encoding="utf-8", newline="") as handle:
            handle.write(outcome.new_text)
    texts = [r.text for r in outcome.replies]  # a change's reply is rendered on each .text
    reply = "\n---\n\n".join(texts) if texts else None
    if args.format == "json":
        print(json.dumps(_json(outcome, diff, reply, texts), ensure_ascii=False, indent=2))
    else:
        _print_text(outcome, diff, reply)
    return EXIT_OK if outcome.ok else EXIT_REFUSED


def _json(outcome: pipeline.Outcome, diff: str, reply: str | None, texts: list[str]) -> dict[str, Any]:
    prs = [{"title": p.title, "body": p.body, "branch": p.branch} for p in outcome.pull_requests]
    return {
        "ok": outcome.ok,
        "diff": diff,
        "new_text": outcome.new_text,
        "pr": prs[0] if prs else None,
        "prs": prs,
        "reply": reply,
        "replies": [{"command": r.command, "ok": r.ok, "text": t} for r, t in zip(outcome.replies, texts, strict=True)],
    }


def _print_text(outcome: pipeline.Outcome, diff: str, reply: str | None) -> None:
    if not outcome.replies:
        print("No /runners command in this comment; the app would not answer.")
        return
    if diff:
        print(f"=== diff ===\n{diff}")
    for pr in outcome.pull_requests:
        print(f"=== pull request ({pr.branch}) ===\n{pr.title}\n\n{pr.body}")
    print(f"=== reply ===\n{reply}")


def validate_command(config_dir: Path, output: str = "text", *, runner_groups: bool = False) -> int:
    token = os.environ.get("GITHUB_TOKEN", "")
    if runner_groups and not token:
        print("runners-bot validate: --runner-groups needs a token in GITHUB_TOKEN", file=sys.stderr)
        return EXIT_USAGE
    files = _read(config_dir)
    if files is None:
        return EXIT_REFUSED
    try:
        config = parse(files.repositories, files.base)
        problems = validate(config)
    except YamlError as exc:
        problems = [Problem(exc.file, exc.line, exc.message)]
    else:
        if runner_groups:
            problems = sorted(problems + _runner_group_problems(config, token))
    printed, left_out = grouped(problems)
    for problem in printed:
        print(_annotation(problem) if output == "github" else problem)
    for more, problem in left_out:
        summary = f"... and {more} more entries: {problem.message}"
        print(_annotation(Problem(problem.file, problem.line, summary)) if output == "github" else summary)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def _runner_group_problems(config: Config, token: str) -> list[Problem]:
    """The pools whose runner group GitHub does not list (or could not be asked about)."""
    from bot.clients.github import token_installation
    from bot.services.runner_groups import organisation_groups, pool_organisations

    api_url = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    inst = token_installation(token, api_url)
    groups = asyncio.run(organisation_groups(inst, pool_organisations(config)))
    return runner_group_problems(config, groups)


def _annotation(problem: Problem) -> str:
    """A GitHub Actions ``::error`` command: the problem shows on its line of the diff."""

    def escape(text: str, *, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text

    return f"::error file={escape(problem.file, prop=True)},line={problem.line}::{escape(problem.message)}"


if __name__ == "__main__":
    raise SystemExit(main())
