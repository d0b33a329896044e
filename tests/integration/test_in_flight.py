"""Each user's work in flight, counted in numbered slots on the real store: taken by inserts,
given back by id, never more than the limit even when many requests race."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from common.in_flight import InFlightLimit, JobsInFlight, TooManyJobs, job_units
from contracts import ConversionOptions

RUN = uuid4().hex[:8]


def owner() -> str:
    return f"user-{uuid4().hex[:8]}"


def j(name: str) -> str:
    """A job id of this run's (the session's store is shared by every test)."""
    return f"{RUN}-{name}"


async def test_a_user_holds_up_to_the_limit_and_a_released_job_frees_its_units(mongo_database: AsyncDatabase) -> None:
    in_flight = JobsInFlight(mongo_database, InFlightLimit(limit=3, normalize_units=2))
    user, other = owner(), owner()
    await in_flight.take(user, j("t0-a"), 1)
    await in_flight.take(user, j("t0-b"), 2)  # a normalize job
    with pytest.raises(TooManyJobs, match=r"\(3 units: a job counts 1, or 2 with loudness normalization\)") as refused:
        await in_flight.take(user, j("t0-c"), 1)
    assert refused.value.retry_after == 30
    assert not await in_flight.has_room(user)
    await in_flight.take(other, j("t0-d"), 1)  # another user's units are their own

    await in_flight.release(j("t0-b"))
    await in_flight.release(j("t0-b"))  # a repeat changes nothing
    assert await in_flight.held(user) == 1
    await in_flight.take(user, j("t0-c"), 2)
    assert await in_flight.held(user) == 3


async def test_a_retried_take_of_the_same_job_takes_nothing_more(mongo_database: AsyncDatabase) -> None:
    in_flight = JobsInFlight(mongo_database, InFlightLimit(limit=2))
    user = owner()
    await in_flight.take(user, j("t1-a"), 1)
    await in_flight.take(user, j("t1-a"), 1)
    assert await in_flight.held(user) == 1


async def test_racing_requests_never_hold_more_than_the_limit(mongo_database: AsyncDatabase) -> None:
    in_flight = JobsInFlight(mongo_database, InFlightLimit(limit=4))
    user = owner()
    outcomes = await asyncio.gather(
        *(in_flight.take(user, j(f"job-{n}"), 1) for n in range(20)), return_exceptions=True
    )
    assert sum(outcome is None for outcome in outcomes) == 4
    assert all(isinstance(outcome, TooManyJobs) for outcome in outcomes if outcome is not None)
    assert await in_flight.held(user) == 4


async def test_a_finished_upload_is_never_refused_past_the_limit(mongo_database: AsyncDatabase) -> None:
    in_flight = JobsInFlight(mongo_database, InFlightLimit(limit=1))
    user = owner()
    await in_flight.take(user, j("t3-a"), 1)
    await in_flight.take(user, j("t3-tus"), 1, force=True)
    await in_flight.release(j("t3-tus"))
    await in_flight.release(j("t3-a"))
    assert await in_flight.held(user) == 0
    await in_flight.take(user, j("t3-b"), 1)


async def test_slots_of_jobs_that_ended_unnoticed_are_freed_when_the_user_needs_them(
    mongo_database: AsyncDatabase,
) -> None:
    ended = {j("t4-gone")}

    async def job_ended(job_id: str) -> bool:
        return job_id in ended

    in_flight = JobsInFlight(mongo_database, InFlightLimit(limit=2), job_ended, settling=timedelta(0))
    user = owner()
    await in_flight.take(user, j("t4-gone"), 1)  # its release was lost
    await in_flight.take(user, j("t4-running"), 1)

    await in_flight.take(user, j("t4-new"), 1)
    with pytest.raises(TooManyJobs):
        await in_flight.take(user, j("t4-newer"), 1)  # "running" has not ended


def test_a_normalize_job_counts_more_but_never_more_than_the_limit() -> None:
    assert job_units(ConversionOptions(), InFlightLimit(8, 4)) == 1
    assert job_units(ConversionOptions(normalize=True), InFlightLimit(8, 4)) == 4
    assert job_units(ConversionOptions(normalize=True), InFlightLimit(2, 4)) == 2
