"""API keys: long-lived credentials for programs, each a user's own, limited to scopes.

A key reads ``vmk_<id>_<secret>``: ``id`` (12 hex digits, random) finds its row by primary key,
``secret`` (256 random bits) proves it. Only the secret's SHA-256 is stored: the secret is
random, not a password, so a fast hash leaves nothing to guess, and the key is shown once, at
creation. Keys never carry the admin role.

Verifiers (the gateway) ask ``verify`` and keep the answer a few seconds; revoking a key also
records ``key:<id>`` in the revocation log (``auth.revocations``), which they follow every
second, so a revoked key stops within about a second whatever they cached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mysql.connector.aio.abstracts import MySQLCursorAbstract

from auth.database import Database
from auth.revocations import Revocations

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "ApiKey",
    "ApiKeys",
    "IssuedKey",
    "KeyHolder",
    "KeyRefused",
    "TooManyKeys",
    "UnknownKey",
    "WhyRefused",
    "key_subject",
    "new_key",
    "parse_key",
    "secret_hash",
]

KEY_PREFIX = "vmk"
SCOPES = ("jobs:read", "jobs:write")
"""What a key may be allowed: reading jobs (status, lists, downloads) and writing them
(uploads, cancel, delete). Nothing else: never the admin's rights, never managing keys."""

_ID_BYTES = 6
_SECRET_BYTES = 32
_KEEP_ENDED_SECONDS = 86400.0  # a revoked or expired key's row is kept a day: its uses then say why they fail
_PRUNE_LIMIT = 5000
_COLUMNS = "k.id, k.user_id, k.name, k.scopes, k.prefix, k.created_at, k.expires_at, k.last_used_at, k.revoked_at"


def key_subject(key_id: str) -> str:
    """What the revocation log calls a key."""
    return f"key:{key_id}"


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_key() -> tuple[str, str, str]:
    """A new key's id, secret and the whole key as its holder sends it."""
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return key_id, secret, f"{KEY_PREFIX}_{key_id}_{secret}"


def parse_key(text: str) -> tuple[str, str] | None:
    """The id and secret of something shaped like a key; ``None`` otherwise."""
    prefix, _, rest = text.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or len(key_id) != 2 * _ID_BYTES or not secret or len(secret) > 100:
        return None
    if any(char not in "0123456789abcdef" for char in key_id):
        return None
    return key_id, secret


class WhyRefused(StrEnum):
    """Why a key is not taken (the verifier's ``reason``; words for people in ``detail``)."""

    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    DISABLED = "disabled"

    @property
    def detail(self) -> str:
        return {
            WhyRefused.UNKNOWN: "this API key is not valid: check that it was copied whole, or create a new one",
            WhyRefused.REVOKED: "this API key was revoked: create a new one",
            WhyRefused.EXPIRED: "this API key has expired: create a new one",
            WhyRefused.DISABLED: "the account of this API key is disabled",
        }[self]


class KeyRefused(Exception):
    def __init__(self, why: WhyRefused) -> None:
        super().__init__(why.detail)
        self.why = why


class TooManyKeys(Exception):
    """The user already has as many keys as they may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"you already have {limit} API keys, the most you may have: revoke one you no longer use")
        self.limit = limit


class UnknownKey(Exception):
    """The user has no (unrevoked) key with that id."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: int
    name: str
    scopes: tuple[str, ...]
    prefix: str
    """The key's first characters, to tell keys apart; not enough to use it."""
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class IssuedKey:
    """A new key: its row, and the key itself (shown once, never stored)."""

    key: ApiKey
    secret_key: str


@dataclass(frozen=True)
class KeyHolder:
    """Who a verified key speaks for, and what it may do."""

    key: ApiKey
    email: str


def _key(row: Any) -> ApiKey:
    key_id, user_id, name, scopes, prefix, created_at, expires_at, last_used_at, revoked_at = row[:9]
    return ApiKey(
        id=str(key_id),
        user_id=int(user_id),
        name=str(name),
        scopes=tuple(str(scopes).split()),
        prefix=str(prefix),
        created_at=float(created_at),
        expires_at=None if expires_at is None else float(expires_at),
        last_used_at=None if last_used_at is None else float(last_used_at),
        revoked_at=None if revoked_at is None else float(revoked_at),
    )


