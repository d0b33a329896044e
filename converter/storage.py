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

from common.blobs import MP3S, VIDEOS, BlobWriter, Bucket, ChunkReader, StoredFile, ensure_indexes_blocking, part_id
from common.mongo import Document
from contracts import FailureReason
from converter.chapters import Chapter
from converter.split import part_filename
from converter.transcode import ConversionError, Sink

__all__ = ["MediaStore", "StoredMp3", "StoredPart", "StoredParts"]


@dataclass(frozen=True)
class StoredPart:
    """One chapter's MP3 (``converter.split``), a file of its own beside the job's MP3."""

    number: int
    file_id: str
    filename: str
    title: str
    start_seconds: float
    size_bytes: int
    duration_seconds: float

    @classmethod
    def of(cls, stored: StoredFile) -> StoredPart:
        meta = stored.metadata
        return cls(
            meta["part"],
            str(stored.file_id),
            stored.filename,
            meta["title"],
            meta["start_seconds"],
            stored.length,
            meta["duration_seconds"],
        )


@dataclass(frozen=True)
class StoredMp3:
    file_id: str
    filename: str
    size_bytes: int
    duration_seconds: float
    parts: tuple[StoredPart, ...] = ()

    @classmethod
    def of(cls, stored: StoredFile, parts: tuple[StoredPart, ...] = ()) -> StoredMp3:
        return cls(str(stored.file_id), stored.filename, stored.length, stored.metadata["duration_seconds"], parts)


class StoredParts:
    """Stores the parts of the MP3 ``mp3_file_id`` as ``converter.split`` writes them (its
    ``PartSinks``), one file each under ``part_id``; ``wrap`` puts each part's writer behind the
    job's output limit. ``abort`` removes whatever was stored."""

    def __init__(
        self,
        bucket: Bucket,
        mp3_file_id: ObjectId,
        stem: str,
        metadata: dict[str, str],
        *,
        wrap: Callable[[BlobWriter], Sink],
    ) -> None:
        self._bucket, self._mp3_file_id, self._stem = bucket, mp3_file_id, stem
        self._metadata, self._wrap = metadata, wrap
        self._writer: BlobWriter | None = None
        self._chapter: Chapter | None = None
        self.stored: list[StoredPart] = []

    def open(self, number: int, chapter: Chapter) -> Sink:
        self._writer = self._bucket.writer(
            part_filename(self._stem, number, chapter.title), file_id=self._file_id(number)
        )
        self._chapter = chapter
        return self._wrap(self._writer)

    def close(self, number: int, seconds: float) -> None:
        assert self._writer is not None
        assert self._chapter is not None
        meta = {
            **self._metadata,
            "content_type": "audio/mpeg",
            "part": number,
            "title": self._chapter.title,
            "start_seconds": self._chapter.start,
            "duration_seconds": seconds,
        }
        self.stored.append(StoredPart.of(self._writer.close(meta)))
        self._writer = None

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        for part in self.stored:
            self._bucket.remove(part.file_id)
        self.stored.clear()

    def _file_id(self, number: int) -> str:
        return part_id(self._mp3_file_id, number)


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
        *,
        parts: Callable[[], tuple[StoredPart, ...]] = lambda: (),
    ) -> StoredMp3:
        """Store what ``write`` produces as the job's MP3 ``file_id`` (a new id if not given);
        ``write`` returns its duration. ``parts`` tells which parts were stored meanwhile (the
        MP3's files document counts them, ``common.blobs.remove_with_parts`` reads that).

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
                    "parts": len(stored_parts := parts()),
                }
            )
        except BaseException:
            writer.abort()
            raise
        return StoredMp3.of(stored, stored_parts)

    def parts(
        self, mp3_file_id: ObjectId, stem: str, metadata: dict[str, str], *, wrap: Callable[[BlobWriter], Sink]
    ) -> StoredParts:
        """Where the parts of the MP3 ``mp3_file_id`` are stored (``StoredParts``)."""
        return StoredParts(self._mp3s, mp3_file_id, stem, metadata, wrap=wrap)
