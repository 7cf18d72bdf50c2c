"""Generated fleets of any size, shaped like the bundled values/repositories.yaml."""

from __future__ import annotations

import re

CATEGORIES = ("frontend", "backend", "general")
PROFILES = ("small", "medium", "large")
ORGS = ("Matchpoint-AI", "Matchpoint-Labs")


def entry(i: int) -> str:
    """One entry of about 350 bytes: a comment, scaling, profile, labels and storage."""
    name = f"service-{i:05d}"
    return (
        f"  # {name}: owned by team-{i % 97:02d}; builds and integration tests, cost centre cc-{i % 13:02d}.\n"
        f"  - name: {name}\n"
        f"    org: {ORGS[i % len(ORGS)]}\n"
        f"    category: {CATEGORIES[i % len(CATEGORIES)]}\n"
        f"    scaling:\n"
        f"      minRunners: {i % 3}\n"
        f"      maxRunners: {5 + i % 10}\n"
        f"    profile: {PROFILES[i % len(PROFILES)]}\n"
        f"    labels: [self-hosted, linux, x64, team-{i % 97:02d}, cc-{i % 13:02d}]\n"
        f"    storage:\n"
        f"      work: {20 + i % 30}Gi\n"
    )


def _credentials(match: re.Match[str]) -> str:
    """Each environment's default Secret serves the first organisation; the others get
    their own (one GitHub App installation serves one organisation), as validate asks."""
    indent, secret = match.group(1), match.group(2)
    others = "".join(f"{indent}  {org}: {secret}-{org.lower()}\n" for org in ORGS[1:])
    return f"{match.group(0)}{indent}githubConfigSecrets:\n{others}"


def fleet(count: int, bundled_repositories: str) -> str:
    """``count`` generated entries under the bundled file's header and trailing settings,
    with credentials for every organisation: the fleet passes ``runners-bot validate``."""
    head, _, rest = bundled_repositories.partition("repositories:\n")
    tail = rest[rest.index("\n# Settings applied") :]
    tail = re.sub(r"^( +)githubConfigSecret: (\S+)\n", _credentials, tail, flags=re.MULTILINE)
    return head + "repositories:\n" + "".join(entry(i) for i in range(count)) + tail


def entry_values(i: int) -> dict[str, object]:
    """``entry(i)`` as the data YAML reads from it, without parsing (50,000 entries parse
    in tens of seconds); tests/deploy/test_shards.py checks the two agree."""
    return {
        "name": f"service-{i:05d}",
        "org": ORGS[i % len(ORGS)],
        "category": CATEGORIES[i % len(CATEGORIES)],
        "scaling": {"minRunners": i % 3, "maxRunners": 5 + i % 10},
        "profile": PROFILES[i % len(PROFILES)],
        "labels": ["self-hosted", "linux", "x64", f"team-{i % 97:02d}", f"cc-{i % 13:02d}"],
        "storage": {"work": f"{20 + i % 30}Gi"},
    }
