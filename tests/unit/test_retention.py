"""Retention's pure parts: the fold of SourceRemoved and JobExpired, the job view's expiry,
and the two retention steps against an in-memory store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from common.links import DEV_LINK_KEY, LinkSigner
from contracts import (
    ConversionFailed,
    Event,
    FailureReason,
    JobDeleted,
    JobExpired,
    Mp3Converted,
    RoutingKey,
    SourceRemoved,
    VideoUploaded,
)
from gateway.views import job_view
from projections.job_status import JobState, JobStatus, fold
from projections.retention import Retention, unscheduled

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
LINKS = LinkSigner(DEV_LINK_KEY, lifetime=timedelta(days=7))
JOB = uuid.UUID("3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b")
VIDEO_ID, MP3_ID = "656f0c1e2a3b4c5d6e7f8091", "656f0c1e2a3b4c5d6e7f8092"


def uploaded() -> VideoUploaded:
    return VideoUploaded(
        job_id=JOB,
        occurred_at=T0,
        owner_id="u1",
        owner_email="ada@example.com",
        video_file_id=VIDEO_ID,
        filename="a.mp4",
        size_bytes=1000,
    )


def converted(at: datetime = T0 + timedelta(seconds=10)) -> Mp3Converted:
    return Mp3Converted(
        job_id=JOB,
        occurred_at=at,
        owner_id="u1",
        owner_email="ada@example.com",
        mp3_file_id=MP3_ID,
        filename="a.mp3",
        size_bytes=200,
        duration_seconds=3.0,
    )


def expired(at: datetime) -> JobExpired:
    return JobExpired(job_id=JOB, occurred_at=at, finished_at=T0 + timedelta(seconds=10), retention_hours=24)


def test_a_job_stores_its_video_until_removed_and_nothing_once_expired() -> None:
    status = fold([uploaded(), converted()])
    assert status is not None
    assert status.stored_bytes == 1200
    assert status.finished_at == T0 + timedelta(seconds=10)

    removed = fold(
        [uploaded(), converted(), SourceRemoved(job_id=JOB, occurred_at=T0 + timedelta(seconds=11), freed_bytes=1000)]
    )
    assert removed is not None
    assert removed.stored_bytes == 200
    assert removed.state is JobState.CONVERTED

    gone = fold([uploaded(), converted(), expired(T0 + DAY)])
    assert gone is not None
    assert gone.state is JobState.EXPIRED
    assert gone.finished
    assert gone.stored_bytes == 0


def test_expiry_wins_in_any_order_and_once() -> None:
    events: list[Event] = [expired(T0 + DAY), converted(), uploaded(), expired(T0 + DAY + timedelta(seconds=1))]
    status = fold(events)
    assert status is not None
    assert status.state is JobState.EXPIRED
    assert [c.state for c in status.history].count(JobState.EXPIRED) == 1


def test_the_view_says_when_the_job_expires_and_hides_an_expired_mp3() -> None:
    running = fold([uploaded()])
    assert running is not None
    assert job_view(running, LINKS, DAY).expires_at is None

    done = fold([uploaded(), converted()])
    assert done is not None
    view = job_view(done, LINKS, DAY)
    assert view.expires_at == T0 + timedelta(seconds=10) + DAY
    assert view.mp3 is not None
    assert view.mp3.download_expires_at == view.expires_at  # the link never outlives the MP3

    gone = fold([uploaded(), converted(), expired(T0 + DAY + timedelta(seconds=30))])
    assert gone is not None
    view = job_view(gone, LINKS, DAY)
    assert view.mp3 is None
    assert view.expires_at == T0 + DAY + timedelta(seconds=30)


@dataclass
class FakeFiles:
    statuses: dict[uuid.UUID, JobStatus] = field(default_factory=dict)
    uploads: dict[uuid.UUID, VideoUploaded] = field(default_factory=dict)
    removed: list[tuple[str, str | None]] = field(default_factory=list)
    forgotten: list[uuid.UUID] = field(default_factory=list)

    async def status(self, job_id: uuid.UUID) -> JobStatus | None:
        return self.statuses.get(job_id)

    async def upload(self, job_id: uuid.UUID) -> VideoUploaded | None:
        return self.uploads.get(job_id)

    async def remove(self, bucket: str, file_id: str | None) -> None:
        self.removed.append((bucket, file_id))

    async def forget_upload(self, job_id: uuid.UUID) -> None:
        self.forgotten.append(job_id)


@dataclass
class Steps:
    files: FakeFiles
    now: datetime
    scheduled: list[Event] = field(default_factory=list)
    published: list[Event] = field(default_factory=list)

    def retention(self, *, remove_source: bool = True) -> Retention:
        async def schedule(event: Event) -> None:
            self.scheduled.append(event)

        async def publish(event: Event) -> None:
            self.published.append(event)

        return Retention(
            self.files, schedule, publish, retention=DAY, remove_source=remove_source, now=lambda: self.now
        )


async def test_a_final_event_is_scheduled_then_the_video_goes() -> None:
    files = FakeFiles(uploads={JOB: uploaded()})
    steps = Steps(files, now=T0 + timedelta(seconds=11))
    event = converted()

    await steps.retention().conversion_ended(event)

    assert steps.scheduled == [event]
    assert files.removed == [("videos", VIDEO_ID)]
    [announced] = steps.published
    assert isinstance(announced, SourceRemoved)
    assert announced.freed_bytes == 1000
    assert announced.event_id == uuid.uuid5(JOB, RoutingKey.SOURCE_REMOVED)


async def test_keeping_the_video_still_schedules_the_expiry() -> None:
    files = FakeFiles(uploads={JOB: uploaded()})
    steps = Steps(files, now=T0)

    await steps.retention(remove_source=False).conversion_ended(converted())

    assert len(steps.scheduled) == 1
    assert files.removed == []
    assert steps.published == []


async def test_an_unknown_job_is_tried_again_later() -> None:
    steps = Steps(FakeFiles(), now=T0)
    with pytest.raises(Exception, match="not on record"):
        await steps.retention().conversion_ended(converted())
    assert len(steps.scheduled) == 1  # the expiry is on its way whatever happens next


async def test_a_due_job_loses_its_files_and_expires() -> None:
    status = fold([uploaded(), converted()])
    assert status is not None
    files = FakeFiles(statuses={JOB: status})
    steps = Steps(files, now=T0 + DAY + timedelta(seconds=10))

    await steps.retention().due(converted())

    assert files.removed == [("mp3s", MP3_ID), ("videos", VIDEO_ID)]
    assert files.forgotten == [JOB]
    [announced] = steps.published
    assert isinstance(announced, JobExpired)
    assert announced.finished_at == T0 + timedelta(seconds=10)
    assert announced.event_id == uuid.uuid5(JOB, RoutingKey.JOB_EXPIRED)


async def test_a_deleted_or_expired_job_is_left_alone() -> None:
    for last in (JobDeleted(job_id=JOB, occurred_at=T0 + timedelta(hours=1), requested_by="u1"), expired(T0 + DAY)):
        status = fold([uploaded(), converted(), last])
        assert status is not None
        files = FakeFiles(statuses={JOB: status})
        steps = Steps(files, now=T0 + DAY + timedelta(seconds=10))
        await steps.retention().due(converted())
        assert files.removed == []
        assert steps.published == []


async def test_a_job_not_due_yet_waits_again() -> None:
    failed = ConversionFailed(
        job_id=JOB, occurred_at=T0, reason=FailureReason.UNDECODABLE_INPUT, message="the file cannot be decoded"
    )
    status = fold([uploaded(), failed])
    assert status is not None
    files = FakeFiles(statuses={JOB: status})
    steps = Steps(files, now=T0 + timedelta(hours=2))  # scheduled under a shorter period

    await steps.retention().due(failed)

    assert steps.scheduled == [failed]
    assert files.removed == []
    assert steps.published == []


async def test_finished_jobs_from_before_retention_are_found_with_the_event_that_ended_them() -> None:
    other = uuid.UUID("7a1d7c1e-0f4a-4e55-8f0e-000000000002")
    running = VideoUploaded(**(uploaded().model_dump() | {"job_id": other}))
    gone = uuid.UUID("7a1d7c1e-0f4a-4e55-8f0e-000000000003")
    deleted = [
        VideoUploaded(**(uploaded().model_dump() | {"job_id": gone})),
        JobDeleted(job_id=gone, occurred_at=T0 + timedelta(hours=1), requested_by="u1"),
    ]
    failed_late = ConversionFailed(
        job_id=JOB, occurred_at=T0 + timedelta(hours=2), reason=FailureReason.TIMED_OUT, message="too late"
    )
    ended = converted()
    jobs: list[tuple[uuid.UUID, list[Event]]] = [
        (JOB, [uploaded(), failed_late, ended]),
        (other, [running]),
        (gone, deleted),
    ]

    async def every_job() -> AsyncIterator[tuple[uuid.UUID, list[Event]]]:
        for job in jobs:
            yield job

    found = [event async for event in unscheduled(every_job())]

    assert found == [ended]  # the earliest final event; not the running or deleted job
