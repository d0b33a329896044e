"""Webhook deliveries and each endpoint's delivery log, every access by primary key.

A delivery is one public event for one endpoint (or one job's callback): its id is the
``webhook-id`` header, derived from the event and the endpoint, so storing it is an insert
under a unique key (a repeated internal event finds it there and sends nothing new) and
every attempt and retry carries the same id. It holds the exact body (retries send the same
bytes) and its last attempts.

The log of an endpoint is a numbered sequence (``webhook_delivery_log``, ``<endpoint>:<n>``)
naming deliveries: a number is taken by an insert (a concurrent taker moves to the next), a
head document remembers roughly where the sequence is (only a hint: readers probe past it),
and numbers older than the log's size are removed with their finished deliveries.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from common.outbound import Outcome

__all__ = ["Attempt", "Delivery", "DeliveryLog", "DeliveryState", "callback_target", "delivery_id"]

_ATTEMPTS_KEPT = 20


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Every attempt failed, the last about a day after the first."""
    SKIPPED = "skipped"
    """Not sent: its endpoint was deleted or disabled meanwhile."""


def delivery_id(event_id: UUID, target: str) -> str:
    """The ``webhook-id`` of event ``event_id`` sent to ``target`` (an endpoint or a job's callback)."""
    return f"msg_{uuid5(event_id, target).hex}"


def callback_target(job_id: UUID) -> str:
    """What stands for a job's callback URL where an endpoint id would be."""
    return f"job_{job_id}"


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str = ""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    target: str
    url: str | None
    job_id: UUID
    event_id: UUID
    event_type: str
    body: str
    created_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)
    attempt_count: int = 0

    @property
    def is_callback(self) -> bool:
        return self.target.startswith("job_")


def _delivery(document: Document) -> Delivery:
    return Delivery(
        delivery_id=document["_id"],
        target=document["target"],
        url=document.get("url"),
        job_id=UUID(document["job_id"]),
        event_id=UUID(document["event_id"]),
        event_type=document["event_type"],
        body=document["body"],
        created_at=document["created_at"].replace(tzinfo=UTC),
        state=DeliveryState(document["state"]),
        attempts=tuple(
            Attempt(
                a["at"].replace(tzinfo=UTC),
                a.get("status_code"),
                a["latency_ms"],
                a.get("error"),
                a.get("response_excerpt", ""),
            )
            for a in document.get("attempts", [])
        ),
        attempt_count=document.get("attempt_count", 0),
    )


