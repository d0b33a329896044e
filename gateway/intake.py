"""From a stored video to a job: the step both upload routes (multipart and tus) end in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

from litestar.exceptions import HTTPException

from auth.tokens import Principal
from contracts import VideoUploaded
from gateway.media import MediaProbe
from gateway.outbox import Outbox
from gateway.uploads import InvalidUpload, StoredVideo
from gateway.views import JobAccepted, job_url
from projections.job_status import JobState

__all__ = ["MAX_ERRORS", "create_job", "invalid_upload"]

MAX_ERRORS = 20
"""Field errors a 422 lists at most: the answer stays small whatever the request held."""
_MAX_NAME = 100


def invalid_upload(error: InvalidUpload) -> HTTPException:
    """The 422 problem of an upload that cannot become a job (its first ``MAX_ERRORS`` errors)."""
    detail, errors = str(error), error.errors
    if len(errors) > MAX_ERRORS:
        detail = f"{detail} ({len(errors)} errors, the first {MAX_ERRORS} listed)"
        errors = errors[:MAX_ERRORS]
    shown = [{**item, "field": _shortened(item.get("field"))} for item in errors]
    return HTTPException(status_code=422, detail=detail, extra={"errors": shown})


def _shortened(name: object) -> object:
    if isinstance(name, str) and len(name) > _MAX_NAME:
        return name[:_MAX_NAME] + "…"
    return name


async def create_job(
    stored: StoredVideo,
    *,
    job_id: UUID,
    principal: Principal,
    probe: MediaProbe,
    outbox: Outbox,
    discard: Callable[[], Awaitable[object]],
    event_id: UUID | None = None,
) -> JobAccepted:
    """Check that ``stored`` has decodable audio within the duration limit of its options,
    then store and publish ``VideoUploaded``.

    A file without usable audio, or stating more than the limit, is ``discard``-ed and
    refused (``InvalidUpload``), so no job exists for it. ``event_id`` makes a retried
    completion store the same event once.
    """
    if (problem := await probe.audio_problem(stored.file_id, stored.options)) is not None:
        await discard()
        raise InvalidUpload(problem.detail, [{"field": "file", "message": problem.reason, "source": "body"}])
    event = VideoUploaded(
        event_id=event_id or uuid4(),
        job_id=job_id,
        owner_id=principal.user_id,
        owner_email=principal.email,
        video_file_id=stored.file_id,
        filename=stored.filename,
        size_bytes=stored.size_bytes,
        options=stored.options,
    )
    await outbox.send(event)
    return JobAccepted(job_id=job_id, state=JobState.QUEUED, status_url=job_url(job_id))
