"""A job's files in GridFS: its video (bucket ``videos``) and its MP3 (bucket ``mp3s``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from common.mongo import Document
from gateway.chunks import read_chunks

__all__ = ["BUCKETS", "JobFiles", "StoredFile"]

BUCKETS = ("videos", "mp3s")


@dataclass(frozen=True)
class StoredFile:
    file_id: Any
    length: int
    chunk_size: int


class JobFiles:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database

    async def ensure_indexes(self) -> None:
        for bucket in BUCKETS:
            await self._database[f"{bucket}.files"].create_index([("metadata.job_id", 1)])

    async def find_mp3(self, file_id: str) -> StoredFile | None:
        """The stored MP3, ``None`` if it is gone."""
        document = await self._database["mp3s.files"].find_one({"_id": ObjectId(file_id)})
        if document is None:
            return None
        return StoredFile(document["_id"], document["length"], document["chunkSize"])

    def read_mp3(self, stored: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (excluded) of a stored MP3, a chunk at a time."""
        return read_chunks(
            self._database["mp3s.chunks"], stored.file_id, chunk_size=stored.chunk_size, start=start, end=end
        )

    async def delete(self, job_id: UUID, file_ids: Iterable[str] = ()) -> int:
        """Remove every file of ``job_id``: those tagged with it and those in ``file_ids``.

        Idempotent: the chunks go before the file document, so a delete cut short is finished
        by the next one (which finds the document again). Returns the files removed.
        """
        known = {ObjectId(file_id) for file_id in file_ids if ObjectId.is_valid(file_id)}
        removed = 0
        for bucket in BUCKETS:
            files, chunks = self._database[f"{bucket}.files"], self._database[f"{bucket}.chunks"]
            tagged = {document["_id"] async for document in files.find({"metadata.job_id": str(job_id)}, {"_id": 1})}
            for file_id in tagged | known:
                await chunks.delete_many({"files_id": file_id})
                removed += (await files.delete_one({"_id": file_id})).deleted_count
        return removed
