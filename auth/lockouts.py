"""MySQL adapter of the auth service: consecutive login failures per account, for lockouts.

Stored in MySQL so a lock holds across auth processes and restarts. Each attempt is counted
in a transaction holding the account's row lock, so concurrent attempts on one account are
counted one after another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from auth.database import Database
from auth.throttling import Failures, LockoutPolicy

__all__ = ["Lockouts"]

log = logging.getLogger(__name__)

_PRUNE_EVERY_SECONDS = 600.0
_PLACEHOLDER_SECONDS = 600.0  # an empty row kept this long is no attempt's, and pruned


def _failures(row: Any) -> Failures | None:
    if row is None:
        return None
    count, locked_until, forget_at = row
    return Failures(int(count), float(locked_until), float(forget_at))


class Lockouts:
    def __init__(self, database: Database, policy: LockoutPolicy, *, clock: Callable[[], float] = time.time) -> None:
        self._database, self._policy, self._clock = database, policy, clock
        self._pruned_at = -float("inf")

    @property
    def policy(self) -> LockoutPolicy:
        return self._policy

    async def begin_attempt(self, account: bytes) -> float | None:
        """Count an attempt on ``account``; if it is locked, count nothing and return the seconds left."""
        await self._prune(self._clock())
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            # the row exists before the transaction locks it: two first attempts then wait on a
            # row lock instead of deadlocking over the gap an absent row leaves
            await cursor.execute(
                "INSERT IGNORE INTO login_failures (account, failures, locked_until, forget_at) VALUES (%s, 0, 0, %s)",
                (account, self._clock() + _PLACEHOLDER_SECONDS),
            )
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT failures, locked_until, forget_at FROM login_failures WHERE account = %s FOR UPDATE",
                (account,),
            )
            row = await cursor.fetchone()
            now = self._clock()  # once the row is ours: attempts that waited for it see the time they got it
            failures = _failures(row)
            if (retry_after := self._policy.retry_after(failures, now)) is not None:
                return retry_after
            counted = self._policy.after_attempt(failures, now)
            await cursor.execute(
                "UPDATE login_failures SET failures = %s, locked_until = %s, forget_at = %s WHERE account = %s"
                if row is not None
                else "INSERT INTO login_failures (failures, locked_until, forget_at, account) VALUES (%s, %s, %s, %s)",
                (counted.count, counted.locked_until, counted.forget_at, account),
            )
        if counted.locked_until:
            # the account's key, not its email: it may be anyone's address, typed by a guesser
            log.warning(
                "account %s locked for %.0f s after %d failures in a row",
                account.hex()[:16],
                counted.locked_until - now,
                counted.count,
            )
        return None

    async def forgive(self, account: bytes) -> None:
        """The attempt succeeded: forget the account's failures."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("DELETE FROM login_failures WHERE account = %s", (account,))

    async def failures(self, account: bytes) -> Failures | None:
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT failures, locked_until, forget_at FROM login_failures WHERE account = %s", (account,)
            )
            row = await cursor.fetchone()
        return self._policy.current(_failures(row), self._clock())

    async def _prune(self, now: float) -> None:
        """Drop forgotten rows now and then: guesses at random emails would otherwise pile up."""
        if now - self._pruned_at < _PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("DELETE FROM login_failures WHERE forget_at <= %s LIMIT 10000", (now,))
