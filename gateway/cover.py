"""A converted job's cover picture: the APIC frame at the head of its stored MP3, as a JPEG.

The converter writes the cover into the MP3's ID3 tag, which comes first in the file and, with
the cover bounded to 160 KB, within the first stored chunk: the route reads that chunk (a
second one only for a larger tag, up to ``HEAD_LIMIT``), never the audio.
"""

from __future__ import annotations

import io
from typing import Annotated

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from mutagen.id3 import ID3, ID3NoHeaderError, PictureType
from mutagen.id3 import error as ID3Error  # noqa: N812  # mutagen's name for its base error

from auth.tokens import Principal
from gateway import openapi as docs
from gateway.access import visible_job
from gateway.downloads import etag_matches
from gateway.files import JobFiles, StoredFile
from gateway.outbox import Outbox
from gateway.wording import job_not_found, mp3_not_ready
from projections.queries import JobQueries

__all__ = ["COVER_ROUTES", "HEAD_LIMIT", "cover_in", "tag_length"]

HEAD_LIMIT = 1024 * 1024
"""Bytes of an MP3's head read for its tag at most: a tag claiming more is not read."""
# per user (it needs a token); the picture of an MP3 never changes: a day, then revalidate
_CACHE_CONTROL = "private, max-age=86400"


def tag_length(head: bytes) -> int | None:
    """The bytes of the ID3v2 tag ``head`` starts with (header and footer included), if any."""
    if len(head) < 10 or head[:3] != b"ID3" or any(byte & 0x80 for byte in head[6:10]):
        return None
    size = head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9]
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def cover_in(head: bytes) -> bytes | None:
    """The JPEG front cover (else the first JPEG picture) in the ID3 tag ``head`` starts with."""
    try:
        tag = ID3(io.BytesIO(head))
    except (ID3NoHeaderError, ID3Error, EOFError):
        return None
    pictures = [frame for frame in tag.getall("APIC") if frame.mime in {"image/jpeg", "image/jpg"} and frame.data]
    pictures.sort(key=lambda frame: frame.type != PictureType.COVER_FRONT)
    return bytes(pictures[0].data) if pictures else None


async def _head(files: JobFiles, stored: StoredFile) -> bytes:
    """The MP3's ID3 tag (or its first chunk, if it has none)."""
    first = min(stored.length, stored.chunk_size)
    head = b"".join([piece async for piece in files.read_mp3(stored, 0, first)])
    length = tag_length(head)
    if length is not None and first < length <= min(stored.length, HEAD_LIMIT):
        head += b"".join([piece async for piece in files.read_mp3(stored, first, length)])
    return head


def _no_cover(job_id: object) -> str:
    return (
        f"The MP3 of job {job_id} has no cover picture: the upload asked for none, "
        "or the video had neither a picture nor any frames."
    )


@get(
    "/v1/jobs/{job_id:uuid}/cover",
    security=docs.SECURITY,
    tags=["jobs"],
    media_type="image/jpeg",
    summary="A job's cover picture",
    responses={
        200: ResponseSpec(
            bytes,
            description="The cover: a JPEG of at most 600 px a side.",
            media_type="image/jpeg",
            generate_examples=False,
            examples=[Example(summary="JPEG bytes", value="(binary JPEG data)")],
        ),
        304: docs.no_content("The cover still has the `ETag` sent in `If-None-Match`."),
        **docs.problems(
            "/v1/jobs/{job_id}/cover",
            {404: job_not_found(docs.EXAMPLE_ID), 409: mp3_not_ready(docs.EXAMPLE_ID, "converting")},
        ),
    },
)
async def job_cover(
    *,
    job_id: docs.JobId,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    files: NamedDependency[JobFiles],
    if_none_match: Annotated[str | None, docs.IF_NONE_MATCH] = None,
) -> Response[bytes]:
    """The cover picture embedded in a converted job's MP3 (409 while it is not converted yet).

    404 when the MP3 has no cover (the job asked for none, or its source had neither a picture
    nor a video). Send `If-None-Match` with the `ETag` you have to get 304.
    """
    status = await visible_job(queries, outbox, job_id, principal)
    if status.mp3_file_id is None:
        raise HTTPException(status_code=409, detail=mp3_not_ready(job_id, status.state))
    # an MP3 never changes, so its id names its cover's version too
    etag = f'"{status.mp3_file_id}-cover"'
    headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL}
    if etag_matches(if_none_match, etag):
        return Response(content=b"", status_code=304, headers=headers)
    stored = await files.find_mp3(status.mp3_file_id)
    if stored is None:
        raise NotFoundException(f"The MP3 of job {job_id} is no longer stored.")
    cover = cover_in(await _head(files, stored))
    if cover is None:
        raise NotFoundException(_no_cover(job_id))
    return Response(content=cover, media_type="image/jpeg", headers=headers)


COVER_ROUTES: list[HTTPRouteHandler] = [job_cover]
