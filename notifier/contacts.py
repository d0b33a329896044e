"""Whom to tell about a job: the owner's address and the video's name, recorded from
``VideoUploaded`` (a ``ConversionFailed`` names neither). One document per job, read and
removed by its id only."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from contracts import VideoUploaded

__all__ = ["Contact", "JobContacts"]


@dataclass(frozen=True)
class Contact:
    owner_email: str
    filename: str
    uploaded_at: datetime


class JobContacts:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._contacts = database["notifier_contacts"]

    async def record(self, event: VideoUploaded) -> None:
        """Keep the job's contact; a repeated upload event changes nothing."""
        document = {
            "_id": str(event.job_id),
            "owner_email": str(event.owner_email),
            "filename": event.filename,
            "uploaded_at": event.occurred_at,
            "recorded_at": datetime.now(UTC),
        }
        with contextlib.suppress(DuplicateKeyError):
            await self._contacts.insert_one(document)

    async def get(self, job_id: UUID) -> Contact | None:
        document = await self._contacts.find_one({"_id": str(job_id)})
        if document is None:
            return None
        uploaded_at: datetime = document["uploaded_at"]
        return Contact(document["owner_email"], document["filename"], uploaded_at.replace(tzinfo=UTC))

    async def forget(self, job_id: UUID) -> None:
        """Once the job's last email is out, its contact is not needed any more."""
        await self._contacts.delete_one({"_id": str(job_id)})
