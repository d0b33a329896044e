"""Resumable uploads over tus 1.0.0 (core, creation, termination, expiration): a dropped
connection resumes from the last byte stored instead of starting a multi-GB upload again.

    POST   /v1/uploads        Upload-Length, Upload-Metadata  -> 201, Location
    HEAD   /v1/uploads/{id}   -> Upload-Offset (where to go on)
    PATCH  /v1/uploads/{id}   Upload-Offset + the bytes from there -> 204, the new Upload-Offset
    DELETE /v1/uploads/{id}   -> 204, the upload and its bytes are gone

The upload's id is its job's id: the PATCH that completes it creates the job exactly as the
multipart route does (media check, then ``VideoUploaded`` through the outbox) and answers
with ``Job-Location``. Uploads are their owner's alone (404 for anyone else).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import UTC, timedelta
from email.utils import format_datetime
from typing import Annotated, Any
from uuid import UUID, uuid5

from litestar import MediaType, Request, Response, delete, head, patch, post, route
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import OpenAPIHeader, OpenAPIMediaType, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from auth.tokens import Principal
from common.in_flight import JobsInFlight, TooManyJobs, job_units
from contracts import ConversionOptions
from gateway import openapi as docs
from gateway.body import ClientDisconnected, TooLarge, body_chunks
from gateway.callbacks import CALLBACK_FIELD, Callbacks
from gateway.filenames import sanitize_filename
from gateway.idempotency import (
    REPLAYED,
    IdempotencyKeys,
    InFlight,
    KeyReused,
    Stored,
    claim,
    tus_fingerprint,
)
from gateway.intake import create_job, invalid_upload, too_many_jobs
from gateway.media import NO_AUDIO, MediaProbe
from gateway.outbox import Outbox
from gateway.quota import Quota
from gateway.resumable import OffsetMismatch, PendingUpload, ResumableUploads, TooManyUploads, UploadBusy
from gateway.settings import GatewaySettings
from gateway.uploads import InvalidUpload, options_from_fields
from gateway.views import job_url
from gateway.wording import (
    OFFSET_STREAM_ONLY,
    TUS_ONLY,
    UPLOAD_BUSY,
    offset_mismatch,
    past_the_end,
    too_large,
    upload_became_job,
    upload_complete,
    upload_not_found,
    words_for,
)

__all__ = ["TUS_ROUTES", "TUS_VERSION", "parse_metadata"]

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
_UPLOADED = UUID("6f1f2a8e-5b0c-4c1e-9a57-2f3e4d5c6b7a")  # namespace of the completion events' ids


def parse_metadata(header: str | None) -> dict[str, bytes]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs (the value may be absent)."""
    pairs: dict[str, bytes] = {}
    for item in (header or "").split(","):
        if not item.strip():
            continue
        key, _, value = item.strip().partition(" ")
        if not key.isascii() or not key.isprintable() or key in pairs:
            raise ValueError(f"invalid or repeated key {key!r}")
        try:
            pairs[key] = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"the value of {key!r} is not base64") from None
    return pairs


async def _checked_callback(metadata: dict[str, bytes], callbacks: Callbacks) -> str | None:
    """The metadata's ``callback_url``, if any, once webhooks may go there (``InvalidUpload``: not)."""
    callback = _callback_url(metadata)
    return None if callback is None else await callbacks.check(callback, source="header")


def _callback_url(metadata: dict[str, bytes]) -> str | None:
    value = metadata.get(CALLBACK_FIELD)
    return None if not value else value.decode("utf-8", "replace")


def _empty(status_code: int, headers: dict[str, str]) -> Response[None]:
    """An answer whose headers say it all: tus bodies are empty (``text/`` renders None so)."""
    return Response(None, status_code=status_code, headers=headers, media_type=MediaType.TEXT)


def _upload_url(upload_id: UUID) -> str:
    return f"/v1/uploads/{upload_id}"


