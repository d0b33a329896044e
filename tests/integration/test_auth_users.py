"""The users and login-failures tables and the migrations, against a real MySQL
(MariaDB natively, mysql:8 under testcontainers)."""

# ruff: noqa: S608 - the only names put into SQL text are the scratch tables the tests make
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from mysql.connector.aio import connect

from auth.database import Database, connection_options
from auth.lockouts import Lockouts
from auth.migrations import AUTH_SCHEMA, MIGRATIONS, Migration, Schema
from auth.throttling import ACCOUNT_SLOWED, ADDRESS_LOCKED, Attempt, GuessingPolicy, LockoutPolicy
from auth.users import User, UserExists, Users
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
async def database(endpoints: Endpoints) -> AsyncIterator[Database]:
    database = Database(endpoints.mysql_url, pool_size=2)
    await AUTH_SCHEMA.migrate(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def users(database: Database) -> Users:
    return Users(database)


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


async def test_migrating_twice_keeps_the_users(endpoints: Endpoints, database: Database, users: Users) -> None:
    created = await users.create(unique_email(), "hash")

    assert await AUTH_SCHEMA.migrate(database) == []
    again = Database(endpoints.mysql_url, pool_size=1)
    try:
        assert await AUTH_SCHEMA.migrate(again) == []
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


async def test_the_pool_still_works_after_a_duplicate(database: Database, users: Users) -> None:
    email = unique_email()
    await users.create(email, "hash")
    with pytest.raises(UserExists):
        await users.create(email, "hash")

    await database.ping()
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


async def test_a_disabled_user_is_found_disabled_and_can_be_enabled(users: Users) -> None:
    created = await users.create(unique_email(), "hash")

    assert await users.set_active(created.id, active=False)
    assert await users.set_active(created.id, active=False), "disabling twice still finds the user"
    assert await users.by_id(created.id) == User(created.id, created.email, "hash", False, False)
    assert await users.set_active(created.id, active=True)
    assert await users.by_email(created.email) == created


async def test_enabling_or_disabling_an_unknown_id_finds_nobody(users: Users) -> None:
    assert not await users.set_active(2**62, active=False)
    assert await users.by_id(2**62) is None


# --- migrations ---------------------------------------------------------------------------


async def run_sql(mysql_url: str, statement: str) -> list[tuple[object, ...]]:
    connection = await connect(**connection_options(mysql_url))
    try:
        cursor = await connection.cursor()
        await cursor.execute(statement)
        rows = await cursor.fetchall() if cursor.with_rows else []
        await cursor.close()
        return [tuple(row) for row in rows]
    finally:
        await connection.close()


@pytest.fixture
async def scratch_schema(endpoints: Endpoints) -> AsyncIterator[tuple[Schema, str]]:
    """Migrations of a table of their own, recorded in a table of their own; dropped afterwards.

    The second and third insert a row each: run twice, they would leave more than two rows.
    """
    suffix = uuid.uuid4().hex[:12]
    table = f"scratch_{suffix}"
    schema = Schema(
        [
            Migration(1, "a table", f"CREATE TABLE IF NOT EXISTS {table} (n INT NOT NULL)"),
            Migration(2, "a row", f"INSERT INTO {table} (n) VALUES (1)"),
            Migration(3, "another row", f"INSERT INTO {table} (n) VALUES (2)"),
        ],
        table=f"scratch_migrations_{suffix}",
        lock_timeout_seconds=30,
    )
    try:
        yield schema, table
    finally:
        await run_sql(endpoints.mysql_url, f"DROP TABLE IF EXISTS {table}, {schema.table}")


async def test_the_auth_migrations_are_recorded_by_version(endpoints: Endpoints, database: Database) -> None:
    versions = await run_sql(endpoints.mysql_url, "SELECT version FROM schema_migrations ORDER BY version")

    assert [version for (version,) in versions] == [migration.version for migration in MIGRATIONS]
    assert await AUTH_SCHEMA.migrate(database) == []


async def test_migrations_run_once_and_then_only_the_new_ones(
    endpoints: Endpoints, database: Database, scratch_schema: tuple[Schema, str]
) -> None:
    schema, table = scratch_schema
    first = Schema(schema.migrations[:2], table=schema.table)

    assert await first.migrate(database) == [1, 2]
    assert await first.migrate(database) == []
    assert await schema.migrate(database) == [3]
    assert await schema.migrate(database) == []

    assert await run_sql(endpoints.mysql_url, f"SELECT n FROM {table} ORDER BY n") == [(1,), (2,)]


async def test_processes_migrating_at_once_apply_each_migration_once(
    endpoints: Endpoints, scratch_schema: tuple[Schema, str]
) -> None:
    schema, table = scratch_schema
    databases = [Database(endpoints.mysql_url, pool_size=1) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(schema.migrate(database) for database in databases))
    finally:
        for database in databases:
            await database.close()

    assert sorted(applied) == [[], [], [], [1, 2, 3]]
    assert await run_sql(endpoints.mysql_url, f"SELECT n FROM {table} ORDER BY n") == [(1,), (2,)]
    recorded = await run_sql(endpoints.mysql_url, f"SELECT version FROM {schema.table} ORDER BY version")
    assert recorded == [(1,), (2,), (3,)]


async def test_a_migration_waits_for_the_lock_and_gives_up_after_its_timeout(
    endpoints: Endpoints, database: Database, scratch_schema: tuple[Schema, str]
) -> None:
    schema, _ = scratch_schema
    impatient = Schema(schema.migrations, table=schema.table, lock_timeout_seconds=1)
    holder = await connect(**connection_options(endpoints.mysql_url))
    try:
        cursor = await holder.cursor()
        await cursor.execute("SELECT GET_LOCK(%s, 0)", (f"vidmp3:{database.name}.{schema.table}",))
        assert await cursor.fetchone() == (1,)

        with pytest.raises(TimeoutError, match="migration lock"):
            await impatient.migrate(database)
        await cursor.close()
    finally:
        await holder.close()

    assert await impatient.migrate(database) == [1, 2, 3], "the lock goes with its connection"


def test_migration_versions_must_increase() -> None:
    with pytest.raises(ValueError, match="increase"):
        Schema([Migration(2, "b", "SELECT 1"), Migration(1, "a", "SELECT 1")])
    with pytest.raises(ValueError, match="increase"):
        Schema([Migration(1, "a", "SELECT 1"), Migration(1, "a again", "SELECT 1")])


# --- lockouts -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


POLICY = GuessingPolicy(
    per_address=LockoutPolicy(threshold=3, base_seconds=60, max_seconds=600, reset_seconds=3600),
    per_account=LockoutPolicy(threshold=5, base_seconds=10, max_seconds=60, reset_seconds=3600),
)


def attempt_on(email: str, address: str = "203.0.113.1") -> Attempt:
    return Attempt.of(email, address)


async def test_concurrent_attempts_from_one_address_get_no_more_than_the_threshold(endpoints: Endpoints) -> None:
    attempt = attempt_on(unique_email())
    database = Database(endpoints.mysql_url, pool_size=8)
    try:
        lockouts = Lockouts(database, POLICY)
        answers = await asyncio.gather(*(lockouts.begin_attempt(attempt) for _ in range(12)))
    finally:
        await database.close()

    assert answers.count(None) == 3
    refused = [answer for answer in answers if answer is not None]
    assert all(answer.reason == ADDRESS_LOCKED and 0 < answer.retry_after <= 60 for answer in refused)


async def test_concurrent_attempts_from_many_addresses_get_no_more_than_the_accounts_threshold(
    endpoints: Endpoints,
) -> None:
    email = unique_email()
    database = Database(endpoints.mysql_url, pool_size=8)
    try:
        lockouts = Lockouts(database, POLICY)
        answers = await asyncio.gather(
            *(lockouts.begin_attempt(attempt_on(email, f"192.0.2.{n}")) for n in range(1, 13))
        )
    finally:
        await database.close()

    assert answers.count(None) == 5
    assert all(answer.reason == ACCOUNT_SLOWED for answer in answers if answer is not None)


async def test_a_lock_holds_for_other_processes_until_it_ends(endpoints: Endpoints, database: Database) -> None:
    attempt = attempt_on(unique_email())
    clock = Clock()
    here = Lockouts(database, POLICY, clock=clock)
    for _ in range(3):
        assert await here.begin_attempt(attempt) is None

    elsewhere = Database(endpoints.mysql_url, pool_size=1)
    try:
        there = Lockouts(elsewhere, POLICY, clock=clock)
        refused = await there.begin_attempt(attempt)
        assert refused is not None
        assert refused.retry_after == pytest.approx(60)
        clock.now += 60
        assert await there.begin_attempt(attempt) is None
        again = await there.begin_attempt(attempt)
        assert again is not None
        assert again.retry_after == pytest.approx(120), "the next failure doubles the lock"
        assert await there.begin_attempt(attempt_on(unique_email())) is None, "other accounts go on"
    finally:
        await elsewhere.close()


async def test_a_success_ends_the_failures_and_makes_the_address_known(database: Database) -> None:
    email = unique_email()
    home = attempt_on(email, "198.51.100.10")
    lockouts = Lockouts(database, POLICY)
    await lockouts.begin_attempt(home)
    await lockouts.begin_attempt(home)

    await lockouts.succeeded(home)

    assert await lockouts.failures(home.address) is None
    assert await lockouts.failures(home.account) is None
    assert [await lockouts.begin_attempt(home) is None for _ in range(4)] == [True, True, True, False]
    # the account is slowed for new addresses now, never for the known one once its lock ends
    for n in range(1, 4):
        await lockouts.begin_attempt(attempt_on(email, f"192.0.2.{n}"))
    newcomer = await lockouts.begin_attempt(attempt_on(email, "192.0.2.200"))
    assert newcomer is not None
    assert newcomer.reason == ACCOUNT_SLOWED


async def test_failures_are_forgotten_after_the_reset_time(database: Database) -> None:
    attempt = attempt_on(unique_email())
    clock = Clock()
    lockouts = Lockouts(database, POLICY, clock=clock)
    for _ in range(3):
        await lockouts.begin_attempt(attempt)

    clock.now += 60 + 3600
    assert await lockouts.begin_attempt(attempt) is None
    failures = await lockouts.failures(attempt.address)
    assert failures is not None
    assert failures.count == 1, "counting starts over"
