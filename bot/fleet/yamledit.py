"""Lossless edits of ``repositories.yaml``: set one entry's scaling or profile, add an entry, remove one.

Every byte outside the change stays as it was. libyaml (PyYAML's C loader) reports the
exact character span of each node; an edit splices new text into those spans and never
re-dumps the document, so comments, quoting, indentation, flow style, CRLF endings and
a missing final newline all survive. After splicing, the result is parsed again and
must hold exactly the intended data, or the edit is refused and nothing is returned.

For speed, when the file allows it only the entries around the change are parsed (a
*window*): items of a block sequence at one indentation, with no anchors or aliases,
are independent YAML, so their text parses the same alone as in the whole file. Any
file the window cannot handle takes the full path, which parses everything.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from bot.fleet import names, scan
from bot.fleet.memo import bounded

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = Resolver()
_PREFIX = re.compile(r"(?:[&!][^ \t\r\n]*[ \t]+)*")
_SCALARS = SafeConstructor()
_ANCHOR = re.compile(r"&([^ \t\r\n,\[\]{}]+)")
_ALIAS_AFTER_KEY = re.compile(r"[ \t]*:[ \t]+(\*[^ \t\r\n,\[\]{}]+)")
_KEY_LINE = re.compile(r"\nrepositories:[ \t]*(?:#[^\r\n]*)?(?=\r?\n|$)")
_CONTENT_LINE = re.compile(r"^( *)([^ \t#\r\n])(.?)", re.M)
_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
_MAX_COPY_NODES = 100_000
REGIONS_KEPT = 2 * 1024 * 1024  # characters of values files whose entry offsets are kept (and texts)
CANONICAL_ORDER = (
    "name", "org", "category", "runnerScaleSetName", "scaling", "profile",
    "labels", "storage", "environment", "dind",
)  # fmt: skip


class UnsafeEdit(Exception):
    """The edit cannot be made without touching content outside it (or the file cannot
    be edited safely at all); nothing changed. The pipeline answers it as a command's
    refusal."""


class _NoWindow(Exception):
    """The window path does not apply to this file; take the full path."""


@dataclass(frozen=True)
class SetFields:
    """Change scaling and/or profile of entry ``index`` (whose ``name`` is checked)."""

    index: int
    name: str
    min_runners: int | None = None
    max_runners: int | None = None
    profile: str | None = None


@dataclass(frozen=True)
class AddEntry:
    """Append an entry; ``data`` keys in canonical order, values str, int, bool or a mapping."""

    data: dict[str, Any]


@dataclass(frozen=True)
class RemoveEntry:
    """Delete entry ``index`` (whose ``name`` is checked)."""

    index: int
    name: str


Edit = SetFields | AddEntry | RemoveEntry
_Splice = tuple[int, int, str]


def apply_edit(text: str, edit: Edit, *, window: bool = True) -> str:
    """Return ``text`` with ``edit`` applied; raise :class:`UnsafeEdit` when it cannot be.

    ``window=False`` forces the full parse (tests and benchmarks compare both paths).
    """
    nl = "\r\n" if scan.contains(text, "\r\n") else "\n"
    try:
        if not window:
            raise _NoWindow
        new_text = _apply_in_window(text, edit, nl)
        _only_its_entry(text, new_text, edit)
    except _NoWindow:
        new_text = _apply(_Doc(text, nl, window=False), edit)
    if new_text.endswith("\n") != text.endswith("\n"):
        raise UnsafeEdit("the edit would change the file's final newline")
    return new_text


def _only_its_entry(text: str, new_text: str, edit: Edit) -> None:
    """The window path's second proof, on bytes rather than data: the edit changed only
    its own entry's text and leading comments (or appended one after the last), and the
    number of entries moved by exactly the one added or removed. (The full path compares
    every entry's data instead: there an alias may need rewriting in another entry.)"""
    starts, _, end = _item_regions(text)
    try:
        new_starts, _, _ = _item_regions(new_text)
    except _NoWindow:
        raise UnsafeEdit("the edit would break the list of entries; nothing was changed") from None
    delta = {AddEntry: 1, RemoveEntry: -1}.get(type(edit), 0)
    if len(new_starts) != len(starts) + delta:
        raise UnsafeEdit(
            f"the edit would leave {len(new_starts)} entries where {len(starts) + delta} were expected; nothing was changed"
        )
    if isinstance(edit, AddEntry):
        low, high = _comments_before(text, end), end
    else:
        low = _comments_before(text, starts[edit.index])
        high = starts[edit.index + 1] if edit.index + 1 < len(starts) else end
    # The line break before the entry may go with it (a file without a final newline).
    low -= 2 if text.endswith("\r\n", 0, low) else 1 if text.endswith("\n", 0, low) else 0
    tail = len(text) - high
    if not (
        len(new_text) >= low + tail
        and scan.same(new_text, 0, text, 0, low)
        and scan.same(new_text, len(new_text) - tail, text, high, tail)
    ):
        raise UnsafeEdit("the edit would change text outside its own entry; nothing was changed")


def _comments_before(text: str, pos: int) -> int:
    """Where the comment and blank lines just above offset ``pos`` (a line start) begin:
    an entry's own leading comments go with it."""
    while pos > 0:
        start = text.rfind("\n", 0, pos - 1) + 1
        line = text[start:pos].strip()
        if line and not line.startswith("#"):
            break
        pos = start
    return pos


# --- window path -------------------------------------------------------------------


def _chars(text: str) -> int:
    return len(text)


@bounded(REGIONS_KEPT, _chars)
def _item_regions(text: str) -> tuple[list[int], int, int]:
    """Item start offsets of the block sequence under a column-0 ``repositories:`` key,
    the offset where the first item's region begins, and where the sequence ends.

    Memoised (callers only read the result): one edit asks for the text before and after
    it twice each, and each is a scan of the whole file."""
    keys = list(scan.lines_matching(_KEY_LINE, text, 0))
    if len(keys) != 1:
        raise _NoWindow
    body = text.find("\n", keys[0][1]) + 1
    if body <= 0:
        raise _NoWindow
    first = _CONTENT_LINE.search(text, body)
    if first is None or first.group(2) != "-" or first.group(3) not in ("", " ", "\r"):
        raise _NoWindow
    indent = len(first.group(1))
    dash = " " * indent + "-"
    structural = re.compile(rf"\n {{0,{indent}}}[^ \t#\r\n]")
    starts: list[int] = []
    end = len(text)
    for line, _ in scan.lines_matching(structural, text, body):
        if text.startswith(dash, line) and text[line + indent + 1 : line + indent + 2] in ("", " ", "\r", "\n"):
            starts.append(line)
        else:
            end = line
            break
    return starts, body, end


def item_span(text: str, index: int) -> tuple[int, int] | None:
    """Where entry ``index`` of ``repositories`` stands in ``text``, as ``(start, end)``
    offsets of text that parses alone as that one entry; None when the file's layout
    does not allow it (flow styles, anchors or aliases near it, another shape): the
    caller then parses the whole text."""
    try:
        starts, _, end = _item_regions(text)
    except _NoWindow:
        return None
    if not 0 <= index < len(starts):
        return None
    stop = starts[index + 1] if index + 1 < len(starts) else end
    if "&" in text[starts[index] : stop] or "*" in text[starts[index] : stop]:
        return None
    return starts[index], stop


def _apply_in_window(text: str, edit: Edit, nl: str) -> str:
    starts, body, end = _item_regions(text)
    count = len(starts)
    if isinstance(edit, AddEntry):
        low, high = count - 2, count - 1
    elif isinstance(edit, RemoveEntry):
        if count < 2:
            raise _NoWindow
        low, high = edit.index - 1, edit.index + 1
    else:
        # Neighbours come along so that a key the entry lacks is written in their style.
        low, high = edit.index - 1, edit.index + 1
    low, high = max(low, 0), min(high, count - 1)
    if count == 0 or low > high:
        raise _NoWindow
    region_start = body if low == 0 else starts[low]
    region_end = starts[high + 1] if high + 1 < count else end
    window = text[region_start:region_end]
    if "&" in window or "*" in window:
        raise _NoWindow
    try:
        doc = _Doc(window, nl, window=True)
    except UnsafeEdit:
        raise _NoWindow from None
    if len(doc.items) != high - low + 1:
        raise _NoWindow
    local = _shift(edit, -low)
    return scan.spliced(text, region_start, region_end, _apply(doc, local))


def _shift(edit: Edit, by: int) -> Edit:
    if isinstance(edit, SetFields):
        return SetFields(edit.index + by, edit.name, edit.min_runners, edit.max_runners, edit.profile)
    if isinstance(edit, RemoveEntry):
        return RemoveEntry(edit.index + by, edit.name)
    return edit


# --- the document and its splices -------------------------------------------------------


class _Doc:
    """A parsed document (or window) with node spans, pristine mapping pairs and data."""

    def __init__(self, text: str, nl: str, window: bool) -> None:
        self.text = text
        self.nl = nl
        self.window = window
        self.key_node: Node | None = None
        self.pairs: dict[int, list[tuple[Node, Node]]] = {}
        loader = yaml.CSafeLoader(text)
        try:
            root = loader.get_single_node()
            self.seq = self._find_seq(root)
            self._snapshot(self.seq)
            self.data: Any = loader.construct_document(root) if root is not None else None
        except yaml.YAMLError as exc:
            raise UnsafeEdit(f"repositories.yaml is not valid YAML: {exc}") from None
        finally:
            loader.dispose()

    def _find_seq(self, root: Node | None) -> Node:
        if self.window:
            if not isinstance(root, SequenceNode):
                raise UnsafeEdit("window is not a sequence")
            return root
        if not isinstance(root, MappingNode):
            raise UnsafeEdit("repositories.yaml must be a mapping with a 'repositories' list")
        for key, value in root.value:
            if isinstance(key, ScalarNode) and key.value == "repositories":
                self.key_node = key
                found: Node = value
                return found
        raise UnsafeEdit("repositories.yaml has no 'repositories' key")

    def _snapshot(self, node: Node) -> None:
        # Building data flattens merge keys in place; lookups need the pairs as written.
        stack = [node]
        while stack:
            current = stack.pop()
            if id(current) in self.pairs or isinstance(current, ScalarNode):
                continue
            if isinstance(current, MappingNode):
                self.pairs[id(current)] = list(current.value)
                stack.extend(v for pair in current.value for v in pair)
            elif isinstance(current, SequenceNode):
                self.pairs[id(current)] = []
                stack.extend(current.value)

    @property
    def items(self) -> list[Node]:
        return list(self.seq.value) if isinstance(self.seq, SequenceNode) else []

    @property
    def entries(self) -> list[Any]:
        if self.window:
            return list(self.data)
        value = self.data.get("repositories") if isinstance(self.data, dict) else None
        return list(value) if isinstance(value, list) else []

    # text geometry

    def line_start(self, pos: int) -> int:
        return self.text.rfind("\n", 0, pos) + 1

    def content_end(self, line_start: int) -> int:
        newline = self.text.find("\n", line_start)
        if newline < 0:
            return len(self.text)
        return newline - 1 if newline > 0 and self.text[newline - 1] == "\r" else newline

    def last_content_end(self, pos: int) -> int:
        """End of the last line before ``pos`` holding something other than a comment."""
        while pos > 0:
            start = self.line_start(pos)
            segment = self.text[start:pos].strip()
            if segment and not segment.startswith("#"):
                return self.content_end(start)
            pos = start - 1
        return 0

    def line_is_blank(self, start: int) -> bool:
        return start < len(self.text) and not self.text[start : self.content_end(start)].strip()

    # node helpers

    def pairs_of(self, node: Node) -> list[tuple[Node, Node]]:
        return self.pairs.get(id(node), [])

    def lookup(self, mapping: Node, key: str) -> tuple[Node, Node, bool] | None:
        """``(key node, value node, inherited through a merge key)`` or ``None``."""
        found: tuple[Node, Node, bool] | None = None
        merges: list[Node] = []
        for key_node, value in self.pairs_of(mapping):
            if key_node.tag == MERGE_TAG:
                merges.extend(value.value if isinstance(value, SequenceNode) else [value])
            elif isinstance(key_node, ScalarNode) and key_node.value == key:
                found = (key_node, value, False)
        if found is not None:
            return found
        for source in merges:
            inherited = self.lookup(source, key)
            if inherited is not None:
                return inherited[0], inherited[1], True
        return None

    def value_start(self, node: Node) -> int:
        match = _PREFIX.match(self.text, node.start_mark.index)
        return match.end() if match else node.start_mark.index

    def alias_span(self, key_node: Node) -> tuple[int, int]:
        match = _ALIAS_AFTER_KEY.match(self.text, key_node.end_mark.index)
        if match is None:
            raise UnsafeEdit("a shared (aliased) value is written in a form the editor does not rewrite")
        return match.start(1), match.end(1)

    def reachable_outside(self, item: Node) -> set[int]:
        """Ids of nodes reachable from the document without passing through ``item``."""
        if "&" not in self.text:
            return set()
        return self.reachable([v for v in self.items if v is not item])

    def reachable(self, roots: list[Node]) -> set[int]:
        """Ids of ``roots`` and every node below them (aliases followed)."""
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                stack.extend(v for pair in self.pairs_of(node) for v in pair)
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
        return seen


def _inside(node: Node, item: Node) -> bool:
    return bool(item.start_mark.index <= node.start_mark.index < item.end_mark.index)


# --- rendering of new text --------------------------------------------------------------


def render_scalar(value: Any, style: str | None = None) -> str:
    """A scalar as YAML text, in ``style`` (a quote character) when it is a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if style == "'":
        return "'" + text.replace("'", "''") + "'"
    if style == '"' or not _plain_ok(text):
        return json.dumps(text, ensure_ascii=False)
    return text


def _plain_ok(text: str) -> bool:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", text) or names.go_yaml_not_string(text):
        return False  # Helm must read the same string the bot does
    # A plain scalar must still read back as a string (not a number, bool or null).
    return bool(_RESOLVER.resolve(ScalarNode, text, (True, False)) == STR_TAG)  # type: ignore[no-untyped-call]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_inline(v)}" for k, v in value.items()) + "}"
    return render_scalar(value)


@dataclass(frozen=True)
class _Style:
    """How sibling entries are written, so that new text looks like its neighbours."""

    dash: int = 2
    key: int = 4
    step: int = 2
    flow_item: bool = False
    flow_nested: bool = False
    blank_between: bool = False
    order: tuple[str, ...] = ()
    quotes: tuple[tuple[str, str], ...] = ()


def _style_of(doc: _Doc) -> _Style:
    items = [i for i in doc.items if isinstance(i, MappingNode) and i.start_mark.index >= 0]
    if not items:
        return _Style()
    ref = items[-1]
    key_col = ref.start_mark.column
    line = doc.line_start(ref.start_mark.index)
    dash = doc.text.rfind("-", line, ref.start_mark.index) - line
    step, flow_nested = 2, False
    for item in reversed(items):
        found = doc.lookup(item, "scaling")
        if found and isinstance(found[1], MappingNode) and _inside(found[1], item):
            flow_nested = bool(found[1].flow_style)
            children = doc.pairs_of(found[1])
            if children and not flow_nested:
                step = max(children[0][0].start_mark.column - found[0].start_mark.column, 1)
            break
    blank = False
    if len(items) >= 2:
        dash_line = doc.line_start(ref.start_mark.index)
        blank = bool(_BLANK_LINE.search(doc.text, doc.last_content_end(dash_line), dash_line + 1))
    order = tuple(str(k.value) for k, _ in doc.pairs_of(ref) if isinstance(k, ScalarNode) and k.tag != MERGE_TAG)
    quotes = tuple(
        (str(k.value), v.style) for k, v in doc.pairs_of(ref) if isinstance(v, ScalarNode) and v.style in ("'", '"')
    )
    return _Style(max(dash, 0), key_col, step, bool(ref.flow_style), flow_nested, blank, order, quotes)


def _entry_lines(data: dict[str, Any], style: _Style) -> list[str]:
    quotes = dict(style.quotes)
    keys = _ordered_keys(data, style.order)
    if style.flow_item:
        body = ", ".join(
            f"{k}: {_inline(data[k]) if isinstance(data[k], dict) else render_scalar(data[k], quotes.get(k))}"
            for k in keys
        )
        return [" " * style.dash + "- {" + body + "}"]
    lines: list[str] = []
    for key in keys:
        value = data[key]
        if isinstance(value, dict) and not style.flow_nested:
            lines.append(f"{key}:")
            lines.extend(" " * style.step + f"{k}: {render_scalar(v)}" for k, v in value.items())
        elif isinstance(value, dict):
            lines.append(f"{key}: {_inline(value)}")
        else:
            lines.append(f"{key}: {render_scalar(value, quotes.get(key))}")
    first = " " * style.dash + "-" + " " * max(style.key - style.dash - 1, 1) + lines[0]
    return [first] + [" " * style.key + line for line in lines[1:]]


# --- operations ---------------------------------------------------------------------


def _apply(doc: _Doc, edit: Edit) -> str:
    before = doc.entries
    if isinstance(edit, AddEntry):
        splices = _add(doc, edit)
        expected = [*before, edit.data]
    else:
        item = _item(doc, edit.index, edit.name, before)
        if isinstance(edit, RemoveEntry):
            splices = _remove(doc, edit.index)
            expected = before[: edit.index] + before[edit.index + 1 :]
        else:
            splices = _set(doc, item, edit)
            expected = list(before)
            expected[edit.index] = _expected_set(before[edit.index], edit)
    new_text = doc.text
    for start, end, replacement in sorted(splices, reverse=True):
        new_text = new_text[:start] + replacement + new_text[end:]
    _verify(doc, new_text, expected)
    return new_text


def _item(doc: _Doc, index: int, name: str, before: list[Any]) -> Node:
    items = doc.items
    if not 0 <= index < len(items) or not isinstance(before[index], dict) or before[index].get("name") != name:
        raise UnsafeEdit(f"entry '{name}' is not where the command expected it; nothing was changed")
    item = items[index]
    if not isinstance(item, MappingNode) or not _inside(item, item) or item.start_mark.index < 0:
        raise UnsafeEdit(f"entry '{name}' is not a plain mapping")
    return item


def _set(doc: _Doc, item: Node, edit: SetFields) -> list[_Splice]:
    outside = doc.reachable_outside(item)
    splices: list[_Splice] = []
    counts = {k: v for k, v in (("minRunners", edit.min_runners), ("maxRunners", edit.max_runners)) if v is not None}
    if counts:
        found = doc.lookup(item, "scaling")
        if found is None:
            splices.append(_insert_key(doc, item, "scaling", counts))
        else:
            key_node, value, inherited = found
            current = _plain(doc.entries[edit.index].get("scaling") or {})
            merged = {**current, **counts} if isinstance(current, dict) else counts
            if inherited:
                splices.append(_insert_key(doc, item, "scaling", merged))
            elif not _inside(value, item):
                start, end = doc.alias_span(key_node)
                splices.append((start, end, _inline(merged)))
            elif isinstance(value, MappingNode):
                if id(value) in outside:
                    (start, end), definition = _unshare(doc, value, item, current)
                    splices += [(start, end, ""), definition]
                    outside = outside - doc.reachable([value])
                for k, v in counts.items():
                    splices.extend(_set_key(doc, value, item, outside, key=k, value=v))
            else:
                splices.append((doc.value_start(value), value.end_mark.index, _inline(merged)))
    if edit.profile is not None:
        splices.extend(_set_key(doc, item, item, outside, key="profile", value=edit.profile))
    return splices


def _set_key(doc: _Doc, mapping: Node, item: Node, outside: set[int], *, key: str, value: Any) -> list[_Splice]:
    found = doc.lookup(mapping, key)
    if found is None or found[2]:
        return [_insert_key(doc, mapping, key, value)]
    key_node, node, _ = found
    if not _inside(node, item):
        start, end = doc.alias_span(key_node)
        return [(start, end, render_scalar(value))]
    if not isinstance(node, ScalarNode) or node.style in ("|", ">"):
        raise UnsafeEdit(f"'{key}' is not written as a plain value")
    quote = node.style if isinstance(value, str) else None
    if id(node) in outside:
        # Shared through an anchor: the definition moves to its first use, this entry gets its own value.
        (start, _), definition = _unshare(doc, node, item, _SCALARS.construct_object(node))
        space = " " if start < node.start_mark.index else ""
        return [(start, node.end_mark.index, space + render_scalar(value, quote)), definition]
    return [(doc.value_start(node), node.end_mark.index, render_scalar(value, quote))]


def _unshare(doc: _Doc, node: Node, item: Node, data: Any) -> tuple[tuple[int, int], _Splice]:
    """How ``item`` can change ``node`` alone although other entries use it through an
    alias: the anchor leaves ``item`` (the span it takes there, with the space before it,
    is returned) and is defined, with the same data (``data``), at its first alias
    instead, which later aliases then follow (the splice returned). Two lines change; the
    re-parse proves every other entry kept its data."""
    match = _ANCHOR.match(doc.text, node.start_mark.index)
    if match is None:
        raise UnsafeEdit("a shared value whose anchor the editor cannot find; edit it by hand")
    name = match.group(1)
    use = re.compile(r"\*" + re.escape(name) + r"(?![^ \t\r\n,\[\]{}])").search(doc.text, item.end_mark.index)
    if use is None:
        raise UnsafeEdit(f"the anchor &{name} is used, but the editor cannot find where; edit it by hand")
    definition = f"&{name} " + (_inline(_plain(data)) if isinstance(data, dict) else render_scalar(data, _style(node)))
    start = match.start() - 1 if doc.text[match.start() - 1 : match.start()] == " " else match.start()
    return (start, match.end()), (use.start(), use.end(), definition)


def _style(node: Node) -> str | None:
    return node.style if isinstance(node, ScalarNode) and node.style in ("'", '"') else None


def _insert_key(doc: _Doc, mapping: Node, key: str, value: Any) -> _Splice:
    own = [k for k, _ in doc.pairs_of(mapping) if _inside(k, mapping)]
    if getattr(mapping, "flow_style", False):
        close = mapping.end_mark.index - 1
        if doc.text[close] != "}":
            raise UnsafeEdit("a flow mapping the editor cannot extend")
        pos = close
        while pos > mapping.start_mark.index and doc.text[pos - 1] in " \t\r\n":
            pos -= 1
        prefix = ", " if own else ""
        return pos, pos, f"{prefix}{key}: {_inline(value)}"
    if not own:
        raise UnsafeEdit("an entry with no keys of its own")
    indent = " " * own[0].start_mark.column
    style = _style_of(doc)
    if isinstance(value, dict) and not style.flow_nested:
        nested = "".join(f"{doc.nl}{indent}{' ' * style.step}{k}: {render_scalar(v)}" for k, v in value.items())
        lines = f"{indent}{key}:{nested}"
    else:
        lines = f"{indent}{key}: {_inline(value)}"
    follower = _following_key(own, key)
    if follower is not None:
        # Keep the canonical key order: the new key goes above the key that follows it.
        pos = _leading_comments(doc, doc.line_start(follower.start_mark.index), follower.start_mark.column)
        return pos, pos, lines + doc.nl
    pos = doc.last_content_end(mapping.end_mark.index)
    return pos, pos, doc.nl + lines


def _following_key(own: list[Node], key: str) -> Node | None:
    """The first key written after which ``key`` belongs, unless it sits on the item's dash line."""
    if key not in CANONICAL_ORDER:
        return None
    later = set(CANONICAL_ORDER[CANONICAL_ORDER.index(key) + 1 :])
    for index, node in enumerate(own):
        if isinstance(node, ScalarNode) and node.value in later:
            return node if index > 0 else None
    return None


def _ordered_keys(data: dict[str, Any], sibling_order: tuple[str, ...]) -> list[str]:
    """Keys as the sibling writes them; keys it lacks go after their canonical predecessor."""
    keys = [k for k in sibling_order if k in data]
    for key in data:
        if key in keys:
            continue
        position = 0
        if key in CANONICAL_ORDER:
            earlier = CANONICAL_ORDER[: CANONICAL_ORDER.index(key)]
            placed = [i for i, k in enumerate(keys) if k in earlier]
            position = placed[-1] + 1 if placed else 0
        else:
            position = len(keys)
        keys.insert(position, key)
    return keys


def _add(doc: _Doc, edit: AddEntry) -> list[_Splice]:
    seq, style = doc.seq, _style_of(doc)
    if isinstance(seq, SequenceNode) and seq.flow_style:
        items = doc.items
        text = _inline(edit.data)
        if not items:
            return [(seq.end_mark.index - 1, seq.end_mark.index - 1, text)]
        last = items[-1]
        multiline = len(items) > 1 and items[-1].start_mark.line != items[-2].start_mark.line
        indent = " " * last.start_mark.column
        joiner = f",{doc.nl}{indent}" if multiline else ", "
        return [(last.end_mark.index, last.end_mark.index, joiner + text)]
    lines = _entry_lines(edit.data, style)
    if isinstance(seq, ScalarNode) and seq.value == "" and doc.key_node is not None:
        pos = doc.content_end(doc.line_start(doc.key_node.start_mark.index))
        return [(pos, pos, doc.nl + doc.nl.join(lines))]
    if not isinstance(seq, SequenceNode) or not seq.value:
        raise UnsafeEdit("'repositories' is not a list the editor can extend")
    pos = doc.last_content_end(seq.end_mark.index)
    gap = doc.nl if style.blank_between else ""
    return [(pos, pos, doc.nl + gap + doc.nl.join(lines))]


def _remove(doc: _Doc, index: int) -> list[_Splice]:
    items = doc.items
    item = items[index]
    if isinstance(doc.seq, SequenceNode) and doc.seq.flow_style:
        if len(items) == 1:
            return [(item.start_mark.index, item.end_mark.index, "")]
        if index + 1 < len(items):
            return [(item.start_mark.index, items[index + 1].start_mark.index, "")]
        return [(items[index - 1].end_mark.index, item.end_mark.index, "")]
    dash_line = doc.line_start(item.start_mark.index)
    start = _leading_comments(doc, dash_line, max(doc.text.rfind("-", dash_line, item.start_mark.index) - dash_line, 0))
    limit = doc.line_start(items[index + 1].start_mark.index) if index + 1 < len(items) else doc.seq.end_mark.index
    end = doc.last_content_end(limit)
    text = doc.text
    if end < len(text):
        end = text.find("\n", end) + 1
        tight = start == 0 or doc.line_is_blank(doc.line_start(start - 1)) or _is_key_line(doc, start - 1)
        if tight and doc.line_is_blank(end):
            end = text.find("\n", end) + 1 or len(text)
    elif start > 0:
        # The entry ends the file with no final newline: the previous line becomes the last one.
        while start > 0 and doc.line_is_blank(doc.line_start(start - 1)):
            start = doc.line_start(start - 1)
        start = start - (2 if text[start - 2 : start] == "\r\n" else 1)
    splices: list[_Splice] = [(start, end, "")]
    if len(items) == 1 and doc.key_node is not None:
        colon = text.find(":", doc.key_node.end_mark.index)
        splices.append((colon + 1, colon + 1, " []"))
    return splices


def _is_key_line(doc: _Doc, pos: int) -> bool:
    return doc.key_node is not None and doc.line_start(pos) == doc.line_start(doc.key_node.start_mark.index)


def _leading_comments(doc: _Doc, line: int, max_indent: int) -> int:
    """Start of the comment lines directly above ``line``, indented at most ``max_indent``."""
    start = line
    while start > 0:
        above = doc.line_start(start - 1)
        text = doc.text[above : start - 1].rstrip("\r")
        stripped = text.lstrip(" ")
        if not stripped.startswith("#") or len(text) - len(stripped) > max_indent:
            break
        start = above
    return start


# --- verification ---------------------------------------------------------------------


def _expected_set(entry: Any, edit: SetFields) -> Any:
    copy = _plain(entry)
    if edit.min_runners is not None or edit.max_runners is not None:
        scaling = copy.get("scaling")
        scaling = dict(scaling) if isinstance(scaling, dict) else {}
        if edit.min_runners is not None:
            scaling["minRunners"] = edit.min_runners
        if edit.max_runners is not None:
            scaling["maxRunners"] = edit.max_runners
        copy["scaling"] = scaling
    if edit.profile is not None:
        copy["profile"] = edit.profile
    return copy


def _plain(value: Any, budget: list[int] | None = None, inside: frozenset[int] = frozenset()) -> Any:
    """A deep copy that shares nothing (aliases become separate values), size-bounded; a
    value that contains itself (``&l [a, *l]``) has no such copy and is refused."""
    budget = budget if budget is not None else [_MAX_COPY_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise UnsafeEdit("the entry is too large to edit safely")
    if isinstance(value, dict | list):
        if id(value) in inside:
            raise UnsafeEdit("the entry contains itself through an alias (a recursive anchor); nothing was changed")
        inside = inside | {id(value)}
        if isinstance(value, dict):
            return {k: _plain(v, budget, inside) for k, v in value.items()}
        return [_plain(v, budget, inside) for v in value]
    return value


def _verify(doc: _Doc, new_text: str, expected: list[Any]) -> None:
    try:
        after = yaml.load(new_text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        raise UnsafeEdit("the edited file would not be valid YAML; nothing was changed") from None
    if doc.window:
        ok = after == expected
    else:
        rest_before = {k: v for k, v in doc.data.items() if k != "repositories"}
        ok = (
            isinstance(after, dict)
            and after.get("repositories") == expected
            and {k: v for k, v in after.items() if k != "repositories"} == rest_before
        )
    if not ok:
        raise UnsafeEdit("the edit could not be made without changing other content; nothing was changed")
    if doc.nl == "\r\n" and new_text.count("\n") != new_text.count("\r\n"):
        raise UnsafeEdit("the edit would mix line endings; nothing was changed")
