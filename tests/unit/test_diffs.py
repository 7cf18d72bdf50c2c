"""The fast unified diff: a valid patch of the change, and difflib's own where lines are unique."""

from __future__ import annotations

import difflib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.fleet.diffs import unified

# Whole lines: difflib writes a last line that lacks its newline as it is, glued to the next.
lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\r\n", "e\n"]), max_size=40)


def patch(old: str, diff: str) -> str:
    """Apply a unified diff (as `patch` would, trusting the hunk positions)."""
    source, out, at = old.splitlines(keepends=True), [], 0
    body = diff.splitlines(keepends=True)[2:]
    for line in body:
        header = re.match(r"@@ -(\d+)(?:,(\d+))? ", line)
        if header:
            start, length = int(header.group(1)), int(header.group(2) or 1)
            begin = start - 1 if length else start
            out += source[at:begin]
            at = begin
        elif line.startswith((" ", "-")):
            assert source[at] == line[1:]
            at += 1
            if line.startswith(" "):
                out.append(line[1:])
        elif line.startswith("+"):
            out.append(line[1:])
    return "".join(out + source[at:])


@settings(max_examples=500, deadline=None)
@given(old=lines, new=lines, context=st.integers(0, 4))
def test_a_valid_patch_of_the_change(old: list[str], new: list[str], context: int) -> None:
    a, b = "".join(old), "".join(new)
    diff = unified(a, b, "a/f", "b/f", context)
    assert (diff == "") == (a.splitlines(keepends=True) == b.splitlines(keepends=True))
    if diff:
        assert patch(a, diff) == b


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(1, 60))
def test_same_as_difflib_where_lines_are_unique(data: st.DataObject, size: int) -> None:
    a = [f"line {i}\n" for i in range(size)]
    b = list(a)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(b)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert" or not b or at == len(b):
            b.insert(at, f"new {at} {len(b)}\n")
        elif action == "delete":
            del b[at]
        else:
            b[at] = f"changed {at}\n"
    expected = "".join(difflib.unified_diff(a, b, "a/f", "b/f"))
    assert unified("".join(a), "".join(b), "a/f", "b/f") == expected
