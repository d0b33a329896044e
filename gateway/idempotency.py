"""``Idempotency-Key`` on the two requests that create something: ``POST /v1/jobs`` and tus
upload creation (``POST /v1/uploads``).

A client that did not get an answer (a dropped connection, a timeout) sends the request again
with the same key; within ``TTL`` (24 h) it gets the first answer again (same status, body and
``Location``, marked ``Idempotent-Replayed: true``) and nothing new is created. The same key with
a different request is refused (422); a retry while the first is still running gets 409 with a
``Retry-After``. Only a success is kept: a refused or failed first request leaves the key free,
so the retry runs afresh.

What "the same request" means (the request's fingerprint, SHA-256):
- ``POST /v1/jobs``: each form part's name, file name and bytes (the file's bytes go through
  the hasher as they stream into storage, only when a key is sent); the parts sorted by their
  digest, so neither the multipart boundary nor the parts' order count.
- tus creation: ``Upload-Length`` and ``Upload-Metadata`` as sent (the bytes come later, with
  PATCH, to the upload the first answer named).
Each includes its route, so a key used for one cannot be replayed for the other.

Storage (``common.storage_layout``): one record per key in ``idempotency_keys`` under
``<owner>:<key>`` (keys are per user), read, inserted, replaced and deleted by that id only.
Claiming a key is an insert (atomic under the unique ``_id``). A record keeps ``expires_at``;
an expired one is replaced when its key comes back (removal on read). On MongoDB a TTL index
on ``expires_at`` removes the rest; FerretDB never uses a secondary index for reads and pays
for one on every insert, so there the records of keys never sent again stay (a few hundred
bytes each, never scanned: every access is by id). A record whose request died with its
process (``pending`` past its lease) is taken over by one retry: of all who found the same
stale record, the one whose insert of ``<owner>@<its start>:<key>`` lands takes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from litestar.exceptions import ClientException, HTTPException
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document, server_is_ferretdb
from gateway.multipart import PartEnd, PartStart

__all__ = [
    "REPLAYED",
    "TTL",
    "FormFingerprint",
    "Held",
    "IdempotencyKeys",
    "InFlight",
    "InvalidKey",
    "KeyReused",
    "Stored",
    "check_key",
    "claim",
    "tus_fingerprint",
]

TTL = timedelta(hours=24)
"""How long a key's first answer is kept."""
_LEASE = timedelta(minutes=2)
"""A running request renews its claim this often; one not renewed for this long died."""
_RETRY_AFTER_SECONDS = 5
REPLAYED = "Idempotent-Replayed"
"""The header marking an answer given again for a repeated key."""
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class InvalidKey(ValueError):
    """The header is not a key this API takes."""


class InFlight(Exception):
    """A request with this key is running now."""

    def __init__(self, retry_after: int = _RETRY_AFTER_SECONDS) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still being handled. "
            f"Wait {retry_after} seconds (Retry-After) and send it again to get its answer."
        )
        self.retry_after = retry_after


class KeyReused(Exception):
    """The key was used for a different request."""

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different request in the last 24 hours. "
            "Send the same request again to get its first answer, or use a new key for a new request."
        )


def check_key(header: str) -> str:
    """``header`` if it is 1 to 255 visible ASCII characters; ``InvalidKey`` otherwise."""
    if not _KEY.fullmatch(header):
        raise InvalidKey("An Idempotency-Key is 1 to 255 visible ASCII characters (no spaces), for example a UUID.")
    return header


@dataclass(frozen=True)
class Stored:
    """The first answer to the key's request."""

    fingerprint: str
    status_code: int
    body: Any
    headers: dict[str, str]

    def replay(self, fingerprint: str) -> Stored:
        """This answer, if ``fingerprint`` is the first request's; ``KeyReused`` otherwise."""
        if fingerprint != self.fingerprint:
            raise KeyReused
        return self


@dataclass(eq=False)
class Held:
    """This request holds the key until it ``finish``-es or ``release``-s it."""

    record_id: str
    holder: str
    renewing: asyncio.Task[None] | None = field(default=None, repr=False)