class DeliveryLog:
    def __init__(self, database: AsyncDatabase[Document], *, size: int = 100) -> None:
        self._deliveries = database["webhook_deliveries"]
        self._log = database["webhook_delivery_log"]
        self._heads = database["webhook_delivery_heads"]
        self._commanded = database["webhook_delivery_commands"]
        self._size = size

    async def create(self, delivery: Delivery) -> tuple[Delivery, bool]:
        """Store ``delivery`` unless stored already; the stored one, and whether it is new."""
        document: Document = {
            "_id": delivery.delivery_id,
            "target": delivery.target,
            "url": delivery.url,
            "job_id": str(delivery.job_id),
            "event_id": str(delivery.event_id),
            "event_type": delivery.event_type,
            "body": delivery.body,
            "created_at": delivery.created_at,
            "state": delivery.state.value,
            "attempts": [],
            "attempt_count": 0,
        }
        try:
            await self._deliveries.insert_one(document)
        except DuplicateKeyError:
            existing = await self.get(delivery.delivery_id)
            if existing is not None:
                return existing, False
            raise
        if not delivery.is_callback:
            await self._append(delivery.target, delivery.delivery_id)
        return delivery, True

    async def commanded(self, delivery_id: str) -> bool:
        """Whether the command to send ``delivery_id`` was published (and confirmed)."""
        return await self._commanded.find_one({"_id": delivery_id}, {"_id": 1}) is not None

    async def mark_commanded(self, delivery_id: str) -> None:
        # a document of its own: the sender updates the delivery meanwhile, and FerretDB does
        # not apply concurrent updates of one document atomically
        with contextlib.suppress(DuplicateKeyError):
            await self._commanded.insert_one({"_id": delivery_id, "at": datetime.now(UTC)})

    async def get(self, delivery_id: str) -> Delivery | None:
        document = await self._deliveries.find_one({"_id": delivery_id})
        return None if document is None else _delivery(document)

    async def record(self, delivery: Delivery, outcome: Outcome, *, at: datetime) -> Delivery:
        """Add an attempt; the delivery is delivered if it succeeded."""
        attempt = Attempt(at, outcome.status_code, outcome.latency_ms, outcome.error, outcome.response_excerpt)
        attempts = (*delivery.attempts, attempt)[-_ATTEMPTS_KEPT:]
        state = DeliveryState.DELIVERED if outcome.ok else delivery.state
        await self._deliveries.update_one(
            {"_id": delivery.delivery_id},
            {
                "$set": {
                    "attempts": [_attempt_document(a) for a in attempts],
                    "attempt_count": delivery.attempt_count + 1,
                    "state": state.value,
                }
            },
        )
        return Delivery(
            **{**delivery.__dict__, "attempts": attempts, "attempt_count": delivery.attempt_count + 1, "state": state}
        )

    async def forget(self, delivery_id: str) -> None:
        """Remove a delivery nobody can read any more (its endpoint was deleted)."""
        await self._deliveries.delete_one({"_id": delivery_id})
        await self._commanded.delete_one({"_id": delivery_id})

    async def settle(self, delivery_id: str, state: DeliveryState) -> None:
        await self._deliveries.update_one({"_id": delivery_id}, {"$set": {"state": state.value}})

    async def _append(self, endpoint_id: str, delivery_id: str) -> None:
        head = await self._heads.find_one({"_id": endpoint_id})
        number = 0 if head is None else int(head["next"])
        while True:
            try:
                await self._log.insert_one(
                    {"_id": _log_key(endpoint_id, number), "delivery_id": delivery_id, "at": datetime.now(UTC)}
                )
                break
            except DuplicateKeyError:
                number += 1
        await self._heads.update_one({"_id": endpoint_id}, {"$set": {"next": number + 1}}, upsert=True)
        old = number - self._size
        if old >= 0:
            await self._forget(endpoint_id, old)

    async def _forget(self, endpoint_id: str, number: int) -> None:
        entry = await self._log.find_one({"_id": _log_key(endpoint_id, number)})
        if entry is None:
            return
        await self._log.delete_one({"_id": entry["_id"]})
        delivery = await self.get(entry["delivery_id"])
        if delivery is not None and delivery.state is not DeliveryState.PENDING:
            await self._deliveries.delete_one({"_id": delivery.delivery_id})
            await self._commanded.delete_one({"_id": delivery.delivery_id})

    async def recent(self, endpoint_id: str, *, limit: int, before: int | None = None) -> list[tuple[int, Delivery]]:
        """The endpoint's latest deliveries (newest first) numbered below ``before``, with their numbers."""
        top = before
        if top is None:
            head = await self._heads.find_one({"_id": endpoint_id})
            top = 0 if head is None else int(head["next"])
            # the head is a hint: entries past it may exist
            while await self._log.find_one({"_id": _log_key(endpoint_id, top)}, {"_id": 1}) is not None:
                top += 1
        found: list[tuple[int, Delivery]] = []
        for number in range(top - 1, max(-1, top - 1 - self._size), -1):
            if len(found) >= limit:
                break
            entry = await self._log.find_one({"_id": _log_key(endpoint_id, number)})
            if entry is None:
                continue
            delivery = await self.get(entry["delivery_id"])
            if delivery is not None:
                found.append((number, delivery))
        return found

    async def forget_endpoint(self, endpoint_id: str) -> None:
        """Remove an endpoint's log (its deliveries left pending are skipped by the sender)."""
        head = await self._heads.find_one({"_id": endpoint_id})
        if head is None:
            return
        for number in range(max(0, int(head["next"]) - self._size - 8), int(head["next"]) + 8):
            await self._forget(endpoint_id, number)
        await self._heads.delete_one({"_id": endpoint_id})


def _log_key(endpoint_id: str, number: int) -> str:
    return f"{endpoint_id}:{number:010d}"


def _attempt_document(attempt: Attempt) -> dict[str, Any]:
    return {
        "at": attempt.at,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
    }
