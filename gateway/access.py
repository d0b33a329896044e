"""Which job a caller may see: their own (admins: everyone's); anything else is 404, never 403."""

from __future__ import annotations

from uuid import UUID

from litestar.exceptions import NotFoundException

from auth.tokens import Principal
from contracts import VideoUploaded
from gateway.outbox import Outbox
from gateway.wording import job_not_found
from projections.job_status import JobStatus, apply
from projections.store import JobStatusView

__all__ = ["current_status", "uploaded_event", "visible_job"]


async def current_status(view: JobStatusView, outbox: Outbox, job_id: UUID) -> JobStatus | None:
    """The read model's status with this gateway's own events folded in on top.

    The fold is idempotent and order-free, so this is what the projection will show once it
    catches up: a just-accepted upload is never 404, a cancel or delete shows at once, and
    the read model keeps its single writer.
    """
    status = await view.get(job_id)
    for event in await outbox.events_of(job_id):
        status = apply(status, event)
    return status


async def visible_job(
    view: JobStatusView, outbox: Outbox, job_id: UUID, principal: Principal, *, deleted_too: bool = False
) -> JobStatus:
    """The job, if ``principal`` may see it; ``NotFoundException`` otherwise."""
    status = await current_status(view, outbox, job_id)
    if (
        status is None
        or (status.deleted_at is not None and not deleted_too)
        or not (status.owner_id == principal.user_id or principal.is_admin)
    ):
        raise NotFoundException(job_not_found(job_id))
    return status


async def uploaded_event(outbox: Outbox, job_id: UUID) -> VideoUploaded | None:
    """The ``VideoUploaded`` this gateway stored for ``job_id`` (it names the video's file)."""
    for event in await outbox.events_of(job_id):
        if isinstance(event, VideoUploaded):
            return event
    return None