class IdempotencyKeys:
    """The records of ``idempotency_keys``: by ``<owner>:<key>`` only."""

    def __init__(self, database: AsyncDatabase[Document], *, ttl: timedelta = TTL, lease: timedelta = _LEASE) -> None:
        self._records = database["idempotency_keys"]
        self._ttl, self._lease = ttl, lease

    async def ensure_indexes(self) -> None:
        """The TTL index, on MongoDB only (see the module's docstring)."""
        if not await server_is_ferretdb(self._records.database):
            await self._records.create_index("expires_at", expireAfterSeconds=0)

    async def begin(self, owner_id: str, key: str) -> Held | Stored:
        """Claim ``key`` of ``owner_id``'s for this request (``Held``), or the first answer
        (``Stored``); ``InFlight`` while another request holds it."""
        record_id = f"{owner_id}:{key}"
        for _ in range(5):
            now = datetime.now(UTC)
            held = Held(record_id, uuid4().hex)
            try:
                await self._records.insert_one(self._pending(held, now))
            except DuplicateKeyError:
                pass
            else:
                return self._renew(held)
            record = await self._records.find_one({"_id": record_id})
            if record is None:  # released in between: claim it again
                continue
            expires_at: datetime = record["expires_at"].replace(tzinfo=UTC)
            lease_until: datetime = record["lease_until"].replace(tzinfo=UTC)
            stale = expires_at <= now or (record["state"] == "pending" and lease_until <= now)
            if stale:
                return self._renew(await self._take_over(record, held, owner_id, key, now))
            if record["state"] == "pending":
                raise InFlight
            return Stored(record["fingerprint"], record["status_code"], json.loads(record["body"]), record["headers"])
        raise InFlight

    async def finish(self, held: Held, fingerprint: str, status_code: int, body: Any, headers: dict[str, str]) -> None:
        """Keep the answer to ``held``'s request for ``TTL``."""
        await self._stop(held)
        now = datetime.now(UTC)
        record = {
            "_id": held.record_id,
            "state": "done",
            "holder": held.holder,
            "fingerprint": fingerprint,
            "status_code": status_code,
            "body": json.dumps(body),
            "headers": headers,
            "started_at": now,
            "lease_until": now,
            "expires_at": now + self._ttl,
        }
        await self._records.replace_one({"_id": held.record_id}, record)

    async def release(self, held: Held) -> None:
        """The request failed: free the key, so a retry runs afresh."""
        await self._stop(held)
        record = await self._records.find_one({"_id": held.record_id})
        if record is not None and record.get("holder") == held.holder and record["state"] == "pending":
            await self._records.delete_one({"_id": held.record_id})

    def _pending(self, held: Held, now: datetime) -> Document:
        return {
            "_id": held.record_id,
            "state": "pending",
            "holder": held.holder,
            "started_at": now,
            "lease_until": now + self._lease,
            "expires_at": now + self._ttl,
        }

    async def _take_over(self, record: Document, held: Held, owner_id: str, key: str, now: datetime) -> Held:
        started: datetime = record["started_at"]
        # the time goes beside the owner, not the key: a key may hold any visible character,
        # an owner id no "@", so no record's id is ever a marker's
        marker = {"_id": f"{owner_id}@{started.isoformat()}:{key}", "expires_at": now + self._ttl}
        try:  # of all who found this same stale record, one inserts this
            await self._records.insert_one(marker)
        except DuplicateKeyError:
            raise InFlight from None
        await self._records.replace_one({"_id": held.record_id}, self._pending(held, now))
        return held

    def _renew(self, held: Held) -> Held:
        async def renew() -> None:
            while True:
                await asyncio.sleep(self._lease.total_seconds() / 3)
                until = datetime.now(UTC) + self._lease
                await self._records.update_one({"_id": held.record_id}, {"$set": {"lease_until": until}})

        held.renewing = asyncio.create_task(renew())
        return held

    @staticmethod
    async def _stop(held: Held) -> None:
        if held.renewing is not None:
            held.renewing.cancel()
            with suppress(asyncio.CancelledError):
                await held.renewing


async def claim(keys: IdempotencyKeys, owner_id: str, header: str) -> Held | Stored:
    """``keys.begin`` for a route: 400 for a header this API does not take, 409 with
    ``Retry-After`` while the key's first request runs."""
    try:
        return await keys.begin(owner_id, check_key(header))
    except InvalidKey as error:
        raise ClientException(
            str(error), extra={"errors": [{"field": "Idempotency-Key", "message": str(error), "source": "header"}]}
        ) from None
    except InFlight as busy:
        raise HTTPException(status_code=409, detail=str(busy), headers={"Retry-After": str(busy.retry_after)}) from None


class FormFingerprint:
    """The fingerprint of a multipart form, computed as its parts pass ``through``."""

    def __init__(self, route: str) -> None:
        self._route = route
        self._parts: list[bytes] = []
        self._current: Any = None

    async def through(
        self, parts: AsyncIterator[PartStart | bytes | PartEnd]
    ) -> AsyncIterator[PartStart | bytes | PartEnd]:
        async for item in parts:
            match item:
                case PartStart():
                    self._current = hashlib.sha256(json.dumps([item.name, item.filename]).encode() + b"\n")
                case bytes() if self._current is not None:
                    self._current.update(item)
                case PartEnd() if self._current is not None:
                    self._parts.append(self._current.digest())
                    self._current = None
                case _:
                    pass
            yield item

    async def consume(self, parts: AsyncIterator[PartStart | bytes | PartEnd]) -> str:
        """Read ``parts`` through the hasher, keeping nothing; the fingerprint."""
        async for _ in self.through(parts):
            pass
        return self.digest()

    def digest(self) -> str:
        hasher = hashlib.sha256(self._route.encode() + b"\n")
        for part in sorted(self._parts):
            hasher.update(part)
        return hasher.hexdigest()


def tus_fingerprint(upload_length: int, upload_metadata: str | None) -> str:
    """The fingerprint of a tus creation: its length and metadata as sent."""
    text = json.dumps(["POST /v1/uploads", upload_length, upload_metadata or ""])
    return hashlib.sha256(text.encode()).hexdigest()
