"""API keys against a real MySQL: only the secret's hash is kept, each refusal says why, a user
holds a bounded number even when creating many at once, revoking lists the key in the revocation
log, the last use is written at most once a minute, and ended keys are pruned."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from auth.apikeys import ApiKeys, KeyRefused, TooManyKeys, UnknownKey, WhyRefused, key_subject
from auth.database import Database
from auth.migrations import AUTH_SCHEMA
from auth.revocations import Revocations
from auth.users import User, Users
from tests.services import Endpoints

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def no_vidmp3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIDMP3_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def database(endpoints: Endpoints) -> AsyncIterator[Database]:
    database = Database(endpoints.mysql_url, pool_size=10)
    await AUTH_SCHEMA.migrate(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def user(database: Database) -> User:
    return await Users(database).create(f"keys-{uuid.uuid4().hex}@example.com", "not a real hash")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(database: Database, clock: Clock) -> ApiKeys:
    return ApiKeys(database, Revocations(database, clock=clock), per_user=5, clock=clock)


async def column(database: Database, sql: str, *args: Any) -> Any:
    async with database.connection() as connection, await connection.cursor() as cursor:
        await cursor.execute(sql, args)
        row: Any = await cursor.fetchone()
    return None if row is None else row[0]


async def refusal(keys: ApiKeys, key: str) -> WhyRefused:
    with pytest.raises(KeyRefused) as refused:
        await keys.verify(key)
    return refused.value.why


async def test_a_key_verifies_and_only_its_secrets_hash_is_kept(keys: ApiKeys, database: Database, user: User) -> None:
    issued = await keys.create(user.id, "script", ["jobs:read"], None)

    holder = await keys.verify(issued.secret_key)

    assert holder.email == user.email
    assert holder.key.user_id == user.id
    assert holder.key.scopes == ("jobs:read",)
    stored = await column(database, "SELECT secret_hash FROM api_keys WHERE id = %s", issued.key.id)
    assert len(bytes(stored)) == 32
    secret = issued.secret_key.split("_", 2)[2]
    assert secret.encode() not in bytes(stored)
    wrong = issued.secret_key[:-1] + ("x" if issued.secret_key[-1] != "x" else "y")
    assert await refusal(keys, wrong) is WhyRefused.UNKNOWN
    assert await refusal(keys, "vmk_000000000000_" + secret) is WhyRefused.UNKNOWN
    assert await refusal(keys, "not a key") is WhyRefused.UNKNOWN


async def test_each_refusal_says_why(keys: ApiKeys, database: Database, user: User, clock: Clock) -> None:
    expiring = await keys.create(user.id, "a day", ["jobs:read"], NOW + 86400)
    revoked = await keys.create(user.id, "revoked", ["jobs:read"], None)
    lasting = await keys.create(user.id, "lasting", ["jobs:read", "jobs:write"], None)

    await keys.revoke(user.id, revoked.key.id)
    clock.now += 86400

    assert await refusal(keys, expiring.secret_key) is WhyRefused.EXPIRED
    assert await refusal(keys, revoked.secret_key) is WhyRefused.REVOKED
    assert (await keys.verify(lasting.secret_key)).key.id == lasting.key.id
    await Users(database).set_active(user.id, active=False)
    assert await refusal(keys, lasting.secret_key) is WhyRefused.DISABLED
    await Users(database).delete(user.id)
    assert await refusal(keys, lasting.secret_key) is WhyRefused.UNKNOWN, "a deleted user's keys go with them"
    assert await column(database, "SELECT COUNT(*) FROM api_keys WHERE user_id = %s", user.id) == 0


async def test_revoking_lists_the_key_in_the_revocation_log(keys: ApiKeys, database: Database, user: User) -> None:
    revocations = Revocations(database)
    before = await revocations.last()
    issued = await keys.create(user.id, "script", ["jobs:read"], None)

    await keys.revoke(user.id, issued.key.id)

    subjects = [entry.subject for entry in await revocations.after(before, 1000)]
    assert key_subject(issued.key.id) in subjects
    with pytest.raises(UnknownKey):
        await keys.revoke(user.id, issued.key.id)
    assert [key.id for key in await keys.list(user.id)] == []


async def test_only_the_owner_revokes_a_key(keys: ApiKeys, database: Database, user: User) -> None:
    other = await Users(database).create(f"other-{uuid.uuid4().hex}@example.com", "not a real hash")
    issued = await keys.create(user.id, "script", ["jobs:read"], None)

    with pytest.raises(UnknownKey):
        await keys.revoke(other.id, issued.key.id)

    assert await keys.list(other.id) == []
    assert (await keys.verify(issued.secret_key)).key.id == issued.key.id


async def test_a_user_holds_a_bounded_number_of_keys_even_created_at_once(keys: ApiKeys, user: User) -> None:
    results = await asyncio.gather(
        *(keys.create(user.id, f"key {n}", ["jobs:read"], None) for n in range(9)), return_exceptions=True
    )

    made = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, TooManyKeys)]
    assert len(made) == 5
    assert len(refused) == 4
    assert "revoke one" in str(refused[0])
    await keys.revoke(user.id, made[0].key.id)
    await keys.create(user.id, "after revoking one", ["jobs:read"], None)


async def test_the_last_use_is_written_at_most_once_a_minute(
    keys: ApiKeys, database: Database, user: User, clock: Clock
) -> None:
    issued = await keys.create(user.id, "script", ["jobs:read"], None)
    query = "SELECT last_used_at FROM api_keys WHERE id = %s"
    assert await column(database, query, issued.key.id) is None

    await keys.verify(issued.secret_key)
    assert await column(database, query, issued.key.id) == NOW
    clock.now += 59
    await keys.verify(issued.secret_key)
    assert await column(database, query, issued.key.id) == NOW
    clock.now += 1
    await keys.verify(issued.secret_key)
    assert await column(database, query, issued.key.id) == NOW + 60


async def test_revoked_and_expired_keys_are_pruned_a_day_later(
    keys: ApiKeys, database: Database, user: User, clock: Clock
) -> None:
    revoked = await keys.create(user.id, "revoked", ["jobs:read"], None)
    expiring = await keys.create(user.id, "expiring", ["jobs:read"], NOW + 10)
    lasting = await keys.create(user.id, "lasting", ["jobs:read"], None)
    await keys.revoke(user.id, revoked.key.id)

    clock.now += 3600
    await keys.prune()
    assert await column(database, "SELECT COUNT(*) FROM api_keys WHERE user_id = %s", user.id) == 3
    clock.now += 86400
    await keys.prune()

    remaining = await column(database, "SELECT GROUP_CONCAT(id) FROM api_keys WHERE user_id = %s", user.id)
    assert remaining == lasting.key.id
    assert expiring.key.id not in remaining
