"""The gateway's OpenAPI document: what Litestar cannot infer (the bearer scheme, the streamed
bodies, response headers), the parameters' descriptions, and an example for every request
and response, problems included."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    PathItem,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from common.http import PROBLEM_MEDIA_TYPE, Problem
from common.problems import BAD_REQUEST
from contracts import ConversionOptions
from gateway import wording
from gateway.docs_page import SwaggerPage
from gateway.views import JobAccepted, JobPage, JobView

__all__ = [
    "ALL_USERS",
    "BEARER",
    "CURSOR",
    "EXAMPLE_ID",
    "IDEMPOTENCY_KEY",
    "IF_NONE_MATCH",
    "IF_RANGE",
    "LIMIT",
    "LINK_TOKEN",
    "RANGE",
    "SECURITY",
    "TUS_RESUMABLE",
    "UPLOAD_LENGTH",
    "UPLOAD_METADATA",
    "UPLOAD_OFFSET",
    "DownloadOperation",
    "Invalid",
    "JobId",
    "UploadId",
    "UploadOperation",
    "accepted_response",
    "documented",
    "job_response",
    "no_content",
    "openapi_config",
    "page_response",
    "problems",
]

BEARER = "BearerToken"
SECURITY: list[dict[str, list[str]]] = [{BEARER: []}]

_JOB_ID = "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b"
EXAMPLE_ID = UUID(_JOB_ID)
"""The job (and upload) id of every example."""
_MP3_ID = "6650a1f2c3d4e5f601234567"
_EVENT_IDS = ("9b1d7c1e-0f4a-4e55-8f0e-1c2d3e4f5a6b", "0c3e5a7b-2d4f-4a6b-9c8d-7e6f5a4b3c2d")
_NOW = "2026-05-04T10:15:30.123000Z"
_LINK = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJ2aWRtcDMtZG93bmxvYWQiLCJzdWIiOi..."

JobId = Annotated[
    UUID,
    PathParameter(description="The job's id, as the upload answered it.", examples=[Example(value=_JOB_ID)]),
]
PartNumber = Annotated[
    int,
    PathParameter(
        description="Which chapter's MP3, from 1 (its `number` in the job's `mp3.parts`).",
        ge=1,
        le=100,
        examples=[Example(value=2)],
    ),
]
UploadId = Annotated[
    UUID,
    PathParameter(
        description="The upload's id (from the `Location` of its creation); also its job's id.",
        examples=[Example(value=_JOB_ID)],
    ),
]
LIMIT = QueryParameter(ge=1, le=100, description="How many jobs a page holds (1 to 100).", examples=[Example(value=20)])
CURSOR = QueryParameter(
    description="`next_cursor` of the previous page; leave it out for the first page.",
    max_length=200,
    examples=[
        Example(value="MjAyNi0wNS0wNFQxMDoxNTozMC4xMjMrMDA6MDB8M2YwYzJiN2UtOGE0MS00YzRlLTlkMGItNmE1ZjFlMmQzYzRi")
    ],
)
ALL_USERS = QueryParameter(
    name="all",
    description="Every user's jobs instead of your own (admins only: 403 otherwise).",
    examples=[Example(value=False)],
)
RANGE = HeaderParameter(
    name="Range",
    description="One byte range, `bytes=start-end`, `bytes=start-` or `bytes=-suffix` (several: answered whole).",
    examples=[Example(summary="first KiB", value="bytes=0-1023")],
)
IF_NONE_MATCH = HeaderParameter(
    name="If-None-Match",
    description="The `ETag` you have: 304 while the MP3 is unchanged.",
    examples=[Example(value=f'"{_MP3_ID}"')],
)
IF_RANGE = HeaderParameter(
    name="If-Range",
    description="Honour `Range` only if the MP3 still has this `ETag`; otherwise answer it whole.",
    examples=[Example(value=f'"{_MP3_ID}"')],
)
TUS_RESUMABLE = HeaderParameter(
    name="Tus-Resumable",
    description="The tus protocol version: `1.0.0` (412 without it).",
    schema_extra={"enum": ["1.0.0"]},
    examples=[Example(value="1.0.0")],
)
UPLOAD_LENGTH = HeaderParameter(
    name="Upload-Length",
    ge=0,
    description="The whole file's size in bytes (at most `Tus-Max-Size`).",
    examples=[Example(value=734_003_200)],
)
IDEMPOTENCY_KEY = HeaderParameter(
    name="Idempotency-Key",
    max_length=255,
    description=(
        "Any 1 to 255 visible ASCII characters you choose per request (a UUID, say). Sending the same "
        "request again with the same key within 24 hours answers as the first time (same status, job "
        "or upload, `Location`; `Idempotent-Replayed: true`) and creates nothing. The same key with a "
        "different request is a 422; while the first is still running, 409 with `Retry-After`. Keys "
        "are per user; only a success is kept, so a refused request can be retried with its key."
    ),
    examples=[Example(value="5f1c9a7e-2d4b-4c3a-9e1f-7a6b5c4d3e2f")],
)
UPLOAD_METADATA = HeaderParameter(
    name="Upload-Metadata",
    max_length=4096,
    description=(
        "Comma-separated `key base64(value)` pairs: `filename` (or `name`), `filetype` (or `type`) and the "
        "conversion options (`bitrate_kbps` or `vbr_quality`, `sample_rate_hz`, `channels`, `start_seconds`, "
        "`end_seconds`, `normalize`, `cover_art`, `split_chapters`; as in the multipart upload)."
    ),
    examples=[Example(value="filename aG9saWRheS5tcDQ=,filetype dmlkZW8vbXA0,bitrate_kbps MTI4")],
)
LINK_TOKEN = PathParameter(
    description="The signed part of a download link (from a job's `mp3.download_url` or an email).",
    max_length=1000,
    examples=[Example(value="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJ2aWRtcDMtZG93bmxvYWQiLCJzdWIiOi...")],
)
UPLOAD_OFFSET = HeaderParameter(
    name="Upload-Offset",
    ge=0,
    description="Where this PATCH's bytes go: the `Upload-Offset` HEAD answered (409 otherwise).",
    examples=[Example(value=0)],
)

_MEANING: dict[int, str] = {
    400: "The request is malformed: a parameter, header or body field is not what the route takes.",
    401: "No valid access token: log in (again).",
    403: "The token's user may not do this.",
    404: "No such resource, or not yours.",
    409: "The resource is not in a state that allows this.",
    410: "The download link expired, or its job was deleted or has expired (its files are removed).",
    412: "The tus version is missing or not supported.",
    413: "The upload is over the size limit, or over the user's stored-bytes quota.",
    415: "The body has the wrong media type.",
    416: "The range lies outside the file.",
    422: "The upload is well-formed but cannot become a job.",
    423: "Another request is writing to this upload.",
    429: "Too many at once (attempts, work in flight, open streams); retry after `Retry-After` seconds.",
    503: "A service the gateway needs is unreachable.",
}
"""What each status means, whatever the route (the response's description)."""

_SAME_EVERYWHERE: dict[int, str] = {
    401: wording.NEED_LOGIN,
    412: wording.TUS_ONLY,
    413: wording.too_large(2 * 1024**3),
    423: wording.UPLOAD_BUSY,
}
"""Details that read the same on every route (the rest belong to their route)."""


@dataclass(frozen=True)
class Invalid:
    """The 400 example of a route: one of its own inputs, refused."""

    field: str
    source: str
    message: str
    """What the library said (in ``errors``; the ``detail`` is the field's words for people)."""


def _instance(path: str) -> str:
    return re.sub(r"\{\w+\}", _JOB_ID, path)  # every path parameter, a token's too


def _problem_example(path: str, status: int, detail: str, errors: list[dict[str, Any]] | None) -> dict[str, Any]:
    example: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": _instance(path),
    }
    if errors:
        example["errors"] = errors
    return example


