"""A converter process's conversion slots, in two lanes, handed out urgent-first.

- ``total`` conversions run at once; at most ``heavy`` of them may be heavy (``normalize``:
  two passes over the audio, many times a plain job's CPU), so a light job always finds
  room beside heavy ones instead of waiting behind them.
- Urgent waiters (jobs taken over from a dead worker, a retry whose time has come) are
  served before deliveries: they have waited once already, and a burst of new deliveries
  would otherwise keep them waiting for as long as it lasts.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Slot", "Slots"]


@dataclass(eq=False)
class Slot:
    """One conversion slot held; ``release`` it exactly once."""

    heavy: bool
    _owner: Slots = field(repr=False)
    _released: bool = field(default=False, repr=False)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._owner._give_back(self)


@dataclass(eq=False)
class _Waiter:
    heavy: bool
    future: asyncio.Future[Slot]


class Slots:
    def __init__(self, total: int, heavy: int | None = None) -> None:
        if total < 1:
            raise ValueError("a converter needs at least one conversion slot")
        self.total = total
        self.heavy_limit = max(1, min(total, heavy if heavy is not None else max(1, total - 1)))
        self._in_use = 0
        self._heavy_in_use = 0
        self._urgent: deque[_Waiter] = deque()
        self._normal: deque[_Waiter] = deque()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot (deliveries, and jobs taken over or due again)."""
        return sum(not waiter.future.done() for queue in (self._urgent, self._normal) for waiter in queue)

    def full(self, *, heavy: bool = False) -> bool:
        """No slot for a job of this kind right now."""
        return not self._grantable(heavy)

    async def acquire(self, *, heavy: bool = False, urgent: bool = False) -> Slot:
        """A slot for a (heavy) job; urgent callers go before every waiting delivery."""
        if self._grantable(heavy):  # a free slot has no waiter it fits: those get it on release
            return self._grant(heavy)
        waiter = _Waiter(heavy, asyncio.get_running_loop().create_future())
        (self._urgent if urgent else self._normal).append(waiter)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                waiter.future.result().release()  # granted as we were cancelled: pass it on
            else:
                for queue in (self._urgent, self._normal):
                    if waiter in queue:
                        queue.remove(waiter)
            raise

    def _grantable(self, heavy: bool) -> bool:
        return self._in_use < self.total and (not heavy or self._heavy_in_use < self.heavy_limit)

    def _grant(self, heavy: bool) -> Slot:
        self._in_use += 1
        self._heavy_in_use += heavy
        return Slot(heavy, self)

    def _give_back(self, slot: Slot) -> None:
        self._in_use -= 1
        self._heavy_in_use -= slot.heavy
        self._wake()

    def _wake(self) -> None:
        for queue in (self._urgent, self._normal):
            for waiter in list(queue):
                if waiter.future.done():
                    queue.remove(waiter)
                    continue
                if self._grantable(waiter.heavy):
                    queue.remove(waiter)
                    waiter.future.set_result(self._grant(waiter.heavy))
