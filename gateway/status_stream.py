"""``GET /v1/jobs/{id}/events``: a job's status as server-sent events, so clients watch a
job without polling it themselves.

One ``StatusWatcher`` per gateway process reads the status of every job somebody follows
(the read model with the gateway's own events folded in, as the REST route answers it) once
per ``POLL_SECONDS``, however many streams follow that job, and hands each change to the
streams following it: the store sees one read per followed job and interval, not one per
open connection. A stream sends the status whenever it changed and ends after a terminal
state (or the job's deletion), or after ``max_stream_seconds`` (15 minutes by default; the
client reconnects). The watcher counts each user's open streams: a user may have
``max_streams_per_user`` open at once on a gateway process (429 beyond), so one user's
hundreds of streams cannot slow everyone's requests. Browsers' ``EventSource`` cannot send
an ``Authorization`` header: read the stream with ``fetch`` instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from uuid import UUID

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.response import ServerSentEvent, ServerSentEventMessage
from pydantic import BaseModel, Field

from auth.tokens import Principal
from common.links import LinkSigner
from gateway import openapi as docs
from gateway.access import visible_job
from gateway.outbox import Outbox
from gateway.settings import GatewaySettings
from gateway.views import job_view
from gateway.wording import job_not_found
from projections.job_status import JobStatus
from projections.queries import JobQueries

__all__ = ["POLL_SECONDS", "STATUS_STREAM_ROUTES", "JobEvent", "StatusWatcher", "TooManyStreams", "status_events"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""How often each followed job's status is read for changes (by one watcher per process)."""
_KEEPALIVE_SECONDS = 15.0
"""A comment line this often keeps proxies from closing a quiet stream."""
_RETRY_MS = 2000
_RESERVED_SECONDS = 10.0
"""A stream let in but not started within this long (its client left first) counts no more."""

ReadStatus = Callable[[UUID], Awaitable[JobStatus | None]]


class TooManyStreams(Exception):
    """The user has as many status streams open as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You have {limit} live status streams open, the most allowed at once. Close one before "
            "opening another, or ask for the job's status now and then instead."
        )
        self.limit = limit


@dataclass(eq=False)
class _Admission:
    """A stream let in, counted from then on, before it follows its job."""

    user_id: str
    at: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class _Follower:
    """One stream's mailbox: only the newest status counts, older unread ones are replaced."""

    latest: JobStatus | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def hand(self, status: JobStatus | None) -> None:
        self.latest = status
        self.changed.set()

    async def next(self, within: float) -> JobStatus | None:
        """The newest status handed over; ``TimeoutError`` if none came ``within`` seconds."""
        await asyncio.wait_for(self.changed.wait(), within)
        self.changed.clear()
        return self.latest