def problems(
    path: str,
    details: Mapping[int, str | tuple[str, list[dict[str, Any]]]] | None = None,
    *,
    invalid: Invalid | None = None,
    same: tuple[int, ...] = (401,),
) -> dict[int, ResponseSpec]:
    """Problem (RFC 9457) responses of the route at ``path``, each with its example: 400 (any
    request can be malformed: ``invalid`` names one of the route's inputs), the statuses in
    ``same`` with the detail they have everywhere, and ``details`` (a detail, or a detail and
    its ``errors``) written for this route."""
    examples: dict[int, tuple[str, list[dict[str, Any]] | None]] = {
        status: (_SAME_EVERYWHERE[status], None) for status in same
    }
    if invalid is not None:
        error = {"field": invalid.field, "message": invalid.message, "source": invalid.source}
        examples[400] = (wording.words_for(invalid.field), [error])
    else:
        examples[400] = (BAD_REQUEST, None)
    for status, given in (details or {}).items():
        examples[status] = (given, None) if isinstance(given, str) else given
    return {
        status: ResponseSpec(
            Problem,
            description=_MEANING[status],
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
            examples=[Example(summary=_MEANING[status], value=_problem_example(path, status, *examples[status]))],
        )
        for status in sorted(examples)
    }


def _history(*states: str) -> list[dict[str, Any]]:
    return [
        {"state": state, "at": _NOW, "event_id": _EVENT_IDS[index % len(_EVENT_IDS)]}
        for index, state in enumerate(states)
    ]


