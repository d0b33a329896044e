"""A job's files in GridFS: its video (bucket ``videos``), its MP3 and the MP3's parts per
chapter (bucket ``mp3s``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from common.blobs import MP3S, VIDEOS, AsyncBucket, StoredFile, ensure_indexes
from common.mongo import Document

__all__ = ["JobFiles", "StoredFile"]


class JobFiles:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database
        self._mp3s = AsyncBucket(database, MP3S)

    async def ensure_indexes(self) -> None:
        for bucket in (VIDEOS, MP3S):
            await ensure_indexes(self._database, bucket)

    async def find_mp3(self, file_id: str) -> StoredFile | None:
        """The stored MP3, ``None`` if it is gone."""
        if not ObjectId.is_valid(file_id):
            return None
        return await self._mp3s.find(ObjectId(file_id))

    async def find_part(self, file_id: str) -> StoredFile | None:
        """A stored part of an MP3 (``common.blobs.part_id``: ``<mp3 id>.<n:03d>``), ``None`` if gone."""
        mp3_id, dot, number = file_id.rpartition(".")
        if not (dot and ObjectId.is_valid(mp3_id) and number.isdecimal()):
            return None
        return await self._mp3s.find(file_id)

    def read_mp3(self, stored: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (excluded) of a stored MP3, a chunk at a time."""
        return self._mp3s.read(stored, start, end)
