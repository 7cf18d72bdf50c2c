"""Loading YAML text into plain data that remembers where each mapping and key stood.

One parse with libyaml (its C composer), built into plain data in one pass; mappings
come back as :class:`LineMap`, a dict
that also knows its own line and the line of each key, so every problem found later
can name ``FILE:LINE``. Duplicate keys, which YAML forbids and loaders silently
collapse, are recorded instead of lost.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
import yaml.constructor
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from bot.fleet.collector import untracked
from bot.fleet.memo import bounded

# The most a values file may hold: about 220,000 entries of the usual shape (300 bytes
# each), so 50,000 are far inside it while the parsed model of one still fits the chart's
# memory limit (README, "Measured limits").
MAX_BYTES = 64 * 1024 * 1024
LOADS_KEPT = 4 * 1024 * 1024


class LineMap(dict[Any, Any]):
    """A mapping with the 1-based line of itself and of each of its keys."""

    # Slots, not an instance dict, and each key's line as an offset from the mapping's,
    # in key order, in a tuple that mappings of the same shape share: a large fleet
    # holds hundreds of thousands of these.
    __slots__ = ("_offsets", "line")

    line: int
    _offsets: tuple[int, ...]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self._offsets = ()

    def line_of(self, key: Any) -> int:
        for found, offset in zip(self, self._offsets, strict=False):
            if found == key:
                return self.line + offset
        return self.line

    @property
    def key_lines(self) -> dict[Any, int]:
        """The line of each key written in the mapping (a merged key has none)."""
        return {key: self.line + offset for key, offset in zip(self, self._offsets, strict=False)}

    @key_lines.setter
    def key_lines(self, lines: dict[Any, int]) -> None:
        self._offsets = tuple(lines.get(key, self.line) - self.line for key in self)


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


class TooLarge(YamlError):
    """The text is readable, perhaps, but larger than runners-bot reads (:data:`MAX_BYTES`)."""

    def __init__(self, size: int, limit: int, file: str = "") -> None:
        super().__init__(
            1,
            f"the file is {size / 2**20:.1f} MiB, above the {limit / 2**20:g} MiB runners-bot reads "
            "(README, Measured limits)",
            file,
        )
        self.size = size
        self.limit = limit


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SCALARS = SafeConstructor()  # only for the few non-string scalars (ints, bools, nulls...)
_RESOLVER = yaml.resolver.Resolver()
_IMPLICIT = (None, "!")
_SHARED = 64  # scalars up to this length are stored once per load (keys, orgs, profiles)


class _Collection:
    """A mapping or sequence being built from the event stream."""

    __slots__ = ("data", "key", "key_line", "line", "merges", "offsets")

    def __init__(self, data: Any, line: int) -> None:
        self.data = data
        self.line = line
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.merges: list[tuple[int, Any]] = []
        self.offsets: list[int] = []


_NO_KEY = object()


class _Builder:
    """Plain data straight from libyaml's events. Equivalent to PyYAML's SafeConstructor
    for what values files hold (its YAML 1.1 scalars, merge keys, aliases), but without
    its node graph: every node and its two marks alive at once were most of a large
    file's load time and four times its data's memory. An alias is the object its
    anchor built, so alias bombs cost nothing extra. Each mapping and list is out of the
    cyclic collector's walks once complete (:mod:`bot.fleet.collector`)."""

    def __init__(self) -> None:
        self.anchors: dict[str, Any] = {}
        self.duplicates: list[tuple[int, str]] = []
        self.strings: dict[str, str] = {}
        self.shapes: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.stack: list[_Collection] = []
        self.root: Any = None
        self.documents = 0
        self.recursive = False
        self._raw_key = ""

    def feed(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event, line)
            self._anchor(event, value)
            self._place(value, line, event.value)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise YamlError(line, f"not valid YAML: found undefined alias '{event.anchor}'")
            target = self.anchors[event.anchor]
            # An alias inside its own anchor makes a cycle: what is completed from here on
            # stays with the collector, which alone can free a cycle.
            self.recursive = self.recursive or any(open_.data is target for open_ in self.stack)
            self._place(target, line, None)
        elif isinstance(event, yaml.SequenceStartEvent):
            items: list[Any] = []
            self._anchor(event, items)
            self.stack.append(_Collection(items, line))
        elif isinstance(event, yaml.MappingStartEvent):
            data = LineMap()
            data.line = line
            self._anchor(event, data)
            self.stack.append(_Collection(data, line))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            done = self.stack.pop()
            if isinstance(event, yaml.MappingEndEvent):
                offsets = tuple(done.offsets)
                done.data._offsets = self.shapes.setdefault(offsets, offsets)
                self._merge(done)
            self._place(done.data if self.recursive else untracked(done.data), done.line, None)
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise YamlError(line, "not valid YAML: expected a single document in the stream")

    def _scalar(self, event: yaml.ScalarEvent, line: int) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if tag == _STR:
            text = event.value
            return self.strings.setdefault(text, text) if len(text) <= _SHARED else text
        if tag == _MERGE:
            return _MERGE_KEY
        node = ScalarNode(tag, event.value, None, None, event.style)
        constructor = _SCALARS.yaml_constructors.get(tag)
        if constructor is None:
            raise YamlError(line, f"not valid YAML: could not determine a constructor for the tag {tag!r}")
        try:
            # Called directly: construct_object would remember every node it saw for good.
            return constructor(_SCALARS, node)
        except yaml.constructor.ConstructorError as exc:
            raise YamlError(line, f"not valid YAML: {exc.problem}") from None

    def _anchor(self, event: yaml.NodeEvent, value: Any) -> None:
        if event.anchor is not None:
            self.anchors[event.anchor] = value

    def _place(self, value: Any, line: int, raw: str | None) -> None:
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        if isinstance(parent.data, list):
            parent.data.append(value)
        elif parent.key is _NO_KEY:
            if value is not _MERGE_KEY and not isinstance(value, Hashable):
                raise YamlError(line, "not valid YAML: a mapping key must be a plain value")
            parent.key, parent.key_line = value, line
            self._raw_key = raw if raw is not None else str(value)
        else:
            key, parent.key = parent.key, _NO_KEY
            if key is _MERGE_KEY:
                parent.merges.append((line, value))
                return
            data: LineMap = parent.data
            if key in data:  # merged keys come after the mapping's end: these are written ones
                self.duplicates.append((parent.key_line, self._raw_key))
            else:
                parent.offsets.append(parent.key_line - parent.line)
            data[key] = value

    def _merge(self, done: _Collection) -> None:
        """Explicit keys win over merged ones, earlier merges over later."""
        data: LineMap = done.data
        for line, merged in done.merges:
            sources = merged if isinstance(merged, list) else [merged]
            for source in sources:
                if not isinstance(source, dict):
                    raise YamlError(line, "not valid YAML: '<<' must merge a mapping")
                for key, value in source.items():
                    data.setdefault(key, value)


class _MergeKey:
    """The ``<<`` key of a mapping (never stored)."""


_MERGE_KEY = _MergeKey()


def _chars(text: str) -> int:
    return len(text)


@bounded(LOADS_KEPT, _chars)
def load(text: str) -> Loaded:
    """Parse ``text``; raise :class:`YamlError` when it is not one YAML document.

    Memoised within :data:`LOADS_KEPT` characters of text: within one delivery the same
    text (one edited entry, a values file) is asked for by several steps; it is parsed
    once. The whole values file's model is kept by :func:`bot.fleet.config.parse`.
    Callers never mutate the result."""
    if len(text) > MAX_BYTES:
        raise TooLarge(len(text.encode()), MAX_BYTES)
    return _load(text)


def _load(text: str) -> Loaded:
    builder = _Builder()
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"not valid YAML: {exc}") from None
    return Loaded(builder.root, builder.duplicates)
