"""Schema migrations: numbered, applied once each, recorded in ``schema_migrations``.

Every auth process runs them at start. A MySQL named lock (``GET_LOCK``) lets one process at a
time look at what is applied and apply the rest, so two processes starting together do not
both run a migration. MySQL commits DDL as it goes, so each migration is one statement that
is itself idempotent (``IF NOT EXISTS``): a process dying mid-way leaves nothing a rerun trips on.
Append new migrations with the next number; never edit or renumber an applied one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from auth.database import Database

__all__ = ["AUTH_SCHEMA", "MIGRATIONS", "Migration", "Schema"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statement: str


MIGRATIONS = (
    Migration(
        1,
        "users",
        """
        CREATE TABLE IF NOT EXISTS users (
            id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
            email VARCHAR(320) NOT NULL,
            password_hash VARCHAR(255) NOT NULL,
            is_admin BOOLEAN NOT NULL DEFAULT FALSE,
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
            UNIQUE KEY users_email (email)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
        """,
    ),
    Migration(
        2,
        "login failures per account, for lockouts",
        # ``account`` is the SHA-256 of the normalized email, whether or not a user has it;
        # times are Unix seconds from the auth processes' clocks
        """
        CREATE TABLE IF NOT EXISTS login_failures (
            account BINARY(32) NOT NULL PRIMARY KEY,
            failures INT UNSIGNED NOT NULL,
            locked_until DOUBLE NOT NULL,
            forget_at DOUBLE NOT NULL,
            KEY login_failures_forget_at (forget_at)
        ) ENGINE=InnoDB
        """,
    ),
    Migration(
        3,
        "sessions: one per login, the family of its refresh tokens",
        # ``id`` is a UUID's 16 bytes (the access tokens' ``sid`` claim); times are Unix seconds;
        # ``access_until``: when the last access token issued for it expires. No foreign key to
        # users: a refresh checks its user
        """
        CREATE TABLE IF NOT EXISTS sessions (
            id BINARY(16) NOT NULL PRIMARY KEY,
            user_id BIGINT UNSIGNED NOT NULL,
            created_at DOUBLE NOT NULL,
            expires_at DOUBLE NOT NULL,
            access_until DOUBLE NOT NULL,
            ended_at DOUBLE NULL,
            ended_why VARCHAR(16) NULL,
            KEY sessions_user (user_id, ended_at),
            KEY sessions_expires_at (expires_at),
            KEY sessions_ended_at (ended_at)
        ) ENGINE=InnoDB
        """,
    ),
    Migration(
        4,
        "refresh tokens, stored as their SHA-256",
        """
        CREATE TABLE IF NOT EXISTS refresh_tokens (
            token_hash BINARY(32) NOT NULL PRIMARY KEY,
            session_id BINARY(16) NOT NULL,
            issued_at DOUBLE NOT NULL,
            expires_at DOUBLE NOT NULL,
            rotated_at DOUBLE NULL,
            KEY refresh_tokens_expires_at (expires_at),
            CONSTRAINT refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
        ) ENGINE=InnoDB
        """,
    ),
    Migration(
        5,
        "revocations: what verifiers must refuse before it expires, numbered for them to follow",
        # ``subject`` names what is revoked (``session:<uuid>``); ``expires_at``: when every
        # credential it revokes has expired anyway, so the row can go
        """
        CREATE TABLE IF NOT EXISTS revocations (
            seq BIGINT UNSIGNED NOT NULL PRIMARY KEY,
            subject VARCHAR(100) NOT NULL,
            revoked_at DOUBLE NOT NULL,
            expires_at DOUBLE NOT NULL,
            KEY revocations_expires_at (expires_at)
        ) ENGINE=InnoDB
        """,
    ),
    Migration(
        6,
        "the last revocation's number",
        # one row, locked by each revocation until it commits: numbers become visible in order
        """
        CREATE TABLE IF NOT EXISTS revocation_sequence (
            id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
            last BIGINT UNSIGNED NOT NULL
        ) ENGINE=InnoDB
        """,
    ),
    Migration(7, "the revocation counter's row", "INSERT IGNORE INTO revocation_sequence (id, last) VALUES (1, 0)"),
    Migration(
        8,
        "addresses each account logged in from: not slowed when the account is under attack",
        # ``address``: SHA-256 of the normalized email and the address (auth.throttling.address_key);
        # login_failures holds the same keys for the per-address lockouts
        """
        CREATE TABLE IF NOT EXISTS login_addresses (
            address BINARY(32) NOT NULL PRIMARY KEY,
            last_success DOUBLE NOT NULL,
            KEY login_addresses_last_success (last_success)
        ) ENGINE=InnoDB
        """,
    ),
    Migration(
        9,
        "API keys: a user's credentials for programs, stored as their secret's SHA-256",
        # ``id``: the public part of the key (``vmk_<id>_<secret>``); ``scopes`` space-separated;
        # times are Unix seconds. A user's keys go with the user
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            id CHAR(12) CHARACTER SET ascii NOT NULL PRIMARY KEY,
            user_id BIGINT UNSIGNED NOT NULL,
            name VARCHAR(100) NOT NULL,
            scopes VARCHAR(100) CHARACTER SET ascii NOT NULL,
            prefix VARCHAR(32) CHARACTER SET ascii NOT NULL,
            secret_hash BINARY(32) NOT NULL,
            created_at DOUBLE NOT NULL,
            expires_at DOUBLE NULL,
            last_used_at DOUBLE NULL,
            revoked_at DOUBLE NULL,
            KEY api_keys_user (user_id, revoked_at),
            KEY api_keys_expires_at (expires_at),
            KEY api_keys_revoked_at (revoked_at),
            CONSTRAINT api_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
        """,
    ),
)


