"""Removing a deleted job's files in the background, so deleting a job answers at once.

A delete puts the job's files on record in ``file_removals`` (small by design: jobs whose
files are not removed yet, ``_id`` the job) before ``JobDeleted`` goes out, then wakes the
remover. Every gateway process runs one: it removes each recorded file (its chunks by their
computed ids, ``common.blobs``) and the job's upload record, then the removal record, so a
removal cut short (the process died, the store went away) is finished by the next round, and
nothing is left behind. A large job's files take seconds to remove on FerretDB (it decodes
each chunk it deletes); the request never waits for that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime
from uuid import UUID, uuid4

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from common.blobs import MP3S, VIDEOS, AsyncBucket
from common.mongo import Document

__all__ = ["FileRemovals"]

log = logging.getLogger(__name__)


class FileRemovals:
    """``forget_upload``: drops the record of the upload a job came from (tus), if any."""

    def __init__(
        self, database: AsyncDatabase[Document], forget_upload: Callable[[UUID], Awaitable[None]] | None = None
    ) -> None:
        self._pending = database["file_removals"]
        self._buckets = {name: AsyncBucket(database, name) for name in (VIDEOS, MP3S)}
        self._forget_upload = forget_upload
        self._wake = asyncio.Event()

    async def request(
        self, job_id: UUID, *, videos: Iterable[str | None] = (), mp3s: Iterable[str | None] = ()
    ) -> None:
        """Put the job's files on record for removal (again is fine) and wake the remover."""
        files = {
            bucket: [file_id for file_id in file_ids if file_id and ObjectId.is_valid(file_id)]
            for bucket, file_ids in ((VIDEOS, videos), (MP3S, mp3s))
        }
        # one write; a new stamp tells the remover a repeat may have named more files
        record = {"_id": str(job_id), **files, "stamp": uuid4().hex, "at": datetime.now(UTC)}
        await self._pending.replace_one({"_id": record["_id"]}, record, upsert=True)
        self._wake.set()

    async def remove_pending(self) -> int:
        """Remove the files of every job on record; returns how many jobs."""
        removed = 0
        # small by design (jobs whose files are not removed yet): read at once, removals take a while
        for record in await self._pending.find({}).to_list():
            for file_id in record.get(VIDEOS, []):
                await self._buckets[VIDEOS].remove(ObjectId(file_id))
            for file_id in record.get(MP3S, []):  # and the MP3's parts, if it was split per chapter
                await self._buckets[MP3S].remove_with_parts(ObjectId(file_id))
            if self._forget_upload is not None:
                await self._forget_upload(UUID(record["_id"]))
            # unless a repeated delete replaced it meanwhile (a small collection: this filter may scan)
            await self._pending.delete_one({"_id": record["_id"], "stamp": record["stamp"]})
            removed += 1
        return removed

    async def run(self, interval_seconds: float) -> None:
        """Remove what is recorded whenever woken, and every ``interval_seconds`` in any case."""
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval_seconds)
            self._wake.clear()
            try:
                if removed := await self.remove_pending():
                    log.info("removed the files of %d deleted jobs", removed)
            except Exception:  # the store may be away: the next round finishes it
                log.exception("removing deleted jobs' files failed")
