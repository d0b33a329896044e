"""What the sender must know of a job that later events do not say: its owner, its file and
its callback URL, recorded from ``VideoUploaded``. One document per job, read by its id."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from contracts import VideoUploaded

__all__ = ["WebhookJob", "WebhookJobs"]


@dataclass(frozen=True)
class WebhookJob:
    job_id: UUID
    owner_id: str
    filename: str
    callback_url: str | None


class WebhookJobs:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._jobs = database["webhook_jobs"]

    async def record(self, event: VideoUploaded) -> WebhookJob:
        """Keep the job's facts; a repeated upload event changes nothing."""
        document = {
            "_id": str(event.job_id),
            "owner_id": event.owner_id,
            "filename": event.filename,
            "callback_url": event.callback_url,
        }
        with contextlib.suppress(DuplicateKeyError):
            await self._jobs.insert_one(document)
        return WebhookJob(event.job_id, event.owner_id, event.filename, event.callback_url)

    async def get(self, job_id: UUID) -> WebhookJob | None:
        document = await self._jobs.find_one({"_id": str(job_id)})
        if document is None:
            return None
        return WebhookJob(job_id, document["owner_id"], document["filename"], document.get("callback_url"))
