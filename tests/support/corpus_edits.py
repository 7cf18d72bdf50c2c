"""Reading the editor corpus: each case is a folder with input.yaml, edit.json and either
expected.yaml (the exact bytes after the edit) or refused.txt (a refusal is expected)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.fleet.yamledit import AddEntry, Edit, RemoveEntry, SetFields

CORPUS = Path(__file__).parent.parent / "corpus"


def cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_dir())


def read_bytes_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def load_edit(case: Path) -> Edit:
    spec = json.loads((case / "edit.json").read_text(encoding="utf-8"))
    op = spec.pop("op")
    if op == "set":
        return SetFields(**spec)
    if op == "add":
        return AddEntry(spec["data"])
    return RemoveEntry(**spec)
