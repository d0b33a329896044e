"""The event store and job-status view against the real MongoDB-wire server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase

from contracts import ConversionStarted, JobDeleted, Mp3Converted, NotificationSent, VideoUploaded
from gateway.views import Cursor
from projections.job_status import JobState, apply
from projections.queries import JobQueries, Totals
from projections.rebuild import compare, rebuild
from projections.store import ActiveJobs, EventStore, JobStatusView
from projections.watchdog import Watchdog


def job_events() -> list:
    job, t0 = uuid4(), datetime.now(UTC)
    return [
        VideoUploaded(
            job_id=job,
            occurred_at=t0,
            owner_id="1",
            owner_email="a@example.com",
            video_file_id="v",
            filename="a.mp4",
            size_bytes=1,
        ),
        ConversionStarted(job_id=job, occurred_at=t0 + timedelta(seconds=1), worker="w"),
        Mp3Converted(
            job_id=job,
            occurred_at=t0 + timedelta(seconds=2),
            owner_id="1",
            owner_email="a@example.com",
            mp3_file_id="m",
            filename="a.mp3",
            size_bytes=1,
            duration_seconds=1.0,
        ),
        NotificationSent(job_id=job, occurred_at=t0 + timedelta(seconds=3), recipient="a@example.com"),
    ]


async def test_an_event_is_stored_once_and_read_back_in_stored_order(mongo_database: AsyncDatabase) -> None:
    store = EventStore(mongo_database)
    events = job_events()

    assert [await store.append(event) for event in reversed(events)] == [True] * 4
    assert [await store.append(event) for event in events] == [False] * 4
    assert await store.for_job(events[0].job_id) == events[::-1]


async def test_concurrent_and_repeated_folds_give_the_pure_fold(mongo_database: AsyncDatabase) -> None:
    view = JobStatusView(mongo_database)
    events = job_events()

    await asyncio.gather(*(view.apply(event) for event in events + events[::-1] + events))

    stored = await view.get(events[0].job_id)
    expected = None
    for event in events:
        expected = apply(expected, event)
    assert stored == expected
    assert stored is not None
    assert stored.state is JobState.NOTIFIED
    assert stored.version == 4


async def test_rebuilding_from_the_event_store_equals_the_live_view(mongo_database: AsyncDatabase) -> None:
    database = mongo_database.client[f"{mongo_database.name}_rebuild"]  # other tests write only one side
    store, live = EventStore(database), JobStatusView(database)
    for events in (job_events(), job_events()[:2], job_events()[:3]):
        for event in events + events[:1]:  # a redelivery too
            await store.append(event)
            await live.apply(event)

    rebuilt = JobStatusView(database, "job_status_rebuilt", derived=False)
    jobs = await rebuild(store, rebuilt)
    comparison = await compare(live, rebuilt)
    queries = JobQueries(database)
    listed, unfinished = await queries.newest(None, 10), await database["active_jobs"].find({}).to_list()
    assert await live.rederive() == 3  # what `rebuild --apply` and the migration do
    relisted, still = await queries.newest(None, 10), await database["active_jobs"].find({}).to_list()
    await mongo_database.client.drop_database(database.name)

    assert jobs == 3
    assert comparison.identical, comparison
    assert comparison.same == jobs
    assert [s.job_id for s in relisted] == [s.job_id for s in listed]
    assert len(listed) == 3
    assert sorted(d["_id"] for d in still) == sorted(d["_id"] for d in unfinished)
    assert len(unfinished) == 2  # queued and converted ones; the notified one is finished


async def test_an_unknown_job_has_no_status(mongo_database: AsyncDatabase) -> None:
    assert await JobStatusView(mongo_database).get(uuid4()) is None


async def test_lists_show_an_owners_jobs_newest_first_without_deleted_ones(mongo_database: AsyncDatabase) -> None:
    view, queries = JobStatusView(mongo_database), JobQueries(mongo_database)
    owner, t0 = f"owner-{uuid4().hex[:6]}", datetime.now(UTC)
    jobs = []
    for minute in range(5):
        event = VideoUploaded(
            job_id=uuid4(),
            occurred_at=t0 + timedelta(minutes=minute),
            owner_id=owner,
            owner_email="a@example.com",
            video_file_id="v",
            filename=f"{minute}.mp4",
            size_bytes=10,
        )
        await view.apply(event)
        jobs.append(event.job_id)
    await view.apply(JobDeleted(job_id=jobs[2], requested_by=owner))

    first = await queries.newest(owner, 2)
    second = await queries.newest(owner, 2, after=Cursor.after(first[-1]).position)

    assert [s.job_id for s in first] == [jobs[4], jobs[3]]
    assert [s.job_id for s in second] == [jobs[1], jobs[0]]
    assert await queries.newest("nobody", 10) == []
    everyone = [s.job_id for s in await queries.newest(None, 1000)]
    assert [job for job in everyone if job in jobs] == [jobs[4], jobs[3], jobs[1], jobs[0]]
    assert await queries.totals(owner) == Totals(jobs=4, bytes=40, in_flight=4)


async def test_events_are_numbered_without_gaps_even_when_appended_at_once(mongo_database: AsyncDatabase) -> None:
    store = EventStore(mongo_database)
    events = job_events()

    stored = await asyncio.gather(*(store.append(event) for event in events * 3))

    # writers at the very same moment may both store an event: readers see it once
    assert stored.count(True) >= 4
    numbers = sorted([d["seq"] async for d in mongo_database["events"].find({"job_id": str(events[0].job_id)})])
    assert numbers == list(range(1, len(numbers) + 1))
    assert sorted(e.event_id for e in await store.for_job(events[0].job_id)) == sorted(e.event_id for e in events)
    assert [await store.append(event) for event in events] == [False] * 4


async def test_the_next_number_is_found_by_probing_when_not_remembered(mongo_database: AsyncDatabase) -> None:
    events = [*job_events(), *job_events()[1:] * 10]
    job = events[0].job_id
    events = [e.model_copy(update={"job_id": job, "event_id": uuid4()}) for e in events]
    for event in events[:-1]:
        await EventStore(mongo_database).append(event)  # a new store (process) each time

    assert await EventStore(mongo_database).append(events[-1])
    assert [e.event_id for e in await EventStore(mongo_database).for_job(job)] == [e.event_id for e in events]


async def test_the_watchdog_fails_jobs_idle_too_long_once(own_mongo_database: AsyncDatabase) -> None:
    # a database of its own: in a long run, another test's unfinished job grows old enough too
    mongo_database = own_mongo_database
    view = JobStatusView(mongo_database)
    stale_queued, stale_converting, fresh, done = job_events(), job_events(), job_events(), job_events()
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    for events in (stale_queued[:1], stale_converting[:2]):
        for event in events:
            await view.apply(event.model_copy(update={"occurred_at": hour_ago}))
    for event in fresh[:2] + done:
        await view.apply(event)
    published: list = []

    async def publish(event: object) -> None:
        published.append(event)

    watchdog = Watchdog(
        ActiveJobs(mongo_database),
        publish,
        queued_timeout=timedelta(minutes=30),
        converting_timeout=timedelta(minutes=30),
    )
    await watchdog.sweep()
    for event in published:
        await view.apply(event)
    await watchdog.sweep()

    failed = {e.job_id: e for e in published}
    assert set(failed) == {stale_queued[0].job_id, stale_converting[0].job_id}
    assert all(e.reason == "timed_out" for e in failed.values())
    assert len(published) == 2
    for job_id in failed:
        status = await view.get(job_id)
        assert status is not None
        assert status.state is JobState.FAILED
    # finished jobs leave the set the watchdog reads; the unfinished one stays
    active = {d["_id"] async for d in mongo_database["active_jobs"].find({})}
    assert str(fresh[0].job_id) in active
    assert not active & {str(done[0].job_id), *map(str, failed)}
