"""MySQL adapter of the auth service: the users table, over mysql-connector-python's asyncio API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from mysql.connector import errorcode
from mysql.connector.aio import MySQLConnection
from mysql.connector.aio.abstracts import MySQLConnectionAbstract
from mysql.connector.errors import IntegrityError

__all__ = ["User", "UserExists", "Users", "connection_options"]

# Each statement runs once, in order, on every start; each is idempotent.
MIGRATIONS = (
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
)


class UserExists(Exception):
    """A user with that email already exists."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    password_hash: str
    is_admin: bool
    is_active: bool


def connection_options(url: str) -> dict[str, Any]:
    """``mysql://user:password@host:port/database[?ssl-mode=disabled]`` as connector arguments."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme != "mysql" or not parts.path.strip("/"):
        raise ValueError("the MySQL URL must look like mysql://user:password@host:3306/database")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": parts.path.strip("/"),
        "autocommit": True,
        "connection_timeout": 10,
        "ssl_disabled": query.get("ssl-mode", ["preferred"])[0].lower() == "disabled",
    }


def normalize_email(email: str) -> str:
    return email.strip().lower()


class Users:
    """The users table, through a small pool of connections."""

    def __init__(self, url: str, pool_size: int = 5) -> None:
        self._options = connection_options(url)
        self._idle: list[MySQLConnectionAbstract] = []
        self._slots = asyncio.Semaphore(pool_size)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[MySQLConnectionAbstract]:
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                if not await connection.is_connected():
                    await connection.reconnect()
                yield connection
            except BaseException:
                await connection.close()
                raise
            self._idle.append(connection)

    async def _connect(self) -> MySQLConnectionAbstract:
        connection = MySQLConnection(**self._options)
        await connection.connect()
        return connection

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()

    async def migrate(self) -> None:
        async with self._connection() as connection, await connection.cursor() as cursor:
            for statement in MIGRATIONS:
                await cursor.execute(statement)

    async def ping(self) -> None:
        async with self._connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("SELECT 1")
            await cursor.fetchall()

    async def create(self, email: str, password_hash: str, *, is_admin: bool = False) -> User:
        email = normalize_email(email)
        async with self._connection() as connection, await connection.cursor() as cursor:
            try:
                await cursor.execute(
                    "INSERT INTO users (email, password_hash, is_admin) VALUES (%s, %s, %s)",
                    (email, password_hash, is_admin),
                )
            except IntegrityError as error:
                if error.errno == errorcode.ER_DUP_ENTRY:
                    raise UserExists(email) from error
                raise
            return User(int(cursor.lastrowid or 0), email, password_hash, is_admin, True)

    async def by_email(self, email: str) -> User | None:
        async with self._connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(
                "SELECT id, email, password_hash, is_admin, is_active FROM users WHERE email = %s",
                (normalize_email(email),),
            )
            row = await cursor.fetchone()
        if row is None:
            return None
        user_id, stored_email, password_hash, is_admin, is_active = row
        return User(int(cast(int, user_id)), str(stored_email), str(password_hash), bool(is_admin), bool(is_active))

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self._connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))
