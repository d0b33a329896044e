"""MySQL adapter of the auth service: sessions and their refresh tokens (hashed).

Every path that changes a session locks its row first (``SELECT ... FOR UPDATE`` on
``sessions``) and its tokens after, so rotation, logout and revocation never deadlock each
other. What a presented token is worth is decided by ``auth.refresh.judge``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mysql.connector.aio.abstracts import MySQLCursorAbstract

from auth.database import Database
from auth.refresh import (
    IssuedRefresh,
    RefreshPolicy,
    SessionEnded,
    SessionState,
    TokenState,
    Verdict,
    WhyEnded,
    judge,
    new_refresh_token,
    refresh_token_hash,
)
from auth.users import User

__all__ = ["SessionHooks", "Sessions"]

log = logging.getLogger(__name__)

_PRUNE_LIMIT = 5000
_KEEP_ENDED_SECONDS = 86400.0  # an ended session's row is kept a day: its tokens then say why they fail


class SessionHooks:
    """Called inside the transaction that ends sessions (``auth.revocations`` records them there,
    so an ended session's access tokens stop too)."""

    async def sessions_ended(
        self, cursor: MySQLCursorAbstract, access_until: Mapping[uuid.UUID, float], now: float
    ) -> None:
        """``access_until``: each ended session whose access tokens are not all expired yet, and
        when the last of them expires. Nothing by default."""


def _session(row: Any) -> SessionState | None:
    if row is None:
        return None
    user_id, expires_at, ended_at, ended_why = row
    return SessionState(
        int(user_id),
        float(expires_at),
        None if ended_at is None else float(ended_at),
        None if ended_why is None else WhyEnded(str(ended_why)),
    )


def _ids(rows: Any) -> list[bytes]:
    return [bytes(row[0]) for row in rows]


class Sessions:
    def __init__(
        self,
        database: Database,
        policy: RefreshPolicy,
        *,
        hooks: SessionHooks | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database, self._policy, self._clock = database, policy, clock
        self._hooks = hooks or SessionHooks()

    @property
    def policy(self) -> RefreshPolicy:
        return self._policy

    async def start(self, user: User) -> IssuedRefresh | None:
        """A new session for ``user``, or ``None`` if the user changed since ``user`` was read
        (disabled, deleted, or given a new password): a login racing those must not outlive them."""
        session_id, token, now = uuid.uuid4(), new_refresh_token(), self._clock()
        session_expires = now + self._policy.session_seconds
        expires_at = self._policy.token_expiry(session_expires, now)
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "INSERT INTO sessions (id, user_id, created_at, expires_at, access_until)"
                " SELECT %s, id, %s, %s, %s FROM users WHERE id = %s AND is_active AND password_hash = %s",
                (
                    session_id.bytes,
                    now,
                    session_expires,
                    now + self._policy.access_seconds,
                    user.id,
                    user.password_hash,
                ),
            )
            if cursor.rowcount != 1:
                return None
            await cursor.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (%s, %s, %s, %s)",
                (refresh_token_hash(token), session_id.bytes, now, expires_at),
            )
            await self._end_beyond_limit(cursor, user.id, now)
        return IssuedRefresh(session_id, user.id, token, expires_at)

    async def _end_beyond_limit(self, cursor: MySQLCursorAbstract, user_id: int, now: float) -> None:
        await cursor.execute(
            "SELECT id FROM sessions WHERE user_id = %s AND ended_at IS NULL AND expires_at > %s"
            " ORDER BY created_at DESC, id LIMIT 1000 OFFSET %s",
            (user_id, now, self._policy.per_user),
        )
        crowded = _ids(await cursor.fetchall())
        if crowded:
            await self._end(cursor, crowded, WhyEnded.CROWDED, now)

    async def rotate(self, token: str) -> IssuedRefresh:
        """The next refresh token of ``token``'s session; ``SessionEnded`` if it earns none (a
        reused token ends its session before that is raised)."""
        token_hash = refresh_token_hash(token)
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("SELECT session_id FROM refresh_tokens WHERE token_hash = %s", (token_hash,))
            row: Any = await cursor.fetchone()
        if row is None:
            raise SessionEnded(WhyEnded.UNKNOWN)
        session_id = bytes(row[0])
        issued: IssuedRefresh | None = None
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            session = await self._lock_session(cursor, session_id)
            await cursor.execute(
                "SELECT expires_at, rotated_at FROM refresh_tokens WHERE token_hash = %s FOR UPDATE", (token_hash,)
            )
            token_row: Any = await cursor.fetchone()
            if session is None or token_row is None:  # pruned meanwhile
                raise SessionEnded(WhyEnded.UNKNOWN)
            now = self._clock()
            expires_at, rotated_at = token_row
            state = TokenState(float(expires_at), None if rotated_at is None else float(rotated_at))
            verdict = judge(session, state, now, self._policy)
            if verdict is Verdict.REUSED:
                await self._end(cursor, [session_id], WhyEnded.REUSE, now)
            elif verdict in (Verdict.ROTATE, Verdict.SIBLING):
                if verdict is Verdict.ROTATE:
                    await cursor.execute(
                        "UPDATE refresh_tokens SET rotated_at = %s WHERE token_hash = %s", (now, token_hash)
                    )
                await cursor.execute(
                    "UPDATE sessions SET access_until = %s WHERE id = %s",
                    (now + self._policy.access_seconds, session_id),
                )
                successor = new_refresh_token()
                successor_expires = self._policy.token_expiry(session.expires_at, now)
                await cursor.execute(
                    "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at)"
                    " VALUES (%s, %s, %s, %s)",
                    (refresh_token_hash(successor), session_id, now, successor_expires),
                )
                issued = IssuedRefresh(uuid.UUID(bytes=session_id), session.user_id, successor, successor_expires)
        if issued is not None:
            return issued
        if verdict is Verdict.REUSED:
            # the session id, not the token or the user's email: enough to find it in the table
            log.warning("refresh token reused: session %s of user %s ended", session_id.hex(), session.user_id)
            raise SessionEnded(WhyEnded.REUSE)
        if verdict is Verdict.ENDED:
            raise SessionEnded(session.ended_why or WhyEnded.REVOKED)
        raise SessionEnded(WhyEnded.EXPIRED)

    async def _lock_session(self, cursor: MySQLCursorAbstract, session_id: bytes) -> SessionState | None:
        await cursor.execute(
            "SELECT user_id, expires_at, ended_at, ended_why FROM sessions WHERE id = %s FOR UPDATE", (session_id,)
        )
        return _session(await cursor.fetchone())

    async def end(self, session_id: uuid.UUID, why: WhyEnded) -> None:
        """End one session (its user was found disabled or gone at a refresh)."""
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            session = await self._lock_session(cursor, session_id.bytes)
            if session is not None and session.ended_at is None:
                await self._end(cursor, [session_id.bytes], why, self._clock())

    async def end_by_token(self, token: str, why: WhyEnded = WhyEnded.LOGOUT) -> uuid.UUID | None:
        """End the session of ``token`` (whether or not the token was rotated); its id, if any."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT session_id FROM refresh_tokens WHERE token_hash = %s", (refresh_token_hash(token),)
            )
            row: Any = await cursor.fetchone()
        if row is None:
            return None
        session_id = uuid.UUID(bytes=bytes(row[0]))
        await self.end(session_id, why)
        return session_id

    async def end_all(self, user_id: int, why: WhyEnded) -> int:
        """End every session of a user; how many were going."""
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            now = self._clock()
            await cursor.execute(
                "SELECT id FROM sessions WHERE user_id = %s AND ended_at IS NULL ORDER BY id FOR UPDATE", (user_id,)
            )
            session_ids = _ids(await cursor.fetchall())
            if session_ids:
                await self._end(cursor, session_ids, why, now)
        return len(session_ids)

    async def _end(self, cursor: MySQLCursorAbstract, session_ids: Sequence[bytes], why: WhyEnded, now: float) -> None:
        """End sessions whose rows this transaction holds."""
        placeholders = ", ".join(["%s"] * len(session_ids))
        await cursor.execute(
            f"SELECT id, access_until FROM sessions WHERE id IN ({placeholders}) AND ended_at IS NULL",  # noqa: S608 (placeholders only)
            tuple(session_ids),
        )
        rows: Any = await cursor.fetchall()
        access_until = {uuid.UUID(bytes=bytes(row[0])): float(row[1]) for row in rows if float(row[1]) > now}
        await cursor.execute(
            f"UPDATE sessions SET ended_at = %s, ended_why = %s WHERE id IN ({placeholders}) AND ended_at IS NULL",  # noqa: S608
            (now, why.value, *session_ids),
        )
        if access_until:
            await self._hooks.sessions_ended(cursor, access_until, now)

    async def going(self, session_id: uuid.UUID) -> bool:
        """Whether the session has neither ended nor expired."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT 1 FROM sessions WHERE id = %s AND ended_at IS NULL AND expires_at > %s",
                (session_id.bytes, self._clock()),
            )
            return await cursor.fetchone() is not None

    async def active(self, user_id: int) -> int:
        """How many sessions of the user are going."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT COUNT(*) FROM sessions WHERE user_id = %s AND ended_at IS NULL AND expires_at > %s",
                (user_id, self._clock()),
            )
            (count,) = await cursor.fetchone() or (0,)
        return int(str(count))

    async def prune(self) -> int:
        """Remove expired refresh tokens, expired sessions and sessions ended a day ago; how many rows."""
        now = self._clock()
        removed = 0
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("DELETE FROM refresh_tokens WHERE expires_at <= %s LIMIT %s", (now, _PRUNE_LIMIT))
            removed += cursor.rowcount
            # an ended session's tokens go with it (ON DELETE CASCADE); two statements, so
            # each uses its own index
            await cursor.execute("DELETE FROM sessions WHERE expires_at <= %s LIMIT %s", (now, _PRUNE_LIMIT))
            removed += cursor.rowcount
            await cursor.execute(
                "DELETE FROM sessions WHERE ended_at <= %s LIMIT %s", (now - _KEEP_ENDED_SECONDS, _PRUNE_LIMIT)
            )
            removed += cursor.rowcount
        return removed