def _job_example(state: str) -> dict[str, Any]:
    steps = {
        "queued": ("queued",),
        "converting": ("queued", "converting"),
        "notified": ("queued", "converting", "converted", "notified"),
        "cancelled": ("queued", "converting", "cancelled"),
    }[state]
    done = state == "notified"
    return {
        "job_id": _JOB_ID,
        "state": state,
        "filename": "holiday.mp4",
        "created_at": _NOW,
        "history": _history(*steps),
        "progress_percent": 100.0 if done else (42.5 if state == "converting" else None),
        "mp3": (
            {
                "filename": "holiday.mp3",
                "duration_seconds": 183.4,
                "size_bytes": 4_402_176,
                "download_url": f"/v1/downloads/{_LINK}",
                "download_expires_at": "2026-05-11T11:00:00Z",
                "api_url": f"/v1/jobs/{_JOB_ID}/mp3",
            }
            if done
            else None
        ),
        "error": None,
        "updated_at": _NOW,
    }


def job_response(*states: str) -> ResponseSpec:
    return ResponseSpec(
        JobView,
        description="The job.",
        generate_examples=False,
        examples=[Example(summary=f"a {state} job", value=_job_example(state)) for state in states or ("notified",)],
    )


def accepted_response() -> ResponseSpec:
    return ResponseSpec(
        JobAccepted,
        description="The video is stored and its job queued; `Location` is the job.",
        generate_examples=False,
        examples=[
            Example(
                summary="a queued job",
                value={"job_id": _JOB_ID, "state": "queued", "status_url": f"/v1/jobs/{_JOB_ID}"},
            )
        ],
    )


def page_response() -> ResponseSpec:
    return ResponseSpec(
        JobPage,
        description="A page of jobs, newest first.",
        generate_examples=False,
        examples=[
            Example(
                summary="a page with more after it",
                value={
                    "items": [_job_example("converting"), _job_example("notified")],
                    "next_cursor": "MjAyNi0wNS0wNFQxMDoxNTozMC4xMjMrMDA6MDB8M2YwYzJiN2U",
                    "next_url": "/v1/jobs?limit=2&cursor=MjAyNi0wNS0wNFQxMDoxNTozMC4xMjMrMDA6MDB8M2YwYzJiN2U",
                },
            ),
            Example(summary="the last page", value={"items": [], "next_cursor": None, "next_url": None}),
        ],
    )


def no_content(description: str) -> ResponseSpec:
    return ResponseSpec(None, description=description)


def _header(description: str, type_: OpenAPIType = OpenAPIType.STRING, example: Any = None) -> OpenAPIHeader:
    return OpenAPIHeader(description=description, schema=Schema(type=type_), example=example)