class StatusWatcher:
    """Reads each followed job's status once per ``poll_seconds`` and fans changes out."""

    def __init__(self, read: ReadStatus, poll_seconds: float = POLL_SECONDS) -> None:
        self._read, self._poll = read, poll_seconds
        self._followers: dict[UUID, set[_Follower]] = {}
        self._last: dict[UUID, JobStatus | None] = {}
        self._per_user: Counter[str] = Counter()
        self._admitted: dict[str, set[_Admission]] = {}
        self._task: asyncio.Task[None] | None = None

    def streams_of(self, user_id: str) -> int:
        """How many streams ``user_id`` has open in this process (or let in and starting)."""
        admitted = self._admitted.get(user_id, set())
        stale = {admission for admission in admitted if time.monotonic() - admission.at > _RESERVED_SECONDS}
        admitted -= stale
        if not admitted:
            self._admitted.pop(user_id, None)
        return self._per_user[user_id] + len(admitted)

    def admit(self, user_id: str, limit: int) -> _Admission:
        """Let one more stream of ``user_id``'s in, counted at once (``TooManyStreams`` at ``limit``)."""
        if self.streams_of(user_id) >= limit:
            raise TooManyStreams(limit)
        admission = _Admission(user_id)
        self._admitted.setdefault(user_id, set()).add(admission)
        return admission

    @property
    def followed(self) -> int:
        """Jobs read each round."""
        return len(self._followers)

    @asynccontextmanager
    async def follow(
        self, job_id: UUID, user_id: str, current: JobStatus | None, admission: _Admission | None = None
    ) -> AsyncIterator[_Follower]:
        """Follow ``job_id``'s changes from ``current`` (the status the stream starts from) on;
        ``admission``: the stream's place, counted since it was let in."""
        if admission is not None:
            self._admitted.get(user_id, set()).discard(admission)
        follower = _Follower()
        self._followers.setdefault(job_id, set()).add(follower)
        self._last.setdefault(job_id, current)
        self._per_user[user_id] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            yield follower
        finally:
            self._per_user[user_id] -= 1
            if not self._per_user[user_id]:
                del self._per_user[user_id]
            followers = self._followers.get(job_id, set())
            followers.discard(follower)
            if not followers:
                self._followers.pop(job_id, None)
                self._last.pop(job_id, None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        """Rounds while anybody follows a job; the next follower starts it again."""
        while self._followers:
            await asyncio.sleep(self._poll)
            jobs = list(self._followers)
            statuses = await asyncio.gather(*(self._read(job_id) for job_id in jobs), return_exceptions=True)
            for job_id, status in zip(jobs, statuses, strict=True):
                if isinstance(status, BaseException):  # the store away: the next round tries again
                    log.warning("reading the status of job %s failed: %r", job_id, status)
                    continue
                if job_id in self._followers and status != self._last.get(job_id):
                    self._last[job_id] = status
                    for follower in self._followers[job_id]:
                        follower.hand(status)


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
    watcher: StatusWatcher,
    job_id: UUID,
    user_id: str,
    current: JobStatus,
    links: LinkSigner,
    *,
    max_seconds: float = 900.0,
    admission: _Admission | None = None,
    retention: timedelta,
) -> AsyncIterator[ServerSentEventMessage]:
    """``status`` events (the job as ``GET /v1/jobs/{id}`` shows it) on every change, until
    the job ends or is deleted (one ``deleted`` event), or ``max_seconds`` have passed."""
    sent, number = "", 0
    started = last_sent = time.monotonic()
    status: JobStatus | None = current
    async with watcher.follow(job_id, user_id, current, admission) as changes:
        yield ServerSentEventMessage(data=None, retry=_RETRY_MS)
        while time.monotonic() - started < max_seconds:
            if status is None or status.deleted_at is not None:
                yield ServerSentEventMessage(event="deleted", data=f'{{"job_id": "{job_id}"}}')
                return
            body = job_view(status, links, retention).model_dump_json()
            if body != sent:
                sent, number, last_sent = body, number + 1, time.monotonic()
                yield ServerSentEventMessage(id=number, event="status", data=body)
                if status.finished:
                    return
            elif time.monotonic() - last_sent >= _KEEPALIVE_SECONDS:
                last_sent = time.monotonic()
                yield ServerSentEventMessage(data=None, comment="keep-alive")
            wait = max(0.0, min(_KEEPALIVE_SECONDS - (time.monotonic() - last_sent), max_seconds))
            with suppress(TimeoutError):
                status = await changes.next(wait)


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
        **docs.problems(
            "/v1/jobs/{job_id}/events", {404: job_not_found(docs.EXAMPLE_ID), 429: str(TooManyStreams(10))}
        ),
    },
)
async def job_events(
    *,
    job_id: docs.JobId,
    principal: NamedDependency[Principal],
    queries: NamedDependency[JobQueries],
    outbox: NamedDependency[Outbox],
    watcher: NamedDependency[StatusWatcher],
    links: NamedDependency[LinkSigner],
    settings: NamedDependency[GatewaySettings],
) -> ServerSentEvent:
    """Follow a job live: its status as server-sent events, sent whenever it changes
    (state, progress), ending once the job is finished.

    The owner only (404 for anyone else), with the same bearer token as every route;
    `EventSource` cannot send one, so read the stream with `fetch`. A stream ends after
    `MAX_STREAM_SECONDS` (15 minutes) whatever the job does: reconnect. A user may have
    `MAX_STREAMS_PER_USER` (10) streams open at once (429 with `Retry-After` beyond).
    """
    status = await visible_job(queries, outbox, job_id, principal)
    try:
        admission = watcher.admit(principal.user_id, settings.max_streams_per_user)
    except TooManyStreams as error:
        raise HTTPException(status_code=429, detail=str(error), headers={"Retry-After": "5"}) from None
    events = status_events(
        watcher,
        job_id,
        principal.user_id,
        status,
        links,
        retention=settings.retention,
        max_seconds=settings.max_stream_seconds,
        admission=admission,
    )
    return ServerSentEvent(events, headers={"Cache-Control": "no-store"})


STATUS_STREAM_ROUTES: list[HTTPRouteHandler] = [job_events]
