"""An evicted model is let go of a slice at a time, and only what nothing else holds is
emptied: a model still in use, or a part another model shares, stays whole."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.fleet import config, release, yamlload
from bot.fleet.memo import Bounded
from tests.support.fleets import fleet


class _Slices(list[Any]):
    """A list that notes how many items each deletion frees."""

    deleted: list[int]

    def __delitem__(self, index: Any) -> None:
        before = len(self)
        super().__delitem__(index)
        _Slices.deleted.append(before - len(self))


@dataclasses.dataclass(frozen=True)
class _Model:
    items: list[Any]
    small: dict[str, Any]


@pytest.fixture(autouse=True)
def notes() -> None:
    _Slices.deleted = []


def test_an_evicted_value_is_emptied_a_slice_at_a_time() -> None:
    memo = Bounded(lambda n: _Model(_Slices(range(n)), {"inner": _Slices(range(n))}), 10, lambda n: 10)
    memo(5 * release.SLICE)
    memo(1)  # no room for both: the first is evicted
    assert sum(_Slices.deleted) == 2 * 5 * release.SLICE
    assert max(_Slices.deleted) == release.SLICE


def test_a_value_someone_still_holds_is_left_whole() -> None:
    memo = Bounded(lambda n: _Model(_Slices(range(n)), {}), 10, lambda n: 10)
    kept = memo(5 * release.SLICE)
    shared = _Slices(range(5 * release.SLICE))
    held = [_Model(shared, {})]
    memo(1)
    release.in_slices(held)
    assert _Slices.deleted == []
    assert len(kept.items) == len(shared) == 5 * release.SLICE


def test_an_edited_model_outlives_its_evicted_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release, "SLICE", 50)
    root = Path(__file__).parents[2]
    bundled = (root / "values" / "repositories.yaml").read_text()
    base = config.ConfigFiles.read(root).base
    config.parse.cache_clear()
    yamlload.load.cache_clear()
    origin = config.parse(fleet(400, bundled), base)
    assert origin.named("service-00123")  # the indexes an edited model builds on
    edited = origin.edited(origin.repositories_text, 123, origin.entries[123].raw)
    del origin
    opened: list[type] = []
    parts = release._parts

    def noting(obj: object) -> list[Any]:
        opened.append(type(obj))
        return parts(obj)

    monkeypatch.setattr(release, "_parts", noting)
    monkeypatch.setattr(config.parse, "budget", 0)  # the next parse evicts the origin
    config.parse(fleet(3, bundled), base)
    assert config.Config in opened  # nothing else held the origin: it was taken apart
    assert len(edited.entries) == 400
    assert [e.name for e in edited.named("service-00123")] == ["service-00123"]
    assert [e.name for e in edited.named("service-00399")] == ["service-00399"]
    assert len(edited.repositories.data["repositories"]) == 400