def _tus_resumable(app: ASGIApp) -> ASGIApp:
    """Every answer of the tus routes names the protocol version, errors included."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"tus-resumable", TUS_VERSION.encode())]
            await send(message)

        await app(scope, receive, send_with_version)

    return middleware


def _require_version(version: str) -> None:
    if version != TUS_VERSION:
        raise HTTPException(
            status_code=412,
            detail=TUS_ONLY,
            headers={"Tus-Version": TUS_VERSION},
        )


async def _own(uploads: ResumableUploads, upload_id: UUID, principal: Principal) -> PendingUpload:
    upload = await uploads.get(upload_id)
    if upload is None or upload.owner_id != principal.user_id:
        raise NotFoundException(upload_not_found(upload_id))
    return upload


def _h(description: str, type_: OpenAPIType = OpenAPIType.STRING, example: Any = None) -> OpenAPIHeader:
    return OpenAPIHeader(description=description, schema=Schema(type=type_), example=example)


_OFFSET = {"Upload-Offset": _h("Bytes stored so far.", OpenAPIType.INTEGER, 1_048_576)}
_JOB = {"Job-Location": _h("The job the upload became, once complete.", example="/v1/jobs/3f0c2b7e-...")}
_EXPIRES = {"Upload-Expires": _h("When an unfinished upload is removed.", example="Wed, 06 May 2026 10:15:30 GMT")}


def _example_option_problem(fields: dict[str, str]) -> InvalidUpload:
    """The 422 a tus creation with these options gets (for the documentation's example)."""
    try:
        options_from_fields({name: value.encode() for name, value in fields.items()}, source="header")
    except InvalidUpload as refused:
        return refused
    raise AssertionError(f"{fields} are valid options")


def _expires(upload: PendingUpload, settings: GatewaySettings) -> dict[str, str]:
    if upload.completed:
        return {}
    expiry = upload.updated_at.astimezone(UTC) + timedelta(hours=settings.upload_idle_hours)
    return {"Upload-Expires": format_datetime(expiry, usegmt=True)}


_COMMON: dict[str, Any] = {"tags": ["uploads"], "middleware": [_tus_resumable]}
_UPLOADS, _UPLOAD = "/v1/uploads", "/v1/uploads/{upload_id}"
_CLIP_BACKWARDS = _example_option_problem({"start_seconds": "90", "end_seconds": "30"})


@route(
    "/v1/uploads",
    summary="What this server supports of tus",
    http_method=["OPTIONS"],
    status_code=204,
    operation_class=docs.documented(
        headers={
            "204": {
                "Tus-Version": _h("Protocol versions served.", example=TUS_VERSION),
                "Tus-Extension": _h("Extensions served.", example=EXTENSIONS),
                "Tus-Max-Size": _h("Largest upload accepted, in bytes.", OpenAPIType.INTEGER, 2 * 1024**3),
            }
        }
    ),
    responses={204: docs.no_content("What this server supports of tus.")},
    **_COMMON,
)
async def tus_options(settings: NamedDependency[GatewaySettings]) -> Response[None]:
    """The tus versions, extensions and size limit this server supports (no token needed)."""
    return _empty(
        204,
        {
            "Allow": "OPTIONS, POST",
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
        },
    )


@post(
    "/v1/uploads",
    status_code=201,
    security=docs.SECURITY,
    operation_class=docs.documented(
        headers={
            "201": {
                "Location": _h("The new upload; PATCH its bytes there.", example="/v1/uploads/3f0c2b7e-..."),
                **_OFFSET,
                **_EXPIRES,
                "Callback-Secret": _h(
                    "Only when the metadata named a `callback_url`: the secret its deliveries are signed with, "
                    "shown this once.",
                    example="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                ),
            }
        }
    ),
    summary="Start a resumable upload (tus)",
    responses={
        201: docs.no_content("The upload exists; send its bytes."),
        **docs.problems(
            _UPLOADS,
            {
                409: str(InFlight()),
                422: (str(_CLIP_BACKWARDS), _CLIP_BACKWARDS.errors),
                429: str(TooManyUploads(10)),
            },
            invalid=docs.Invalid("Upload-Length", "header", "Expected `int` >= 0"),
            same=(401, 412, 413),
        ),
    },
    **_COMMON,
)
async def create_upload(
    *,
    principal: NamedDependency[Principal],
    settings: NamedDependency[GatewaySettings],
    uploads: NamedDependency[ResumableUploads],
    in_flight: NamedDependency[JobsInFlight],
    quota: NamedDependency[Quota],
    upload_length: Annotated[int, docs.UPLOAD_LENGTH],
    upload_metadata: Annotated[str | None, docs.UPLOAD_METADATA] = None,
    tus_resumable: Annotated[str, docs.TUS_RESUMABLE],
    callbacks: NamedDependency[Callbacks],
    keys: NamedDependency[IdempotencyKeys],
    idempotency_key: Annotated[str | None, docs.IDEMPOTENCY_KEY] = None,
) -> Response[None]:
    """Start a resumable upload of `Upload-Length` bytes (tus creation).

    `Upload-Metadata` carries the file name (`filename`), its type (`filetype`) and the
    conversion options (`bitrate_kbps`), each base64-encoded. Send the bytes with PATCH to
    the `Location`; the PATCH that completes them creates the job. A `callback_url` there
    gets the job's webhook events, signed with the secret in the `Callback-Secret` header
    (answered this once; 422 for a private, local or reserved address).

    Limits (defaults; each a `VIDMP3_*` setting): `Upload-Length` up to `MAX_UPLOAD_BYTES`
    (2 GiB, 413 beyond); at most `MAX_PENDING_UPLOADS` (10) unfinished uploads per user
    (429 beyond: finish or remove one first); an upload nobody adds to for
    `UPLOAD_IDLE_HOURS` (24) is removed. The completed file's audio, trim applied, may last
    `MAX_MEDIA_SECONDS` (3 h), or `MAX_NORMALIZE_SECONDS` (30 min) with `normalize` (422 beyond).

    Send an `Idempotency-Key` to retry safely: the same `Upload-Length` and `Upload-Metadata`
    again with the same key within 24 hours answers with the first upload's `Location`.

    A user with `MAX_JOBS_IN_FLIGHT` (8) units of work queued or converting (a job counts 1,
    one with `normalize` 4) gets 429 with `Retry-After` here too; the completing PATCH is never
    refused for it (its bytes are in), its job's units are counted from then on.
    """
    _require_version(tus_resumable)
    if upload_length > (limit := settings.max_upload_bytes):
        raise TooLarge(too_large(limit))
    if upload_length == 0:
        raise invalid_upload(
            InvalidUpload(
                "The file is empty (0 bytes): choose the video itself.", [{"field": "Upload-Length", "message": "is 0"}]
            )
        )
    try:
        metadata = parse_metadata(upload_metadata)
        wanted = {k: v for k, v in metadata.items() if k in ConversionOptions.model_fields}
        options = options_from_fields(wanted, source="header")
        callback = await _checked_callback(metadata, callbacks)
    except InvalidUpload as error:
        raise invalid_upload(error) from None
    except ValueError as error:
        raise ClientException(
            words_for("Upload-Metadata"),
            extra={"errors": [{"field": "Upload-Metadata", "message": str(error), "source": "header"}]},
        ) from None
    name = metadata.get("filename", metadata.get("name"))
    kind = metadata.get("filetype", metadata.get("type"))
    held = None
    if idempotency_key is not None:
        begun = await claim(keys, principal.user_id, idempotency_key)
        fingerprint = tus_fingerprint(upload_length, upload_metadata)
        if isinstance(begun, Stored):
            try:
                first = begun.replay(fingerprint)
            except KeyReused as reused:
                raise HTTPException(status_code=422, detail=str(reused)) from None
            return _empty(first.status_code, {**first.headers, REPLAYED: "true"})
        held = begun
    try:
        if not await in_flight.has_room(principal.user_id, job_units(options, in_flight.limit)):
            raise too_many_jobs(TooManyJobs(in_flight.limit))  # after a replay: that answers as before
        await quota.admit(principal.user_id, upload_length)
        upload = await uploads.create(
            owner_id=principal.user_id,
            length=upload_length,
            filename=sanitize_filename(None if name is None else name.decode("utf-8", "replace")),
            content_type=None if kind is None else kind.decode("latin-1")[:255],
            options=options,
            metadata=upload_metadata,
        )
    except BaseException as error:
        if held is not None:
            await keys.release(held)
        if isinstance(error, TooManyUploads):
            raise HTTPException(status_code=429, detail=str(error)) from None
        raise
    # a replay answers the callback's secret again: it is the same upload
    secret = {} if callback is None else {"Callback-Secret": callbacks.secret(upload.upload_id)}
    headers = {"Location": _upload_url(upload.upload_id), "Upload-Offset": "0", **_expires(upload, settings), **secret}
    if held is not None:
        await keys.finish(held, fingerprint, 201, None, headers)
    return _empty(201, headers)


@head(
    "/v1/uploads/{upload_id:uuid}",
    security=docs.SECURITY,
    opt={"scope": "jobs:write"},  # where an upload stands: part of writing it
    operation_class=docs.documented(
        headers={
            "200": {
                **_OFFSET,
                "Upload-Length": _h("The upload's whole size.", OpenAPIType.INTEGER, 734_003_200),
                "Upload-Metadata": _h("As sent when it was created."),
                **_EXPIRES,
                **_JOB,
            }
        }
    ),
    summary="Ask how far an upload got",
    responses={
        200: docs.no_content("Where the upload stands."),
        **docs.problems(_UPLOAD, {404: upload_not_found(docs.EXAMPLE_ID)}, same=(401, 412)),
    },
    **_COMMON,
)
async def upload_offset(
    *,
    upload_id: docs.UploadId,
    settings: NamedDependency[GatewaySettings],
    principal: NamedDependency[Principal],
    uploads: NamedDependency[ResumableUploads],
    tus_resumable: Annotated[str, docs.TUS_RESUMABLE],
) -> Response[None]:
    """How many bytes of the upload are stored: resume with a PATCH at `Upload-Offset`."""
    _require_version(tus_resumable)
    upload = await _own(uploads, upload_id, principal)
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Cache-Control": "no-store",
        **_expires(upload, settings),
    }
    if upload.metadata:
        headers["Upload-Metadata"] = upload.metadata
    if upload.completed:
        headers["Job-Location"] = job_url(upload_id)
    return _empty(200, headers)


@patch(
    "/v1/uploads/{upload_id:uuid}",
    summary="Send an upload's next bytes",
    status_code=204,
    security=docs.SECURITY,
    request_max_body_size=None,  # read and limited by ``body_chunks``
    operation_class=docs.documented(
        body=RequestBody(
            required=True,
            description="The upload's bytes from `Upload-Offset` on (all of the rest, or a part of it).",
            content={
                OFFSET_STREAM: OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format="binary"),  # type: ignore[arg-type]
                    example="(bytes of the file)",
                )
            },
        ),
        headers={"204": {**_OFFSET, **_EXPIRES, **_JOB}},
    ),
    responses={
        204: docs.no_content("The bytes are stored; the last ones create the job (`Job-Location`)."),
        **docs.problems(
            _UPLOAD,
            {
                404: upload_not_found(docs.EXAMPLE_ID),
                409: offset_mismatch(0, 1_048_576),
                413: past_the_end(734_003_200),
                415: OFFSET_STREAM_ONLY,
                422: (NO_AUDIO.detail, [{"field": "file", "message": NO_AUDIO.reason, "source": "body"}]),
            },
            invalid=docs.Invalid("Upload-Offset", "header", "Expected `int` >= 0"),
            same=(401, 412, 423),
        ),
    },
    **_COMMON,
)
async def append_to_upload(
    *,
    request: Request[Any, Any, Any],
    settings: NamedDependency[GatewaySettings],
    upload_id: docs.UploadId,
    principal: NamedDependency[Principal],
    uploads: NamedDependency[ResumableUploads],
    probe: NamedDependency[MediaProbe],
    outbox: NamedDependency[Outbox],
    in_flight: NamedDependency[JobsInFlight],
    callbacks: NamedDependency[Callbacks],
    upload_offset: Annotated[int, docs.UPLOAD_OFFSET],
    tus_resumable: Annotated[str, docs.TUS_RESUMABLE],
) -> Response[None]:
    """Store bytes of the upload from `Upload-Offset` on (which must be the stored offset:
    409 otherwise). A dropped connection keeps what arrived: ask HEAD and go on from there.

    The PATCH that completes the upload checks the media and creates the job (422 and the
    upload removed if the file has no decodable audio).
    """
    _require_version(tus_resumable)
    if request.content_type[0] != OFFSET_STREAM:
        raise HTTPException(status_code=415, detail=OFFSET_STREAM_ONLY)
    upload = await _own(uploads, upload_id, principal)
    if upload.completed:
        if upload_offset != upload.length:
            raise HTTPException(status_code=409, detail=upload_complete(upload.length))
        return _empty(204, {"Upload-Offset": str(upload.length), "Job-Location": job_url(upload_id)})
    try:
        offset = await uploads.append(upload, upload_offset, body_chunks(request, upload.length - upload_offset))
    except OffsetMismatch as error:
        raise HTTPException(
            status_code=409,
            detail=offset_mismatch(upload_offset, error.offset),
            headers=_offset(error.offset),
        ) from None
    except UploadBusy:
        raise HTTPException(status_code=423, detail=UPLOAD_BUSY) from None
    except TooLarge:
        raise TooLarge(past_the_end(upload.length)) from None
    except ClientDisconnected:
        raise ClientException("The connection dropped; the bytes that arrived are kept: go on from there.") from None
    headers = {"Upload-Offset": str(offset), **_expires(upload, settings)}
    if offset == upload.length:
        stored = await uploads.store_file(upload, job_id=upload_id, owner_id=principal.user_id)
        stored = replace(stored, callback_url=_callback_url(parse_metadata(upload.metadata)))
        try:
            await create_job(
                stored,
                job_id=upload_id,
                principal=principal,
                probe=probe,
                outbox=outbox,
                discard=lambda: uploads.delete(upload),
                in_flight=in_flight,
                event_id=uuid5(_UPLOADED, str(upload_id)),
                force=True,  # its bytes are all in: checked when the upload started
                callbacks=callbacks,
                callback_source="header",
            )
        except InvalidUpload as error:
            raise invalid_upload(error) from None
        await uploads.mark_completed(upload_id)
        headers = {"Upload-Offset": str(offset), "Job-Location": job_url(upload_id)}
    return _empty(204, headers)


