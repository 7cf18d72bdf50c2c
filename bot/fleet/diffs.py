"""Unified diffs of a file changed in a few places, in time proportional to the change. Pure.

``difflib`` compares whole sequences; on a 5,000-entry file changed in one line that was
half of a ``simulate``. Lines the two texts share at both ends are set aside first (all
but the context), the rest is diffed, and hunk positions are moved back into place. The
result is a valid unified diff of the change, the same as ``difflib.unified_diff`` of
the whole texts wherever lines are not repeated (with repeated lines either may pick a
different but equally valid alignment).
"""

from __future__ import annotations

import difflib
import re

_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def unified(old: str, new: str, fromfile: str, tofile: str, context: int = 3) -> str:
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    low, cut = max(head - context, 0), max(tail - context, 0)
    lines = difflib.unified_diff(a[low : len(a) - cut], b[low : len(b) - cut], fromfile, tofile, n=context)
    return "".join(_moved(line, low) for line in lines)


def _moved(line: str, by: int) -> str:
    match = _HUNK.match(line)
    if match is None or by == 0:
        return line
    old_start, old_len, new_start, new_len = match.groups()
    return f"@@ -{int(old_start) + by}{old_len or ''} +{int(new_start) + by}{new_len or ''} @@" + line[match.end() :]