def documented(
    *,
    body: RequestBody | None = None,
    body_examples: Mapping[str, Example] | None = None,
    headers: Mapping[str, Mapping[str, OpenAPIHeader]] | None = None,
) -> type[Operation]:
    """An ``operation_class`` completing what Litestar built: a request body it cannot infer
    (the streamed ones), examples of the body it did infer, and response ``headers`` by
    status (it documents its own success response's headers only)."""

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = body
            if body_examples and isinstance(self.request_body, RequestBody):
                for media in self.request_body.content.values():
                    media.examples = dict(body_examples)
            for status, added in (headers or {}).items():
                response = (self.responses or {}).get(status)
                if isinstance(response, OpenAPIResponse):
                    response.headers = {**(response.headers or {}), **added}

    return Documented


def _option_schemas() -> dict[str, Schema]:
    """The options as form fields, from the model's own JSON schema (so bounds and choices match
    what is validated). A form field is text or absent, never null: only the non-null branch shows."""
    schemas = {}
    for name, field in ConversionOptions.model_json_schema()["properties"].items():
        branch = next((b for b in field.get("anyOf", [field]) if b.get("type") != "null"), field)
        schemas[name] = Schema(
            type=_OPENAPI_TYPES[branch["type"]],
            enum=branch.get("enum"),
            minimum=branch.get("minimum"),
            maximum=branch.get("maximum"),
            exclusive_minimum=branch.get("exclusiveMinimum"),
            default=field.get("default"),
            description=field.get("description"),
        )
    return schemas


_OPENAPI_TYPES = {
    "integer": OpenAPIType.INTEGER,
    "number": OpenAPIType.NUMBER,
    "boolean": OpenAPIType.BOOLEAN,
    "string": OpenAPIType.STRING,
}

_LOCATION = {"Location": _header("The new job.", example=f"/v1/jobs/{_JOB_ID}")}

UploadOperation = documented(
    body=RequestBody(
        required=True,
        description="multipart/form-data: the video in `file`, conversion options as further fields.",
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    required=["file"],
                    properties={
                        "file": Schema(
                            type=OpenAPIType.STRING,
                            format="binary",  # type: ignore[arg-type]
                            description="The video (any container and codec FFmpeg reads, with an audio stream).",
                        ),
                        **_option_schemas(),
                    },
                ),
                examples={
                    "video": Example(
                        summary="a video, 128 kbit/s MP3 wanted",
                        value={"file": "(the video's bytes)", "bitrate_kbps": 128},
                    ),
                    "clip": Example(
                        summary="a minute from 1:30, VBR V2, mono, loudness normalized",
                        value={
                            "file": "(the video's bytes)",
                            "vbr_quality": 2,
                            "channels": "mono",
                            "start_seconds": 90,
                            "end_seconds": 150,
                            "normalize": True,
                        },
                    ),
                    "lecture": Example(
                        summary="a lecture with chapters: also one MP3 per chapter",
                        value={"file": "(the video's bytes)", "split_chapters": True},
                    ),
                },
            )
        },
    ),
    headers={"202": _LOCATION},
)

_VALIDATORS = {
    "ETag": _header("The MP3's version: send it as `If-None-Match` or `If-Range`.", example=f'"{_MP3_ID}"'),
    "Accept-Ranges": _header("Always `bytes`.", example="bytes"),
}
DownloadOperation = documented(
    headers={
        "200": {
            **_VALIDATORS,
            "Content-Length": _header("Size of the MP3.", OpenAPIType.INTEGER, 2_934_784),
            "Content-Disposition": _header(
                "`attachment` with the video's name as `.mp3` (RFC 6266; `filename*` for non-ASCII names).",
                example="attachment; filename=\"holiday.mp3\"; filename*=UTF-8''holiday.mp3",
            ),
        },
        "206": {
            **_VALIDATORS,
            "Content-Range": _header("The bytes sent, of the whole size.", example="bytes 0-1023/2934784"),
            "Content-Length": _header("Size of the range.", OpenAPIType.INTEGER, 1024),
        },
        "304": _VALIDATORS,
        "416": {"Content-Range": _header("The MP3's size, as `bytes */size`.", example="bytes */2934784")},
    }
)


