"""The editor against the corpus: exact bytes out, or the expected refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.fleet.yamledit import RemoveEntry, SetFields, UnsafeEdit, apply_edit
from tests.support.corpus_edits import cases, load_edit, read_bytes_text

CASES = cases()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("window", [True, False], ids=["window", "full"])
def test_case(case: Path, window: bool) -> None:
    text = read_bytes_text(case / "input.yaml")
    edit = load_edit(case)
    refused = case / "refused.txt"
    if refused.exists():
        with pytest.raises(UnsafeEdit) as info:
            apply_edit(text, edit, window=window)
        assert str(info.value) == refused.read_text(encoding="utf-8").strip()
        return
    assert apply_edit(text, edit, window=window) == read_bytes_text(case / "expected.yaml")


SEED = (Path(__file__).parent.parent.parent / "values" / "repositories.yaml").read_text(encoding="utf-8")


def test_wrong_name_at_index_is_refused() -> None:
    with pytest.raises(UnsafeEdit, match="not where the command expected"):
        apply_edit(SEED, SetFields(0, "project-beta-api", max_runners=3))


def test_index_out_of_range_is_refused() -> None:
    with pytest.raises(UnsafeEdit):
        apply_edit(SEED, RemoveEntry(7, "project-beta"))


@pytest.mark.parametrize(
    "text",
    ["repositories: [unclosed\n", "a: b: c\n", "- just\n- a list\n", "repositories: 3\n", ""],
)
def test_unusable_documents_are_refused(text: str) -> None:
    with pytest.raises(UnsafeEdit):
        apply_edit(text, SetFields(0, "x", max_runners=3))


def test_billion_laughs_entry_is_refused_not_expanded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    lines += [
        "repositories:",
        "  - name: bomb",
        "    org: acme",
        "    labels: *a8",
        "    scaling: {minRunners: 0, maxRunners: 1}",
    ]
    with pytest.raises(UnsafeEdit, match="too large"):
        apply_edit("\n".join(lines) + "\n", SetFields(0, "bomb", max_runners=2))


def test_verification_catches_a_block_scalar_it_cannot_extend() -> None:
    text = "repositories:\n  - name: a\n    org: acme\n    notes: |\n      # not a comment\n"
    # Appending after the literal block would land inside it; the check refuses instead.
    try:
        result = apply_edit(text, SetFields(0, "a", max_runners=3))
    except UnsafeEdit:
        return
    assert "maxRunners: 3" in result
