"""Removing a deleted job's files in the background, so deleting a job answers at once.

A delete records each of the job's files in ``file_removals`` (small by design: files not
removed yet, ``_id`` ``<bucket>:<file id>``) before ``JobDeleted`` goes out, then wakes the
remover. Every gateway process runs one: it removes each recorded file (its chunks by their
computed ids, ``common.blobs``) and then the record, so a removal cut short (the process
died, the store went away) is finished by the next round, and nothing is left behind.
A file of a large job takes seconds to remove on FerretDB (it decodes each chunk it deletes);
the request never waits for that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.blobs import MP3S, VIDEOS, AsyncBucket
from common.mongo import Document

__all__ = ["FileRemovals"]

log = logging.getLogger(__name__)


class FileRemovals:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._pending = database["file_removals"]
        self._buckets = {name: AsyncBucket(database, name) for name in (VIDEOS, MP3S)}
        self._wake = asyncio.Event()

    async def request(self, *, videos: Iterable[str | None] = (), mp3s: Iterable[str | None] = ()) -> None:
        """Record these files for removal (again is fine) and wake the remover."""
        now = datetime.now(UTC)
        records = [
            {"_id": f"{bucket}:{file_id}", "bucket": bucket, "file_id": file_id, "at": now}
            for bucket, file_ids in ((VIDEOS, videos), (MP3S, mp3s))
            for file_id in file_ids
            if file_id and ObjectId.is_valid(file_id)
        ]
        await asyncio.gather(*(self._record(record) for record in records))
        self._wake.set()

    async def _record(self, record: Document) -> None:
        with suppress(DuplicateKeyError):  # recorded before: a repeated delete
            await self._pending.insert_one(record)

    async def remove_pending(self) -> int:
        """Remove every recorded file; returns how many."""
        removed = 0
        # small by design (the files not removed yet): read at once, as a removal takes a while
        for record in await self._pending.find({}).to_list():
            await self._buckets[record["bucket"]].remove(ObjectId(record["file_id"]))
            await self._pending.delete_one({"_id": record["_id"]})
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
                    log.info("removed %d files of deleted jobs", removed)
            except Exception:  # the store may be away: the next round finishes it
                log.exception("removing deleted jobs' files failed")
