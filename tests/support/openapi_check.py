"""Checks requests against GitHub's REST description (npm ``@octokit/openapi``).

For each request: the method and path must be an operation GitHub documents, required
query parameters present, and required JSON body fields present (for ``oneOf`` /
``anyOf`` bodies, one alternative satisfied). Example responses are taken from the same
file, so the fake answers with GitHub's own shapes.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC = (
    Path(__file__).parent.parent.parent / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
)
_GREEDY = {"path", "ref"}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    spec: dict[str, Any]


class OpenAPI:
    def __init__(self, path: Path = SPEC) -> None:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `make setup` (npm install) first")
        self.doc = json.loads(path.read_text(encoding="utf-8"))
        self.operations: list[Operation] = []
        for template, item in self.doc["paths"].items():
            regex = "^" + re.sub(r"\\\{(\w+)\\\}", self._param, re.escape(template)) + "$"
            literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
            for method, spec in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    self.operations.append(Operation(method.upper(), template, re.compile(regex), literal, spec))
        self.operations.sort(key=lambda op: -op.literal_segments)

    @staticmethod
    def _param(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"(?P<{name}>.+)" if name in _GREEDY else f"(?P<{name}>[^/]+)"

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations:
            if op.method != method:
                continue
            match = op.pattern.match(path)
            if match:
                return op, match.groupdict()
        return None

    def check(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[Operation | None, list[str]]:
        found = self.find(method, path)
        if found is None:
            return None, [f"{method} {path}: no such operation in GitHub's REST description"]
        op, _ = found
        problems = []
        for reference in op.spec.get("parameters", []):
            param = self.resolve(reference)
            if param.get("in") == "query" and param.get("required") and param["name"] not in query:
                problems.append(f"{method} {op.template}: required query parameter {param['name']!r} missing")
        request_body = self.resolve(op.spec.get("requestBody"))
        if request_body and request_body.get("required"):
            schema = self.resolve(request_body.get("content", {}).get("application/json", {}).get("schema", {}))
            problems += [f"{method} {op.template}: {p}" for p in self._body_problems(schema, body)]
        return op, problems

    def _body_problems(self, schema: dict[str, Any], body: Any) -> list[str]:
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives:
            results = [self._body_problems(self.resolve(alt), body) for alt in alternatives]
            return [] if any(not r for r in results) else results[0]
        if schema.get("type") == "object" or "properties" in schema:
            if not isinstance(body, dict):
                return ["JSON object body required"]
            missing = [name for name in schema.get("required", []) if name not in body]
            return [f"required body field {name!r} missing" for name in missing]
        return []

    @functools.cache  # noqa: B019 - one instance per test session
    def example(self, method: str, template: str, status: str) -> Any:
        """GitHub's example response body for an operation, or None."""
        op = next((o for o in self.operations if o.method == method and o.template == template), None)
        if op is None:
            return None
        response = self.resolve(op.spec.get("responses", {}).get(status))
        content = (response or {}).get("content", {}).get("application/json", {})
        for example in content.get("examples", {}).values():
            value = self.resolve(example).get("value")
            if value is not None:
                return value
        return None

    def sample(self, method: str, template: str, status: str, **overrides: Any) -> Any:
        """A copy of the example response with ``overrides`` applied on top."""
        base = copy.deepcopy(self.example(method, template, status))
        if isinstance(base, dict):
            base.update(overrides)
            return base
        return overrides or base
