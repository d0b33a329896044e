"""Retention: a finished job loses its video at once, and expires after the retention period.

Two consumers in the projections service, each a step a message drives (no scan of anything):

1. ``Queues.RETENTION`` hears a job's conversion end (``Mp3Converted``, ``ConversionFailed``,
   ``JobCancelled``). It puts that event in the wait queue (``expiry_wait_queue``: RabbitMQ
   keeps it, durably, for the retention period), then removes the job's video
   (``VIDMP3_REMOVE_SOURCE``) and announces ``SourceRemoved``.
2. ``Queues.EXPIRY`` gets the event back once the period has passed. It removes the job's MP3
   and video (their chunks by computed ids, ``common.blobs``) and the record of its tus
   upload, then announces ``JobExpired``; the status projection folds it as ``expired`` and
   the owner's stored bytes drop by what the job held.

The schedule is the broker's: a message published (and confirmed) before the first step is
acked survives restarts of every service and of RabbitMQ (quorum queues, dead-lettered at
least once), so no expiry is lost, and nothing is ever searched for. Each step is idempotent
(removals by id; the announcements' ids derive from the job), so redeliveries and a job
finishing twice (cancelled, then failed) change nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol

from bson import ObjectId
from faststream.rabbit import RabbitBroker
from prometheus_client import Counter
from pydantic import Field
from pymongo.asynchronous.database import AsyncDatabase

from common.blobs import MP3S, VIDEOS, AsyncBucket
from common.broker import EventPublisher
from common.consuming import subscribe
from common.mongo import Document
from common.storage_layout import request_key
from contracts import (
    ConversionFailed,
    Event,
    EventAdapter,
    JobCancelled,
    JobExpired,
    Mp3Converted,
    RoutingKey,
    SourceRemoved,
    VideoUploaded,
)
from contracts.topology import Queues, expiry_wait_queue
from projections.documents import status_of
from projections.job_status import JobState, JobStatus, fold

__all__ = ["FileStore", "FinalEvent", "JobFiles", "Retention", "register_retention", "unscheduled"]

log = logging.getLogger(__name__)

EXPIRED = Counter("retention_jobs_expired_total", "Jobs whose retention period passed and whose files were removed.")
SOURCES = Counter("retention_sources_removed_total", "Videos removed once their job's conversion was final.")

FinalEvent = Annotated[Mp3Converted | ConversionFailed | JobCancelled, Field(discriminator="type")]
"""An event that ends a job's conversion."""


class UnknownJob(Exception):
    """Neither the read model nor the gateway's record knows the job yet: try again later."""


class FileStore(Protocol):
    """What retention needs of the store (``JobFiles``; a dict-backed fake in unit tests)."""

    async def status(self, job_id: uuid.UUID) -> JobStatus | None: ...

    async def upload(self, job_id: uuid.UUID) -> VideoUploaded | None: ...

    async def remove(self, bucket: str, file_id: str | None) -> None: ...

    async def forget_upload(self, job_id: uuid.UUID) -> None: ...


