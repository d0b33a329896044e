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
    ConversionStarted,
    Event,
    FailureReason,
    Mp3Converted,
    NotificationSent,
    VideoUploaded,
)

__all__ = ["JobError", "JobState", "JobStatus", "StateChange", "apply", "fold"]


class JobState(StrEnum):
    """Where a job is. ``notified`` and ``failed`` are terminal."""

    QUEUED = "queued"
    CONVERTING = "converting"
    CONVERTED = "converted"
    NOTIFIED = "notified"
    FAILED = "failed"


_RANK = {state: rank for rank, state in enumerate(JobState)}
TERMINAL_STATES = frozenset({JobState.NOTIFIED, JobState.FAILED})


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
    """What is known of one conversion job."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    owner_id: str | None = Field(default=None, description="Unknown until the upload event is folded in.")
    filename: str | None = None
    state: JobState = JobState.QUEUED
    history: tuple[StateChange, ...] = ()
    mp3_file_id: str | None = None
    mp3_filename: str | None = None
    duration_seconds: float | None = None
    error: JobError | None = None
    updated_at: datetime | None = None
    version: int = Field(default=0, description="Events folded in; guards concurrent writers.")

    @property
    def applied_event_ids(self) -> frozenset[UUID]:
        return frozenset(change.event_id for change in self.history)


_STATE_OF = {
    VideoUploaded: JobState.QUEUED,
    ConversionStarted: JobState.CONVERTING,
    Mp3Converted: JobState.CONVERTED,
    NotificationSent: JobState.NOTIFIED,
    ConversionFailed: JobState.FAILED,
}


def apply(status: JobStatus | None, event: Event) -> JobStatus:
    """Fold ``event`` into ``status`` (``None`` for a job not seen yet)."""
    current = status or JobStatus(job_id=event.job_id)
    if event.event_id in current.applied_event_ids:
        return current

    state = _STATE_OF[type(event)]
    change = StateChange(state=state, at=event.occurred_at, event_id=event.event_id)
    history = tuple(sorted((*current.history, change), key=lambda c: (c.at, _RANK[c.state])))
    updates: dict[str, object] = {
        "history": history,
        "state": max((c.state for c in history), key=_RANK.__getitem__),
        "updated_at": max(c.at for c in history),
        "version": current.version + 1,
    }
    match event:
        case VideoUploaded():
            updates |= {"owner_id": event.owner_id, "filename": event.filename}
        case Mp3Converted():
            updates |= {
                "mp3_file_id": event.mp3_file_id,
                "mp3_filename": event.filename,
                "duration_seconds": event.duration_seconds,
            }
        case ConversionFailed():
            updates |= {"error": JobError(reason=event.reason, message=event.message)}
    return current.model_copy(update=updates)


def fold(events: Iterable[Event]) -> JobStatus | None:
    """The status ``events`` add up to (``None`` for no events)."""
    status = None
    for event in events:
        status = apply(status, event)
    return status