@dataclass(frozen=True)
class Schema:
    """A list of migrations and the table recording which of them are applied."""

    migrations: Sequence[Migration]
    table: str = "schema_migrations"
    lock_timeout_seconds: int = 60

    def __post_init__(self) -> None:
        versions = [migration.version for migration in self.migrations]
        if versions != sorted(set(versions)):
            raise ValueError(f"migration versions must increase: {versions}")
        if not self.table.isidentifier():
            raise ValueError(f"not a table name: {self.table!r}")

    def _lock_name(self, database: Database) -> str:
        # named locks are server-wide: name the database so others on the server do not wait
        return f"vidmp3:{database.name}.{self.table}"[:64]

    async def migrate(self, database: Database) -> list[int]:
        """Apply the migrations not yet applied, in order; returns the versions applied now."""
        lock = self._lock_name(database)
        async with database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("SELECT GET_LOCK(%s, %s)", (lock, self.lock_timeout_seconds))
            (granted,) = await cursor.fetchone() or (None,)
            if granted != 1:
                raise TimeoutError(f"another process held the migration lock {lock!r} for too long")
            # on an error the pool closes this connection, which releases the lock too
            await cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                " version INT UNSIGNED NOT NULL PRIMARY KEY,"
                " description VARCHAR(200) NOT NULL,"
                " applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                ") ENGINE=InnoDB"
            )
            await cursor.execute(f"SELECT version FROM {self.table}")  # noqa: S608 (an identifier checked above)
            applied = {int(str(version)) for (version,) in await cursor.fetchall()}
            done = []
            for migration in self.migrations:
                if migration.version in applied:
                    continue
                log.info("applying migration %d: %s", migration.version, migration.description)
                await cursor.execute(migration.statement)
                await cursor.execute(
                    f"INSERT INTO {self.table} (version, description) VALUES (%s, %s)",  # noqa: S608
                    (migration.version, migration.description),
                )
                done.append(migration.version)
            await cursor.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            await cursor.fetchall()
        return done


AUTH_SCHEMA = Schema(MIGRATIONS)
