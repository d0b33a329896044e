"""The jobs API: upload a video, list and follow jobs, cancel and delete them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import uuid4

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException, PermissionDeniedException
from litestar.handlers import HTTPRouteHandler

from auth.tokens import Principal
from common.in_flight import InFlightLimit, JobsInFlight, TooManyJobs
from common.links import LinkSigner
from contracts import JobCancelled, JobDeleted
from gateway import openapi as docs
from gateway.access import visible_job
from gateway.body import ClientDisconnected, body_chunks
from gateway.callbacks import Callbacks
from gateway.idempotency import REPLAYED, FormFingerprint, IdempotencyKeys, InFlight, KeyReused, Stored, claim
from gateway.intake import create_job, invalid_upload, too_many_jobs
from gateway.media import NO_AUDIO, MediaProbe
from gateway.multipart import MultipartError, PartEnd, PartStart, read_multipart
from gateway.outbox import Outbox
from gateway.quota import Quota
from gateway.removals import FileRemovals
from gateway.settings import GatewaySettings
from gateway.uploads import InvalidUpload, VideoStore
from gateway.views import Cursor, JobAccepted, JobPage, JobView, job_url, job_view
from gateway.wording import ADMIN_ONLY, FIELD_WORDS, NOT_MULTIPART, job_not_found, nothing_to_cancel
from projections.job_status import JobState, apply
from projections.queries import JobQueries

__all__ = ["CANCELLABLE", "JOB_ROUTES"]

CANCELLABLE = frozenset({JobState.QUEUED, JobState.CONVERTING})
"""States a job can be cancelled in: once its MP3 exists there is nothing left to stop."""

_FORM_OVERHEAD = 64 * 1024
"""Bytes a multipart body may hold beyond the file: boundaries, part headers, option fields."""

_MAX_PAGE = 100


@post(
    "/v1/jobs",
    status_code=202,
    request_max_body_size=None,  # read and limited by ``body_chunks``
    operation_class=docs.UploadOperation,
    security=docs.SECURITY,
    tags=["jobs"],
    summary="Upload a video",
    responses={
        202: docs.accepted_response(),
        **docs.problems(
            "/v1/jobs",
            {
                400: (NOT_MULTIPART, [{"field": "file", "message": "malformed multipart body", "source": "body"}]),
                409: str(InFlight()),
                422: (NO_AUDIO.detail, [{"field": "file", "message": NO_AUDIO.reason, "source": "body"}]),
                429: str(TooManyJobs(InFlightLimit())),
            },
            same=(401, 413),
        ),
    },
)
async def upload_video(
    *,
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    settings: NamedDependency[GatewaySettings],
    videos: NamedDependency[VideoStore],
    outbox: NamedDependency[Outbox],
    probe: NamedDependency[MediaProbe],
    in_flight: NamedDependency[JobsInFlight],
    quota: NamedDependency[Quota],
    callbacks: NamedDependency[Callbacks],
    keys: NamedDependency[IdempotencyKeys],
    idempotency_key: Annotated[str | None, docs.IDEMPOTENCY_KEY] = None,
) -> Response[JobAccepted]:
    """Upload a video (multipart/form-data, field `file`) and queue its conversion to MP3.

    The body is streamed into storage as it arrives, up to the size limit (413 beyond it).
    An upload that would take your stored bytes past your quota is refused: 413 (delete
    jobs or wait for them to expire; the detail says when the oldest does), or 429 with
    `Retry-After` while jobs still converting hold part of it (their videos go when they end).
    A file with no audio FFmpeg can decode is refused (422) before any job exists.
    A user may have `MAX_JOBS_IN_FLIGHT` (8) units of work queued or converting at once: a
    job counts 1, one with `normalize` `NORMALIZE_JOB_UNITS` (4); beyond that, 429 with
    `Retry-After` (checked before the body is read).
    Answers 202 with the job's id; poll `status_url` until the job is `notified`,
    `failed` or `cancelled`. For large files prefer the resumable `/v1/uploads` (tus).

    Optional field `callback_url`: the job's webhook events (see `webhooks`) also go there,
    signed with `callback_secret`, answered this once. A URL leading to a private, local or
    reserved address is refused (422).

    Limits (defaults; each a `VIDMP3_*` setting): the file up to `MAX_UPLOAD_BYTES` (2 GiB);
    besides it at most `MAX_FORM_FIELDS` (32) fields of up to 1 KiB each and
    `MAX_FORM_FIELD_BYTES` (16 KiB) together: 413 beyond either, said before the rest of the
    body is read. Each part may have 8 header lines of up to 4 KiB (400 beyond). The audio,
    trim applied, may last `MAX_MEDIA_SECONDS` (3 h), or `MAX_NORMALIZE_SECONDS` (30 min) with
    `normalize`: 422 beyond, from the duration the file states (a file holding more than it
    states fails while converting, `too_long`). A 422 lists at most 20 field errors.

    Send an `Idempotency-Key` to retry safely: the same form (fields, file name and bytes)
    again with the same key within 24 hours answers with the first job, creating none.
    """
    if idempotency_key is None:
        return await _accept(request, principal, settings, videos, outbox, probe, in_flight, callbacks, quota=quota)
    fingerprint = FormFingerprint("POST /v1/jobs")
    begun = await claim(keys, principal.user_id, idempotency_key)
    if isinstance(begun, Stored):
        try:
            first = begun.replay(await fingerprint.consume(_parts(request, settings)))
        except KeyReused as reused:
            raise HTTPException(status_code=422, detail=str(reused)) from None
        except MultipartError as error:
            raise _not_multipart(error) from None
        except ClientDisconnected:
            raise ClientException(_DROPPED) from None
        return Response(
            JobAccepted.model_validate(first.body),
            status_code=first.status_code,
            headers={**first.headers, REPLAYED: "true"},
        )
    try:
        response = await _accept(
            request, principal, settings, videos, outbox, probe, in_flight, callbacks, fingerprint, quota=quota
        )
    except BaseException:
        await keys.release(begun)
        raise
    body = response.content.model_dump(mode="json")
    await keys.finish(begun, fingerprint.digest(), 202, body, {"Location": response.headers["Location"]})
    return response


def _parts(request: Request[Any, Any, Any], settings: GatewaySettings) -> AsyncIterator[PartStart | bytes | PartEnd]:
    chunks = body_chunks(request, settings.max_upload_bytes + _FORM_OVERHEAD)
    return read_multipart(chunks, request.headers.get("content-type", ""), settings.form_limits)


def _not_multipart(error: MultipartError) -> ClientException:
    return ClientException(
        NOT_MULTIPART, extra={"errors": [{"field": "file", "message": str(error), "source": "body"}]}
    )


_DROPPED = "The connection dropped before the whole upload arrived: upload it again."


async def _accept(  # noqa: PLR0917 (the route's dependencies, passed on)
    request: Request[Any, Any, Any],
    principal: Principal,
    settings: GatewaySettings,
    videos: VideoStore,
    outbox: Outbox,
    probe: MediaProbe,
    in_flight: JobsInFlight,
    callbacks: Callbacks,
    fingerprint: FormFingerprint | None = None,
    *,
    quota: Quota,
) -> Response[JobAccepted]:
    """Store the upload and create its job (if ``quota`` admits it); its parts pass through
    ``fingerprint`` if given."""
    job_id, limit = uuid4(), settings.max_upload_bytes
    if not await in_flight.has_room(principal.user_id):  # before a byte of the upload is read
        raise too_many_jobs(TooManyJobs(in_flight.limit))
    await quota.admit(principal.user_id, _declared_size(request))
    try:
        parts = _parts(request, settings)
        if fingerprint is not None:
            parts = fingerprint.through(parts)
        stored = await videos.receive(parts, job_id=job_id, owner_id=principal.user_id, max_bytes=limit)
        accepted = await create_job(
            stored,
            job_id=job_id,
            principal=principal,
            probe=probe,
            outbox=outbox,
            discard=lambda: videos.delete(stored.file_id),
            in_flight=in_flight,
            callbacks=callbacks,
        )
        await videos.settle(stored.file_id)
    except MultipartError as error:
        raise _not_multipart(error) from None
    except InvalidUpload as error:
        raise invalid_upload(error) from None
    except ClientDisconnected:
        raise ClientException(_DROPPED) from None
    return Response(accepted, status_code=202, headers={"Location": job_url(job_id)})


def _declared_size(request: Request[Any, Any, Any]) -> int:
    """The body's size as its ``Content-Length`` states (0 if none): about the video's."""
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() and len(declared) < 19 else 0


@get(
    "/v1/jobs",
    security=docs.SECURITY,
    tags=["jobs"],
    summary="List your jobs",
    responses={
        200: docs.page_response(),
        **docs.problems("/v1/jobs", {403: ADMIN_ONLY}, invalid=docs.Invalid("limit", "query", "Expected `int` <= 100")),
    },
)
async def list_jobs(
    *,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    links: NamedDependency[LinkSigner],
    settings: NamedDependency[GatewaySettings],
    limit: Annotated[int, docs.LIMIT] = 20,
    cursor: Annotated[str | None, docs.CURSOR] = None,
    all_users: Annotated[bool, docs.ALL_USERS] = False,
) -> JobPage:
    """Your jobs, newest first, a page at a time (admins: everyone's, with `all=true`).

    Follow `next_url` (or pass `next_cursor` as `cursor`) until it is `null`. A job shows
    here once the status projection has recorded it, usually within a second of its upload.
    """
    if all_users and not principal.is_admin:
        raise PermissionDeniedException(ADMIN_ONLY)
    try:
        after = Cursor.decode(cursor) if cursor else None
    except ValueError as error:
        raise ClientException(
            FIELD_WORDS["cursor"], extra={"errors": [{"field": "cursor", "message": str(error), "source": "query"}]}
        ) from None
    jobs = await queries.newest(None if all_users else principal.user_id, limit + 1, after.position if after else None)
    items, more = jobs[:limit], len(jobs) > limit
    next_cursor = Cursor.after(items[-1]).encode() if more else None
    next_url = None
    if next_cursor is not None:
        next_url = f"/v1/jobs?limit={limit}&cursor={next_cursor}" + ("&all=true" if all_users else "")
    views = [job_view(job, links, settings.retention) for job in items]
    return JobPage(items=views, next_cursor=next_cursor, next_url=next_url)


@get(
    "/v1/jobs/{job_id:uuid}",
    security=docs.SECURITY,
    tags=["jobs"],
    summary="Get a job's status",
    responses={200: docs.job_response(), **docs.problems("/v1/jobs/{job_id}", {404: job_not_found(docs.EXAMPLE_ID)})},
)
async def get_job(
    *,
    job_id: docs.JobId,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    links: NamedDependency[LinkSigner],
    settings: NamedDependency[GatewaySettings],
) -> JobView:
    """A job's state, its history and, once converted, where to download the MP3.

    `mp3.download_url` is a signed link that needs no token (for a player, a browser, an
    email); `mp3.api_url` is the same file for callers sending their token.
    """
    return job_view(await visible_job(queries, outbox, job_id, principal), links, settings.retention)


@post(
    "/v1/jobs/{job_id:uuid}/cancel",
    status_code=200,
    security=docs.SECURITY,
    tags=["jobs"],
    summary="Cancel a job",
    responses={
        200: docs.job_response("cancelled"),
        **docs.problems(
            "/v1/jobs/{job_id}/cancel",
            {404: job_not_found(docs.EXAMPLE_ID), 409: nothing_to_cancel(docs.EXAMPLE_ID, "notified")},
        ),
    },
)
async def cancel_job(
    *,
    job_id: docs.JobId,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    links: NamedDependency[LinkSigner],
    settings: NamedDependency[GatewaySettings],
) -> JobView:
    """Cancel a job that is `queued` or `converting`: it ends `cancelled` and no MP3 is made.

    Cancelling a cancelled job again is fine; a job that got further (`converted`,
    `notified`, `failed`) answers 409: delete it instead.
    """
    status = await visible_job(queries, outbox, job_id, principal)
    if status.state is JobState.CANCELLED:
        return job_view(status, links, settings.retention)
    if status.state not in CANCELLABLE:
        raise HTTPException(status_code=409, detail=nothing_to_cancel(job_id, status.state))
    event = JobCancelled(job_id=job_id, requested_by=principal.user_id)
    await outbox.send(event)
    return job_view(apply(status, event), links, settings.retention)


@delete(
    "/v1/jobs/{job_id:uuid}",
    security=docs.SECURITY,
    tags=["jobs"],
    summary="Delete a job and its files",
    responses={
        204: docs.no_content("The job is gone; its files are removed within moments."),
        **docs.problems("/v1/jobs/{job_id}", {404: job_not_found(docs.EXAMPLE_ID)}),
    },
)
async def delete_job(
    *,
    job_id: docs.JobId,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    removals: NamedDependency[FileRemovals],
) -> None:
    """Delete a job with its video and MP3; it disappears from every listing at once, and
    its files are removed in the background within moments.

    An unfinished job is cancelled first. Deleting a deleted job again answers 204 too
    (and finishes removing its files, should an earlier attempt have been cut short).
    """
    status = await visible_job(queries, outbox, job_id, principal, deleted_too=True)
    if status.deleted_at is None and status.state in CANCELLABLE:
        await outbox.send(JobCancelled(job_id=job_id, requested_by=principal.user_id))
    deleted = JobDeleted(job_id=job_id, requested_by=principal.user_id) if status.deleted_at is None else None
    # the removal (the files, the upload's record) is on record before the event that says
    # the files go is published; the converter removes an MP3 it stores after this (it hears
    # of the deletion too)
    await asyncio.gather(
        removals.request(job_id, videos=[status.video_file_id], mp3s=[status.mp3_file_id]),
        *([outbox.store(deleted)] if deleted else []),
    )
    if deleted is not None:
        await outbox.dispatch(deleted)


JOB_ROUTES: list[HTTPRouteHandler] = [upload_video, list_jobs, get_job, cancel_job, delete_job]