def _mp3_response(description: str) -> ResponseSpec:
    return ResponseSpec(
        bytes,
        description=description,
        media_type="audio/mpeg",
        generate_examples=False,
        examples=[Example(summary="MP3 bytes", value="(binary MP3 data)")],
    )


def download_responses() -> dict[int, ResponseSpec]:
    return {
        200: _mp3_response("The whole MP3."),
        206: _mp3_response("The requested range of the MP3."),
        304: no_content("The MP3 still has the `ETag` sent in `If-None-Match`."),
    }


def webhook_operations() -> dict[str, PathItem | Reference]:
    """OpenAPI 3.1 ``webhooks``: one POST per public event, its body's schema and examples."""
    from common.webhooks_asyncapi import examples, inline_schema
    from contracts.webhooks import webhook_event_models

    every = examples()
    operations: dict[str, PathItem | Reference] = {}
    for model in webhook_event_models():
        event_type = str(model.model_fields["type"].default)
        described = (model.__doc__ or "").strip()
        body = OpenAPIMediaType(
            schema=inline_schema(model),  # type: ignore[arg-type]  # a JSON schema, written out as it is
            examples={
                f"example-{index}": Example(summary=summary, value=event.model_dump(mode="json"))
                for index, (summary, event) in enumerate(every[event_type], start=1)
            },
        )
        operations[event_type] = PathItem(
            post=Operation(
                summary=described.splitlines()[0],
                description=described
                + "\n\nSigned as Standard Webhooks says (headers `webhook-id`, `webhook-timestamp`, "
                "`webhook-signature`): verify with your secret before trusting it. Answer 2xx within 10 seconds; "
                "anything else is tried again for about a day.",
                tags=["webhooks"],
                request_body=RequestBody(content={"application/json": body}, required=True),
                responses={"2XX": OpenAPIResponse(description="Received: the delivery is done.")},
            )
        )
    return operations


QUICK_START = (Path(__file__).parent / "quickstart.md").read_text(encoding="utf-8")
"""Log in, upload, follow, download: with curl and with Python (the README has the same)."""


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="vidmp3 gateway",
        version="1.0.0",
        description=(
            "Upload videos, follow their conversion, download the MP3s.\n\n"
            "## Quick start\n\n" + QUICK_START + "\n"
            "## Conventions\n\n"
            "Every error is an RFC 9457 problem (`application/problem+json`): `title` is the HTTP "
            "reason phrase, `detail` says what went wrong and what to do, in words to show people, "
            "`errors` lists invalid inputs with their `field`. Another user's job or upload is 404, "
            "never 403. Large files upload resumably with tus 1.0.0 at `/v1/uploads`.\n\n"
            "## Credentials\n\n"
            "Send `Authorization: Bearer <credential>`: the access token of a login (people, the web "
            "page), or an API key `vmk_...` (programs; create one with `POST /v1/keys`). A key works on "
            "every job route within its scopes: `jobs:read` for reading (GET, HEAD), `jobs:write` for "
            "the rest (uploads, cancel, delete); a missing scope is 403, a revoked or expired key 401, "
            "and each key is limited in requests per minute (429 with `Retry-After`). Keys never act "
            "as an admin, and only a person (a login's token) manages keys or changes a password.\n\n"
            "Webhooks: the events your endpoints (`/v1/webhooks`) and a job's `callback_url` receive are "
            "under `webhooks` in this document, and as AsyncAPI at "
            "[/docs/webhooks/asyncapi](/docs/webhooks/asyncapi) "
            "([YAML](/docs/webhooks/asyncapi.yaml), [JSON](/docs/webhooks/asyncapi.json)).\n\n"
            "The internal events the services exchange over RabbitMQ (no integrator receives those) are "
            "documented with AsyncAPI at [/docs/asyncapi](/docs/asyncapi) "
            "([YAML](/docs/asyncapi.yaml), [JSON](/docs/asyncapi.json))."
        ),
        webhooks=webhook_operations(),
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT or API key",
                    description="A login's access token (a JWT), or an API key (`vmk_<id>_<secret>`).",
                )
            }
        ),
        render_plugins=[SwaggerPage()],
        use_handler_docstrings=True,
        path="/docs",
    )
