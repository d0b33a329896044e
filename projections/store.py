"""The projection's writer of the read model: job statuses, the unfinished jobs, the lists.

Written only by folding events (``apply``), or wholesale by a rebuild (``put``). Every write
is by primary key (``projections.documents``); nothing here queries a collection that grows.

FerretDB (SQLite backend) does not apply a conditional ``replace_one`` atomically (two
compare-and-set writers can both "win"), and a filter on ``_id`` and a version would read the
whole collection there. So the read model has one writer: the projection queue has a single
active consumer, and writes are serialized per job (and per list) within the process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.locks import KeyedLocks
from common.mongo import Document
from contracts import Event
from projections.documents import (
    EVERYONE,
    MongoIndexStore,
    active_document,
    index_entry,
    position_of,
    status_document,
    status_of,
)
from projections.event_store import EventStore
from projections.job_index import Entry, JobIndex
from projections.job_status import JobState, JobStatus, apply

__all__ = ["ActiveJobs", "EventStore", "JobStatusView"]  # the event store is re-exported for its users


class ActiveJobs:
    """The jobs not finished yet (small by design: those in flight), all the watchdog reads."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._jobs = database["active_jobs"]

    async def track(self, status: JobStatus) -> None:
        document = active_document(status)
        if document is None:
            await self._jobs.delete_one({"_id": str(status.job_id)})
        else:
            await self._jobs.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def idle(self, state: JobState, since: datetime) -> list[UUID]:
        """Jobs in ``state`` with no sign of life since ``since`` (the whole set is read)."""
        return [
            UUID(document["_id"])
            async for document in self._jobs.find({})
            if document["state"] == state.value and document["active_at"] is not None and document["active_at"] < since
        ]

    async def drop(self) -> None:
        await self._jobs.drop()


class JobStatusView:
    """The job-status read model. ``derived``: also keep the unfinished jobs and the lists
    (the live view does; a rebuild's scratch copy does not)."""

    def __init__(
        self, database: AsyncDatabase[Document], collection: str = "job_status", *, derived: bool = True
    ) -> None:
        self._jobs = database[collection]
        self._active = ActiveJobs(database) if derived else None
        self.index = JobIndex(MongoIndexStore(database["job_index"])) if derived else None
        self._writing = KeyedLocks()

    async def get(self, job_id: UUID) -> JobStatus | None:
        document = await self._jobs.find_one({"_id": str(job_id)})
        return None if document is None else status_of(document)

    async def every(self) -> AsyncIterator[JobStatus]:
        """Every status (offline: rebuilds, migrations)."""
        async for document in self._jobs.find({}):
            yield status_of(document)

    async def put(self, status: JobStatus, *, derive: bool = True) -> None:
        """Write ``status`` as it is: for rebuilds, not for live folding (``derive=False``:
        leave the unfinished jobs and the lists to ``rederive``)."""
        async with self._writing(status.job_id):
            before = await self.get(status.job_id) if derive else None
            await self._jobs.replace_one({"_id": str(status.job_id)}, status_document(status), upsert=True)
            if derive:
                await self._derive(before, status)

    async def rederive(self) -> int:
        """Rebuild the unfinished jobs and every list from the statuses at once (offline:
        rebuilds and migrations); returns how many jobs are listed."""
        if self._active is None or self.index is None:
            return 0
        lists: dict[str, list[Entry]] = {EVERYONE: []}
        await self._active.drop()
        async for status in self.every():
            await self._active.track(status)
            if (listed := index_entry(status)) is not None:
                owner, entry = listed
                lists.setdefault(owner, []).append(entry)
                lists[EVERYONE].append(entry)
        for owner, entries in lists.items():
            await self.index.load(owner, entries)
        return len(lists[EVERYONE])

    async def drop(self) -> None:
        await self._jobs.drop()

    async def apply(self, event: Event) -> JobStatus:
        """Fold ``event`` into its job's status."""
        async with self._writing(event.job_id):
            current = await self.get(event.job_id)
            folded = apply(current, event)
            if folded is not current:
                await self._save(folded, new=current is None)
            # also when nothing changed: a redelivery heals what a writer cut short left undone
            await self._derive(current if folded is not current else None, folded)
            return folded

    async def _save(self, status: JobStatus, *, new: bool) -> None:
        document = status_document(status)
        if new:
            try:
                await self._jobs.insert_one(document)
                return
            except DuplicateKeyError:  # written meanwhile by a writer this process does not know
                pass
        await self._jobs.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def _derive(self, before: JobStatus | None, after: JobStatus) -> None:
        """Keep the unfinished jobs and the lists in step with ``after``. ``before``: the status
        it replaced; ``None`` when unknown (a redelivery), which makes the lists heal too."""
        if self._active is None or self.index is None:
            return
        await self._active.track(after)
        old, new = (index_entry(before) if before else None), index_entry(after)
        if before is not None and old == new:
            return
        if old is not None and (new is None or old[1].position != new[1].position):
            for owner in (old[0], EVERYONE):
                await self.index.remove(owner, old[1].position)
        if new is not None:
            for owner in (new[0], EVERYONE):
                await self.index.put(owner, new[1])
        elif before is None and after.owner_id is not None and (position := position_of(after)) is not None:
            for owner in (after.owner_id, EVERYONE):  # deleted: it must not stay listed
                await self.index.remove(owner, position)
