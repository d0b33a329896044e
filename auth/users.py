"""MySQL adapter of the auth service: the users table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from mysql.connector import errorcode
from mysql.connector.errors import IntegrityError

from auth.database import Database
from auth.emails import normalize_email

__all__ = ["User", "UserExists", "Users"]

_COLUMNS = "id, email, password_hash, is_admin, is_active"


class UserExists(Exception):
    """A user with that email already exists."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    password_hash: str
    is_admin: bool
    is_active: bool

    @property
    def roles(self) -> frozenset[str]:
        return frozenset({"admin", "user"} if self.is_admin else {"user"})


def _user(row: Any) -> User | None:
    if row is None:
        return None
    user_id, email, password_hash, is_admin, is_active = row
    return User(int(cast(int, user_id)), str(email), str(password_hash), bool(is_admin), bool(is_active))


class Users:
    """The users table (created by ``auth.migrations``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def create(self, email: str, password_hash: str, *, is_admin: bool = False) -> User:
        email = normalize_email(email)
        async with self._database.connection() as connection, await connection.cursor() as cursor:
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
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(f"SELECT {_COLUMNS} FROM users WHERE email = %s", (normalize_email(email),))  # noqa: S608
            return _user(await cursor.fetchone())

    async def by_id(self, user_id: int) -> User | None:
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,))  # noqa: S608
            return _user(await cursor.fetchone())

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))

    async def set_active(self, user_id: int, *, active: bool) -> bool:
        """Enable or disable a user; ``False`` when there is no such user."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("UPDATE users SET is_active = %s WHERE id = %s", (active, user_id))
            if cursor.rowcount:
                return True
            # MySQL counts changed rows only: zero also when the user already had that state
            await cursor.execute("SELECT 1 FROM users WHERE id = %s", (user_id,))
            return await cursor.fetchone() is not None

    async def set_admin(self, user_id: int, *, admin: bool) -> bool:
        """Give or take the admin role; ``False`` when there is no such user."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("UPDATE users SET is_admin = %s WHERE id = %s", (admin, user_id))
            if cursor.rowcount:
                return True
            await cursor.execute("SELECT 1 FROM users WHERE id = %s", (user_id,))
            return await cursor.fetchone() is not None

    async def delete(self, user_id: int) -> bool:
        """Remove a user; ``False`` when there is no such user."""
        async with self._database.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("DELETE FROM users WHERE id = %s", (user_id,))
            return bool(cursor.rowcount)
