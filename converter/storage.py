"""The converter's stored files (``common.blobs``). Blocking: used from worker threads, next to PyAV.

Videos are read through ``ChunkReader`` (each chunk fetched once by its computed id, read
ahead in a thread), not pymongo's ``GridOut``, which fetches chunks again after a seek and
finds them by a query; MP3s are written through ``BlobWriter``, not ``GridIn``, which buffers
up to 48 MB. Both keep to the GridFS layout, so any GridFS reader reads the MP3s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from bson import ObjectId
from pymongo.database import Database

from common.blobs import MP3S, VIDEOS, Bucket, ChunkReader, StoredFile, ensure_indexes_blocking
from common.mongo import Document
from contracts import FailureReason
from converter.transcode import ConversionError, Sink

__all__ = ["MediaStore", "StoredMp3"]


@dataclass(frozen=True)
class StoredMp3:
    file_id: str
    filename: str
    size_bytes: int
    duration_seconds: float

    @classmethod
    def of(cls, stored: StoredFile) -> StoredMp3:
        return cls(str(stored.file_id), stored.filename, stored.length, stored.metadata["duration_seconds"])


class MediaStore:
    """Videos are read from the ``videos`` bucket; MP3s go to the ``mp3s`` bucket."""

    def __init__(self, database: Database[Document]) -> None:
        self._database = database
        self._videos = Bucket(database, VIDEOS)
        self._mp3s = Bucket(database, MP3S)
        self._mp3_indexed = False

    def open_video(self, file_id: str) -> ChunkReader:
        """A seekable reader over the stored video's chunks."""
        stored = self._videos.find(ObjectId(file_id)) if ObjectId.is_valid(file_id) else None
        if stored is None:
            raise ConversionError(FailureReason.SOURCE_MISSING, f"no stored video {file_id}")
        return self._videos.open(stored)

    def store_mp3(
        self,
        job_id: UUID,
        owner_id: str,
        filename: str,
        write: Callable[[Sink], float],
        file_id: ObjectId | None = None,
    ) -> StoredMp3:
        """Store what ``write`` produces as the job's MP3 ``file_id`` (a new id if not given);
        ``write`` returns its duration.

        If ``write`` fails, the chunks written so far are removed again.
        """
        if not self._mp3_indexed:
            ensure_indexes_blocking(self._database, MP3S)
            self._mp3_indexed = True
        writer = self._mp3s.writer(filename, file_id=file_id)
        try:
            duration = write(writer)
            stored = writer.close(
                {
                    "job_id": str(job_id),
                    "owner_id": owner_id,
                    "content_type": "audio/mpeg",
                    "duration_seconds": duration,
                }
            )
        except BaseException:
            writer.abort()
            raise
        return StoredMp3.of(stored)
