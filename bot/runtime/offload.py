"""The fleet's CPU work (parsing the values files, deciding a comment, rendering the
dashboard), run off the event loop on one thread of its own; and work on large bodies
(hashing, encoding a values file) on a thread, so the loop never holds it.

Seconds of it at 50,000 sets on the loop kept webhooks and ``/healthz`` waiting (a
liveness probe's 1 s timeout restarted the pod). One thread, not a pool: two parses of
a large file at once would hold two models (the memory limit), and each pool thread
would keep its own malloc arena of freed text buffers.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-cpu")
# The loop takes the GIL back from the worker within 1 ms instead of 5 (Python's default
# switch interval): a request that hands it back and forth a few times still answers
# in milliseconds while a large file is parsed.
SWITCH_INTERVAL = 0.001


def start() -> None:
    """Set the switch interval and the allocator (once, at the server's start)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    _allocator_for_large_texts()


def settle() -> None:
    """Once the app is built, before it serves: what the process holds to run (modules,
    the app and its clients: tens of thousands of objects) frozen out of the cyclic
    collector's full passes, each of which walked all of it holding the GIL, and so the
    event loop (15-58 ms measured at 50,000 sets). Collected first, so nothing waiting to
    be freed is frozen; never again later, when a freeze would also catch requests in
    flight (an HTTP response is a cycle: frozen, it and its body would never be freed)."""
    gc.collect()
    gc.freeze()


def _allocator_for_large_texts() -> None:
    """glibc raises its mmap threshold to the size of the largest block freed (up to 32
    MiB), after which every new copy of a 15 MB values file comes from the heap, where
    what is freed stays resident: serve grew with each merge. A fixed threshold gives
    such blocks back when freed; two arenas stop each thread keeping its own."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc (musl, macOS): nothing to tune
    m_mmap_threshold, m_arena_max = -3, -8  # glibc's malloc.h
    libc.mallopt(m_mmap_threshold, 128 * 1024)
    libc.mallopt(m_arena_max, 2)


async def run(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function(*args, **kwargs)`` on the worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_WORKER, functools.partial(function, *args, **kwargs))


# A values file of 50,000 sets is 15 MB: hashing, decoding or base64 of it took tens of
# milliseconds each on the event loop (``/healthz`` waited 245 ms). Not on the fleet's
# worker, which may be parsing for seconds: these are short, and hashlib releases the
# GIL while it hashes.
LARGE_BODY = 256 * 1024


async def large(function: Callable[..., R], *args: Any, size: int) -> R:
    """``function(*args)`` on a thread when it works on more than LARGE_BODY bytes (``size``)."""
    return await asyncio.to_thread(function, *args) if size > LARGE_BODY else function(*args)
