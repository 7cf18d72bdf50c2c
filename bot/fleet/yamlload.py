"""Loading YAML text into plain data that remembers where each mapping and key stood.

One parse with libyaml (its C composer), built into plain data in one pass; mappings
come back as :class:`LineMap`, a dict
that also knows its own line and the line of each key, so every problem found later
can name ``FILE:LINE``. Duplicate keys, which YAML forbids and loaders silently
collapse, are recorded instead of lost.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
import yaml.constructor
from yaml.constructor import SafeConstructor
from yaml.nodes import Node, ScalarNode, SequenceNode

MAX_BYTES = 5 * 1024 * 1024


class LineMap(dict[Any, Any]):
    """A mapping with the 1-based line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class Loaded:
    """The data of one YAML document, plus duplicate keys as ``(line, key)``."""

    data: Any
    duplicates: list[tuple[int, str]]


class YamlError(ValueError):
    """The text is not one readable YAML document; ``line`` is 1-based."""

    def __init__(self, line: int, message: str, file: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.file = file


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SCALARS = SafeConstructor()  # only for the few non-string scalars (ints, bools, nulls...)


class _Builder:
    """Plain data from libyaml's node graph. Equivalent to PyYAML's SafeConstructor for
    what values files hold (its YAML 1.1 scalars, merge keys, aliases), but one pass
    without its generators: the constructor was most of a large file's load time. An
    alias is the same node object, built once, so alias bombs cost nothing extra."""

    def __init__(self) -> None:
        self.built: dict[int, Any] = {}
        self.duplicates: list[tuple[int, str]] = []

    def build(self, node: Node) -> Any:
        found = self.built.get(id(node))
        if found is not None:
            return found
        if isinstance(node, ScalarNode):
            return node.value if node.tag == _STR else _SCALARS.construct_object(node)
        if isinstance(node, SequenceNode):
            items: list[Any] = []
            self.built[id(node)] = items
            items.extend(self.build(child) for child in node.value)
            return items
        return self._mapping(node)

    def _mapping(self, node: Node) -> LineMap:
        data = LineMap()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        self.built[id(node)] = data
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(value_node.value if isinstance(value_node, SequenceNode) else [value_node])
                continue
            key = self.build(key_node)
            if not isinstance(key, Hashable):
                raise YamlError(key_node.start_mark.line + 1, "not valid YAML: a mapping key must be a plain value")
            if key in data.key_lines:
                self.duplicates.append((key_node.start_mark.line + 1, str(key_node.value)))
            data[key] = self.build(value_node)
            data.key_lines.setdefault(key, key_node.start_mark.line + 1)
        for source in merged:  # explicit keys win over merged ones, earlier merges over later
            values = self.build(source)
            if not isinstance(values, dict):
                raise YamlError(source.start_mark.line + 1, "not valid YAML: '<<' must merge a mapping")
            for key, value in values.items():
                data.setdefault(key, value)
        return data


@functools.lru_cache(maxsize=32)
def load(text: str) -> Loaded:
    """Parse ``text``; raise :class:`YamlError` when it is not one YAML document.

    Memoised: within one delivery the same text (a values file, one edited entry) is
    asked for by several steps; it is parsed once. Callers never mutate the result."""
    if len(text) > MAX_BYTES:
        raise YamlError(1, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    # Hundreds of thousands of new, acyclic objects: the cyclic collector would traverse
    # the growing heap again and again (it made a large load grow faster than linearly).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load(text)
    finally:
        if collecting:
            gc.enable()


def _load(text: str) -> Loaded:
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"not valid YAML: {exc}") from None
    builder = _Builder()
    try:
        data = builder.build(root) if root is not None else None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlError(mark.line + 1 if mark else 1, f"not valid YAML: {exc.problem}") from None
    return Loaded(data, builder.duplicates)
