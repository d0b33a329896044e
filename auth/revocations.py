"""MySQL adapter of the auth service: the revocation log that verifiers follow.

An access token is checked by its verifier (the gateway) alone, against the published keys, so
ending a session in MySQL does not stop the access tokens already issued for it. Each ended
session is therefore recorded here, numbered, until its last access token has expired; the
gateway follows the numbers (``GET /v1/revocations?after=N``) every second or so and refuses
tokens of the sessions listed. A restarted gateway reads the whole log again, so it forgets
nothing. API keys can be revoked through the same log (subjects ``key:<id>``).

Numbers are handed out by one counter row that each revocation holds until it commits, so they
become visible in order: a follower that has seen number N has seen every number below it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mysql.connector.aio.abstracts import MySQLCursorAbstract

from auth.database import Database
from auth.sessions import SessionHooks

__all__ = ["Revocation", "Revocations", "session_subject"]

_PRUNE_LIMIT = 5000


def session_subject(session_id: uuid.UUID) -> str:
    return f"session:{session_id}"


@dataclass(frozen=True)
class Revocation:
    seq: int
    subject: str
    revoked_at: float
    expires_at: float


class Revocations(SessionHooks):
    def __init__(
        self, database: Database, *, margin_seconds: float = 120.0, clock: Callable[[], float] = time.time
    ) -> None:
        """``margin_seconds``: kept this long past the credentials' expiry, for verifiers that take
        tokens a little past ``exp`` (clock leeway) or whose clock runs behind."""
        self._database, self._margin, self._clock = database, margin_seconds, clock

    async def sessions_ended(
        self, cursor: MySQLCursorAbstract, access_until: Mapping[uuid.UUID, float], now: float
    ) -> None:
        await self.record(cursor, {session_subject(sid): until for sid, until in access_until.items()}, now)

    async def record(self, cursor: MySQLCursorAbstract, valid_until: Mapping[str, float], now: float) -> None:
        """Revoke ``valid_until``'s subjects (each until its credentials expire), in the caller's
        transaction: they are seen when, and only if, it commits."""
        if not valid_until:
            return
        # holds the counter row until the caller commits; LAST_INSERT_ID(expr) hands back the
        # new value to this connection alone
        await cursor.execute(
            "UPDATE revocation_sequence SET last = LAST_INSERT_ID(last + %s) WHERE id = 1", (len(valid_until),)
        )
        await cursor.execute("SELECT LAST_INSERT_ID()")
        row: Any = await cursor.fetchone()
        last = int(row[0])
        first = last - len(valid_until) + 1
        await cursor.executemany(
            "INSERT INTO revocations (seq, subject, revoked_at, expires_at) VALUES (%s, %s, %s, %s)",
            [
                (seq, subject, now, until + self._margin)
                for seq, (subject, until) in enumerate(valid_until.items(), start=first)
            ],
        )

    async def revoke(self, valid_until: Mapping[str, float]) -> None:
        """Revoke subjects in a transaction of their own."""
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            await self.record(cursor, valid_until, self._clock())

    async def after(self, seq: int, limit: int) -> list[Revocation]:
        """Revocations numbered above ``seq``, in order, at most ``limit``."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT seq, subject, revoked_at, expires_at FROM revocations WHERE seq > %s ORDER BY seq LIMIT %s",
                (seq, limit),
            )
            rows: Any = await cursor.fetchall()
        return [Revocation(int(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]

    async def last(self) -> int:
        """The number of the last revocation recorded (0 before the first)."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("SELECT last FROM revocation_sequence WHERE id = 1")
            row: Any = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def prune(self) -> int:
        """Remove revocations whose credentials have all expired; how many."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "DELETE FROM revocations WHERE expires_at <= %s LIMIT %s", (self._clock(), _PRUNE_LIMIT)
            )
            return int(cursor.rowcount)
