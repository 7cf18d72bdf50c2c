"""Letting go of a large model a slice at a time.

Freeing a model of 50,000 sets in one ``del`` is one cascade of deallocations in C, 41-44
ms during which the thread doing it holds the GIL, and so the event loop: ``/healthz``
waited for it. Here the model's large lists and dicts are emptied :data:`SLICE` items
at a time from Python, and the interpreter may hand the GIL to another thread between
two slices. Only what nothing else holds is emptied: a part another model still uses
(an edited model shares its origin's indexes and entries) is only let go of, as ``del``
would, and stays whole.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

# Items freed by one call: an entry's data is a few dozen objects, so a slice is well
# under a millisecond's work.
SLICE = 1_000


def _references(obj: object) -> int:
    return sys.getrefcount(obj)


# What the count says of an object held only by the caller's one variable: measured
# here, the same way ``in_slices`` measures, rather than assumed from one interpreter.
_probe = [object()]
_held = _probe.pop()
_ONLY_OURS = _references(_held)
del _probe, _held


def in_slices(held: list[Any]) -> None:
    """Let go of each value in ``held`` (a list only the caller has), emptying the large
    containers inside the ones nothing else references a slice at a time."""
    while held:
        obj = held.pop()
        if _references(obj) > _ONLY_OURS:
            continue  # another holder: letting go only lowers its count
        if isinstance(obj, list) and len(obj) > SLICE:
            while obj:
                del obj[-SLICE:]
        elif isinstance(obj, dict) and len(obj) > SLICE:
            while obj:
                for _ in range(min(SLICE, len(obj))):
                    obj.popitem()
        else:
            held.extend(_parts(obj))
        del obj  # its own fields go now; the parts taken out are freed on later turns


def _parts(obj: object) -> list[Any]:
    """The containers inside ``obj`` where a large one may be: a dataclass's fields (and
    cached properties), a small mapping's values, a small list's or tuple's items."""
    if isinstance(obj, dict):
        found = list(obj.values())
    elif isinstance(obj, list | tuple):
        found = list(obj)
    elif dataclasses.is_dataclass(obj):
        # Fields, and what cached properties stored beside them (a Config's indexes).
        fields = {f.name for f in dataclasses.fields(obj)}
        found = [getattr(obj, name) for name in fields]
        found += [value for name, value in getattr(obj, "__dict__", {}).items() if name not in fields]
    else:
        return []
    return [part for part in found if isinstance(part, list | tuple | dict) or dataclasses.is_dataclass(part)]
