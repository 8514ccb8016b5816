"""Waiting one's turn for a slot that another holder hands over: a FIFO of waiters, safe to cancel.

Both the pool's per-function slots and the account's unreserved concurrency pass a freed slot
straight to the oldest waiter rather than back to a counter, so a steady stream of new arrivals
cannot overtake the ones already waiting.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Callable


class Turns:
    """The waiters for a slot, oldest first."""

    def __init__(self) -> None:
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def __len__(self) -> int:
        return len(self._waiters)

    async def wait(self, give_back: Callable[[], None]) -> None:
        """Wait until a slot is handed over; ``give_back`` returns it if the waiter leaves just then."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                give_back()  # the slot was handed over just as the waiter left
            else:
                self._waiters.remove(waiter)
            raise

    def hand_over(self) -> bool:
        """Give a freed slot to the oldest waiter still waiting; False if there is none."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return True
        return False

    def cancel_all(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
