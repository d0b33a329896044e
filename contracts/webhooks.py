"""The public webhook events: what integrators receive over HTTP, derived from the internal events.

These are a contract with people outside the system, kept apart from the internal events
(which may change with the services): each body is ``{"type", "schema_version", "timestamp",
"data"}`` as Standard Webhooks recommends, with a ``type`` naming what happened to a job. The
same fact always has the same ``event_id``; the ``webhook-id`` header names one delivery of it
to one endpoint and stays the same on every retry, so receivers de-duplicate on it.

Also here: ``DeliverWebhook``, the notifier's internal command to send one stored delivery
(it travels straight to the sender's queue, never through the events exchange).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from contracts.events import FailureReason

__all__ = [
    "DeliverWebhook",
    "JobCancelled",
    "JobCancelledData",
    "JobConverting",
    "JobConvertingData",
    "JobDeleted",
    "JobDeletedData",
    "JobExpired",
    "JobExpiredData",
    "JobFailed",
    "JobFailedData",
    "JobQueued",
    "JobQueuedData",
    "JobReady",
    "JobReadyData",
    "JobReadyPart",
    "WebhookEvent",
    "WebhookEventAdapter",
    "WebhookEventType",
    "webhook_event_models",
]


class WebhookEventType(StrEnum):
    """What an endpoint can subscribe to; also each public event's ``type``."""

    JOB_QUEUED = "job.queued"
    JOB_CONVERTING = "job.converting"
    JOB_READY = "job.ready"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_EXPIRED = "job.expired"
    JOB_DELETED = "job.deleted"


_JOB = "The job this event is about."
_EXAMPLE_JOB = "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: UUID = Field(description=_JOB, examples=[_EXAMPLE_JOB])
    status_url: str = Field(
        description="The job at the REST API (needs your token): its full state.",
        examples=[f"https://vidmp3.example.com/v1/jobs/{_EXAMPLE_JOB}"],
    )


class JobQueuedData(_Data):
    filename: str = Field(description="Name of the uploaded video.", examples=["holiday.mp4"])
    size_bytes: int = Field(ge=0, description="Size of the uploaded video.")


class JobConvertingData(_Data):
    percent: float = Field(
        ge=0,
        le=100,
        description="Share of the audio converted so far: 0 when conversion starts, then at most one event per 10 %.",
    )


class JobReadyPart(BaseModel):
    """One chapter's own MP3, when the upload asked for `split_chapters`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    number: int = Field(ge=1, description="Its place, from 1, in the chapters' order.", examples=[2])
    title: str = Field(description="The chapter's title.", examples=["Methods"])
    filename: str = Field(description="Download name of this MP3.", examples=["lecture - 02 Methods.mp3"])
    start_seconds: float = Field(ge=0, description="Where the chapter starts in the whole MP3.")
    duration_seconds: float = Field(ge=0, description="Length of this MP3's audio.")
    size_bytes: int = Field(ge=0, description="Size of this MP3.")
    download_url: str = Field(description="A signed link to this MP3, as `download_url` is to the whole one.")


class JobReadyData(_Data):
    filename: str = Field(description="Download name of the MP3.", examples=["holiday.mp3"])
    size_bytes: int = Field(ge=0, description="Size of the MP3.")
    duration_seconds: float = Field(ge=0, description="Length of the MP3's audio.")
    download_url: str = Field(
        description=(
            "A signed link to the MP3: it needs no token and works until `download_expires_at` "
            "or until the job is deleted. Anyone holding it can download the file."
        ),
        examples=["https://vidmp3.example.com/v1/downloads/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."],
    )
    download_expires_at: AwareDatetime = Field(description="When `download_url` stops working.")
    # optional, and ignored by receivers that do not know it: no new version
    parts: list[JobReadyPart] = Field(
        default_factory=list,
        max_length=100,
        description="One MP3 per chapter (at most 100), when the upload asked for `split_chapters` and the "
        "video has two chapters or more; empty otherwise. Their links expire with `download_url`.",
    )


class JobFailedData(_Data):
    reason: FailureReason = Field(description="Why, for programs (a value may be added in a later version).")
    detail: str = Field(
        description="What happened and what to try, in plain words: show this to people.",
        examples=["The video has no sound, so there is nothing to turn into an MP3. Check that the video plays..."],
    )


class JobCancelledData(_Data):
    pass


class JobExpiredData(_Data):
    pass


class JobDeletedData(_Data):
    pass


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(description="Id of this fact: the same in every delivery of it, to any endpoint.")
    schema_version: Literal[1] = Field(default=1, description="Version of this event type's body.")
    timestamp: AwareDatetime = Field(description="When it happened (UTC).")


class JobQueued(_Event):
    """Sent when a video is stored and its job is queued for conversion."""

    type: Literal[WebhookEventType.JOB_QUEUED] = WebhookEventType.JOB_QUEUED
    data: JobQueuedData


class JobConverting(_Event):
    """Sent when a job's conversion starts (percent 0) and as it goes on (at most one per 10 %)."""

    type: Literal[WebhookEventType.JOB_CONVERTING] = WebhookEventType.JOB_CONVERTING
    data: JobConvertingData


class JobReady(_Event):
    """Sent when a job's MP3 is stored: download it through `data.download_url`."""

    type: Literal[WebhookEventType.JOB_READY] = WebhookEventType.JOB_READY
    data: JobReadyData


class JobFailed(_Event):
    """Sent when a job's video cannot be converted; the job ends there."""

    type: Literal[WebhookEventType.JOB_FAILED] = WebhookEventType.JOB_FAILED
    data: JobFailedData


class JobCancelled(_Event):
    """Sent when a job is cancelled before it finished; nothing more is sent about it."""

    type: Literal[WebhookEventType.JOB_CANCELLED] = WebhookEventType.JOB_CANCELLED
    data: JobCancelledData


class JobExpired(_Event):
    """Sent when a finished job's retention period has passed and its video and MP3 are removed."""

    type: Literal[WebhookEventType.JOB_EXPIRED] = WebhookEventType.JOB_EXPIRED
    data: JobExpiredData


class JobDeleted(_Event):
    """Sent when a job is deleted by its owner; its video and MP3 are gone."""

    type: Literal[WebhookEventType.JOB_DELETED] = WebhookEventType.JOB_DELETED
    data: JobDeletedData


WebhookEvent = Annotated[
    JobQueued | JobConverting | JobReady | JobFailed | JobCancelled | JobExpired | JobDeleted,
    Field(discriminator="type"),
]
WebhookEventAdapter: TypeAdapter[WebhookEvent] = TypeAdapter(WebhookEvent)


def webhook_event_models() -> list[type[_Event]]:
    """Every public event model, in the order of ``WebhookEventType``."""
    return [JobQueued, JobConverting, JobReady, JobFailed, JobCancelled, JobExpired, JobDeleted]


class DeliverWebhook(BaseModel):
    """Internal command of the notifier: send the stored delivery ``delivery_id`` (again)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    delivery_id: str = Field(description="The delivery's id, also its `webhook-id` header.", examples=["msg_2b1c..."])
    requested_at: datetime | None = Field(default=None, description="When a person asked to send it again, if so.")
