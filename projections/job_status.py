"""The job-status read model and the fold that builds it from events.

The fold is commutative and idempotent: each state a job passes through is recorded once
(keyed by the event that caused it), the history is ordered by when things happened, and
the current state is the furthest one reached. Events arriving late, twice or out of order
therefore give the same status, and a rebuild from the event store equals the live model.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts import (
    ConversionFailed,
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

__all__ = ["FINAL_STATES", "TERMINAL_STATES", "JobError", "JobState", "JobStatus", "StateChange", "apply", "fold"]


class JobState(StrEnum):
    """Where a job is. ``notified``, ``failed``, ``cancelled`` and ``expired`` are terminal.

    Declared in rank order: a job is in the furthest state any of its events reached, so
    a cancellation wins over a conversion that finished at the same moment.
    """

    QUEUED = "queued"
    CONVERTING = "converting"
    CONVERTED = "converted"
    NOTIFIED = "notified"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_RANK = {state: rank for rank, state in enumerate(JobState)}
# a state that only counts once the state it follows is known: events from different
# services may arrive in either order (RabbitMQ orders messages per channel, not across
# publishers), and a job must not show ``notified`` before its MP3 is on record
_NEEDS = {JobState.NOTIFIED: JobState.CONVERTED}
TERMINAL_STATES = frozenset({JobState.NOTIFIED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED})
FINAL_STATES = frozenset({JobState.CONVERTED, JobState.FAILED, JobState.CANCELLED})
"""States that end the conversion: the video is needed no more, and the retention period starts."""


class StateChange(BaseModel):
    """One step in a job's history."""

    model_config = ConfigDict(frozen=True)

    state: JobState = Field(description="The state the job entered.")
    at: datetime = Field(description="When it entered it.")
    event_id: UUID = Field(description="The event that moved it there.")


class JobError(BaseModel):
    """Why a job failed."""

    model_config = ConfigDict(frozen=True)

    reason: FailureReason = Field(description="Machine-readable cause.")
    message: str = Field(description="What went wrong, for people.")


