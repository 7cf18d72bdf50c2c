"""Loading YAML text into plain data that remembers where each mapping and key stood.

One parse with libyaml's safe loader; mappings come back as :class:`LineMap`, a dict
that also knows its own line and the line of each key, so every problem found later
can name ``FILE:LINE``. Duplicate keys, which YAML forbids and loaders silently
collapse, are recorded instead of lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode

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


class _Loader(yaml.CSafeLoader):
    duplicates: list[tuple[int, str]]


def _construct_map(loader: _Loader, node: MappingNode) -> Any:
    data = LineMap()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    seen: set[str] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in seen:
                loader.duplicates.append((key_node.start_mark.line + 1, key_node.value))
            seen.add(key_node.value)
    mapping = SafeConstructor.construct_mapping(loader, node, deep=False)
    data.update(mapping)
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode):
            data.key_lines.setdefault(loader.construct_object(key_node), key_node.start_mark.line + 1)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def load(text: str) -> Loaded:
    """Parse ``text``; raise :class:`YamlError` when it is not one YAML document."""
    if len(text) > MAX_BYTES:
        raise YamlError(1, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return Loaded(data, loader.duplicates)
