"""A transactional outbox: an event is stored before it is published, and sent until confirmed.

FerretDB has no multi-document transactions, so each step is one document written once:

1. ``outbox`` (small by design): the entry to publish, ``_id`` the event's id (``store``).
   Removed once the broker confirms it, so the relay reads only what waits: all of the
   collection, every few seconds, while a broker outage delays events instead of losing them.
2. ``gateway_events``: the event itself, kept, under ``<job>:<type>`` (``request_key``): a
   job has at most one upload, one cancellation and one deletion. The gateway folds these
   over the read model (``events_of``: three lookups by id), so a job shows its upload,
   cancel or delete at once, before the projection has caught up. Written together with the
   publish (``dispatch``), which needs nothing of it.

Publishing twice is possible (a crash between confirm and removal, two cancels at once) and
harmless: consumers de-duplicate on the event id, and the fold keeps one entry per state. A
crash before the event is kept leaves it to the relay, which keeps it as it publishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from common.storage_layout import request_key
from contracts import Event, EventAdapter, RoutingKey

__all__ = ["Outbox", "Publisher"]

log = logging.getLogger(__name__)

_KINDS = (RoutingKey.VIDEO_UPLOADED, RoutingKey.JOB_CANCELLED, RoutingKey.JOB_DELETED)
"""The events the gateway stores: one of each per job at most."""


class Publisher(Protocol):
    """Where events go (``common.broker.EventPublisher``): returns once the broker confirmed."""

    async def publish(self, event: Event) -> None: ...


class Outbox:
    def __init__(self, database: AsyncDatabase[Document], publisher: Publisher, publish_timeout: float = 10.0) -> None:
        self._entries = database["outbox"]
        self._requests = database["gateway_events"]
        self._publisher = publisher
        self._timeout = publish_timeout
        self._background: set[asyncio.Task[None]] = set()

    async def events_of(self, job_id: UUID) -> list[Event]:
        """The events of ``job_id`` this gateway stored, oldest first."""
        keys = [request_key(job_id, kind) for kind in _KINDS]
        found = await asyncio.gather(*(self._requests.find_one({"_id": key}) for key in keys))
        events = [EventAdapter.validate_python(document["event"]) for document in found if document is not None]
        return sorted(events, key=lambda event: event.occurred_at)

    async def has_upload(self, job_id: UUID) -> bool:
        """Whether the job's upload is on record (it is a job)."""
        return await self._requests.find_one({"_id": request_key(job_id, RoutingKey.VIDEO_UPLOADED)}) is not None

    async def send(self, event: Event) -> bool:
        """Store ``event``, then keep and publish it; ``False`` if the broker refused (the
        relay sends it later)."""
        await self.store(event)
        return await self.dispatch(event)

    async def store(self, event: Event) -> None:
        """Put ``event`` in the outbox: from here on it will be published."""
        entry = {"_id": str(event.event_id), "event": EventAdapter.dump_python(event, mode="json")}
        with suppress(DuplicateKeyError):  # a retry of the same event
            await self._entries.insert_one(entry | {"stored_at": datetime.now(UTC)})

    async def dispatch(self, event: Event) -> bool:
        """Keep a stored event as its job's and publish it, at once."""
        _, published = await asyncio.gather(self._keep(event), self._publish(event))
        if published:  # confirmed: the entry may go, without holding up the caller
            self._leaving(self._entries.delete_one({"_id": str(event.event_id)}))
        return published

    async def _keep(self, event: Event) -> None:
        with suppress(DuplicateKeyError):  # kept before, or another request's of the same type
            await self._requests.insert_one(
                {"_id": request_key(event.job_id, event.type), "event": EventAdapter.dump_python(event, mode="json")}
            )

    async def _publish(self, event: Event) -> bool:
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
        return True

    def _leaving(self, removal: Awaitable[object]) -> None:
        async def remove() -> None:
            try:
                await removal
            except Exception as error:  # left in the outbox: the relay publishes it again, harmlessly
                log.warning("a published event stayed in the outbox: %r", error)

        task = asyncio.create_task(remove())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def relay_once(self, older_than: timedelta) -> int:
        """Publish the entries stored before ``older_than`` ago that are still unconfirmed."""
        cutoff = datetime.now(UTC) - older_than
        waiting = [entry async for entry in self._entries.find({})]  # small by design: the unconfirmed
        sent = 0
        for entry in sorted(waiting, key=lambda entry: entry["stored_at"]):
            if entry["stored_at"] >= cutoff:
                break
            event = EventAdapter.validate_python(entry["event"])
            await self._keep(event)
            if not await self._publish(event):
                break
            await self._entries.delete_one({"_id": entry["_id"]})
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
