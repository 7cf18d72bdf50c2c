"""Golden files: a user-facing text must equal its file under tests/golden/, so a change
to a template or to what fills it shows up as a diff. ``UPDATE_GOLDEN=1`` rewrites the
files after an intended change; the diff is reviewed like any other."""

from __future__ import annotations

import os
from pathlib import Path


def golden(path: Path, body: str) -> None:
    """``body`` must equal the golden file at ``path``."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run the test with UPDATE_GOLDEN=1 and review the new file"
    assert body == path.read_text(encoding="utf-8")
