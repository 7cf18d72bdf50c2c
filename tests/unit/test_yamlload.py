"""The loader builds exactly what PyYAML's safe loader builds, plus lines and duplicates."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import yaml

from bot.fleet import yamlload
from bot.fleet.yamlload import LineMap, YamlError, load
from tests.support.app import ROOT
from tests.support.fleets import fleet

CORPUS = sorted((ROOT / "tests" / "corpus").glob("*/input.yaml"))
MERGES = """\
x-base: &base {minRunners: 1, maxRunners: 5, profile: small}
x-more: &more {profile: large, extra: [1, 2]}
repositories:
  - <<: *base
    name: a
  - <<: [*more, *base]
    name: b
    maxRunners: 9
  - {name: "on", org: 'y', n: ~, f: 1.5, i: 0x1f, o: 017, d: 2026-11-27, b: yes}
"""


@pytest.mark.parametrize(
    "path",
    [*CORPUS, ROOT / "values" / "repositories.yaml", ROOT / "values" / "base-config.yaml"],
    ids=lambda p: str(Path(p).relative_to(ROOT)),
)
def test_same_data_as_pyyaml(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load(text).data == yaml.load(text, Loader=yaml.CSafeLoader)


def test_merge_keys_aliases_and_yaml_11_scalars_as_pyyaml() -> None:
    data, expected = load(MERGES).data, yaml.load(MERGES, Loader=yaml.CSafeLoader)
    # One difference, on purpose: with `<<: [*a, *b]` the YAML merge spec (and Go YAML,
    # which Helm reads these files with) lets keys of earlier maps win; PyYAML lets later ones.
    assert data["repositories"][1].pop("profile") == "large" and expected["repositories"][1].pop("profile") == "small"
    assert data == expected


def test_lines_and_duplicates_are_kept() -> None:
    loaded = load("a: 1\nb:\n  c: 2\n  c: 3\n")
    data = loaded.data
    assert isinstance(data, LineMap) and data.line_of("b") == 2 and data["b"].line_of("c") == 3
    assert data["b"]["c"] == 3 and loaded.duplicates == [(4, "c")]


@pytest.mark.parametrize("text", ["a: [1\n", "? [a, b]\n: 1\n", "<<: 1\n"])
def test_unreadable_yaml_is_an_error_with_a_line(text: str) -> None:
    with pytest.raises(YamlError) as error:
        load(text)
    assert error.value.line >= 1 and "not valid YAML" in error.value.message


def test_a_file_over_the_limit_is_refused_as_too_large_not_as_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlload, "MAX_BYTES", 1024)
    with pytest.raises(yamlload.TooLarge) as error:
        load("repositories:\n" + "  - name: a\n" * 200)
    assert "not valid YAML" not in error.value.message and "runners-bot reads" in error.value.message


def test_a_50000_entry_fleet_is_under_the_limit() -> None:
    assert len(fleet(50_000, (ROOT / "values" / "repositories.yaml").read_text(encoding="utf-8"))) < yamlload.MAX_BYTES


def test_loads_keep_nothing_beyond_their_bound() -> None:
    load.cache_clear()
    texts = [f"a: {i}\nb: [1, 2]\nc: 2026-11-27\nd: " + "x" * 200_000 for i in range(60)]
    for text in texts:
        assert load(text).data["a"] < 60
    # Every scalar the constructor built was once remembered by it for good (a leak).
    assert not yamlload._SCALARS.constructed_objects
    assert load.weight <= yamlload.LOADS_KEPT and len(load.kept) < len(texts)


def test_loaded_data_is_out_of_the_collectors_walks_unless_it_holds_a_cycle() -> None:
    plain = load(MERGES + "# untracked\n").data
    assert not gc.is_tracked(plain) and not gc.is_tracked(plain["repositories"][1])
    # An alias inside its own anchor is a cycle: only the collector can free it, so the
    # loader leaves it (and what is completed after it) tracked.
    cyclic = load("a: &x [1, *x]\nb: {c: 1}\n").data
    assert cyclic["a"][1] is cyclic["a"]
    assert gc.is_tracked(cyclic["a"]) and gc.is_tracked(cyclic)
