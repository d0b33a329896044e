"""Which job a caller may see: their own (admins: everyone's); anything else is 404, never 403."""

from __future__ import annotations

import asyncio
from uuid import UUID

from litestar.exceptions import NotFoundException

from auth.tokens import Principal
from gateway.outbox import Outbox
from gateway.wording import job_not_found
from projections.job_status import JobStatus, apply
from projections.queries import JobQueries

__all__ = ["current_status", "visible_job"]


async def current_status(queries: JobQueries, outbox: Outbox, job_id: UUID) -> JobStatus | None:
    """The read model's status with this gateway's own events folded in on top.

    The fold is idempotent and order-free, so this is what the projection will show once it
    catches up: a just-accepted upload is never 404, a cancel or delete shows at once, and
    the read model keeps its single writer. Four lookups by primary key, at once.
    """
    status, own = await asyncio.gather(queries.get(job_id), outbox.events_of(job_id))
    for event in own:
        status = apply(status, event)
    return status


async def visible_job(
    queries: JobQueries, outbox: Outbox, job_id: UUID, principal: Principal, *, deleted_too: bool = False
) -> JobStatus:
    """The job, if ``principal`` may see it; ``NotFoundException`` otherwise."""
    status = await current_status(queries, outbox, job_id)
    if (
        status is None
        or (status.deleted_at is not None and not deleted_too)
        or not (status.owner_id == principal.user_id or principal.is_admin)
    ):
        raise NotFoundException(job_not_found(job_id))
    return status
