"""The records behind ``Idempotency-Key``, on the real store: one claim per key however many
ask at once, the first answer kept, an expired record or a dead request's claim taken over
by one request only, and a released key free again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from common.mongo import Document
from gateway.idempotency import Held, IdempotencyKeys, InFlight, KeyReused, Stored, tus_fingerprint


async def outcomes(keys: IdempotencyKeys, owner: str, key: str, times: int) -> list[Held | Stored | InFlight]:
    async def one() -> Held | Stored | InFlight:
        try:
            return await keys.begin(owner, key)
        except InFlight as busy:
            return busy

    return list(await asyncio.gather(*(one() for _ in range(times))))


async def test_one_request_of_many_at_once_holds_a_key_and_the_retries_get_its_answer(
    mongo_database: AsyncDatabase[Document],
) -> None:
    keys = IdempotencyKeys(mongo_database)
    found = await outcomes(keys, "7", "k-1", 8)
    held = [outcome for outcome in found if isinstance(outcome, Held)]
    assert len(held) == 1
    assert all(isinstance(outcome, InFlight) for outcome in found if outcome is not held[0])

    await keys.finish(held[0], "print", 202, {"job_id": "j"}, {"Location": "/v1/jobs/j"})
    again = await keys.begin("7", "k-1")
    assert isinstance(again, Stored)
    assert again.replay("print") == Stored("print", 202, {"job_id": "j"}, {"Location": "/v1/jobs/j"})
    with pytest.raises(KeyReused):
        again.replay("another print")
    # keys are per user
    theirs = await keys.begin("8", "k-1")
    assert isinstance(theirs, Held)
    await keys.release(theirs)


async def test_a_released_key_is_free_again(mongo_database: AsyncDatabase[Document]) -> None:
    keys = IdempotencyKeys(mongo_database)
    first = await keys.begin("7", "k-2")
    assert isinstance(first, Held)
    await keys.release(first)
    second = await keys.begin("7", "k-2")
    assert isinstance(second, Held)
    await keys.release(second)


async def test_a_dead_requests_claim_is_taken_over_by_one_retry(mongo_database: AsyncDatabase[Document]) -> None:
    keys = IdempotencyKeys(mongo_database, lease=timedelta(seconds=1))
    dead = await keys.begin("7", "k-3")
    assert isinstance(dead, Held)
    assert dead.renewing is not None
    dead.renewing.cancel()  # its process died: the claim is not renewed any more
    await asyncio.sleep(1.5)
    found = await outcomes(keys, "7", "k-3", 6)
    takers = [outcome for outcome in found if isinstance(outcome, Held)]
    assert len(takers) == 1, found
    await keys.release(dead)  # the dead request's late release leaves the new claim alone
    [busy] = await outcomes(keys, "7", "k-3", 1)
    assert isinstance(busy, InFlight)
    await keys.release(takers[0])


async def test_an_expired_answer_gives_way_to_a_new_request(mongo_database: AsyncDatabase[Document]) -> None:
    keys = IdempotencyKeys(mongo_database, ttl=timedelta(seconds=1))
    first = await keys.begin("7", "k-4")
    assert isinstance(first, Held)
    fingerprint = tus_fingerprint(10, None)
    await keys.finish(first, fingerprint, 201, None, {"Location": "/v1/uploads/u"})
    assert isinstance(await keys.begin("7", "k-4"), Stored)
    await asyncio.sleep(1.5)
    renewed = await keys.begin("7", "k-4")
    assert isinstance(renewed, Held)
    await keys.release(renewed)


def test_a_tus_fingerprint_is_its_length_and_metadata() -> None:
    assert tus_fingerprint(10, "filename YQ==") == tus_fingerprint(10, "filename YQ==")
    assert tus_fingerprint(10, "filename YQ==") != tus_fingerprint(11, "filename YQ==")
    assert tus_fingerprint(10, None) == tus_fingerprint(10, "")
