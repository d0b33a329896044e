"""From a stored video to a job: the step both upload routes (multipart and tus) end in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

from litestar.exceptions import HTTPException
from pymongo.asynchronous.database import AsyncDatabase

from auth.tokens import Principal
from common.in_flight import IN_FLIGHT_STATES, InFlightLimit, JobsInFlight, TooManyJobs, job_units
from common.mongo import Document
from contracts import VideoUploaded
from gateway.access import current_status
from gateway.callbacks import Callbacks
from gateway.media import MediaProbe
from gateway.outbox import Outbox
from gateway.uploads import InvalidUpload, StoredVideo
from gateway.views import JobAccepted, job_url
from projections.job_status import JobState
from projections.queries import JobQueries

__all__ = ["MAX_ERRORS", "create_job", "invalid_upload", "jobs_in_flight", "too_many_jobs"]

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


def jobs_in_flight(
    database: AsyncDatabase[Document], limit: InFlightLimit, queries: JobQueries, outbox: Outbox
) -> JobsInFlight:
    """Users' work in flight, with the check that frees a slot whose job ended unnoticed."""

    async def ended(job_id: str) -> bool:
        # unknown everywhere (no status, no upload of the gateway's): it never came to be
        status = await current_status(queries, outbox, UUID(job_id))
        return status is None or status.state not in IN_FLIGHT_STATES or status.deleted_at is not None

    return JobsInFlight(database, limit, ended=ended)


def too_many_jobs(error: TooManyJobs) -> HTTPException:
    """The 429 problem of a user with as much work in flight as allowed."""
    return HTTPException(status_code=429, detail=str(error), headers={"Retry-After": str(error.retry_after)})


async def create_job(
    stored: StoredVideo,
    *,
    job_id: UUID,
    principal: Principal,
    probe: MediaProbe,
    outbox: Outbox,
    discard: Callable[[], Awaitable[object]],
    in_flight: JobsInFlight,
    callbacks: Callbacks,
    event_id: UUID | None = None,
    force: bool = False,
    callback_source: str = "body",
) -> JobAccepted:
    """Check that ``stored`` has decodable audio within the duration limit of its options,
    take the job's share of the user's work in flight, then store and publish ``VideoUploaded``.

    A file without usable audio, or stating more than the limit, is ``discard``-ed and
    refused (``InvalidUpload``), so no job exists for it; so is one whose owner has as much in
    flight as allowed (``HTTPException`` 429), unless ``force`` (its bytes are all in: a tus
    upload, checked when it started), and so is one naming a callback URL webhooks must not go
    to. ``event_id`` makes a retried completion store the same event once.
    """
    callback_url = None
    if stored.callback_url is not None:
        try:
            callback_url = await callbacks.check(stored.callback_url, source=callback_source)
        except InvalidUpload:
            await discard()
            raise
    if (problem := await probe.audio_problem(stored.file_id, stored.options)) is not None:
        await discard()
        raise InvalidUpload(problem.detail, [{"field": "file", "message": problem.reason, "source": "body"}])
    units = job_units(stored.options, in_flight.limit)
    try:
        await in_flight.take(principal.user_id, str(job_id), units, force=force)
    except TooManyJobs as error:
        await discard()
        raise too_many_jobs(error) from None
    event = VideoUploaded(
        event_id=event_id or uuid4(),
        job_id=job_id,
        owner_id=principal.user_id,
        owner_email=principal.email,
        video_file_id=stored.file_id,
        filename=stored.filename,
        size_bytes=stored.size_bytes,
        options=stored.options,
        callback_url=callback_url,
    )
    # if this fails the event may still be in the outbox: its units stay held, and are freed
    # once the job has ended (or, never published, is found to have never come to be)
    await outbox.send(event)
    secret = None if callback_url is None else callbacks.secret(job_id)
    return JobAccepted(job_id=job_id, state=JobState.QUEUED, status_url=job_url(job_id), callback_secret=secret)