class ApiKeys:
    """The ``api_keys`` table (``auth.migrations``) and the rules around it."""

    def __init__(
        self,
        database: Database,
        revocations: Revocations,
        *,
        per_user: int = 20,
        used_every_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``per_user``: usable keys (not revoked, not expired) a user may hold;
        ``used_every_seconds``: ``last_used_at`` is written at most this often per key."""
        self._database, self._revocations = database, revocations
        self._per_user, self._used_every, self._clock = per_user, used_every_seconds, clock

    async def create(self, user_id: int, name: str, scopes: Sequence[str], expires_at: float | None) -> IssuedKey:
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise ValueError(f"scopes must be some of {SCOPES}, not {sorted(unknown)}")
        key_id, secret, whole = new_key()
        now = self._clock()
        key = ApiKey(
            id=key_id,
            user_id=user_id,
            name=name,
            scopes=tuple(scope for scope in SCOPES if scope in scopes),
            prefix=whole[: len(KEY_PREFIX) + 2 + 2 * _ID_BYTES + 4],
            created_at=now,
            expires_at=expires_at,
            last_used_at=None,
            revoked_at=None,
        )
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            # the user's row, locked: two creations at once count each other
            await cursor.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))
            if await cursor.fetchone() is None:
                raise UnknownKey  # the user is gone: nothing to hold a key
            await cursor.execute(
                "SELECT COUNT(*) FROM api_keys WHERE user_id = %s AND revoked_at IS NULL"
                " AND (expires_at IS NULL OR expires_at > %s)",
                (user_id, now),
            )
            row: Any = await cursor.fetchone()
            if int(row[0]) >= self._per_user:
                raise TooManyKeys(self._per_user)
            await cursor.execute(
                "INSERT INTO api_keys (id, user_id, name, scopes, prefix, secret_hash, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (key.id, user_id, name, " ".join(key.scopes), key.prefix, secret_hash(secret), now, expires_at),
            )
        return IssuedKey(key, whole)

    async def list(self, user_id: int) -> list[ApiKey]:
        """The user's keys that are not revoked (expired ones too, until they are pruned), newest first."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                f"SELECT {_COLUMNS} FROM api_keys k WHERE k.user_id = %s AND k.revoked_at IS NULL"  # noqa: S608
                " ORDER BY k.created_at DESC LIMIT 1000",
                (user_id,),
            )
            rows: Any = await cursor.fetchall()
        return [_key(row) for row in rows]

    async def revoke(self, user_id: int, key_id: str) -> None:
        """Revoke one of the user's keys, at once here and within seconds at every verifier;
        ``UnknownKey`` if they have no such key (or it is revoked already)."""
        async with self._database.transaction() as connection, await connection.cursor() as cursor:
            now = self._clock()
            await cursor.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
                (now, key_id, user_id),
            )
            if not cursor.rowcount:
                raise UnknownKey
            await self._record(cursor, [key_id], now)

    async def _record(self, cursor: MySQLCursorAbstract, key_ids: Sequence[str], now: float) -> None:
        # verifiers keep an answer seconds, never a minute (the log keeps entries two minutes past
        # this): listed that long, a revoked key is refused by every one of them
        await self._revocations.record(cursor, {key_subject(key_id): now for key_id in key_ids}, now)

    async def verify(self, text: str) -> KeyHolder:
        """Who the key ``text`` speaks for; ``KeyRefused`` saying why if it is not usable. Notes
        that it was used (at most once per ``used_every_seconds``)."""
        parsed = parse_key(text)
        if parsed is None:
            raise KeyRefused(WhyRefused.UNKNOWN)
        key_id, secret = parsed
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                f"SELECT {_COLUMNS}, k.secret_hash, u.email, u.is_active FROM api_keys k"  # noqa: S608
                " JOIN users u ON u.id = k.user_id WHERE k.id = %s",
                (key_id,),
            )
            row: Any = await cursor.fetchone()
            if row is None or not hmac.compare_digest(bytes(row[9]), secret_hash(secret)):
                raise KeyRefused(WhyRefused.UNKNOWN)
            key, email, active = _key(row), str(row[10]), bool(row[11])
            now = self._clock()
            if key.revoked_at is not None:
                raise KeyRefused(WhyRefused.REVOKED)
            if key.expires_at is not None and key.expires_at <= now:
                raise KeyRefused(WhyRefused.EXPIRED)
            if not active:
                raise KeyRefused(WhyRefused.DISABLED)
            if key.last_used_at is None or now - key.last_used_at >= self._used_every:
                await cursor.execute(
                    "UPDATE api_keys SET last_used_at = %s WHERE id = %s"
                    " AND (last_used_at IS NULL OR last_used_at <= %s)",
                    (now, key_id, now - self._used_every),
                )
        return KeyHolder(key, email)

    async def prune(self) -> int:
        """Remove keys revoked or expired more than a day ago; how many."""
        before = self._clock() - _KEEP_ENDED_SECONDS
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "DELETE FROM api_keys WHERE revoked_at <= %s OR expires_at <= %s LIMIT %s",
                (before, before, _PRUNE_LIMIT),
            )
            return int(cursor.rowcount)
