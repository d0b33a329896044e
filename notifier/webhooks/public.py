"""From an internal event to the public event integrators receive: pure, no I/O.

The public event's id depends only on the job and the fact (and, for progress, on the tenth
of the way reached), so a repeated internal event makes the same public event, and the
deliveries made from it are found already stored.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from common.failure_texts import failure_text
from common.links import LinkSigner
from contracts import (
    ConversionFailed,
    ConversionProgress,
    ConversionStarted,
    Event,
    JobCancelled,
    JobDeleted,
    JobExpired,
    Mp3Converted,
    Mp3Part,
    VideoUploaded,
)
from contracts import webhooks as public
from contracts.webhooks import WebhookEvent, WebhookEventType

__all__ = ["progress_step", "public_event"]

_STEP = 10.0
"""Percent between two converting events of a job (at most one per step is sent)."""


def progress_step(percent: float) -> int | None:
    """The step ``percent`` falls in (0, 10, ..., 90); ``None`` at 100, where ready follows."""
    if percent >= 100:
        return None
    return int(percent // _STEP * _STEP)


def _event_id(job_id: UUID, fact: str) -> UUID:
    return uuid5(job_id, f"webhook:{fact}")


def public_event(  # noqa: PLR0911 (one return per kind of event)
    event: Event, *, filename: str, public_url: str, links: LinkSigner
) -> WebhookEvent | None:
    """The public event ``event`` makes, or ``None`` when it makes none (progress within a step)."""
    base = public_url.rstrip("/")
    job = {"job_id": event.job_id, "status_url": f"{base}/v1/jobs/{event.job_id}"}
    at = event.occurred_at
    match event:
        case VideoUploaded():
            return public.JobQueued(
                event_id=_event_id(event.job_id, WebhookEventType.JOB_QUEUED),
                timestamp=at,
                data=public.JobQueuedData(**job, filename=filename, size_bytes=event.size_bytes),
            )
        case ConversionStarted() | ConversionProgress():
            percent = event.percent if isinstance(event, ConversionProgress) else 0.0
            step = progress_step(percent)
            if step is None:
                return None
            return public.JobConverting(
                event_id=_event_id(event.job_id, f"{WebhookEventType.JOB_CONVERTING}:{step}"),
                timestamp=at,
                data=public.JobConvertingData(**job, percent=round(percent, 1)),
            )
        case Mp3Converted():
            link = links.sign(event.job_id, event.mp3_file_id)
            return public.JobReady(
                event_id=_event_id(event.job_id, WebhookEventType.JOB_READY),
                timestamp=at,
                data=public.JobReadyData(
                    **job,
                    filename=event.filename,
                    size_bytes=event.size_bytes,
                    duration_seconds=event.duration_seconds,
                    download_url=f"{base}{link.path}",
                    download_expires_at=link.expires_at,
                    parts=[_part(event.job_id, part, links, base, link.expires_at) for part in event.parts],
                ),
            )
        case ConversionFailed():
            text = failure_text(event.reason)
            return public.JobFailed(
                event_id=_event_id(event.job_id, WebhookEventType.JOB_FAILED),
                timestamp=at,
                data=public.JobFailedData(
                    **job, reason=event.reason, detail=f"{text.what_happened} {text.what_to_try}"
                ),
            )
        case JobCancelled():
            return public.JobCancelled(
                event_id=_event_id(event.job_id, WebhookEventType.JOB_CANCELLED),
                timestamp=at,
                data=public.JobCancelledData(**job),
            )
        case JobExpired():
            return public.JobExpired(
                event_id=_event_id(event.job_id, WebhookEventType.JOB_EXPIRED),
                timestamp=at,
                data=public.JobExpiredData(**job),
            )
        case JobDeleted():
            return public.JobDeleted(
                event_id=_event_id(event.job_id, WebhookEventType.JOB_DELETED),
                timestamp=at,
                data=public.JobDeletedData(**job),
            )
    return None


def _part(job_id: UUID, part: Mp3Part, links: LinkSigner, base: str, expires_at: datetime) -> public.JobReadyPart:
    """One chapter's MP3, its link expiring with the whole one's."""
    link = links.sign(job_id, part.file_id, not_after=expires_at)
    return public.JobReadyPart(
        number=part.number,
        title=part.title,
        filename=part.filename,
        start_seconds=part.start_seconds,
        duration_seconds=part.duration_seconds,
        size_bytes=part.size_bytes,
        download_url=f"{base}{link.path}",
    )
