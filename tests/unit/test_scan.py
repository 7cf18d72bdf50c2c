"""Scans of a whole values file a window at a time: the same results as one call over
all of it, and no regular-expression call is given more than a window."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.fleet import scan, yamledit
from tests.support.fleets import fleet

# Texts of short lines, so that windows of a few characters cut through them everywhere.
TEXTS = st.text(alphabet="ab -#:\r\n\t", max_size=120)
PATTERNS = [
    re.compile(r"\nrepositories:[ \t]*(?:#[^\r\n]*)?(?=\r?\n|$)"),
    re.compile(r"\n {0,2}[^ \t#\r\n]"),
    re.compile(r"\na[ \t]*(?=\r?\n|$)"),
]


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "SCAN", 5)


@settings(max_examples=300)
@given(text=TEXTS, which=st.sampled_from(range(len(PATTERNS))), at=st.integers(0, 120))
def test_lines_matching_is_finditer_over_the_padded_text(text: str, which: int, at: int) -> None:
    pattern = PATTERNS[which]
    line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    pos = min(line_starts, key=lambda s: abs(s - at))
    padded = "\n" + text
    expected = [(m.start(), m.end() - 1) for m in pattern.finditer(padded, pos)]
    assert list(scan.lines_matching(pattern, text, pos)) == expected


@settings(max_examples=300)
@given(text=TEXTS, start=st.integers(0, 130), end=st.integers(0, 130), sub=st.sampled_from(["\n", "\r\n", "a-", "#"]))
def test_count_contains_same_and_spliced_are_the_whole_text_calls(text: str, start: int, end: int, sub: str) -> None:
    if len(sub) == 1:
        assert scan.count(text, sub, start, end) == text.count(sub, start, end)
        assert scan.count(text, sub) == text.count(sub)
    assert scan.contains(text, sub) == (sub in text)
    low, high = sorted((min(start, len(text)), min(end, len(text))))
    other = text[:low] + "x" + text[low:]
    assert scan.same(other, 0, text, 0, low) == (other[:low] == text[:low])
    assert scan.same(other, low + 1, text, low, len(text) - low) == (other[low + 1 :] == text[low:])
    assert scan.same(text, 0, text[::-1], 0, high) == (text[:high] == text[::-1][:high])
    assert scan.spliced(text, low, high, "MID") == text[:low] + "MID" + text[high:]


class _Recording:
    """A pattern that notes how much text each of its calls was given."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.spans: list[int] = []

    def match(self, text: str, *args: Any) -> re.Match[str] | None:
        self.spans.append(len(text))
        return self.pattern.match(text, *args)

    def finditer(self, text: str, pos: int, endpos: int) -> Any:
        self.spans.append(endpos - pos)
        return self.pattern.finditer(text, pos, endpos)


def test_no_regular_expression_call_walks_more_than_a_window() -> None:
    lines = [f"  - name: service-{i:05d}\n    org: o\n" for i in range(2_000)]
    text = "# header\nrepositories:\n" + "".join(lines) + "other: 1\n"
    recording = _Recording(re.compile(r"\n {0,2}[^ \t#\r\n]"))
    found = list(scan.lines_matching(recording, text, 0))  # type: ignore[arg-type]
    assert found == [(m.start(), m.end() - 1) for m in recording.pattern.finditer("\n" + text)]
    assert len(found) == 1 + 2_000 + 1  # repositories:, each item, other:
    longest_line = max(len(line) for line in text.splitlines(keepends=True))
    assert len(recording.spans) > len(text) // (scan.SCAN + longest_line)
    assert max(recording.spans) <= scan.SCAN + longest_line + 1


def test_the_editor_gives_the_same_bytes_whatever_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = (Path(__file__).parents[2] / "values" / "repositories.yaml").read_text()
    edits: list[yamledit.Edit] = [
        yamledit.SetFields(0, "service-00000", min_runners=2),
        yamledit.SetFields(29, "service-00029", profile="large"),
        yamledit.RemoveEntry(7, "service-00007"),
        yamledit.AddEntry({"name": "added", "org": "Matchpoint-AI", "category": "general"}),
    ]
    for text in (fleet(30, bundled), fleet(30, bundled).replace("\n", "\r\n")):
        small = []
        for edit in edits:
            yamledit._item_regions.cache_clear()
            small.append(yamledit.apply_edit(text, edit))
        monkeypatch.setattr(scan, "SCAN", 256 * 1024)
        for edit, result in zip(edits, small, strict=True):
            yamledit._item_regions.cache_clear()
            assert yamledit.apply_edit(text, edit) == result == yamledit.apply_edit(text, edit, window=False)
        monkeypatch.setattr(scan, "SCAN", 5)
