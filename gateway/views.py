"""What the jobs API answers: a job as its owner sees it, a page of jobs, an accepted upload."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, Field

from common.links import LinkSigner
from common.retention import expiry_of
from projections.job_status import JobError, JobState, JobStatus, StateChange
from projections.queries import Position, position_of

__all__ = [
    "Cursor",
    "JobAccepted",
    "JobPage",
    "JobView",
    "Mp3Info",
    "Mp3PartInfo",
    "job_url",
    "job_view",
]

_MAX_CURSOR = 200
"""Characters of the longest cursor: the ones handed out are about 90."""

_EXAMPLE_ID = "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b"


class JobAccepted(BaseModel):
    job_id: UUID = Field(description="Id of the new job.", examples=[_EXAMPLE_ID])
    state: JobState = Field(description="Always `queued` here.")
    status_url: str = Field(description="Where to poll the job's status.", examples=[f"/v1/jobs/{_EXAMPLE_ID}"])
    callback_secret: str | None = Field(
        default=None,
        description=(
            "Only when the upload named a `callback_url`: the secret its deliveries are signed with "
            "(Standard Webhooks). Shown this once: keep it to verify them."
        ),
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class Mp3PartInfo(BaseModel):
    """One chapter's own MP3 (the job asked for `split_chapters`)."""

    number: int = Field(description="Its place, from 1, in the chapters' order.", examples=[2])
    title: str = Field(description="The chapter's title (also the MP3's title tag).", examples=["Methods"])
    filename: str = Field(examples=["lecture - 02 Methods.mp3"])
    start_seconds: float = Field(description="Where the chapter starts in the whole MP3.", examples=[312.5])
    duration_seconds: float = Field(description="Length of the chapter's audio.", examples=[604.2])
    size_bytes: int = Field(description="Size of this MP3.")
    download_url: str = Field(
        description="A signed link to this MP3, as `mp3.download_url` is to the whole one.",
        examples=["/v1/downloads/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOi..."],
    )
    api_url: str = Field(
        description="This MP3 at its API address, for callers sending their bearer token.",
        examples=[f"/v1/jobs/{_EXAMPLE_ID}/parts/2/mp3"],
    )


class Mp3Info(BaseModel):
    filename: str = Field(examples=["holiday.mp3"])
    duration_seconds: float | None = Field(description="Length of the audio.")
    size_bytes: int | None = Field(default=None, description="Size of the MP3.")
    download_url: str = Field(
        description=(
            "A signed link to the MP3: it needs no token, so it can go in a player, a browser or an email. "
            "It works until `download_expires_at` or until the job is deleted; fetch the job again for a new one."
        ),
        examples=["/v1/downloads/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOi..."],
    )
    download_expires_at: datetime = Field(description="When `download_url` stops working.")
    api_url: str = Field(
        description="The MP3 at its API address, for callers sending their bearer token.",
        examples=[f"/v1/jobs/{_EXAMPLE_ID}/mp3"],
    )
    part_count: int = Field(
        default=0, description="How many MP3s per chapter the job has besides this one (`split_chapters`)."
    )
    parts: list[Mp3PartInfo] = Field(
        default_factory=list,
        description="The MP3s per chapter, in order (at most 100). Listed in the job's own view "
        "(`GET /v1/jobs/{job_id}`); a page of jobs gives `part_count` only.",
    )


class JobView(BaseModel):
    job_id: UUID
    state: JobState = Field(
        description="queued → converting → converted → notified; or failed, or cancelled; and in the end expired."
    )
    filename: str | None = Field(description="Name of the uploaded video.")
    created_at: datetime | None = Field(default=None, description="When the upload was accepted.")
    history: list[StateChange] = Field(description="Every state the job entered, oldest first.")
    progress_percent: float | None = Field(description="How much of the audio is converted, while converting.")
    mp3: Mp3Info | None = Field(description="Present once the MP3 is ready.")
    error: JobError | None = Field(description="Present when the job failed.")
    note: str | None = Field(
        default=None,
        description="Something to know about the result, in plain words (an MP3 per chapter was asked for, "
        "but the video has fewer than two chapters).",
    )
    updated_at: datetime | None
    expires_at: datetime | None = Field(
        default=None,
        description=(
            "When the job expires (its MP3 and record are removed; the status then says `expired`): "
            "the retention period after its conversion ended. `null` while it is converting."
        ),
    )


