"""Finding and removing MP3s by id: what recovery, cancellation and deletion need beyond
``MediaStore``. Blocking (worker threads).

A file is removed chunks first, files document last, so a removal cut short is finished by
the next one. Chunks are found by ``files_id``: on FerretDB that scans ``mp3s.chunks``
(only ``_id`` lookups use an index), which is slow but only happens on these rare paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.database import Database

from common.mongo import Document
from converter.storage import StoredMp3

__all__ = ["Mp3Files"]


class Mp3Files:
    def __init__(self, database: Database[Document]) -> None:
        self._files = database["mp3s.files"]
        self._chunks = database["mp3s.chunks"]

    def find(self, file_id: ObjectId) -> StoredMp3 | None:
        """The complete MP3 ``file_id`` (its files document exists only once every chunk does)."""
        document = self._files.find_one({"_id": file_id})
        if document is None:
            return None
        return StoredMp3(
            file_id=str(document["_id"]),
            filename=document["filename"],
            size_bytes=document["length"],
            duration_seconds=document["metadata"]["duration_seconds"],
        )

    def of_job(self, job_id: UUID) -> list[ObjectId]:
        return [document["_id"] for document in self._files.find({"metadata.job_id": str(job_id)}, {"_id": 1})]

    def remove(self, file_ids: Iterable[ObjectId | str]) -> None:
        """Remove these files, complete or not, and whatever chunks they have (one scan)."""
        ids = [_object_id(file_id) for file_id in file_ids]
        ids = [file_id for file_id in ids if file_id is not None]
        if not ids:
            return
        self._chunks.delete_many({"files_id": {"$in": ids}})
        self._files.delete_many({"_id": {"$in": ids}})


def _object_id(file_id: ObjectId | str) -> ObjectId | None:
    if isinstance(file_id, ObjectId):
        return file_id
    try:
        return ObjectId(file_id)
    except InvalidId:
        return None
