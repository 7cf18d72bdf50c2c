"""Shared test setup: the repository root and the bundled values files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(Path(__file__).parent))

from bot.config import ConfigFiles  # noqa: E402


@pytest.fixture
def bundled() -> ConfigFiles:
    return ConfigFiles.read(ROOT)
