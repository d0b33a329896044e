"""The gateway's outbox on the real store: an event is kept before it goes out, sent again by
the relay while the broker refuses it, and leaves the outbox once confirmed; the job's own
events are read back by id."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase

from contracts import Event, JobCancelled, JobDeleted, VideoUploaded
from gateway.outbox import Outbox


class Broker:
    """Takes events while ``up``, refuses them (as a broker gone away) otherwise."""

    def __init__(self) -> None:
        self.up = True
        self.received: list[Event] = []

    async def publish(self, event: Event) -> None:
        if not self.up:
            raise ConnectionError("the broker is away")
        self.received.append(event)


def uploaded() -> VideoUploaded:
    return VideoUploaded(
        job_id=uuid4(), owner_id="1", owner_email="a@example.com", video_file_id="v", filename="a.mp4", size_bytes=1
    )


async def waiting(database: AsyncDatabase) -> set[str]:
    return {entry["_id"] async for entry in database["outbox"].find({})}


async def test_an_event_refused_by_the_broker_is_relayed_once_it_is_back(mongo_database: AsyncDatabase) -> None:
    broker = Broker()
    outbox = Outbox(mongo_database, broker)
    event = uploaded()

    broker.up = False
    assert not await outbox.send(event)
    assert str(event.event_id) in await waiting(mongo_database)
    assert await outbox.events_of(event.job_id) == [event]  # shown at once all the same
    assert await outbox.relay_once(timedelta(0)) == 0

    broker.up = True
    assert await outbox.relay_once(timedelta(0)) >= 1
    assert event in broker.received
    assert str(event.event_id) not in await waiting(mongo_database)


async def test_a_confirmed_event_leaves_the_outbox_and_stays_the_jobs(mongo_database: AsyncDatabase) -> None:
    broker = Broker()
    outbox = Outbox(mongo_database, broker)
    upload = uploaded()
    cancel = JobCancelled(job_id=upload.job_id, requested_by="1")
    delete = JobDeleted(job_id=upload.job_id, requested_by="1")

    for event in (upload, cancel, delete):
        assert await outbox.send(event)
    assert await outbox.send(JobCancelled(job_id=upload.job_id, requested_by="2"))  # a second cancel: harmless

    for _ in range(50):
        if not {str(e.event_id) for e in broker.received} & await waiting(mongo_database):
            break
        await asyncio.sleep(0.1)
    assert not {str(e.event_id) for e in broker.received} & await waiting(mongo_database)
    assert await outbox.events_of(upload.job_id) == [upload, cancel, delete]
    assert await outbox.has_upload(upload.job_id)
    assert not await outbox.has_upload(uuid4())
