"""The append-only event store: every event once, numbered in order within its job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from contracts import Event, EventAdapter

__all__ = ["EventStore"]

_STORED_ONLY = ("_id", "seq", "recorded_at")


class EventStore:
    """Events keyed by their id, with a per-job sequence number ``seq`` (1, 2, ...).

    Both are enforced by unique indexes, so appending stays correct with several writers
    even where the server has no transactions (FerretDB): a lost race for a sequence number
    is simply retried with the next one.
    """

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._events = database["events"]

    async def ensure_indexes(self) -> None:
        await self._events.create_index([("job_id", 1), ("seq", 1)], unique=True)

    async def append(self, event: Event) -> bool:
        """Store ``event``; ``False`` when it was stored before (a redelivery or duplicate)."""
        document = EventAdapter.dump_python(event, mode="json")
        document |= {"_id": document["event_id"], "recorded_at": datetime.now(UTC)}
        while True:
            last = await self._events.find_one({"job_id": document["job_id"]}, {"seq": 1}, sort=[("seq", -1)])
            document["seq"] = (last["seq"] if last else 0) + 1
            try:
                await self._events.insert_one(document)
            except DuplicateKeyError:
                if await self._events.find_one({"_id": document["_id"]}, {"_id": 1}) is not None:
                    return False
                continue  # another writer took this number
            return True

    async def for_job(self, job_id: UUID) -> list[Event]:
        """The job's events in the order they were stored."""
        cursor = self._events.find({"job_id": str(job_id)}).sort("seq", 1)
        return [_event(document) async for document in cursor]

    async def every_job(self) -> AsyncIterator[tuple[UUID, list[Event]]]:
        """Each job's events in stored order, job after job: what a rebuild folds."""
        current: str | None = None
        events: list[Event] = []
        async for document in self._events.find({}).sort([("job_id", 1), ("seq", 1)]):
            if document["job_id"] != current and events:
                yield UUID(current), events
                events = []
            current = document["job_id"]
            events.append(_event(document))
        if events and current is not None:
            yield UUID(current), events


def _event(document: dict[str, Any]) -> Event:
    return EventAdapter.validate_python({k: v for k, v in document.items() if k not in _STORED_ONLY})
