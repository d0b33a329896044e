"""What the read model answers, read-only: the gateway's view of job statuses and lists.

Every answer is a few primary-key lookups (``projections.documents``): a status by its job's
id; a page of a list from its head and a page or two of entries, which hold the statuses of
finished jobs, and the status of each job still in flight.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase

from common.mongo import Document
from projections.documents import EVERYONE, MongoIndexStore, position_of, status_of
from projections.job_index import Entry, JobIndex, Position, Totals
from projections.job_status import JobStatus

__all__ = ["JobQueries", "Position", "Totals", "position_of"]


class JobQueries:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._jobs = database["job_status"]
        self._index = JobIndex(MongoIndexStore(database["job_index"]))

    async def get(self, job_id: UUID) -> JobStatus | None:
        document = await self._jobs.find_one({"_id": str(job_id)})
        return None if document is None else status_of(document)

    async def newest(self, owner_id: str | None, limit: int, after: Position | None = None) -> list[JobStatus]:
        """Up to ``limit`` jobs of ``owner_id`` (everyone's for ``None``) that sort below
        ``after``, newest first; deleted ones left out."""
        owner = EVERYONE if owner_id is None else owner_id
        found: list[JobStatus] = []
        while len(found) < limit:
            entries = await self._index.newest(owner, limit - len(found), after)
            if not entries:
                break
            statuses = await asyncio.gather(*(self._status(entry) for entry in entries))
            # the lists trail the statuses by a moment: a job deleted just now may still be listed
            found += [s for s in statuses if s is not None and s.deleted_at is None]
            after = entries[-1].position
        return found

    async def _status(self, entry: Entry) -> JobStatus | None:
        """A finished job's status from its entry; a job in flight's from its document."""
        if entry.snapshot is not None:
            return JobStatus.model_validate(entry.snapshot)
        return await self.get(UUID(entry.position.job_id))

    async def oldest_stored(self, owner_id: str) -> tuple[Totals, JobStatus | None]:
        """The owner's totals and their oldest finished job still storing bytes (quota's words):
        the list's head and a page or so."""
        totals, entry = await self._index.oldest_stored(owner_id)
        if entry is None or entry.snapshot is None:
            return totals, None
        return totals, JobStatus.model_validate(entry.snapshot)

    async def totals(self, owner_id: str) -> Totals:
        """What the owner's jobs add up to (jobs, bytes stored, jobs in flight): one lookup."""
        return await self._index.totals(owner_id)
