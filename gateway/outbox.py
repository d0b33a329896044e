"""A transactional outbox: an event is stored before it is published, and sent until confirmed.

FerretDB has no multi-document transactions, so the outbox entry is one document written
once; the relay publishes every entry not yet confirmed, so a broker outage delays events
instead of losing them. Publishing twice is possible (a crash between confirm and mark) and
harmless: consumers de-duplicate on the event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase

from common.broker import EventPublisher
from common.mongo import Document
from contracts import Event, EventAdapter

__all__ = ["Outbox"]

log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self, database: AsyncDatabase[Document], publisher: EventPublisher, publish_timeout: float = 10.0
    ) -> None:
        self._entries = database["outbox"]
        self._publisher = publisher
        self._timeout = publish_timeout

    async def ensure_indexes(self) -> None:
        await self._entries.create_index([("published_at", 1), ("stored_at", 1)])
        await self._entries.create_index([("event.job_id", 1)])

    async def events_of(self, job_id: UUID) -> list[Event]:
        """The events of ``job_id`` this gateway stored, oldest first."""
        cursor = self._entries.find({"event.job_id": str(job_id)}).sort("stored_at", 1)
        return [EventAdapter.validate_python(entry["event"]) async for entry in cursor]

    async def store(self, event: Event) -> None:
        await self._entries.insert_one(
            {
                "_id": str(event.event_id),
                "event": EventAdapter.dump_python(event, mode="json"),
                "stored_at": datetime.now(UTC),
                "published_at": None,
            }
        )

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
        await self._entries.update_one({"_id": str(event.event_id)}, {"$set": {"published_at": datetime.now(UTC)}})
        return True

    async def relay_once(self, older_than: timedelta) -> int:
        """Publish the entries stored before ``older_than`` ago that are still unconfirmed."""
        cutoff = datetime.now(UTC) - older_than
        sent = 0
        cursor = self._entries.find({"published_at": None, "stored_at": {"$lt": cutoff}}).sort("stored_at", 1)
        async for entry in cursor:
            if await self.publish(EventAdapter.validate_python(entry["event"])):
                sent += 1
            else:
                break
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