class JobStatus(BaseModel):
    """What is known of one conversion job: a fold of its events, one history entry per state."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    owner_id: str | None = Field(default=None, description="Unknown until the upload event is folded in.")
    filename: str | None = None
    created_at: datetime | None = Field(default=None, description="When the upload was accepted.")
    state: JobState = JobState.QUEUED
    history: tuple[StateChange, ...] = ()
    video_file_id: str | None = Field(default=None, description="The uploaded video's file id.")
    video_bytes: int | None = Field(default=None, description="Size of the uploaded video.")
    mp3_file_id: str | None = None
    mp3_filename: str | None = None
    mp3_size_bytes: int | None = Field(default=None, description="Size of the MP3.")
    duration_seconds: float | None = None
    split_asked: bool = Field(default=False, description="The upload asked for one MP3 per chapter.")
    mp3_parts: tuple[Mp3Part, ...] = Field(
        default=(),
        description="One MP3 per chapter (at most 100), in order. Kept in the job's own document, left out of "
        "the lists' pages (``projections.job_index``), which hold the count and bytes below.",
    )
    mp3_part_count: int = Field(default=0, description="How many parts there are.")
    mp3_parts_bytes: int = Field(default=0, description="What the parts take, all together.")
    error: JobError | None = None
    progress_percent: float | None = Field(default=None, description="Latest progress report while converting.")
    progress_at: datetime | None = None
    deleted_at: datetime | None = Field(default=None, description="Set once the job is deleted; it is then hidden.")
    source_removed_at: datetime | None = Field(default=None, description="When the video was removed (retention).")
    updated_at: datetime | None = None
    version: int = Field(default=0, description="Events folded in; guards concurrent writers.")

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def finished_at(self) -> datetime | None:
        """When the conversion ended (MP3 stored, failed or cancelled): retention counts from then."""
        return min((change.at for change in self.history if change.state in FINAL_STATES), default=None)

    @property
    def stored_bytes(self) -> int:
        """What the job's files take: its video (until removed) and its MP3 with its parts (until
        it expires)."""
        if self.state is JobState.EXPIRED:
            return 0
        video = 0 if self.source_removed_at else self.video_bytes or 0
        return video + (self.mp3_size_bytes or 0) + self.mp3_parts_bytes


_STATE_OF = {
    VideoUploaded: JobState.QUEUED,
    ConversionStarted: JobState.CONVERTING,
    Mp3Converted: JobState.CONVERTED,
    NotificationSent: JobState.NOTIFIED,
    ConversionFailed: JobState.FAILED,
    JobCancelled: JobState.CANCELLED,
    JobExpired: JobState.EXPIRED,
}


def apply(status: JobStatus | None, event: Event) -> JobStatus:
    """Fold ``event`` into ``status`` (``None`` for a job not seen yet)."""
    current = status or JobStatus(job_id=event.job_id)
    match event:
        case ConversionProgress():
            return _progress(current, event)
        case JobDeleted():
            return _deleted(current, event)
        case SourceRemoved():
            return _source_removed(current, event)
    state = _STATE_OF[type(event)]
    change = StateChange(state=state, at=event.occurred_at, event_id=event.event_id)
    # one entry per state: the earliest event reaching it wins, whatever the arrival order,
    # so a redelivered, retried or re-announced fact changes nothing
    earlier = next((c for c in current.history if c.state is state), None)
    if earlier is not None and _order(earlier) <= _order(change):
        return current
    kept = (c for c in current.history if c.state is not state)
    history = tuple(sorted((*kept, change), key=lambda c: (c.at, _RANK[c.state])))
    updates: dict[str, object] = {
        "history": history,
        "state": _furthest(history),
        "updated_at": max(c.at for c in history),
        "version": current.version + 1,
    }
    match event:
        case VideoUploaded():
            updates |= {
                "owner_id": event.owner_id,
                "filename": event.filename,
                "created_at": event.occurred_at,
                "video_file_id": event.video_file_id,
                "video_bytes": event.size_bytes,
                "split_asked": event.options.split_chapters,
            }
        case Mp3Converted():
            updates |= {
                "mp3_file_id": event.mp3_file_id,
                "mp3_filename": event.filename,
                "mp3_size_bytes": event.size_bytes,
                "duration_seconds": event.duration_seconds,
                "mp3_parts": tuple(event.parts),
                "mp3_part_count": len(event.parts),
                "mp3_parts_bytes": sum(part.size_bytes for part in event.parts),
            }
        case ConversionFailed():
            updates |= {"error": JobError(reason=event.reason, message=event.message)}
    return current.model_copy(update=updates)


def _furthest(history: Iterable[StateChange]) -> JobState:
    """The furthest state reached whose predecessor (if it needs one) is on record too."""
    reached = {change.state for change in history}
    counted = (state for state in reached if _NEEDS.get(state, state) in reached)
    return max(counted, key=_RANK.__getitem__, default=JobState.QUEUED)


def _order(change: StateChange) -> tuple[datetime, str]:
    return change.at, str(change.event_id)


def _progress(current: JobStatus, event: ConversionProgress) -> JobStatus:
    # only the newest report counts, whatever order they arrive in
    if current.progress_at is not None and current.progress_at >= event.occurred_at:
        return current
    return current.model_copy(
        update={"progress_percent": event.percent, "progress_at": event.occurred_at, "version": current.version + 1}
    )


def _deleted(current: JobStatus, event: JobDeleted) -> JobStatus:
    if current.deleted_at is not None and current.deleted_at <= event.occurred_at:
        return current
    return current.model_copy(update={"deleted_at": event.occurred_at, "version": current.version + 1})


def _source_removed(current: JobStatus, event: SourceRemoved) -> JobStatus:
    if current.source_removed_at is not None and current.source_removed_at <= event.occurred_at:
        return current
    return current.model_copy(update={"source_removed_at": event.occurred_at, "version": current.version + 1})


def fold(events: Iterable[Event]) -> JobStatus | None:
    """The status ``events`` add up to (``None`` for no events)."""
    status = None
    for event in events:
        status = apply(status, event)
    return status
