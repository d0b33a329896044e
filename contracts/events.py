"""The events services exchange: frozen, versioned, discriminated by ``type``.

Every event carries its own id (consumers de-duplicate on it), the job it concerns, when it
happened and the schema version of its type. Consumers are tolerant readers: fields they do
not know are ignored, so adding an optional field is compatible; anything else bumps
``schema_version``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, TypeAdapter

from contracts.failures import FailureReason
from contracts.options import ConversionOptions
from contracts.routing import RoutingKey

__all__ = [
    "ConversionFailed",
    "ConversionProgress",
    "ConversionStarted",
    "Event",
    "EventAdapter",
    "FailureReason",
    "JobCancelled",
    "JobDeleted",
    "JobExpired",
    "Mp3Converted",
    "Mp3Part",
    "NotificationSent",
    "SourceRemoved",
    "VideoUploaded",
]


_TYPE = "Event type, also its routing key."


def _now() -> datetime:
    return datetime.now(UTC)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(default_factory=uuid4, description="Unique id of this event; consumers de-duplicate on it.")
    job_id: UUID = Field(description="The conversion job this event belongs to.")
    occurred_at: AwareDatetime = Field(default_factory=_now, description="When it happened (UTC).")
    schema_version: Literal[1] = Field(default=1, description="Version of this event type's schema.")


class VideoUploaded(_Event):
    """Sent when a user's video is stored and a conversion job is created for it."""

    type: Literal[RoutingKey.VIDEO_UPLOADED] = Field(default=RoutingKey.VIDEO_UPLOADED, description=_TYPE)
    owner_id: str = Field(description="Id of the user who owns the job (the token's `sub`).")
    owner_email: EmailStr = Field(description="Where the owner is notified.")
    video_file_id: str = Field(description="GridFS id of the stored video.")
    filename: str = Field(description="Sanitized original file name.", examples=["holiday.mp4"])
    size_bytes: int = Field(ge=0, description="Size of the stored video.")
    options: ConversionOptions = Field(default_factory=ConversionOptions, description="How to encode the MP3.")
    callback_url: str | None = Field(
        default=None,
        description="Where the job's public webhook events also go (checked by the gateway), if the upload named one.",
        examples=["https://example.com/hooks/vidmp3"],
    )
    # callback_url is optional and ignored by readers that do not know it: no new version
    # v2 added options (VBR, sample rate, channels, trim, loudness) and lets the bitrate be null
    # when VBR is asked: a v1 reader cannot honour them, so it must refuse v2, not mis-encode.
    # v3 added the cover_art option (the options refuse fields they do not know, so a v2 reader
    # could not read a v3 event's options anyway: it refuses v3 by its version, clearly).
    # v4 added the split_chapters option (for the same reason a v3 reader must refuse it).
    # v1 to v3 events (stored, or in flight while services move) read as v4 with default options.
    schema_version: Literal[1, 2, 3, 4] = Field(  # type: ignore[assignment]  # widens the base's Literal[1] on purpose
        default=4, description="Version of this event type's schema."
    )


class ConversionProgress(_Event):
    """Sent when a converting job has made progress (every few seconds, not per packet)."""

    type: Literal[RoutingKey.CONVERSION_PROGRESS] = Field(default=RoutingKey.CONVERSION_PROGRESS, description=_TYPE)
    percent: float = Field(ge=0, le=100, description="Share of the source audio converted so far.")
    processed_seconds: float = Field(ge=0, description="Seconds of audio converted so far.")
    total_seconds: float | None = Field(default=None, ge=0, description="Duration the source states, if any.")


class ConversionStarted(_Event):
    """Sent when a converter worker begins converting a job's video."""

    type: Literal[RoutingKey.CONVERSION_STARTED] = Field(default=RoutingKey.CONVERSION_STARTED, description=_TYPE)
    worker: str = Field(description="Host and process of the worker doing the conversion.")


