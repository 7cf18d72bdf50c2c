"""The configuration a replica last read: the one part of what features share that
changes, and only through what its methods say."""

from __future__ import annotations

import pytest

from bot.fleet.config import ConfigFiles
from bot.services import LatestConfig

FILES = ConfigFiles("repositories: []\n", "scaling: {}\n")


def test_what_was_read_is_kept_until_a_change_makes_it_stale() -> None:
    latest = LatestConfig()
    assert (latest.installation, latest.files) == (None, None)
    latest.note(42, FILES)
    assert (latest.installation, latest.files) == (42, FILES)
    latest.forget_files()
    assert (latest.installation, latest.files) == (42, None), "the installation is still the way in"


def test_an_installation_is_learnt_once_and_switched_on_purpose() -> None:
    latest = LatestConfig()
    latest.learn_installation(7)
    latest.learn_installation(8)
    assert latest.installation == 7, "a known installation is kept"
    assert latest.switch_installation(8) and latest.installation == 8
    assert not latest.switch_installation(8), "the same one again changes nothing"


def test_it_changes_only_through_its_methods() -> None:
    latest = LatestConfig()
    with pytest.raises(AttributeError):
        latest.files = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        latest.installation = 1  # type: ignore[misc]
