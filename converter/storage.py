"""GridFS adapter of the converter. Blocking: it is used from worker threads, next to PyAV.

Videos are read through ``ChunkReader`` (each chunk fetched once, read ahead in a thread),
not pymongo's ``GridOut``, which fetches chunks again after a seek; MP3s are written through
``ChunkWriter``, not ``GridIn``, which buffers up to 48 MB. Both keep to the GridFS layout,
so the gateway reads the MP3s with a plain ``GridFSBucket``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.database import Database

from common.mongo import Document
from contracts import FailureReason
from converter.chunk_reader import ChunkReader
from converter.chunk_writer import ChunkWriter, ensure_indexes
from converter.transcode import ConversionError, Sink

__all__ = ["MediaStore", "StoredMp3"]


@dataclass(frozen=True)
class StoredMp3:
    file_id: str
    filename: str
    size_bytes: int
    duration_seconds: float


class MediaStore:
    """Videos are read from the ``videos`` bucket; MP3s go to the ``mp3s`` bucket."""

    def __init__(self, database: Database[Document]) -> None:
        self._video_files = database["videos.files"]
        self._video_chunks = database["videos.chunks"]
        self._mp3_files = database["mp3s.files"]
        self._mp3_chunks = database["mp3s.chunks"]
        self._mp3_indexed = False

    def open_video(self, file_id: str) -> ChunkReader:
        """A seekable reader over the stored video's chunks."""
        try:
            document = self._video_files.find_one({"_id": ObjectId(file_id)})
        except InvalidId as error:
            raise ConversionError(FailureReason.SOURCE_MISSING, f"no stored video {file_id}") from error
        if document is None:
            raise ConversionError(FailureReason.SOURCE_MISSING, f"no stored video {file_id}")
        return ChunkReader(self._video_chunks, document["_id"], document["length"], document["chunkSize"])

    def find_mp3(self, job_id: UUID) -> StoredMp3 | None:
        """The MP3 already stored for ``job_id``, if a previous attempt finished."""
        document = self._mp3_files.find_one({"metadata.job_id": str(job_id)})
        if document is None:
            return None
        return StoredMp3(
            file_id=str(document["_id"]),
            filename=document["filename"],
            size_bytes=document["length"],
            duration_seconds=document["metadata"]["duration_seconds"],
        )

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
            ensure_indexes(self._mp3_files, self._mp3_chunks)
            self._mp3_indexed = True
        writer = ChunkWriter(self._mp3_files, self._mp3_chunks, filename, file_id=file_id)
        try:
            duration = write(writer)
            writer.close(
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
        return StoredMp3(str(writer.file_id), filename, writer.length, duration)
