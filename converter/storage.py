"""GridFS adapter of the converter. Blocking: it is used from worker threads, next to PyAV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import GridFSBucket, GridOut, NoFile
from pymongo.database import Database

from common.mongo import Document
from contracts import FailureReason
from converter.transcode import ConversionError

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
        self._videos = GridFSBucket(database, bucket_name="videos")
        self._mp3s = GridFSBucket(database, bucket_name="mp3s")
        self._mp3_files = database["mp3s.files"]

    def open_video(self, file_id: str) -> GridOut:
        """A seekable reader over the stored video's chunks."""
        try:
            return self._videos.open_download_stream(ObjectId(file_id))
        except (NoFile, InvalidId) as error:
            raise ConversionError(FailureReason.SOURCE_MISSING, f"no stored video {file_id}") from error

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

    def store_mp3(self, job_id: UUID, owner_id: str, filename: str, write: Callable[[BinaryIO], float]) -> StoredMp3:
        """Store what ``write`` produces as the job's MP3; ``write`` returns its duration.

        If ``write`` fails, the chunks written so far are removed again.
        """
        writer = self._mp3s.open_upload_stream(filename)
        try:
            duration = write(writer)  # type: ignore[arg-type]  # GridIn is a write-only binary file
            writer.metadata = {
                "job_id": str(job_id),
                "owner_id": owner_id,
                "content_type": "audio/mpeg",
                "duration_seconds": duration,
            }
        except BaseException:
            writer.abort()
            raise
        writer.close()
        return StoredMp3(str(writer._id), filename, writer.length, duration)
