"""A bound on password hashing, so auth's memory stays within its limit under any load.

Each Argon2id run (a login's check, a new password) holds 64 MiB (argon2-cffi's default
``memory_cost``) while it runs: twenty at once took auth from 85 MB to 479 MB, past its
Kubernetes limit of 384 MiB. Here at most ``concurrency`` run at a time, on threads of their
own, and at most ``queue`` more wait; beyond that a request is refused at once (503 with
``Retry-After``) instead of queueing without end. Two cores hash no faster with more at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["HashingBusy", "HashingSlots"]

T = TypeVar("T")


class HashingBusy(Exception):
    """Too many password checks are already running or waiting: try again in a moment."""


class HashingSlots:
    def __init__(self, concurrency: int = 2, queue: int = 64) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError("password hashing needs at least one thread and a queue of zero or more")
        self._concurrency, self._limit = concurrency, concurrency + queue
        self._executor: ThreadPoolExecutor | None = None
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Runs going on or waiting now."""
        return self._admitted

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on a hashing thread; ``HashingBusy`` when the queue is full."""
        if self._admitted >= self._limit:
            raise HashingBusy
        if self._executor is None:  # made on first use: an app started again after close() works
            self._executor = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="password-hashing")
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._admitted -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
