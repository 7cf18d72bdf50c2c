"""The loops that act on their own (bot.runtime.background): a step when the pause runs
out or when poked, the pause waited out through an injectable sleep, so a test moves
time on instead of waiting for it."""

from __future__ import annotations

import pytest

from bot.runtime.background import Background
from tests.support.waiting import ManualClock, until

pytestmark = pytest.mark.anyio

PAUSE = 600.0


async def test_the_pause_passes_on_the_injected_clock_and_a_poke_cuts_it_short() -> None:
    clock = ManualClock()
    steps: list[bool] = []

    async def step(poked: bool) -> float:
        steps.append(poked)
        return PAUSE

    loop = Background("test", step, sleep=clock.sleep)
    loop.start()
    try:
        await until(lambda: steps == [False] and clock.sleeping == [PAUSE], "the first step, then its pause")
        clock.advance(PAUSE - 1)
        await until(lambda: clock.sleeping == [1.0], "the pause, one second short")
        assert steps == [False], "not before the pause has passed"
        clock.advance(1)
        await until(lambda: steps == [False, False], "the step the pause ends in")
        loop.poke()
        await until(lambda: steps == [False, False, True], "the poked step, without the clock moving")
    finally:
        await loop.stop()
    assert clock.sleeping == [], "stopping ends the pause"
