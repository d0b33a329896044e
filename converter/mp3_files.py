"""Finding and removing MP3s by id: what recovery, cancellation and deletion need beyond
``MediaStore``. Blocking (worker threads).

Every access is by primary key: a file by its id, its chunks by their computed ids
(``common.blobs``), so these paths cost the same however many MP3s are stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from bson import ObjectId
from pymongo.database import Database

from common.blobs import MP3S, Bucket, part_id
from common.mongo import Document
from converter.storage import StoredMp3, StoredPart

__all__ = ["Mp3Files"]


class Mp3Files:
    def __init__(self, database: Database[Document]) -> None:
        self._mp3s = Bucket(database, MP3S)

    def find(self, file_id: ObjectId) -> StoredMp3 | None:
        """The complete MP3 ``file_id`` with its parts (its files document exists only once every
        chunk and every part does)."""
        stored = self._mp3s.find(file_id)
        if stored is None:
            return None
        parts = []
        for number in range(1, int(stored.metadata.get("parts", 0)) + 1):
            part = self._mp3s.find(part_id(file_id, number))
            if part is None:  # written before the MP3 is complete: never, unless removed since
                return None
            parts.append(StoredPart.of(part))
        return StoredMp3.of(stored, tuple(parts))

    def remove(self, file_ids: Iterable[ObjectId | str]) -> None:
        """Remove these MP3s and their parts (split per chapter), complete or not, and whatever
        chunks they have."""
        for file_id in dict.fromkeys(map(str, file_ids)):
            if ObjectId.is_valid(file_id):
                self._mp3s.remove_with_parts(ObjectId(file_id))