class JobPage(BaseModel):
    """One page of jobs, newest first."""

    items: list[JobView] = Field(description="At most `limit` jobs, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; `null` on the last page.")
    next_url: str | None = Field(description="The next page's URL; `null` on the last page.")


def job_url(job_id: UUID) -> str:
    return f"/v1/jobs/{job_id}"


_NO_CHAPTERS = (
    "One MP3 per chapter was asked for, but the video has fewer than two chapters, so there is one MP3 of it all."
)


def job_view(status: JobStatus, links: LinkSigner, retention: timedelta) -> JobView:
    """``status`` as the API shows it; ``links`` signs the MP3's download link (and each
    part's), which never outlives the MP3 (``retention``: how long a finished job is kept)."""
    expires_at = _expiry(status, retention)
    mp3 = None
    if status.mp3_file_id is not None and status.state is not JobState.EXPIRED:
        link = links.sign(status.job_id, status.mp3_file_id, not_after=expires_at)
        mp3 = Mp3Info(
            filename=status.mp3_filename or "audio.mp3",
            duration_seconds=status.duration_seconds,
            size_bytes=status.mp3_size_bytes,
            download_url=link.path,
            download_expires_at=link.expires_at,
            api_url=f"{job_url(status.job_id)}/mp3",
            part_count=status.mp3_part_count,
            parts=[
                Mp3PartInfo(
                    number=part.number,
                    title=part.title,
                    filename=part.filename,
                    start_seconds=part.start_seconds,
                    duration_seconds=part.duration_seconds,
                    size_bytes=part.size_bytes,
                    download_url=links.sign(status.job_id, part.file_id, not_after=expires_at).path,
                    api_url=f"{job_url(status.job_id)}/parts/{part.number}/mp3",
                )
                for part in status.mp3_parts
            ],
        )
    note = _NO_CHAPTERS if mp3 is not None and status.split_asked and not status.mp3_part_count else None
    return JobView(
        job_id=status.job_id,
        state=status.state,
        filename=status.filename,
        created_at=status.created_at,
        history=list(status.history),
        progress_percent=100.0 if status.mp3_file_id else status.progress_percent,
        mp3=mp3,
        error=status.error,
        note=note,
        updated_at=status.updated_at,
        expires_at=expires_at,
    )


def _expiry(status: JobStatus, retention: timedelta) -> datetime | None:
    if status.state is JobState.EXPIRED:  # when it did
        return next((c.at for c in status.history if c.state is JobState.EXPIRED), None)
    return expiry_of(status.finished_at, retention)


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the position (creation time in ms, job id) of its last job, the
    order of the lists (newest first; in one millisecond, the larger id first).

    Opaque to clients (base64url of ``<ISO time>|<job id>``). Comparing both parts, not the
    time alone, keeps jobs created in the same millisecond from being skipped or repeated.
    """

    position: Position

    @classmethod
    def after(cls, status: JobStatus) -> Cursor:
        position = position_of(status)
        assert position is not None  # pages hold created jobs only
        return cls(position)

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """``ValueError`` unless ``text`` is a cursor this API handed out."""
        if len(text) > _MAX_CURSOR:
            raise ValueError("not a cursor this API returned")
        try:
            raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4)).decode()
            moment, _, job_id = raw.partition("|")
            created_at = datetime.fromisoformat(moment)
            if created_at.tzinfo is None:
                raise ValueError("naive time")
            # OverflowError: a forged time that leaves the calendar once moved to UTC
            return cls(Position.at(created_at.astimezone(UTC), str(UUID(job_id))))
        except (ValueError, UnicodeError, binascii.Error, OverflowError, OSError):
            raise ValueError("not a cursor this API returned") from None

    def encode(self) -> str:
        moment = self.position.moment.isoformat(timespec="milliseconds")
        raw = f"{moment}|{self.position.job_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