class JobFiles:
    """What the store knows of a job's files, and their removal (every access by primary key)."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._statuses = database["job_status"]
        self._requests = database["gateway_events"]
        self._completed_uploads = database["completed_uploads"]
        self._buckets = {name: AsyncBucket(database, name) for name in (VIDEOS, MP3S)}

    async def status(self, job_id: uuid.UUID) -> JobStatus | None:
        document = await self._statuses.find_one({"_id": str(job_id)})
        return None if document is None else status_of(document)

    async def upload(self, job_id: uuid.UUID) -> VideoUploaded | None:
        """The upload as the gateway recorded it (before the projection may have folded it)."""
        document = await self._requests.find_one({"_id": request_key(job_id, RoutingKey.VIDEO_UPLOADED)})
        if document is None:
            return None
        event = EventAdapter.validate_python(document["event"])
        return event if isinstance(event, VideoUploaded) else None

    async def remove(self, bucket: str, file_id: str | None) -> None:
        if file_id and ObjectId.is_valid(file_id):
            if bucket == MP3S:  # and its parts, if it was split per chapter
                await self._buckets[bucket].remove_with_parts(ObjectId(file_id))
            else:
                await self._buckets[bucket].remove(ObjectId(file_id))

    async def forget_upload(self, job_id: uuid.UUID) -> None:
        """The record of the finished tus upload the job came from, if any."""
        await self._completed_uploads.delete_one({"_id": str(job_id)})


class Retention:
    """``schedule`` puts a final event in the wait queue; ``publish`` announces what was done."""

    def __init__(
        self,
        files: FileStore,
        schedule: Callable[[Event], Awaitable[None]],
        publish: Callable[[Event], Awaitable[None]],
        *,
        retention: timedelta,
        remove_source: bool,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._files, self._schedule, self._publish = files, schedule, publish
        self._retention, self._remove_source, self._now = retention, remove_source, now

    async def conversion_ended(self, event: Mp3Converted | ConversionFailed | JobCancelled) -> None:
        """Schedule the job's expiry, then remove its video (it is needed no more)."""
        await self._schedule(event)  # first: once this is confirmed, the expiry cannot be lost
        if not self._remove_source:
            return
        status = await self._files.status(event.job_id)
        if status is not None and status.source_removed_at is not None:
            return
        video_id, size = await self._video_of(event.job_id, status)
        await self._files.remove(VIDEOS, video_id)
        SOURCES.inc()
        await self._publish(
            SourceRemoved(
                event_id=uuid.uuid5(event.job_id, RoutingKey.SOURCE_REMOVED), job_id=event.job_id, freed_bytes=size
            )
        )

    async def due(self, event: Mp3Converted | ConversionFailed | JobCancelled) -> None:
        """Expire the job ``event`` ended, once the period has passed (its files, then the event)."""
        status = await self._files.status(event.job_id)
        finished_at = (status.finished_at if status else None) or event.occurred_at
        if finished_at + self._retention > self._now() + timedelta(seconds=5):
            # the period was made longer since this was scheduled: wait it out again
            await self._schedule(event)
            return
        if status is not None and (status.deleted_at is not None or status.state is JobState.EXPIRED):
            return  # deleted (its files went then) or expired already
        video_id, _ = await self._video_of(event.job_id, status)
        mp3_id = event.mp3_file_id if isinstance(event, Mp3Converted) else status.mp3_file_id if status else None
        await self._files.remove(MP3S, mp3_id)
        await self._files.remove(VIDEOS, video_id)
        await self._files.forget_upload(event.job_id)
        EXPIRED.inc()
        log.info("job %s expired", event.job_id, extra={"job_id": str(event.job_id)})
        await self._publish(
            JobExpired(
                event_id=uuid.uuid5(event.job_id, RoutingKey.JOB_EXPIRED),
                job_id=event.job_id,
                finished_at=finished_at,
                retention_hours=self._retention / timedelta(hours=1),
            )
        )

    async def _video_of(self, job_id: uuid.UUID, status: JobStatus | None) -> tuple[str | None, int]:
        if status is not None and status.video_file_id is not None:
            return status.video_file_id, status.video_bytes or 0
        upload = await self._files.upload(job_id)
        if upload is None:
            raise UnknownJob(f"job {job_id} is not on record yet")
        return upload.video_file_id, upload.size_bytes


async def unscheduled(
    jobs: AsyncIterable[tuple[uuid.UUID, list[Event]]],
) -> AsyncIterator[Mp3Converted | ConversionFailed | JobCancelled]:
    """The event that ended each finished job still holding files (not expired, not deleted):
    what a store written before retention existed never scheduled (offline: it reads every
    job's events; ``python -m projections retain-finished`` hands each to retention)."""
    async for _, events in jobs:
        status = fold(events)
        if status is None or status.deleted_at is not None or status.state is JobState.EXPIRED:
            continue
        finals = [e for e in events if isinstance(e, Mp3Converted | ConversionFailed | JobCancelled)]
        if finals:
            yield min(finals, key=lambda event: event.occurred_at)


def register_retention(
    broker: RabbitBroker, database: AsyncDatabase[Document], *, retention: timedelta, remove_source: bool
) -> Callable[[], Awaitable[None]]:
    """Subscribe both retention steps on ``broker``; returns what declares the wait queue
    (call it once connected, before any message is handled)."""
    wait = expiry_wait_queue(retention.total_seconds())
    publisher = EventPublisher(broker, [SourceRemoved, JobExpired], sender="projections.retention")

    async def schedule(event: Event) -> None:
        await broker.publish(
            event,
            routing_key=wait.name,
            persist=True,
            message_id=str(event.event_id),
            correlation_id=str(event.job_id),
            message_type=event.type,
        )

    retention_steps = Retention(
        JobFiles(database), schedule, publisher.publish, retention=retention, remove_source=remove_source
    )
    subscribe(
        broker,
        Queues.RETENTION,
        FinalEvent,
        retention_steps.conversion_ended,
        title="retention.job-finished:consume",
        description="Schedule the finished job's expiry and remove its video.",
    )
    subscribe(
        broker,
        Queues.EXPIRY,
        FinalEvent,
        retention_steps.due,
        title="retention.job-due:consume",
        description="Expire a job whose retention period has passed: remove its files, announce JobExpired.",
    )

    async def declare() -> None:
        await broker.declare_queue(wait)

    return declare
