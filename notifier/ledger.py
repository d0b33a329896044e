"""Which jobs' owners have been emailed: a claim per job and kind of email (ready, failed),
so one email of each kind goes out per job, and a failure email never blocks a ready one.

Claiming is a single-document insert (atomic on MongoDB and on FerretDB alike): the one
process whose insert lands sends; the others see "sending" and try later, or "sent" and
skip. A claim whose sender died goes stale and is taken over by exactly one process: the
takeover is an insert too, keyed by the stale claim's time, because FerretDB does not apply
a conditional update atomically (several concurrent takers would all win). A sender that
died after its SMTP server accepted the email but before recording it can still cause a
second email in that rare case: delivery is at least once there, and the stable Message-ID
lets mail systems drop the repeat.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document

__all__ = ["Claim", "EmailKind", "NotificationLedger"]


class Claim(StrEnum):
    SEND = "send"
    ALREADY_SENT = "already_sent"
    BUSY = "busy"


class EmailKind(StrEnum):
    READY = "ready"
    FAILED = "failed"


def _key(job_id: UUID, kind: EmailKind) -> str:
    # a ready email's claim is the bare job id, as claims were named before there were kinds
    return str(job_id) if kind is EmailKind.READY else f"{job_id}:{kind}"


class NotificationLedger:
    """``stale_after`` outlasts one SMTP attempt (30 s by default): a claim older than that
    belongs to a sender that died or was cut off, and is taken over."""

    def __init__(self, database: AsyncDatabase[Document], stale_after: timedelta = timedelta(seconds=60)) -> None:
        self._claims = database["notifications"]
        self._takeovers = database["notification_takeovers"]
        self._stale_after = stale_after

    async def claim(self, job_id: UUID, kind: EmailKind = EmailKind.READY) -> Claim:
        key, now = _key(job_id, kind), datetime.now(UTC)
        try:
            await self._claims.insert_one({"_id": key, "state": "sending", "claimed_at": now})
        except DuplicateKeyError:
            pass
        else:
            return Claim.SEND
        existing = await self._claims.find_one({"_id": key})
        if existing is None:  # released in between: claim again
            return await self.claim(job_id, kind)
        if existing["state"] == "sent":
            return Claim.ALREADY_SENT
        stale_since: datetime = existing["claimed_at"]
        if stale_since > now - self._stale_after:
            return Claim.BUSY
        try:  # of all who found this same stale claim, one inserts this
            await self._takeovers.insert_one({"_id": f"{key}@{stale_since.isoformat()}", "taken_at": now})
        except DuplicateKeyError:
            return Claim.BUSY
        await self._claims.update_one({"_id": key}, {"$set": {"claimed_at": now}})
        return Claim.SEND

    async def claimed(self, job_id: UUID, kind: EmailKind) -> bool:
        """Whether an email of ``kind`` was sent, or is being sent, for ``job_id``."""
        return await self._claims.find_one({"_id": _key(job_id, kind)}, {"_id": 1}) is not None

    async def mark_sent(self, job_id: UUID, kind: EmailKind = EmailKind.READY) -> None:
        await self._claims.update_one(
            {"_id": _key(job_id, kind)}, {"$set": {"state": "sent", "sent_at": datetime.now(UTC)}}
        )

    async def release(self, job_id: UUID, kind: EmailKind = EmailKind.READY) -> None:
        """Give a claim back after a failed send, so the retry can take it.

        By id alone (a filter on the state too would read every claim on FerretDB): only the
        claim's holder marks it sent, and it is the one releasing it, so one not yet sent is
        its own."""
        key = _key(job_id, kind)
        claim = await self._claims.find_one({"_id": key})
        if claim is not None and claim["state"] == "sending":
            await self._claims.delete_one({"_id": key})
