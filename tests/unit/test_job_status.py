"""The job-status fold: idempotent, order-independent, never moving a job backwards."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from contracts import (
    ConversionFailed,
    ConversionProgress,
    ConversionStarted,
    FailureReason,
    JobCancelled,
    JobDeleted,
    Mp3Converted,
    NotificationSent,
    VideoUploaded,
)
from projections.job_status import JobState, JobStatus, apply

JOB = uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def happy_path() -> list:
    return [
        VideoUploaded(
            job_id=JOB,
            occurred_at=T0,
            owner_id="7",
            owner_email="ada@example.com",
            video_file_id="f1",
            filename="a.mp4",
            size_bytes=10,
        ),
        ConversionStarted(job_id=JOB, occurred_at=T0 + timedelta(seconds=1), worker="w:1"),
        Mp3Converted(
            job_id=JOB,
            occurred_at=T0 + timedelta(seconds=5),
            owner_id="7",
            owner_email="ada@example.com",
            mp3_file_id="m1",
            filename="a.mp3",
            size_bytes=5,
            duration_seconds=3.0,
        ),
        NotificationSent(job_id=JOB, occurred_at=T0 + timedelta(seconds=6), recipient="ada@example.com"),
    ]


def fold(events: list) -> JobStatus:
    status = None
    for event in events:
        status = apply(status, event)
    assert status is not None
    return status


def test_happy_path_goes_through_every_state_in_order() -> None:
    status = fold(happy_path())

    assert status.state is JobState.NOTIFIED
    assert [change.state for change in status.history] == [
        JobState.QUEUED,
        JobState.CONVERTING,
        JobState.CONVERTED,
        JobState.NOTIFIED,
    ]
    assert (status.owner_id, status.filename, status.mp3_file_id, status.mp3_filename) == ("7", "a.mp4", "m1", "a.mp3")
    assert status.duration_seconds == 3.0
    assert status.updated_at == T0 + timedelta(seconds=6)


def test_repeated_events_change_nothing() -> None:
    events = happy_path()
    once = fold(events)

    assert fold(events + events) == once
    assert apply(once, events[1]) is once


def test_any_arrival_order_gives_the_same_status() -> None:
    events = happy_path()
    expected = fold(events)
    for order in itertools.permutations(events):
        status = fold(list(order))
        assert status.model_dump(exclude={"version"}) == expected.model_dump(exclude={"version"})


def test_a_late_event_does_not_move_the_job_backwards() -> None:
    uploaded, started, converted, _ = happy_path()

    status = fold([uploaded, converted, started])

    assert status.state is JobState.CONVERTED
    assert [change.state for change in status.history] == [JobState.QUEUED, JobState.CONVERTING, JobState.CONVERTED]


def test_a_job_is_not_notified_before_its_mp3_is_on_record() -> None:
    # the notifier's event can overtake the converter's: they come from different publishers
    uploaded, started, converted, notified = happy_path()

    early = fold([uploaded, started, notified])

    assert early.state is JobState.CONVERTING
    assert not early.finished
    assert early.mp3_file_id is None
    late = apply(early, converted)
    assert late.state is JobState.NOTIFIED
    assert late.mp3_file_id == "m1"
    assert [change.state for change in late.history] == [
        JobState.QUEUED,
        JobState.CONVERTING,
        JobState.CONVERTED,
        JobState.NOTIFIED,
    ]


def test_failure_records_the_reason() -> None:
    uploaded, started, *_ = happy_path()
    failed = ConversionFailed(
        job_id=JOB, occurred_at=T0 + timedelta(seconds=2), reason=FailureReason.NO_AUDIO_STREAM, message="no audio"
    )

    status = fold([uploaded, started, failed])

    assert status.state is JobState.FAILED
    assert status.error is not None
    assert (status.error.reason, status.error.message) == (FailureReason.NO_AUDIO_STREAM, "no audio")


def test_progress_keeps_the_newest_report_whatever_the_order() -> None:
    uploaded, started, *_ = happy_path()
    early = ConversionProgress(job_id=JOB, occurred_at=T0 + timedelta(seconds=2), percent=40, processed_seconds=4)
    late = ConversionProgress(job_id=JOB, occurred_at=T0 + timedelta(seconds=3), percent=80, processed_seconds=8)

    for order in ([early, late], [late, early], [late, early, late]):
        status = fold([uploaded, started, *order])
        assert status.progress_percent == 80
        assert status.state is JobState.CONVERTING
        assert len(status.history) == 2


def test_a_cancelled_job_stays_cancelled_even_if_its_conversion_finishes() -> None:
    uploaded, started, converted, _ = happy_path()
    cancelled = JobCancelled(job_id=JOB, occurred_at=T0 + timedelta(seconds=4), requested_by="7")

    for order in itertools.permutations([uploaded, started, converted, cancelled]):
        status = fold(list(order))
        assert status.state is JobState.CANCELLED
        assert status.finished


def test_a_deleted_job_is_marked_once() -> None:
    deleted = JobDeleted(job_id=JOB, occurred_at=T0 + timedelta(seconds=9), requested_by="7")
    status = fold([*happy_path(), deleted, deleted])

    assert status.deleted_at == deleted.occurred_at
    assert status.state is JobState.NOTIFIED


def test_the_same_fact_told_twice_is_one_step_whatever_the_order() -> None:
    uploaded, started, converted, notified = happy_path()
    retried_start = ConversionStarted(job_id=JOB, occurred_at=T0 + timedelta(seconds=3), worker="w:2")
    notified_again = NotificationSent(job_id=JOB, occurred_at=T0 + timedelta(seconds=8), recipient="ada@example.com")
    events = [uploaded, started, retried_start, converted, notified, notified_again]

    expected = fold(events)
    for order in itertools.permutations(events):
        assert fold(list(order)).model_dump(exclude={"version"}) == expected.model_dump(exclude={"version"})
    assert [c.event_id for c in expected.history] == [e.event_id for e in (uploaded, started, converted, notified)]
