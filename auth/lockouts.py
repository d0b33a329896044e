"""MySQL adapter of the auth service: failed logins per account and per account and address,
and the addresses each account logged in from (see ``auth.throttling`` for the rules).

Stored in MySQL so the limits hold across auth processes and restarts. Each attempt is counted
in one transaction holding both rows' locks (the account's first, always), so concurrent
attempts are counted one after another and never deadlock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from mysql.connector.aio.abstracts import MySQLCursorAbstract

from auth.database import Database
from auth.throttling import Attempt, Failures, GuessingPolicy, TooManyAttempts

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
    def __init__(self, database: Database, policy: GuessingPolicy, *, clock: Callable[[], float] = time.time) -> None:
        self._database, self._policy, self._clock = database, policy, clock
        self._pruned_at = -float("inf")

    @property
    def policy(self) -> GuessingPolicy:
        return self._policy

    async def begin_attempt(self, attempt: Attempt) -> TooManyAttempts | None:
        """Count an attempt, or count nothing and say why it is refused."""
        await self._prune(self._clock())
        keys = (attempt.account, attempt.address)
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            # the rows exist before the transaction locks them: two first attempts then wait on a
            # row lock instead of deadlocking over the gap an absent row leaves
            await cursor.execute(
                "INSERT IGNORE INTO login_failures (account, failures, locked_until, forget_at)"
                " VALUES (%s, 0, 0, %s), (%s, 0, 0, %s)",
                (
                    attempt.account,
                    self._clock() + _PLACEHOLDER_SECONDS,
                    attempt.address,
                    self._clock() + _PLACEHOLDER_SECONDS,
                ),
            )
            known = await self._known(cursor, attempt.address)
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            account, address = [await self._lock(cursor, key) for key in keys]  # the account's first
            now = self._clock()  # once the rows are ours: attempts that waited see the time they got them
            if (refusal := self._policy.refusal(account, address, known=known, now=now)) is not None:
                return refusal
            counted = (
                self._policy.per_account.after_attempt(account, now),
                self._policy.per_address.after_attempt(address, now),
            )
            for key, failures in zip(keys, counted, strict=True):
                await cursor.execute(
                    "UPDATE login_failures SET failures = %s, locked_until = %s, forget_at = %s WHERE account = %s",
                    (failures.count, failures.locked_until, failures.forget_at, key),
                )
        if counted[1].locked_until:
            # keys, not the email or address: they may be anyone's, typed by a guesser
            log.warning(
                "account %s locked for address %s for %.0f s after %d failures in a row",
                attempt.account.hex()[:16],
                attempt.address.hex()[:16],
                counted[1].locked_until - now,
                counted[1].count,
            )
        elif counted[0].locked_until and counted[0].count == self._policy.per_account.threshold:
            log.warning(
                "account %s slowed for new addresses after %d failures", attempt.account.hex()[:16], counted[0].count
            )
        return None

    async def _lock(self, cursor: MySQLCursorAbstract, key: bytes) -> Failures | None:
        await cursor.execute(
            "SELECT failures, locked_until, forget_at FROM login_failures WHERE account = %s FOR UPDATE", (key,)
        )
        return _failures(await cursor.fetchone())

    async def _known(self, cursor: MySQLCursorAbstract, address: bytes) -> bool:
        await cursor.execute("SELECT last_success FROM login_addresses WHERE address = %s", (address,))
        row: Any = await cursor.fetchone()
        return row is not None and float(row[0]) > self._clock() - self._policy.known_address_seconds

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the failures in a row end (the account's and this address's),
        and the address is remembered as one the account logs in from."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "DELETE FROM login_failures WHERE account IN (%s, %s)", (attempt.account, attempt.address)
            )
            await cursor.execute(
                "INSERT INTO login_addresses (address, last_success) VALUES (%s, %s)"
                " ON DUPLICATE KEY UPDATE last_success = VALUES(last_success)",
                (attempt.address, self._clock()),
            )

    async def failures(self, key: bytes) -> Failures | None:
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT failures, locked_until, forget_at FROM login_failures WHERE account = %s", (key,)
            )
            row = await cursor.fetchone()
        return _failures(row)

    async def _prune(self, now: float) -> None:
        """Drop forgotten rows now and then: guesses at random emails would otherwise pile up."""
        if now - self._pruned_at < _PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("DELETE FROM login_failures WHERE forget_at <= %s LIMIT 10000", (now,))
            await cursor.execute(
                "DELETE FROM login_addresses WHERE last_success <= %s LIMIT 10000",
                (now - self._policy.known_address_seconds,),
            )
