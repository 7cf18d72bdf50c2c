"""Keeping a values model out of the cyclic garbage collector's walks.

Every collection holds the GIL, the event loop's too, for as long as it walks its
generations. A model of 50,000 sets is about 460,000 containers (mappings, lists,
entries, the indexes) that hold no cycles and live until the next merge: each walk of
the collector over it stopped ``/healthz`` for 50-200 ms, whether the full passes or one
collection of the fresh model before freezing it (and a freeze also keeps, for good,
whatever cyclic garbage waits then: an HTTP response and its body are a cycle).
So each container is taken out of the collector's set as soon as it is complete: no pass
ever walks it, reference counting frees it as before. Only containers that cannot be in
a cycle may be: one that is would never be freed.
"""

from __future__ import annotations

import ctypes
import gc
from typing import TypeVar

T = TypeVar("T")

# CPython's own call for the same purpose (Include/objimpl.h); safe on an object that is
# no longer tracked, and a dict given a tracked value later is tracked again.
_UNTRACK = ctypes.pythonapi.PyObject_GC_UnTrack
_UNTRACK.argtypes = [ctypes.py_object]
_UNTRACK.restype = None


def untracked(container: T) -> T:
    """``container``, which holds no reference cycle, no longer walked by the collector."""
    # is_tracked is False for objects without the collector's header (str, int): those
    # must never reach the C call.
    if gc.is_tracked(container):
        _UNTRACK(container)
    return container
