"""``GET /v1/jobs/{id}/events``: a job's status as server-sent events, so clients watch a
job without polling it themselves.

The gateway reads the same status the REST route answers (the read model with its own
outbox folded in) every half second and sends it whenever it changed; the stream ends
after a terminal state (or the job's deletion). Browsers' ``EventSource`` cannot send an
``Authorization`` header: read the stream with ``fetch`` instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Literal
from uuid import UUID

from litestar import get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.response import ServerSentEvent, ServerSentEventMessage
from pydantic import BaseModel, Field

from auth.tokens import Principal
from common.links import LinkSigner
from gateway import openapi as docs
from gateway.access import current_status, visible_job
from gateway.outbox import Outbox
from gateway.views import job_view
from gateway.wording import job_not_found
from projections.store import JobStatusView

__all__ = ["POLL_SECONDS", "STATUS_STREAM_ROUTES", "JobEvent", "status_events"]

POLL_SECONDS = 0.5
"""How often the read model is read for changes (a status read is one indexed lookup)."""
_KEEPALIVE_SECONDS = 15.0
"""A comment line this often keeps proxies from closing a quiet stream."""
_MAX_STREAM_SECONDS = 3600.0
"""A stream ends after this long, whatever the job does; clients reconnect (``retry``)."""
_RETRY_MS = 2000


class JobEvent(BaseModel):
    """One server-sent event of a job's stream (each is sent as `id:`, `event:` and `data:` lines)."""

    event: Literal["status", "deleted"] = Field(
        description="`status`: the job changed; `deleted`: it was deleted (the stream ends)."
    )
    data: str = Field(
        description=(
            'JSON: for `status` the job as `GET /v1/jobs/{job_id}` answers it, for `deleted` `{"job_id": ...}`.'
        )
    )
    id: str | None = Field(default=None, description="Numbers the `status` events of this stream: 1, 2, ...")
    retry: int | None = Field(default=None, description="How long to wait before reconnecting, in milliseconds.")


_EXAMPLE = {
    "event": "status",
    "id": "2",
    "data": '{"job_id": "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b", "state": "converting", "progress_percent": 42.5, ...}',
}


async def status_events(
    view: JobStatusView, outbox: Outbox, job_id: UUID, links: LinkSigner, *, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[ServerSentEventMessage]:
    """``status`` events (the job as ``GET /v1/jobs/{id}`` shows it) on every change, until
    the job ends or is deleted (one ``deleted`` event)."""
    yield ServerSentEventMessage(data=None, retry=_RETRY_MS)
    sent, number = "", 0
    started = last_sent = time.monotonic()
    while time.monotonic() - started < _MAX_STREAM_SECONDS:
        status = await current_status(view, outbox, job_id)
        if status is None or status.deleted_at is not None:
            yield ServerSentEventMessage(event="deleted", data=f'{{"job_id": "{job_id}"}}')
            return
        body = job_view(status, links).model_dump_json()
        if body != sent:
            sent, number, last_sent = body, number + 1, time.monotonic()
            yield ServerSentEventMessage(id=number, event="status", data=body)
            if status.finished:
                return
        elif time.monotonic() - last_sent > _KEEPALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ServerSentEventMessage(data=None, comment="keep-alive")
        await asyncio.sleep(poll_seconds)


@get(
    "/v1/jobs/{job_id:uuid}/events",
    summary="Follow a job live (server-sent events)",
    security=docs.SECURITY,
    tags=["jobs"],
    media_type="text/event-stream",
    responses={
        200: ResponseSpec(
            JobEvent,
            description=(
                "`text/event-stream`: a `status` event (data: the job as `GET /v1/jobs/{job_id}` answers it) "
                "at once and on every change; the stream ends after `notified`, `failed` or `cancelled`, "
                "or with a `deleted` event."
            ),
            media_type="text/event-stream",
            generate_examples=False,
            examples=[Example(summary="a job converting", value=_EXAMPLE)],
        ),
        **docs.problems("/v1/jobs/{job_id}/events", {404: job_not_found(docs.EXAMPLE_ID)}),
    },
)
async def job_events(
    job_id: docs.JobId,
    principal: NamedDependency[Principal],
    view: NamedDependency[JobStatusView],
    outbox: NamedDependency[Outbox],
    links: NamedDependency[LinkSigner],
) -> ServerSentEvent:
    """Follow a job live: its status as server-sent events, sent whenever it changes
    (state, progress), ending once the job is finished.

    The owner only (404 for anyone else), with the same bearer token as every route;
    `EventSource` cannot send one, so read the stream with `fetch`.
    """
    await visible_job(view, outbox, job_id, principal)
    return ServerSentEvent(status_events(view, outbox, job_id, links), headers={"Cache-Control": "no-store"})


STATUS_STREAM_ROUTES: list[HTTPRouteHandler] = [job_events]
