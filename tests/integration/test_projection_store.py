"""The event store and job-status view against the real MongoDB-wire server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase

from contracts import ConversionStarted, JobDeleted, Mp3Converted, NotificationSent, VideoUploaded
from projections.job_status import JobState, apply
from projections.rebuild import compare, rebuild
from projections.store import EventStore, JobStatusView
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
    await store.ensure_indexes()
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
    await store.ensure_indexes()
    for events in (job_events(), job_events()[:2], job_events()[:3]):
        for event in events + events[:1]:  # a redelivery too
            await store.append(event)
            await live.apply(event)

    rebuilt = JobStatusView(database, "job_status_rebuilt")
    jobs = await rebuild(store, rebuilt)
    comparison = await compare(live, rebuilt)
    await mongo_database.client.drop_database(database.name)

    assert jobs == 3
    assert comparison.identical, comparison
    assert comparison.same == jobs


async def test_an_unknown_job_has_no_status(mongo_database: AsyncDatabase) -> None:
    assert await JobStatusView(mongo_database).get(uuid4()) is None


async def test_pages_list_an_owners_jobs_newest_first(mongo_database: AsyncDatabase) -> None:
    view = JobStatusView(mongo_database)
    await view.ensure_indexes()
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
            size_bytes=1,
        )
        await view.apply(event)
        jobs.append(event.job_id)
    await view.apply(JobDeleted(job_id=jobs[2], requested_by=owner))

    first = await view.page(owner_id=owner, limit=2)
    second = await view.page(owner_id=owner, limit=2, created_before=first[-1].created_at)

    assert [s.job_id for s in first] == [jobs[4], jobs[3]]
    assert [s.job_id for s in second] == [jobs[1], jobs[0]]
    assert await view.page(owner_id="nobody", limit=10) == []


async def test_events_are_numbered_in_order_within_their_job_even_when_appended_at_once(
    mongo_database: AsyncDatabase,
) -> None:
    store = EventStore(mongo_database)
    await store.ensure_indexes()
    events = job_events()

    stored = await asyncio.gather(*(store.append(event) for event in events * 3))

    assert sorted(stored) == [False] * 8 + [True] * 4
    numbers = [d["seq"] async for d in mongo_database["events"].find({"job_id": str(events[0].job_id)})]
    assert sorted(numbers) == [1, 2, 3, 4]


async def test_the_watchdog_fails_jobs_idle_too_long_once(mongo_database: AsyncDatabase) -> None:
    view = JobStatusView(mongo_database)
    await view.ensure_indexes()
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

    watchdog = Watchdog(view, publish, queued_timeout=timedelta(minutes=30), converting_timeout=timedelta(minutes=30))
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
