"""Searching, counting and comparing a whole values file a window at a time.

A C call on a 15 MB text (a regular expression's scan, ``str.count``, a substring test,
a comparison of two slices) holds the GIL from start to end, and so the event loop:
6-30 ms each at 50,000 sets, several in a row in one edit. Each helper here makes one
call per window of about :data:`SCAN` characters, from Python, so the interpreter can
hand the GIL to another thread between two windows. Results are exactly those of the
one call they replace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

SCAN = 256 * 1024  # characters one call walks at most (about: a window ends at a line end)


def lines_matching(pattern: re.Pattern[str], text: str, pos: int = 0) -> Iterator[tuple[int, int]]:
    """``(line start, match end)`` for each line of ``text`` from offset ``pos`` (a line
    start) where ``pattern`` matches: ``pattern.finditer("\\n" + text, pos)``, shifted
    back to offsets of ``text``, without the copy. The pattern starts with a literal
    newline, standing for the line break before the line (for the first line too), and
    matches within one line: each window ends just after a line break."""
    if pos == 0:
        first = pattern.match("\n" + text[: text.find("\n") + 1 or len(text)])
        if first is not None:
            yield 0, first.end() - 1
    start = max(pos - 1, 0)  # the break before line ``pos``, which the pattern begins with
    while start < len(text):
        stop = text.find("\n", start + SCAN) + 1 or len(text)
        for match in pattern.finditer(text, start, stop):
            yield match.start() + 1, match.end()
        # A match needs the break and a character after it: none begins at stop - 1 in
        # this window, so the next window starts there.
        start = stop - 1 if stop < len(text) else stop


def count(text: str, sub: str, start: int = 0, end: int | None = None) -> int:
    """``text.count(sub, start, end)`` for a ``sub`` of one character."""
    assert len(sub) == 1  # a longer one could straddle two windows
    end = len(text) if end is None else min(end, len(text))
    return sum(text.count(sub, i, min(i + SCAN, end)) for i in range(start, end, SCAN))


def contains(text: str, sub: str) -> bool:
    """``sub in text``; windows overlap by ``len(sub) - 1`` so none is missed."""
    step = SCAN
    return any(text.find(sub, i, i + step + len(sub) - 1) >= 0 for i in range(0, max(len(text), 1), step))


def same(a: str, a_pos: int, b: str, b_pos: int, length: int) -> bool:
    """``a[a_pos:a_pos + length] == b[b_pos:b_pos + length]``, both spans inside their
    texts, compared a window at a time instead of as two copies of up to the whole file."""
    return all(a.startswith(b[b_pos + i : b_pos + min(i + SCAN, length)], a_pos + i) for i in range(0, length, SCAN))


def spliced(text: str, start: int, end: int, middle: str) -> str:
    """``text[:start] + middle + text[end:]`` with one copy of the file, not four: the
    parts are taken a window at a time, and only the final join is one call on all of it."""
    windows = [text[i : min(i + SCAN, start)] for i in range(0, start, SCAN)]
    windows.append(middle)
    windows += [text[i : i + SCAN] for i in range(end, len(text), SCAN)]
    return "".join(windows)
