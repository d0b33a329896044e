"""Download a job's MP3: streamed from GridFS, with ranges (206/416) and validators (ETag, 304)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from bson import ObjectId
from litestar import MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream

from auth.tokens import Principal
from common.links import ExpiredLink, InvalidLink, LinkSigner
from gateway import openapi as docs
from gateway.access import current_status, visible_job
from gateway.files import JobFiles, StoredFile
from gateway.outbox import Outbox
from gateway.wording import job_not_found, mp3_not_ready, no_such_part, outside_the_mp3
from projections.job_status import JobState, JobStatus
from projections.queries import JobQueries

__all__ = [
    "DOWNLOAD_ROUTES",
    "ByteRange",
    "HtmlRefusal",
    "Unsatisfiable",
    "content_disposition",
    "etag_matches",
    "refusal_page",
    "requested_range",
    "serve_mp3",
]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)
# per user (a token or a link that can be revoked): no shared cache; revalidate with the ETag
_CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end``, both included (as ``Content-Range`` counts them)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class Unsatisfiable(ValueError):
    """A well-formed range that lies outside the file: 416."""


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range a ``Range`` header (RFC 9110 §14.2) asks of ``size`` bytes.

    ``None`` means "send it all": no header, another unit, several ranges (which a server
    may answer whole) or a malformed header (which it must ignore). ``Unsatisfiable`` for a
    range that starts past the end or an empty suffix.
    """
    if header is None or not (match := _RANGE.fullmatch(header.strip())):
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(f"bytes=-{suffix} of {size} bytes")
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = size - 1 if not last else int(last)
    if last and end < start:
        return None
    if start >= size:
        raise Unsatisfiable(f"bytes={start}- of {size} bytes")
    return ByteRange(start, min(end, size - 1))


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` / ``If-Range`` list names ``etag`` (weak comparison)."""
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def content_disposition(filename: str) -> str:
    """An RFC 6266 attachment header: an ASCII fallback plus the UTF-8 name (RFC 8187)."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@get(
    "/v1/jobs/{job_id:uuid}/mp3",
    security=docs.SECURITY,
    tags=["jobs"],
    media_type="audio/mpeg",
    operation_class=docs.DownloadOperation,
    summary="Download a job's MP3",
    responses={
        **docs.download_responses(),
        **docs.problems(
            "/v1/jobs/{job_id}/mp3",
            {
                404: job_not_found(docs.EXAMPLE_ID),
                409: mp3_not_ready(docs.EXAMPLE_ID, "converting"),
                410: mp3_not_ready(docs.EXAMPLE_ID, "expired"),
                416: outside_the_mp3(2_934_784),
            },
        ),
    },
)
async def download_mp3(
    *,
    job_id: docs.JobId,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    files: NamedDependency[JobFiles],
    range_header: Annotated[str | None, docs.RANGE] = None,
    if_none_match: Annotated[str | None, docs.IF_NONE_MATCH] = None,
    if_range: Annotated[str | None, docs.IF_RANGE] = None,
) -> Response[Any]:
    """Download a converted job's MP3 (409 while it is not converted yet; 410 once the job
    has expired and its MP3 is removed).

    Send `Range: bytes=start-end` for part of it (206; 416 past the end) and
    `If-None-Match` with the `ETag` you have to get 304 while it is unchanged. The file's
    name is the video's, as `.mp3` (`Content-Disposition`, UTF-8 names included).
    The job's `mp3.download_url` serves the same bytes with no token.
    """
    status, mp3_file_id = await _converted_job(queries, outbox, job_id, principal)
    stored = await files.find_mp3(mp3_file_id)
    if stored is None:
        raise NotFoundException(f"The MP3 of job {job_id} is no longer stored.")
    return serve_mp3(
        files,
        stored,
        filename=status.mp3_filename or "audio.mp3",
        range_header=range_header,
        if_none_match=if_none_match,
        if_range=if_range,
    )


@get(
    "/v1/jobs/{job_id:uuid}/parts/{number:int}/mp3",
    security=docs.SECURITY,
    tags=["jobs"],
    media_type="audio/mpeg",
    operation_class=docs.DownloadOperation,
    summary="Download one chapter's MP3 of a job split per chapter",
    responses={
        **docs.download_responses(),
        **docs.problems(
            "/v1/jobs/{job_id}/parts/{number}/mp3",
            {
                404: no_such_part(docs.EXAMPLE_ID, 7, 6),
                409: mp3_not_ready(docs.EXAMPLE_ID, "converting"),
                410: mp3_not_ready(docs.EXAMPLE_ID, "expired"),
                416: outside_the_mp3(2_934_784),
            },
        ),
    },
)
async def download_part(
    *,
    job_id: docs.JobId,
    number: docs.PartNumber,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    files: NamedDependency[JobFiles],
    range_header: Annotated[str | None, docs.RANGE] = None,
    if_none_match: Annotated[str | None, docs.IF_NONE_MATCH] = None,
    if_range: Annotated[str | None, docs.IF_RANGE] = None,
) -> Response[Any]:
    """Download the MP3 of one chapter (`number`, from 1, as in the job's `mp3.parts`) of a job
    uploaded with `split_chapters` whose video has chapters. Errors, ranges and validators as
    for `GET /v1/jobs/{job_id}/mp3`; 404 for a number the job does not have. Each part's
    `download_url` serves the same bytes with no token.
    """
    status, _ = await _converted_job(queries, outbox, job_id, principal)
    part = next((part for part in status.mp3_parts if part.number == number), None)
    if part is None:
        raise NotFoundException(no_such_part(job_id, number, len(status.mp3_parts)))
    stored = await files.find_part(part.file_id)
    if stored is None:
        raise NotFoundException(f"This MP3 of job {job_id} is no longer stored.")
    return serve_mp3(
        files,
        stored,
        filename=part.filename,
        range_header=range_header,
        if_none_match=if_none_match,
        if_range=if_range,
    )


async def _converted_job(
    queries: JobQueries, outbox: Outbox, job_id: UUID, principal: Principal
) -> tuple[JobStatus, str]:
    """The caller's job and its MP3's id, once it has one: 404 if not theirs, 410 once
    expired, 409 before."""
    status = await visible_job(queries, outbox, job_id, principal)
    if status.state is JobState.EXPIRED:
        raise HTTPException(status_code=410, detail=mp3_not_ready(job_id, status.state))
    if status.mp3_file_id is None:
        raise HTTPException(status_code=409, detail=mp3_not_ready(job_id, status.state))
    return status, status.mp3_file_id


_EXPIRED = "This download link has expired. Sign in and open the job for a new one."
_NOT_A_LINK = "This is not a working download link. Check that the whole link was copied."
_DELETED = "This MP3 has been deleted, so its link no longer works."
_JOB_EXPIRED = "This MP3 was removed when its job expired. Upload the video again to convert it anew."


def _link_refused(request: Request[Any, Any, Any], status_code: int, detail: str) -> HTTPException:
    """A refusal as a problem document, or as a page for a person's browser."""
    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        return HtmlRefusal(status_code=status_code, detail=detail)
    return HTTPException(status_code=status_code, detail=detail)


class HtmlRefusal(HTTPException):
    """Rendered by ``refusal_page``: a person who opened a link from an email reads a page."""


def refusal_page(_: Request[Any, Any, Any], error: HtmlRefusal) -> Response[str]:
    text = escape(error.detail)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>vidmp3: link not working</title>'
        "</head><body><main><h1>This link does not work</h1>"
        f'<p>{text}</p><p><a href="/">Open vidmp3</a></p></main></body></html>'
    )
    return Response(
        body,
        status_code=error.status_code,
        media_type=MediaType.HTML,
        headers={"Content-Security-Policy": "default-src 'none'", "Cache-Control": "no-store"},
    )


@get(
    "/v1/downloads/{token:str}",
    tags=["jobs"],
    media_type="audio/mpeg",
    operation_class=docs.DownloadOperation,
    summary="Download an MP3 through its signed link",
    responses={
        **docs.download_responses(),
        **docs.problems(
            "/v1/downloads/{token}",
            {404: _NOT_A_LINK, 410: _EXPIRED, 416: outside_the_mp3(2_934_784)},
            same=(),
        ),
    },
    exception_handlers={HtmlRefusal: refusal_page},
)
async def download_by_link(
    *,
    token: Annotated[str, docs.LINK_TOKEN],
    request: Request[Any, Any, Any],
    links: NamedDependency[LinkSigner],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    files: NamedDependency[JobFiles],
    range_header: Annotated[str | None, docs.RANGE] = None,
    if_none_match: Annotated[str | None, docs.IF_NONE_MATCH] = None,
    if_range: Annotated[str | None, docs.IF_RANGE] = None,
) -> Response[Any]:
    """Download an MP3 through a signed link (a job's `mp3.download_url`, or the email's link):
    no token needed, so it opens in a browser, a player or a download manager.

    A link is for one job's MP3 (or one of its MP3s per chapter) and works until it expires (410) or the job is deleted
    (410). Ranges and validators work as for `GET /v1/jobs/{job_id}/mp3`. A browser asking
    for HTML gets a short page explaining a refusal instead of a problem document.
    """
    try:
        link = links.verify(token)
    except ExpiredLink:
        raise _link_refused(request, 410, _EXPIRED) from None
    except InvalidLink:
        raise _link_refused(request, 404, _NOT_A_LINK) from None
    # primary-key reads only: the job still exists (deleting it revokes its links, at once:
    # this gateway's own delete is folded in) and so does the file
    status = await current_status(queries, outbox, link.job_id)
    if status is not None and status.state is JobState.EXPIRED:
        raise _link_refused(request, 410, _JOB_EXPIRED)
    # a link names the job's MP3 or one of its parts (a part's id is no ObjectId)
    part = next((part for part in status.mp3_parts if part.file_id == link.file_id), None) if status else None
    gone = (
        status is None
        or status.deleted_at is not None
        or (part is None and (status.mp3_file_id not in (None, link.file_id) or not ObjectId.is_valid(link.file_id)))
    )
    stored = None
    if not gone:
        stored = await (files.find_part(link.file_id) if part is not None else files.find_mp3(link.file_id))
    if stored is None:
        raise _link_refused(request, 410, _DELETED)
    whole_name = (status.mp3_filename if status else None) or "audio.mp3"
    filename = part.filename if part is not None else whole_name
    return serve_mp3(
        files,
        stored,
        filename=filename,
        range_header=range_header,
        if_none_match=if_none_match,
        if_range=if_range,
    )


def serve_mp3(
    files: JobFiles,
    stored: StoredFile,
    *,
    filename: str,
    range_header: str | None,
    if_none_match: str | None,
    if_range: str | None,
) -> Response[Any]:
    """A stored MP3, whole or the range asked for, with its validators."""
    # a GridFS file never changes, so its id is a strong validator
    etag = f'"{stored.file_id}"'
    headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL, "Accept-Ranges": "bytes"}
    size = stored.length
    if etag_matches(if_none_match, etag):
        return Response(content=b"", status_code=304, headers=headers)
    try:
        # a range of another version (If-Range names a different ETag) is answered whole
        wanted = requested_range(range_header, size) if if_range is None or if_range == etag else None
    except Unsatisfiable:
        raise HTTPException(
            status_code=416,
            detail=outside_the_mp3(size),
            headers={"Content-Range": f"bytes */{size}"},
        ) from None
    headers["Content-Disposition"] = content_disposition(filename)
    if wanted is None:
        headers["Content-Length"] = str(size)
        return Stream(files.read_mp3(stored, 0, size), media_type="audio/mpeg", headers=headers)
    headers |= {"Content-Length": str(wanted.length), "Content-Range": wanted.content_range(size)}
    body = files.read_mp3(stored, wanted.start, wanted.end + 1)
    return Stream(body, status_code=206, media_type="audio/mpeg", headers=headers)


DOWNLOAD_ROUTES: list[HTTPRouteHandler] = [download_mp3, download_part, download_by_link]
