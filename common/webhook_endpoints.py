"""Webhook endpoints users register, stored so that every access is by primary key.

Each endpoint is one document (``webhook_endpoints``, keyed by its id), written by the gateway
only; what the sender learns (last success, disabled) is a document of its own
(``webhook_endpoint_health``, same key): FerretDB does not apply concurrent updates of one
document atomically, and a rotated secret must never be lost to a delivery's bookkeeping. A user's endpoints are
found through numbered slots (``webhook_endpoint_slots``, ``<owner>:<n>`` for n below the
limit), each naming the endpoint that holds it: taking a slot is an insert under a unique key,
atomic on FerretDB, so the limit holds under concurrent registrations, and listing reads at
most ``limit`` slots and endpoints by id. The gateway writes endpoints; the notifier's
webhook sender reads them and records successes and disabling.

Secrets are kept as given (they sign with HMAC, so they cannot be stored hashed). A callback
URL named by a job has no endpoint: its secret is derived from the link key and the job id,
so the gateway can answer it and the sender sign with it without storing or passing it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document

__all__ = [
    "Endpoint",
    "EndpointRegistry",
    "Secret",
    "TooManyEndpoints",
    "callback_secrets",
    "new_secret",
]

_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret in Standard Webhooks' form: ``whsec_`` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def callback_secrets(link_keys: Sequence[str], job_id: UUID) -> list[str]:
    """The secret of job ``job_id``'s callback under each link key (the current one first):
    deliveries are signed with all of them, so a link key rotation breaks no callback."""
    result = []
    for key in link_keys:
        digest = hmac.new(key.encode(), f"vidmp3 webhook callback {job_id}".encode(), hashlib.sha256).digest()
        result.append("whsec_" + base64.b64encode(digest).decode())
    return result


class TooManyEndpoints(Exception):
    """The user has as many endpoints as allowed."""


@dataclass(frozen=True)
class Secret:
    value: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    owner_id: str
    owner_email: str
    url: str
    event_types: tuple[str, ...]
    description: str
    secrets: tuple[Secret, ...]
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    last_success_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        """The secrets that sign a delivery now: the current one, and one rotated out within its grace."""
        moment = now or datetime.now(UTC)
        return [s.value for s in self.secrets if s.expires_at is None or s.expires_at > moment]

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


def _aware(value: Any) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _endpoint(document: Document, health: Document | None = None) -> Endpoint:
    health = health or {}
    return Endpoint(
        endpoint_id=document["_id"],
        owner_id=document["owner_id"],
        owner_email=document["owner_email"],
        url=document["url"],
        event_types=tuple(document["event_types"]),
        description=document.get("description", ""),
        secrets=tuple(Secret(s["value"], _aware(s.get("expires_at"))) for s in document["secrets"]),
        created_at=document["created_at"].replace(tzinfo=UTC),
        disabled_at=_aware(health.get("disabled_at")),
        disabled_reason=health.get("disabled_reason"),
        last_success_at=_aware(health.get("last_success_at")),
    )


class EndpointRegistry:
    def __init__(self, database: AsyncDatabase[Document], *, max_per_owner: int = 10) -> None:
        self._endpoints = database["webhook_endpoints"]
        self._slots = database["webhook_endpoint_slots"]
        self._health = database["webhook_endpoint_health"]
        self._max = max_per_owner

    async def create(
        self, *, owner_id: str, owner_email: str, url: str, event_types: Sequence[str], description: str = ""
    ) -> Endpoint:
        """Register an endpoint with a new secret; ``TooManyEndpoints`` past the limit."""
        endpoint_id = "ep_" + secrets.token_hex(12)
        now = datetime.now(UTC)
        slot = await self._take_slot(owner_id, endpoint_id, now)
        document = {
            "_id": endpoint_id,
            "owner_id": owner_id,
            "owner_email": owner_email,
            "url": url,
            "event_types": list(event_types),
            "description": description,
            "secrets": [{"value": new_secret(), "expires_at": None}],
            "created_at": now,
            "slot": slot,
        }
        await self._endpoints.insert_one(document)
        return _endpoint(document)

    async def _take_slot(self, owner_id: str, endpoint_id: str, now: datetime) -> int:
        for slot in range(self._max):
            try:
                await self._slots.insert_one({"_id": f"{owner_id}:{slot}", "endpoint_id": endpoint_id, "at": now})
            except DuplicateKeyError:
                continue
            return slot
        raise TooManyEndpoints(self._max)

    async def get(self, endpoint_id: str) -> Endpoint | None:
        document = await self._endpoints.find_one({"_id": endpoint_id})
        if document is None:
            return None
        return _endpoint(document, await self._health.find_one({"_id": endpoint_id}))

    async def owned(self, owner_id: str, endpoint_id: str) -> Endpoint | None:
        """The endpoint if ``owner_id`` owns it (anyone else's is as good as missing)."""
        endpoint = await self.get(endpoint_id)
        return endpoint if endpoint is not None and endpoint.owner_id == owner_id else None

    async def of_owner(self, owner_id: str) -> list[Endpoint]:
        """The owner's endpoints, oldest first: at most ``max_per_owner`` reads by key, twice."""
        found = []
        for slot in range(self._max):
            held = await self._slots.find_one({"_id": f"{owner_id}:{slot}"})
            if held is None:
                continue
            endpoint = await self.get(held["endpoint_id"])
            if endpoint is not None:
                found.append(endpoint)
            elif held["at"].replace(tzinfo=UTC) < datetime.now(UTC) - timedelta(minutes=5):
                # its registration died between the slot and the endpoint: give the slot back
                await self._slots.delete_one({"_id": held["_id"]})
        return sorted(found, key=lambda endpoint: endpoint.created_at)

    async def delete(self, endpoint: Endpoint) -> None:
        document = await self._endpoints.find_one({"_id": endpoint.endpoint_id}, {"slot": 1})
        await self._endpoints.delete_one({"_id": endpoint.endpoint_id})
        await self._health.delete_one({"_id": endpoint.endpoint_id})
        if document is not None:
            with contextlib.suppress(KeyError):
                await self._slots.delete_one({"_id": f"{endpoint.owner_id}:{document['slot']}"})

    async def rotate_secret(self, endpoint: Endpoint, grace: timedelta) -> tuple[str, datetime]:
        """A new current secret; the current one keeps signing for ``grace`` (older ones stop)."""
        now = datetime.now(UTC)
        new, until = new_secret(), now + grace
        current = endpoint.signing_secrets(now)[:1]
        kept = [{"value": value, "expires_at": until} for value in current] if grace > timedelta(0) else []
        await self._endpoints.update_one(
            {"_id": endpoint.endpoint_id}, {"$set": {"secrets": [{"value": new, "expires_at": None}, *kept]}}
        )
        return new, until

    async def update(self, endpoint: Endpoint, *, url: str | None, event_types: Sequence[str] | None) -> None:
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = url
        if event_types is not None:
            changes["event_types"] = list(event_types)
        if changes:
            await self._endpoints.update_one({"_id": endpoint.endpoint_id}, {"$set": changes})

    async def enable(self, endpoint: Endpoint) -> None:
        """Send to it again; it counts as failing only from now on."""
        await self._set_health(
            endpoint.endpoint_id, {"disabled_at": None, "disabled_reason": None, "enabled_at": datetime.now(UTC)}
        )

    async def disable(self, endpoint_id: str, reason: str) -> None:
        await self._set_health(endpoint_id, {"disabled_at": datetime.now(UTC), "disabled_reason": reason})

    async def record_success(self, endpoint_id: str) -> None:
        await self._set_health(endpoint_id, {"last_success_at": datetime.now(UTC)})

    async def _set_health(self, endpoint_id: str, changes: dict[str, Any]) -> None:
        await self._health.update_one({"_id": endpoint_id}, {"$set": changes}, upsert=True)
