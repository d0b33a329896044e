"""Multipart uploads whose chunks are being written: what a gateway killed mid-upload leaves.

A multipart upload streams its video into chunks as the body arrives, and writes the files
document last. A gateway killed on the way (or cut off by its store) leaves chunks no file
owns, and no later request names them. So each upload is put on record in
``unsettled_uploads`` (small by design: the uploads of this moment, ``_id`` the file id) before
its first chunk, its record is touched as chunks are stored, and removed once the upload is a
job or is refused. Each gateway's sweep reads the whole (small) collection and removes the
chunks of every record not touched for ``stalled`` (its chunks by computed ids, through
``common.blobs``, and the file if it was completed but never became a job), then the record.

Resumable (tus) uploads need none of this: their record in ``uploads`` names their file from the
start, and the abandoned-upload sweep removes them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from common.blobs import CHUNK_SIZE, VIDEOS, AsyncBucket
from common.mongo import Document
from common.storage_layout import request_key
from contracts import RoutingKey

__all__ = ["UnsettledUploads"]

log = logging.getLogger(__name__)


class UnsettledUploads:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._records = database["unsettled_uploads"]
        self._requests = database["gateway_events"]
        self._videos = AsyncBucket(database, VIDEOS)

    async def begin(self, file_id: ObjectId, job_id: UUID) -> None:
        """Put the upload on record before its first chunk is written."""
        now = datetime.now(UTC)
        await self._records.insert_one({"_id": str(file_id), "job": str(job_id), "at": now, "stored": 0})

    async def touch(self, file_id: ObjectId, stored: int) -> None:
        """``stored`` bytes are in chunks now: the upload is alive."""
        await self._records.update_one({"_id": str(file_id)}, {"$set": {"at": datetime.now(UTC), "stored": stored}})

    async def settle(self, file_id: Any) -> None:
        """The upload became a job, or was refused and its chunks removed."""
        await self._records.delete_one({"_id": str(file_id)})

    async def sweep(self, stalled: timedelta) -> int:
        """Remove what uploads not touched for ``stalled`` left behind; returns how many."""
        before = datetime.now(UTC) - stalled
        removed = 0
        # small by design (uploads of this moment): read whole
        for record in await self._records.find({}).to_list():
            if _aware(record["at"]) > before:
                continue
            key = request_key(record["job"], RoutingKey.VIDEO_UPLOADED)
            if await self._requests.find_one({"_id": key}) is None:  # it never became a job
                chunks = -(-int(record.get("stored", 0)) // CHUNK_SIZE)
                await self._videos.remove(ObjectId(record["_id"]), chunks=chunks)
                removed += 1
            await self._records.delete_one({"_id": record["_id"]})
        return removed


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
