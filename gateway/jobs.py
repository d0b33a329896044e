"""The jobs API: upload a video, follow its job, download the MP3."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

from bson import ObjectId
from gridfs import AsyncGridFSBucket, NoFile
from gridfs.asynchronous.grid_file import AsyncGridOut
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Stream
from pydantic import BaseModel, Field

from auth.tokens import Principal
from contracts import VideoUploaded
from gateway.multipart import MultipartError, read_multipart
from gateway.openapi import BEARER, UploadOperation
from gateway.outbox import Outbox
from gateway.uploads import InvalidUpload, VideoStore
from projections.job_status import JobError, JobState, JobStatus, StateChange, fold
from projections.store import JobStatusView

__all__ = ["JobAccepted", "JobView", "job_routes"]

_SECURITY: list[dict[str, list[str]]] = [{BEARER: []}]


class JobAccepted(BaseModel):
    job_id: UUID = Field(description="Id of the new job.")
    state: JobState = Field(description="Always `queued` here.")
    status_url: str = Field(description="Where to poll the job's status.", examples=["/v1/jobs/3f0c..."])


class Mp3Info(BaseModel):
    filename: str = Field(examples=["holiday.mp3"])
    duration_seconds: float | None = Field(description="Length of the audio.")
    download_url: str = Field(description="Where to download the MP3 (with your token).")


class JobView(BaseModel):
    job_id: UUID
    state: JobState = Field(description="queued → converting → converted → notified; or failed, or cancelled.")
    filename: str | None = Field(description="Name of the uploaded video.")
    history: list[StateChange] = Field(description="Every state the job entered, oldest first.")
    progress_percent: float | None = Field(description="How much of the audio is converted, while converting.")
    mp3: Mp3Info | None = Field(description="Present once the MP3 is ready.")
    error: JobError | None = Field(description="Present when the job failed.")
    updated_at: datetime | None


def _job_url(job_id: UUID) -> str:
    return f"/v1/jobs/{job_id}"


def _view(status: JobStatus) -> JobView:
    mp3 = None
    if status.mp3_file_id is not None:
        mp3 = Mp3Info(
            filename=status.mp3_filename or "audio.mp3",
            duration_seconds=status.duration_seconds,
            download_url=f"{_job_url(status.job_id)}/mp3",
        )
    return JobView(
        job_id=status.job_id,
        state=status.state,
        filename=status.filename,
        history=list(status.history),
        progress_percent=100.0 if status.mp3_file_id else status.progress_percent,
        mp3=mp3,
        error=status.error,
        updated_at=status.updated_at,
    )


async def _visible_job(view: JobStatusView, outbox: Outbox, job_id: UUID, principal: Principal) -> JobStatus:
    """The job, if the caller may see it; 404 otherwise, so other users' jobs stay unseen.

    A job the projection has not folded in yet is shown from the gateway's own outbox, so
    the status of a just-accepted upload is never 404 (the read model stays single-writer).
    """
    status = await view.get(job_id) or fold(await outbox.events_of(job_id))
    if (
        status is None
        or status.deleted_at is not None
        or not (status.owner_id == principal.user_id or principal.is_admin)
    ):
        raise NotFoundException(f"no job {job_id}")
    return status


def content_disposition(filename: str) -> str:
    """An RFC 6266 attachment header: an ASCII fallback plus the UTF-8 name (RFC 8187)."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def _chunks(download: AsyncGridOut) -> AsyncIterator[bytes]:
    try:
        while chunk := await download.readchunk():
            yield chunk
    finally:
        await download.close()


def job_routes(max_upload_bytes: int) -> list[HTTPRouteHandler]:
    @post(
        "/v1/jobs",
        status_code=202,
        request_max_body_size=max_upload_bytes,
        operation_class=UploadOperation,
        security=_SECURITY,
        tags=["jobs"],
        response_headers=None,
    )
    async def create_job(
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        videos: NamedDependency[VideoStore],
        outbox: NamedDependency[Outbox],
    ) -> Response[JobAccepted]:
        """Upload a video (multipart/form-data, field `file`) and queue its conversion to MP3.

        The body is streamed into storage as it arrives. Answers 202 with the job's id; poll
        `status_url` until the job is `converted` or `failed`.
        """
        job_id = uuid4()
        try:
            parts = read_multipart(request.stream(), request.headers.get("content-type", ""))
            stored = await videos.receive(parts, job_id=job_id, owner_id=principal.user_id)
        except MultipartError as error:
            raise ClientException(str(error)) from None
        except InvalidUpload as error:
            raise HTTPException(status_code=422, detail=str(error), extra={"errors": error.errors}) from None
        event = VideoUploaded(
            job_id=job_id,
            owner_id=principal.user_id,
            owner_email=principal.email,
            video_file_id=stored.file_id,
            filename=stored.filename,
            size_bytes=stored.size_bytes,
            options=stored.options,
        )
        await outbox.store(event)
        await outbox.publish(event)
        return Response(
            JobAccepted(job_id=job_id, state=JobState.QUEUED, status_url=_job_url(job_id)),
            status_code=202,
            headers={"Location": _job_url(job_id)},
        )

    @get("/v1/jobs/{job_id:uuid}", security=_SECURITY, tags=["jobs"])
    async def get_job(
        job_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        view: NamedDependency[JobStatusView],
        outbox: NamedDependency[Outbox],
    ) -> JobView:
        """A job's state, its history and, once converted, where to download the MP3."""
        return _view(await _visible_job(view, outbox, job_id, principal))

    @get("/v1/jobs/{job_id:uuid}/mp3", security=_SECURITY, tags=["jobs"], media_type="audio/mpeg")
    async def download_mp3(
        job_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        view: NamedDependency[JobStatusView],
        outbox: NamedDependency[Outbox],
        mp3s: NamedDependency[AsyncGridFSBucket],
    ) -> Stream:
        """Download a converted job's MP3 (409 while it is not converted yet)."""
        status = await _visible_job(view, outbox, job_id, principal)
        if status.mp3_file_id is None:
            raise HTTPException(status_code=409, detail=f"job {job_id} is {status.state}, the MP3 is not ready")
        try:
            download = await mp3s.open_download_stream(ObjectId(status.mp3_file_id))
        except NoFile:
            raise NotFoundException(f"the MP3 of job {job_id} is gone") from None
        filename = status.mp3_filename or "audio.mp3"
        return Stream(
            _chunks(download),
            media_type="audio/mpeg",
            headers={"Content-Length": str(download.length), "Content-Disposition": content_disposition(filename)},
        )

    return [create_job, get_job, download_mp3]
