"""GitHub's GraphQL schema (``@octokit/graphql-schema``, from the npm registry), for the
fake GitHub: every query the app sends is validated against it and executed against the
fake's state, so a field GitHub does not have fails the suite."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, build_client_schema, execute, parse, validate

SCHEMA = Path(__file__).parent.parent.parent / "node_modules" / "@octokit" / "graphql-schema" / "schema.json"


@cache
def schema() -> GraphQLSchema:
    data = json.loads(SCHEMA.read_text(encoding="utf-8"))
    built = build_client_schema(data.get("data", data))
    # GitHub's schema breaks a rule graphql-core checks on schemas themselves (deprecated
    # implementations of non-deprecated interface fields); queries are still validated.
    built._validation_errors = []
    return built


def run(query: str, variables: dict[str, Any] | None, root: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """GitHub's answer to ``query`` (``{"data": …}`` or ``{"errors": …}``) and what was wrong with it."""
    try:
        document = parse(query)
    except Exception as exc:  # a syntax error: GitHub answers with errors, not a crash
        return {"errors": [{"message": str(exc)}]}, [f"GraphQL syntax: {exc}"]
    problems = [e.message for e in validate(schema(), document)]
    if problems:
        return {"errors": [{"message": p} for p in problems]}, [f"GraphQL: {p}" for p in problems]
    result = execute(schema(), document, root_value=root, variable_values=variables or {})
    if hasattr(result, "__await__"):
        raise TypeError("the fake's resolvers are synchronous")
    errors = [e.message for e in result.errors or []]
    answer: dict[str, Any] = {"data": result.data}
    if errors:
        answer["errors"] = [{"message": m} for m in errors]
    return answer, [f"GraphQL resolver: {m}" for m in errors]
