"""Conversion slots: two lanes (heavy jobs capped), urgent waiters first."""

from __future__ import annotations

import asyncio

import pytest

from converter.slots import Slots


async def test_heavy_jobs_leave_room_for_a_light_one() -> None:
    slots = Slots(2, heavy=1)
    heavy = await slots.acquire(heavy=True)
    assert slots.full(heavy=True)
    assert not slots.full()
    second_heavy = asyncio.create_task(slots.acquire(heavy=True))
    await asyncio.sleep(0)
    light = await asyncio.wait_for(slots.acquire(), 1)  # not behind the waiting heavy job
    assert not second_heavy.done()
    light.release()
    await asyncio.sleep(0)
    assert not second_heavy.done()  # the heavy lane is still full
    heavy.release()
    (await asyncio.wait_for(second_heavy, 1)).release()
    assert slots.in_use == 0


async def test_urgent_waiters_get_the_next_free_slot_before_deliveries() -> None:
    slots = Slots(1)
    held = await slots.acquire()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        slot = await slots.acquire(urgent=urgent)
        order.append(name)
        slot.release()

    waiting = [asyncio.create_task(take("delivery", False)), asyncio.create_task(take("taken over", True))]
    await asyncio.sleep(0)
    held.release()
    await asyncio.gather(*waiting)
    assert order == ["taken over", "delivery"]


async def test_a_cancelled_waiter_takes_no_slot_with_it() -> None:
    slots = Slots(1)
    held = await slots.acquire()
    waiting = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    held.release()
    held.release()  # a second release changes nothing
    assert slots.in_use == 0
    (await asyncio.wait_for(slots.acquire(), 1)).release()


def test_a_converter_has_at_least_one_slot_and_a_heavy_lane() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Slots(0)
    assert Slots(1).heavy_limit == 1
    assert Slots(4).heavy_limit == 3
    assert Slots(2, heavy=5).heavy_limit == 2


async def test_the_waiters_are_counted_until_served_or_gone() -> None:
    slots = Slots(1)
    held = await slots.acquire()
    served, gone = asyncio.create_task(slots.acquire()), asyncio.create_task(slots.acquire(urgent=True))
    await asyncio.sleep(0)
    assert (slots.in_use, slots.waiting) == (1, 2)
    gone.cancel()
    await asyncio.sleep(0)
    assert slots.waiting == 1
    held.release()
    (await asyncio.wait_for(served, 1)).release()
    assert (slots.in_use, slots.waiting) == (0, 0)
