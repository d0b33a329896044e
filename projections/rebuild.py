"""Rebuild the job-status view from the event store, and compare it with the live one.

The same fold that runs live runs here over each job's stored events; a new projection is
back-filled the same way, with its own fold and collection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from projections.event_store import EventStore
from projections.job_status import JobStatus, fold
from projections.store import JobStatusView

__all__ = ["Comparison", "compare", "rebuild"]

# ``version`` counts the writes a status took, which differs between a live fold that saw
# repeats and a rebuild that did not; it is bookkeeping, not state
_IGNORED = {"version"}


async def rebuild(events: EventStore, target: JobStatusView) -> int:
    """Fold every job's events into ``target`` (emptied first); returns how many jobs."""
    await target.drop()
    jobs = 0
    async for _, job_events in events.every_job():
        status = fold(job_events)
        if status is not None:
            await target.put(status, derive=False)
            jobs += 1
    await target.rederive()
    return jobs


@dataclass
class Comparison:
    same: int = 0
    different: dict[UUID, list[str]] = field(default_factory=dict)
    """Jobs whose statuses differ, with the fields that do."""
    only_live: list[UUID] = field(default_factory=list)
    only_rebuilt: list[UUID] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.different or self.only_live or self.only_rebuilt)


async def compare(live: JobStatusView, rebuilt: JobStatusView) -> Comparison:
    result = Comparison()
    live_statuses: dict[UUID, JobStatus] = {status.job_id: status async for status in live.every()}
    async for status in rebuilt.every():
        other = live_statuses.pop(status.job_id, None)
        if other is None:
            result.only_rebuilt.append(status.job_id)
            continue
        mine, theirs = status.model_dump(exclude=_IGNORED), other.model_dump(exclude=_IGNORED)
        if fields := sorted(name for name in mine if mine[name] != theirs[name]):
            result.different[status.job_id] = fields
        else:
            result.same += 1
    result.only_live.extend(live_statuses)
    return result
