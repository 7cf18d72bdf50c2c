"""Property tests: generated files in many styles, generated edits.

Each generated file records which lines each entry occupies. After an edit, the parsed
result must equal the intended data, and no line outside the change may move: a set
touches only lines of its entry, an add only inserts, a remove only deletes.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.fleet.yamledit import AddEntry, Edit, RemoveEntry, SetFields, apply_edit

PROFILES = ("small", "medium", "large")


@dataclass(frozen=True)
class Style:
    seq_indent: int
    dash_gap: int
    step: int
    flow_scaling: bool
    quote: str
    blank_between: bool
    comments: bool
    crlf: bool
    final_newline: bool
    doc_start: bool
    trailer: bool


@dataclass(frozen=True)
class Generated:
    text: str
    entries: list[dict[str, Any]]
    spans: list[tuple[int, int]]  # first and last line (0-based) of each entry


# Plain names must read back as themselves (YAML 1.1 reads "no", "on", "y" as booleans).
names = st.from_regex(r"[a-z][a-z0-9-]{0,12}[a-z0-9]", fullmatch=True).filter(lambda n: yaml.safe_load(n) == n)


@st.composite
def entries(draw: st.DrawFn) -> list[dict[str, Any]]:
    chosen = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    result = []
    for name in chosen:
        entry: dict[str, Any] = {"name": name, "org": "acme"}
        if draw(st.booleans()):
            low = draw(st.integers(0, 10))
            entry["scaling"] = {"minRunners": low, "maxRunners": draw(st.integers(max(low, 1), 40))}
        if draw(st.booleans()):
            entry["profile"] = draw(st.sampled_from(PROFILES))
        if draw(st.booleans()):
            entry["labels"] = ["self-hosted", name]
        result.append(entry)
    return result


styles = st.builds(
    Style,
    seq_indent=st.sampled_from([0, 2, 4]),
    dash_gap=st.sampled_from([1, 3]),
    step=st.sampled_from([2, 4]),
    flow_scaling=st.booleans(),
    quote=st.sampled_from(["", "'", '"']),
    blank_between=st.booleans(),
    comments=st.booleans(),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    doc_start=st.booleans(),
    trailer=st.booleans(),
)


def _scalar(value: Any, style: Style) -> str:
    if isinstance(value, str) and style.quote:
        return f"{style.quote}{value}{style.quote}"
    return str(value)


def render(items: list[dict[str, Any]], style: Style) -> Generated:
    lines: list[str] = ["---"] if style.doc_start else []
    lines += ["# generated fixture", "repositories:"]
    spans = []
    key_col = style.seq_indent + 1 + style.dash_gap
    for number, entry in enumerate(items):
        if number and style.blank_between:
            lines.append("")
        first = len(lines)  # an entry's leading comment belongs to it
        if style.comments:
            lines.append(" " * style.seq_indent + f"# entry {number}")
        body: list[str] = []
        for key, value in entry.items():
            comment = "  # note" if style.comments and key == "profile" else ""
            if key == "scaling" and style.flow_scaling:
                body.append(f"scaling: {{minRunners: {value['minRunners']}, maxRunners: {value['maxRunners']}}}")
            elif key == "scaling":
                body.append("scaling:")
                body += [" " * style.step + f"{k}: {v}" for k, v in value.items()]
            elif key == "labels":
                body.append(f"labels: [{', '.join(value)}]")
            else:
                body.append(f"{key}: {_scalar(value, style)}{comment}")
        lines.append(" " * style.seq_indent + "-" + " " * style.dash_gap + body[0])
        lines += [" " * key_col + line for line in body[1:]]
        spans.append((first, len(lines) - 1))
    if style.trailer:
        lines += ["", "# trailing section", "globalOverrides:", "  nodeSelector: {purpose: runners}"]
    nl = "\r\n" if style.crlf else "\n"
    text = nl.join(lines) + (nl if style.final_newline else "")
    return Generated(text, items, spans)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Generated, Edit, list[dict[str, Any]], str]:
    generated = render(draw(entries()), draw(styles))
    items = generated.entries
    kind = draw(st.sampled_from(["set", "add", "remove"]))
    if kind == "remove":
        index = draw(st.integers(0, len(items) - 1))
        return generated, RemoveEntry(index, items[index]["name"]), items[:index] + items[index + 1 :], kind
    if kind == "add":
        name = draw(names.filter(lambda n: all(n != e["name"] for e in items)))
        start = draw(st.integers(0, 5))
        data = {
            "name": name,
            "org": "acme",
            "scaling": {"minRunners": start, "maxRunners": start + 3},
            "profile": "small",
        }
        return generated, AddEntry(data), [*items, data], kind
    index = draw(st.integers(0, len(items) - 1))
    low: int | None = draw(st.none() | st.integers(0, 10))
    high: int | None = draw(st.none() | st.integers(11, 50))
    profile = draw(st.none() | st.sampled_from(PROFILES))
    if low is None and high is None and profile is None:
        high = 12
    expected = [dict(e) for e in items]
    changed = expected[index]
    if low is not None or high is not None:
        scaling = dict(changed.get("scaling", {}))
        scaling.update({k: v for k, v in (("minRunners", low), ("maxRunners", high)) if v is not None})
        changed["scaling"] = scaling
    if profile is not None:
        changed["profile"] = profile
    return generated, SetFields(index, items[index]["name"], low, high, profile), expected, kind


def _data(text: str) -> Any:
    return yaml.safe_load(text)


@settings(
    max_examples=int(os.environ.get("EDITOR_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(cases(), st.booleans())
def test_edit_changes_exactly_the_intended_part(
    case: tuple[Generated, Edit, list[dict[str, Any]], str], window: bool
) -> None:
    generated, edit, expected, kind = case
    new_text = apply_edit(generated.text, edit, window=window)
    assert _data(new_text)["repositories"] == expected
    old_lines, new_lines = generated.text.splitlines(), new_text.splitlines()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if kind == "add":
            assert tag == "insert", (tag, old_lines[i1:i2])
        elif kind == "remove" and expected:
            assert tag == "delete", (tag, old_lines[i1:i2])
        elif kind == "remove":
            # Removing the only entry also turns the key line into `repositories: []`.
            assert all(
                line.strip() == "repositories:" or i1 + n >= generated.spans[0][0]
                for n, line in enumerate(old_lines[i1:i2])
            )
        else:
            assert isinstance(edit, SetFields)
            first, last = generated.spans[edit.index]
            assert first <= i1 and i2 <= last + 1, (tag, old_lines[i1:i2])
    assert ("\r\n" in new_text) == ("\r\n" in generated.text)
    assert new_text.endswith("\n") == generated.text.endswith("\n")


@settings(max_examples=150, deadline=None)
@given(cases())
def test_window_and_full_paths_agree(case: tuple[Generated, Edit, list[dict[str, Any]], str]) -> None:
    generated, edit, _, _ = case
    windowed, full = apply_edit(generated.text, edit), apply_edit(generated.text, edit, window=False)
    assert _data(windowed) == _data(full)
    # Where no new text is composed (a value replaced, an entry removed) both paths splice
    # the same bytes; new keys and entries copy a style from the siblings each path sees.
    if isinstance(edit, AddEntry):
        return
    if isinstance(edit, SetFields):
        entry = generated.entries[edit.index]
        inserts = (edit.profile is not None and "profile" not in entry) or (
            (edit.min_runners, edit.max_runners) != (None, None) and "scaling" not in entry
        )
        missing_count = any(
            value is not None and key not in entry.get("scaling", {})
            for key, value in (("minRunners", edit.min_runners), ("maxRunners", edit.max_runners))
        )
        if inserts or missing_count:
            return
    assert windowed == full
