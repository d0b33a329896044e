"""A transactional outbox: an event is stored before it is published, and sent until confirmed.

FerretDB has no multi-document transactions, so each step is one document written once:

1. ``outbox`` (small by design): the entry to publish, ``_id`` the event's id. Removed once the
   broker confirms it, so the relay reads only what waits: all of the collection, every few
   seconds, while a broker outage delays events instead of losing them.
2. ``gateway_events``: the event itself, kept, under ``<job>:<type>`` (``request_key``): a
   job has at most one upload, one cancellation and one deletion. The gateway folds these
   over the read model (``events_of``: three lookups by id), so a job shows its upload,
   cancel or delete at once, before the projection has caught up. The insert also decides
   which of two concurrent cancels (or deletes) counts: the other's entry is withdrawn.

Publishing twice is possible (a crash between confirm and removal) and harmless: consumers
de-duplicate on the event id. A crash between the two inserts leaves an event that is
published but not folded here: the projection shows it a moment later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.broker import EventPublisher
from common.mongo import Document
from common.storage_layout import request_key
from contracts import Event, EventAdapter, RoutingKey

__all__ = ["Outbox"]

log = logging.getLogger(__name__)

_KINDS = (RoutingKey.VIDEO_UPLOADED, RoutingKey.JOB_CANCELLED, RoutingKey.JOB_DELETED)
"""The events the gateway stores: one of each per job at most."""


class Outbox:
    def __init__(
        self, database: AsyncDatabase[Document], publisher: EventPublisher, publish_timeout: float = 10.0
    ) -> None:
        self._entries = database["outbox"]
        self._requests = database["gateway_events"]
        self._publisher = publisher
        self._timeout = publish_timeout

    async def events_of(self, job_id: UUID) -> list[Event]:
        """The events of ``job_id`` this gateway stored, oldest first."""
        keys = [request_key(job_id, kind) for kind in _KINDS]
        found = await asyncio.gather(*(self._requests.find_one({"_id": key}) for key in keys))
        events = [EventAdapter.validate_python(document["event"]) for document in found if document is not None]
        return sorted(events, key=lambda event: event.occurred_at)

    async def has_upload(self, job_id: UUID) -> bool:
        """Whether the job's upload is on record (it is a job)."""
        return await self._requests.find_one({"_id": request_key(job_id, RoutingKey.VIDEO_UPLOADED)}) is not None

    async def store(self, event: Event) -> Event:
        """Store ``event`` to be published; returns the job's event of its type that counts:
        ``event``, or one stored before it (a retried upload, a concurrent cancel)."""
        dumped = EventAdapter.dump_python(event, mode="json")
        entry = {"_id": str(event.event_id), "event": dumped, "stored_at": datetime.now(UTC)}
        with suppress(DuplicateKeyError):  # a retry of the same event
            await self._entries.insert_one(entry)
        key = request_key(event.job_id, event.type)
        try:
            await self._requests.insert_one({"_id": key, "event": dumped})
        except DuplicateKeyError:
            existing = await self._requests.find_one({"_id": key})
            if existing is not None and existing["event"]["event_id"] != str(event.event_id):
                await self._entries.delete_one({"_id": str(event.event_id)})  # not published yet
                return EventAdapter.validate_python(existing["event"])
        return event

    async def publish(self, event: Event) -> bool:
        """Publish a stored event now; ``False`` (and left for the relay) if the broker refuses."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._publisher.publish(event)
        except Exception as error:  # any broker failure: the relay sends it later
            log.warning(
                "publishing %s failed, the relay will retry: %s",
                event.event_id,
                error,
                extra={"job_id": str(event.job_id), "event_id": str(event.event_id)},
            )
            return False
        await self._entries.delete_one({"_id": str(event.event_id)})
        return True

    async def relay_once(self, older_than: timedelta) -> int:
        """Publish the entries stored before ``older_than`` ago that are still unconfirmed."""
        cutoff = datetime.now(UTC) - older_than
        waiting = [entry async for entry in self._entries.find({})]  # small by design: the unconfirmed
        sent = 0
        for entry in sorted(waiting, key=lambda entry: entry["stored_at"]):
            if entry["stored_at"] >= cutoff:
                break
            if not await self.publish(EventAdapter.validate_python(entry["event"])):
                break
            sent += 1
        return sent

    async def relay_forever(
        self, interval_seconds: float, before_round: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                if before_round is not None:
                    await before_round()
                await self.relay_once(timedelta(seconds=interval_seconds))
            except Exception:  # the store may be away too; try again next round
                log.exception("outbox relay round failed")
