"""MongoDB adapters of the projection: the append-only event store and the job-status view."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from contracts import Event
from projections.event_store import EventStore
from projections.job_status import JobState, JobStatus, apply

__all__ = ["EventStore", "JobStatusView"]  # the event store is re-exported for its users

# times again as BSON dates, for queries: the JSON dump's strings do not sort reliably
_CREATED = "created_sort"
_ACTIVE = "active_sort"  # the last sign of life: a state change or a progress report


class JobStatusView:
    """The job-status read model: written only by folding events, read by the gateway.

    FerretDB (SQLite backend) does not apply a conditional ``replace_one`` atomically: two
    concurrent compare-and-set writers can both "win" and one update is lost. So writes to
    a job are serialized here, per job, within the process, and the projection queue has a
    single active consumer, so one process writes at a time. The version check stays: on
    MongoDB it also guards writers this process does not know of.
    """

    def __init__(self, database: AsyncDatabase[Document], collection: str = "job_status") -> None:
        self._jobs = database[collection]
        self._locks: dict[UUID, tuple[asyncio.Lock, list[int]]] = {}

    async def ensure_indexes(self) -> None:
        await self._jobs.create_index([("owner_id", 1), (_CREATED, -1)])
        await self._jobs.create_index([(_CREATED, -1)])
        await self._jobs.create_index([("state", 1), (_ACTIVE, 1)])

    async def get(self, job_id: UUID) -> JobStatus | None:
        document = await self._jobs.find_one({"_id": str(job_id)})
        return None if document is None else JobStatus.model_validate(_without_id(document))

    async def page(
        self, *, owner_id: str | None, limit: int, created_before: datetime | None = None
    ) -> list[JobStatus]:
        """Jobs newest first (of ``owner_id``, or everyone's for ``None``), deleted ones left out.

        Page on with ``created_before`` = the ``created_at`` of the last job of a page.
        """
        query: dict[str, Any] = {"deleted_at": None, _CREATED: {"$ne": None}}
        if owner_id is not None:
            query["owner_id"] = owner_id
        if created_before is not None:
            query[_CREATED] = {"$lt": created_before}
        cursor = self._jobs.find(query).sort([(_CREATED, -1), ("_id", -1)]).limit(limit)
        return [JobStatus.model_validate(_without_id(document)) async for document in cursor]

    async def idle(self, state: JobState, since: datetime) -> list[JobStatus]:
        """Jobs in ``state`` with no sign of life since ``since``."""
        cursor = self._jobs.find({"state": state.value, "deleted_at": None, _ACTIVE: {"$lt": since}})
        return [JobStatus.model_validate(_without_id(document)) async for document in cursor]

    async def every(self) -> AsyncIterator[JobStatus]:
        async for document in self._jobs.find({}).sort("_id", 1):
            yield JobStatus.model_validate(_without_id(document))

    async def put(self, status: JobStatus) -> None:
        """Write ``status`` as it is: for rebuilds, not for live folding."""
        await self._jobs.replace_one({"_id": str(status.job_id)}, _document(status), upsert=True)

    async def drop(self) -> None:
        await self._jobs.drop()

    async def apply(self, event: Event) -> JobStatus:
        """Fold ``event`` into its job's status, retrying when another writer got there first."""
        async with self._writing(event.job_id):
            while True:
                current = await self.get(event.job_id)
                folded = apply(current, event)
                if folded is current:
                    return folded
                if await self._save(folded, expected_version=current.version if current else None):
                    return folded

    @asynccontextmanager
    async def _writing(self, job_id: UUID) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(job_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[job_id]

    async def _save(self, status: JobStatus, *, expected_version: int | None) -> bool:
        document = _document(status)
        if expected_version is None:
            try:
                await self._jobs.insert_one(document)
            except DuplicateKeyError:
                return False
            return True
        result = await self._jobs.replace_one({"_id": document["_id"], "version": expected_version}, document)
        return result.matched_count == 1


def _document(status: JobStatus) -> dict[str, Any]:
    active = max((t for t in (status.updated_at, status.progress_at) if t is not None), default=None)
    return status.model_dump(mode="json") | {"_id": str(status.job_id), _CREATED: status.created_at, _ACTIVE: active}


def _without_id(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in {"_id", _CREATED, _ACTIVE}}
