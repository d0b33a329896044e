"""The append-only event store: every event once, numbered in order within its job.

Events are keyed ``<job>:<seq>`` (``event_key``): sequence number ``seq`` (1, 2, ...) of
their job, in the order they were stored. Appending inserts at the job's next number, an
insert the unique ``_id`` makes atomic on MongoDB and FerretDB alike, so several writers stay
correct without transactions: one that loses a number to another tries the next. The next
number comes from memory (the last one this process stored for the job), else from probing
ids (1, 2, 4, ... then bisecting): a handful of primary-key lookups, never a query.

Each stored event's id is recorded in ``event_ids`` after the event, so a redelivery is
recognised (``append`` says ``False``). Between the two inserts an event can be stored twice
(a crash, or two writers at once): readers keep the first copy, and the fold is idempotent.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from common.storage_layout import event_key
from contracts import Event, EventAdapter

__all__ = ["EventStore", "event_document", "event_id_document"]

_STORED_ONLY = ("_id", "seq", "recorded_at")
_REMEMBERED_JOBS = 10_000
"""Jobs whose last sequence number is kept in memory (the ones in flight, and then some)."""
_READ_AHEAD = 8
"""Events of a job fetched at once (by id, concurrently) when reading its history."""


class EventStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._events = database["events"]
        self._ids = database["event_ids"]
        self._last: OrderedDict[str, int] = OrderedDict()

    async def append(self, event: Event) -> bool:
        """Store ``event``; ``False`` when it was stored before (a redelivery or duplicate)."""
        event_id, job_id = str(event.event_id), str(event.job_id)
        if await self._ids.find_one({"_id": event_id}) is not None:
            return False
        seq = (self._last.get(job_id) or await self._last_stored(job_id)) + 1
        while True:
            document = event_document(event, seq)
            try:
                await self._events.insert_one(document)
            except DuplicateKeyError:
                seq += 1  # another writer took this number
                continue
            break
        self._remember(job_id, seq)
        with suppress(DuplicateKeyError):  # stored at once by another writer too: both copies stay
            await self._ids.insert_one(event_id_document(event, seq))
        return True

    async def for_job(self, job_id: UUID) -> list[Event]:
        """The job's events in the order they were stored (a copy stored twice, once)."""
        events: list[Event] = []
        seen: set[str] = set()
        seq = 1
        while True:
            keys = [event_key(job_id, n) for n in range(seq, seq + _READ_AHEAD)]
            documents = await asyncio.gather(*(self._events.find_one({"_id": key}) for key in keys))
            for document in documents:
                if document is None:
                    return events
                if document["event_id"] not in seen:
                    seen.add(document["event_id"])
                    events.append(_event(document))
            seq += _READ_AHEAD

    async def every_job(self) -> AsyncIterator[tuple[UUID, list[Event]]]:
        """Each job's events in stored order, job after job: what a rebuild folds.

        Offline: it reads every event's id once to learn the jobs, then each job's events by id.
        """
        jobs = {str(document["_id"]).partition(":")[0] async for document in self._events.find({}, {"_id": 1})}
        for job_id in sorted(jobs):
            if events := await self.for_job(UUID(job_id)):
                yield UUID(job_id), events

    async def _last_stored(self, job_id: str) -> int:
        """The job's highest sequence number stored (0 for none): numbers have no gaps, so
        probing 1, 2, 4, ... until one is free, then bisecting, finds it in O(log n) lookups."""
        if not await self._exists(job_id, 1):
            return 0
        low, high = 1, 2
        while await self._exists(job_id, high):
            low, high = high, high * 2
        while high - low > 1:  # low is stored, high is not
            middle = (low + high) // 2
            low, high = (middle, high) if await self._exists(job_id, middle) else (low, middle)
        return low

    async def _exists(self, job_id: str, seq: int) -> bool:
        return await self._events.find_one({"_id": event_key(job_id, seq)}, {"_id": 1}) is not None

    def _remember(self, job_id: str, seq: int) -> None:
        self._last[job_id] = seq
        self._last.move_to_end(job_id)
        if len(self._last) > _REMEMBERED_JOBS:
            self._last.popitem(last=False)


def event_document(event: Event, seq: int) -> Document:
    """Event number ``seq`` of its job as the store keeps it."""
    document: Document = EventAdapter.dump_python(event, mode="json")
    return document | {"_id": event_key(event.job_id, seq), "seq": seq, "recorded_at": datetime.now(UTC)}


def event_id_document(event: Event, seq: int) -> Document:
    """The record that ``event`` is stored (as number ``seq`` of its job)."""
    return {"_id": str(event.event_id), "key": event_key(event.job_id, seq)}


def _event(document: dict[str, Any]) -> Event:
    return EventAdapter.validate_python({k: v for k, v in document.items() if k not in _STORED_ONLY})