@delete(
    "/v1/uploads/{upload_id:uuid}",
    summary="Abandon an unfinished upload",
    security=docs.SECURITY,
    responses={
        204: docs.no_content("The upload and its bytes are gone."),
        **docs.problems(
            _UPLOAD,
            {404: upload_not_found(docs.EXAMPLE_ID), 409: upload_became_job(job_url(docs.EXAMPLE_ID))},
            same=(401, 412, 423),
        ),
    },
    **_COMMON,
)
async def terminate_upload(
    upload_id: docs.UploadId,
    principal: NamedDependency[Principal],
    uploads: NamedDependency[ResumableUploads],
    tus_resumable: Annotated[str, docs.TUS_RESUMABLE],
) -> None:
    """Abandon an unfinished upload and free its bytes (tus termination).

    A complete upload is a job by now: 409, delete the job instead.
    """
    _require_version(tus_resumable)
    upload = await _own(uploads, upload_id, principal)
    if upload.completed:
        raise HTTPException(
            status_code=409,
            detail=upload_became_job(job_url(upload_id)),
        )
    try:
        await uploads.terminate(upload)
    except UploadBusy:
        raise HTTPException(status_code=423, detail=UPLOAD_BUSY) from None


def _offset(offset: int) -> dict[str, str]:
    return {"Upload-Offset": str(offset)}


TUS_ROUTES: list[HTTPRouteHandler] = [tus_options, create_upload, upload_offset, append_to_upload, terminate_upload]
