"""The users table against a real MySQL (MariaDB natively, mysql:8 under testcontainers)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from mysql.connector.aio import connect

from auth.users import User, UserExists, Users, connection_options
from tests.services import Endpoints

INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 -- ",
    "x'; DROP TABLE users; --",
    '" OR ""="',
    "\\' OR 1=1 #",
    "%",
    "_",
]


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex}@example.com"


@pytest.fixture
async def users(endpoints: Endpoints) -> AsyncIterator[Users]:
    users = Users(endpoints.mysql_url, pool_size=2)
    await users.migrate()
    try:
        yield users
    finally:
        await users.close()


async def users_table_rows(mysql_url: str) -> int:
    """Counted on a connection of its own, so a broken ``Users`` cannot hide a dropped table."""
    connection = await connect(**connection_options(mysql_url))
    try:
        cursor = await connection.cursor()
        await cursor.execute("SELECT COUNT(*) FROM users")
        (count,) = await cursor.fetchone()
        await cursor.close()
        return int(count)
    finally:
        await connection.close()


async def test_migrating_twice_keeps_the_users(endpoints: Endpoints, users: Users) -> None:
    created = await users.create(unique_email(), "hash")

    await users.migrate()
    again = Users(endpoints.mysql_url, pool_size=1)
    try:
        await again.migrate()
    finally:
        await again.close()

    assert await users.by_email(created.email) == created


async def test_a_created_user_is_found_by_email(users: Users) -> None:
    email = unique_email()

    created = await users.create(email, "$argon2id$stand-in", is_admin=True)

    assert created.id > 0
    assert await users.by_email(email) == User(created.id, email, "$argon2id$stand-in", True, True)


async def test_emails_are_stored_and_found_in_lower_case(users: Users) -> None:
    local = uuid.uuid4().hex
    created = await users.create(f"  Ada.Lovelace-{local}@Example.COM ", "hash")

    assert created.email == f"ada.lovelace-{local}@example.com"
    assert await users.by_email(f"ADA.LOVELACE-{local}@EXAMPLE.com") == created
    assert await users.by_email(f"ada.lovelace-{local}@example.com") == created


async def test_a_duplicate_email_is_refused_whatever_its_case(users: Users) -> None:
    email = unique_email()
    first = await users.create(email, "first hash")

    with pytest.raises(UserExists):
        await users.create(email, "second hash")
    with pytest.raises(UserExists):
        await users.create(email.upper(), "third hash")

    assert await users.by_email(email) == first


async def test_an_unknown_email_is_none(users: Users) -> None:
    assert await users.by_email(unique_email()) is None


async def test_the_pool_still_works_after_a_duplicate(users: Users) -> None:
    email = unique_email()
    await users.create(email, "hash")
    with pytest.raises(UserExists):
        await users.create(email, "hash")

    await users.ping()
    assert (await users.by_email(email)) is not None


@pytest.mark.parametrize("injection", INJECTIONS)
async def test_sql_in_an_email_finds_nobody_and_breaks_nothing(
    endpoints: Endpoints, users: Users, injection: str
) -> None:
    await users.create(unique_email(), "hash")
    rows_before = await users_table_rows(endpoints.mysql_url)

    assert await users.by_email(injection) is None

    assert await users_table_rows(endpoints.mysql_url) >= rows_before > 0


async def test_sql_in_a_new_email_is_stored_as_text(endpoints: Endpoints, users: Users) -> None:
    email = f"x'; DROP TABLE users; --{uuid.uuid4().hex}@example.com"

    created = await users.create(email, "hash")

    assert await users.by_email(email) == created
    assert await users_table_rows(endpoints.mysql_url) > 0


async def test_a_new_password_hash_replaces_the_old_one(users: Users) -> None:
    created = await users.create(unique_email(), "old hash")

    await users.set_password_hash(created.id, "new hash")

    assert await users.by_email(created.email) == User(created.id, created.email, "new hash", False, True)