class Mp3Part(BaseModel):
    """One chapter's own MP3, made beside the whole one when the job asked for a split."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    number: int = Field(ge=1, description="Its place among the parts, from 1 (the chapter's order).")
    file_id: str = Field(description="GridFS id of the stored part (`<mp3_file_id>.<number:03d>`).")
    filename: str = Field(description="Download name of the part.", examples=["holiday - 01 Intro.mp3"])
    title: str = Field(description="The chapter's title (also the part's ID3 title).", examples=["Intro"])
    start_seconds: float = Field(ge=0, description="Where the chapter starts in the whole MP3's audio.")
    duration_seconds: float = Field(ge=0, description="Duration of the part's audio.")
    size_bytes: int = Field(ge=0, description="Size of the part.")


class Mp3Converted(_Event):
    """Sent when the MP3 of a job is stored and ready to download."""

    type: Literal[RoutingKey.MP3_CONVERTED] = Field(default=RoutingKey.MP3_CONVERTED, description=_TYPE)
    owner_id: str = Field(description="Id of the user who owns the job.")
    owner_email: EmailStr = Field(description="Where the owner is notified.")
    mp3_file_id: str = Field(description="GridFS id of the stored MP3.")
    filename: str = Field(description="Download name of the MP3.", examples=["holiday.mp3"])
    size_bytes: int = Field(ge=0, description="Size of the MP3.")
    duration_seconds: float = Field(ge=0, description="Duration of the MP3's audio.")
    # parts is optional, and readers that do not know it ignore it: no new version
    parts: list[Mp3Part] = Field(
        default_factory=list,
        max_length=100,
        description="One MP3 per chapter, in order, when the job asked for `split_chapters` and the source has "
        "two chapters or more (at most 100); empty otherwise. The whole MP3 is the job's file all the same.",
    )


class ConversionFailed(_Event):
    """Sent when a job's video cannot be converted; the job ends there."""

    type: Literal[RoutingKey.CONVERSION_FAILED] = Field(default=RoutingKey.CONVERSION_FAILED, description=_TYPE)
    reason: FailureReason = Field(description="Machine-readable cause.")
    message: str = Field(description="What went wrong, for people.")
    # v2 added the reasons too_long and output_too_large: a v1 reader's enum refuses them, so it
    # must refuse v2 as a whole, not fail on one value. v1 events read as v2 unchanged.
    schema_version: Literal[1, 2] = Field(  # type: ignore[assignment]  # widens the base's Literal[1] on purpose
        default=2, description="Version of this event type's schema."
    )


class NotificationSent(_Event):
    """Sent when the owner of a converted job has been emailed the download link."""

    type: Literal[RoutingKey.NOTIFICATION_SENT] = Field(default=RoutingKey.NOTIFICATION_SENT, description=_TYPE)
    recipient: EmailStr = Field(description="Address the email went to.")


class JobCancelled(_Event):
    """Sent when the owner (or an admin) cancels a job that had not finished; work on it stops."""

    type: Literal[RoutingKey.JOB_CANCELLED] = Field(default=RoutingKey.JOB_CANCELLED, description=_TYPE)
    requested_by: str = Field(description="Id of the user who cancelled it.")


class JobDeleted(_Event):
    """Sent when the owner (or an admin) deletes a job; its video and MP3 are removed."""

    type: Literal[RoutingKey.JOB_DELETED] = Field(default=RoutingKey.JOB_DELETED, description=_TYPE)
    requested_by: str = Field(description="Id of the user who deleted it.")


class SourceRemoved(_Event):
    """Sent when a finished job's video has been removed to free space; its MP3 stays until the job expires."""

    type: Literal[RoutingKey.SOURCE_REMOVED] = Field(default=RoutingKey.SOURCE_REMOVED, description=_TYPE)
    freed_bytes: int = Field(ge=0, description="Size of the video removed.")


class JobExpired(_Event):
    """Sent when a finished job's retention period has passed and its video and MP3 are removed."""

    type: Literal[RoutingKey.JOB_EXPIRED] = Field(default=RoutingKey.JOB_EXPIRED, description=_TYPE)
    finished_at: AwareDatetime = Field(description="When the job's conversion ended (the period counts from then).")
    retention_hours: float = Field(gt=0, description="How long a finished job was kept.")


Event = Annotated[
    VideoUploaded
    | ConversionStarted
    | ConversionProgress
    | Mp3Converted
    | ConversionFailed
    | NotificationSent
    | JobCancelled
    | JobDeleted
    | SourceRemoved
    | JobExpired,
    Field(discriminator="type"),
]
EventAdapter: TypeAdapter[Event] = TypeAdapter(Event)
