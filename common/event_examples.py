"""Examples of every event type, as integrators see them in the AsyncAPI document.

Written by hand so that they read like one real job (same ids, times that follow each other),
and built from the event classes themselves, so an example that no longer validates fails at
import. Ids and times are fixed: the generated document must be the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from contracts import (
    ConversionFailed,
    ConversionOptions,
    ConversionProgress,
    ConversionStarted,
    Event,
    FailureReason,
    JobCancelled,
    JobDeleted,
    JobExpired,
    Mp3Converted,
    Mp3Part,
    NotificationSent,
    SourceRemoved,
    VideoUploaded,
)

__all__ = ["EXAMPLES", "Example", "examples_of"]

JOB_ID = UUID("3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b")
OWNER_ID = "8c2f4e1a-5b6d-4f3e-9a8b-7c6d5e4f3a2b"
OWNER_EMAIL = "ada@example.com"
UPLOADED_AT = datetime(2026, 5, 4, 10, 15, 30, 123000, tzinfo=UTC)


def _event_id(n: int) -> UUID:
    return UUID(f"9b1d7c1e-0f4a-4e55-8f0e-{n:012x}")


def _at(seconds: float) -> datetime:
    return UPLOADED_AT + timedelta(seconds=seconds)


Example = tuple[str, Event]
"""A one-line summary and the event."""

EXAMPLES: tuple[Example, ...] = (
    (
        "a 3-minute holiday video uploaded, a 128 kbit/s MP3 wanted",
        VideoUploaded(
            event_id=_event_id(1),
            job_id=JOB_ID,
            occurred_at=_at(0),
            owner_id=OWNER_ID,
            owner_email=OWNER_EMAIL,
            video_file_id="6650a1f2c3d4e5f601234501",
            filename="holiday.mp4",
            size_bytes=73_400_320,
            options=ConversionOptions(bitrate_kbps=128),
        ),
    ),
    (
        "a converter worker took the job",
        ConversionStarted(event_id=_event_id(2), job_id=JOB_ID, occurred_at=_at(0.4), worker="converter-7d9f:4182"),
    ),
    (
        "half of the audio converted",
        ConversionProgress(
            event_id=_event_id(3),
            job_id=JOB_ID,
            occurred_at=_at(2.1),
            percent=50.0,
            processed_seconds=91.7,
            total_seconds=183.4,
        ),
    ),
    (
        "the MP3 is stored",
        Mp3Converted(
            event_id=_event_id(4),
            job_id=JOB_ID,
            occurred_at=_at(4.0),
            owner_id=OWNER_ID,
            owner_email=OWNER_EMAIL,
            mp3_file_id="6650a1f2c3d4e5f601234567",
            filename="holiday.mp3",
            size_bytes=2_934_784,
            duration_seconds=183.4,
        ),
    ),
    (
        "the MP3 is stored, and one per chapter (split_chapters)",
        Mp3Converted(
            event_id=_event_id(12),
            job_id=JOB_ID,
            occurred_at=_at(4.0),
            owner_id=OWNER_ID,
            owner_email=OWNER_EMAIL,
            mp3_file_id="6650a1f2c3d4e5f601234567",
            filename="lecture.mp3",
            size_bytes=2_934_784,
            duration_seconds=183.4,
            parts=[
                Mp3Part(
                    number=number,
                    file_id=f"6650a1f2c3d4e5f601234567.{number:03d}",
                    filename=f"lecture - {number:02d} {title}.mp3",
                    title=title,
                    start_seconds=start,
                    duration_seconds=length,
                    size_bytes=round(length * 16_000),
                )
                for number, (title, start, length) in enumerate(
                    [("Welcome", 0.0, 42.0), ("The method", 42.0, 141.4)], start=1
                )
            ],
        ),
    ),
    (
        "the owner was emailed the download link",
        NotificationSent(event_id=_event_id(5), job_id=JOB_ID, occurred_at=_at(4.3), recipient=OWNER_EMAIL),
    ),
    (
        "the upload has no audio to extract (from the converter)",
        ConversionFailed(
            event_id=_event_id(6),
            job_id=JOB_ID,
            occurred_at=_at(0.6),
            reason=FailureReason.NO_AUDIO_STREAM,
            message="the file has no audio stream",
        ),
    ),
    (
        "no sign of life from a converting job (from the projection's watchdog)",
        ConversionFailed(
            event_id=_event_id(7),
            job_id=JOB_ID,
            occurred_at=_at(3600),
            reason=FailureReason.TIMED_OUT,
            message="converting for 60 minutes without progress",
        ),
    ),
    (
        "the owner cancelled the job while it converted",
        JobCancelled(event_id=_event_id(8), job_id=JOB_ID, occurred_at=_at(1.5), requested_by=OWNER_ID),
    ),
    (
        "the owner deleted the job and its files",
        JobDeleted(event_id=_event_id(9), job_id=JOB_ID, occurred_at=_at(86_400), requested_by=OWNER_ID),
    ),
    (
        "the converted job's 180 MB video removed at once (retention)",
        SourceRemoved(event_id=_event_id(10), job_id=JOB_ID, occurred_at=_at(6.2), freed_bytes=187_604_992),
    ),
    (
        "the job expired a day after its MP3 was stored",
        JobExpired(
            event_id=_event_id(11),
            job_id=JOB_ID,
            occurred_at=_at(86_406),
            finished_at=_at(6),
            retention_hours=24.0,
        ),
    ),
)


def examples_of(event_type: str) -> list[Example]:
    """The examples of the events whose ``type`` is ``event_type``."""
    return [(summary, event) for summary, event in EXAMPLES if event.type == event_type]
