"""Write one GridFS file a few chunks at a time.

pymongo's ``GridIn`` holds up to 48 MB of chunks in memory before its first insert (and
encodes them into one more message of that size), so the converter's memory would grow with
the MP3 it writes. This writer inserts every ``batch`` chunks and writes the files document
last, as the GridFS spec asks: a reader finds the file only once it is complete.

The first chunk is held back until ``close``: the MP3's head (its Xing frame) is only known at
the end, and ``rewrite`` changes it in memory instead of replacing a stored chunk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection

from common.mongo import Document

__all__ = ["DEFAULT_CHUNK_SIZE", "ChunkWriter", "ensure_indexes"]

DEFAULT_CHUNK_SIZE = 255 * 1024  # the GridFS default


def ensure_indexes(files: Collection[Document], chunks: Collection[Document]) -> None:
    """The indexes every GridFS driver creates on a bucket before writing to it."""
    files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
    chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)


class ChunkWriter:
    """A write-only file that becomes the GridFS file ``file_id`` named ``filename`` on ``close``."""

    def __init__(
        self,
        files: Collection[Document],
        chunks: Collection[Document],
        filename: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        batch: int = 4,
        file_id: ObjectId | None = None,
    ) -> None:
        self.file_id = file_id or ObjectId()
        self.filename = filename
        self.length = 0
        self._files = files
        self._chunks = chunks
        self._chunk_size = chunk_size
        self._batch = batch
        self._pending = bytearray()
        self._documents: list[Document] = []
        self._next = 0
        self._first: bytearray | None = None  # chunk 0, once complete; stored on close

    def write(self, data: bytes, /) -> None:
        self._pending += data
        while len(self._pending) >= self._chunk_size:
            self._add(bytes(self._pending[: self._chunk_size]))
            del self._pending[: self._chunk_size]

    def rewrite(self, offset: int, data: bytes, /) -> None:
        """Replace ``data``'s length of bytes written before, at ``offset``: within the first chunk."""
        head = self._pending if self._first is None else self._first
        if offset < 0 or offset + len(data) > min(len(head), self._chunk_size):
            raise ValueError(f"only the first chunk's {len(head)} written bytes can be rewritten")
        head[offset : offset + len(data)] = data

    def close(self, metadata: dict[str, Any]) -> None:
        """Store what is left and the files document: the file is complete."""
        if self._pending:
            self._add(bytes(self._pending))
            self._pending.clear()
        if self._first is not None:
            self._documents.append({"files_id": self.file_id, "n": 0, "data": bytes(self._first)})
        self._insert()
        self._files.insert_one(
            {
                "_id": self.file_id,
                "filename": self.filename,
                "length": self.length,
                "chunkSize": self._chunk_size,
                "uploadDate": datetime.now(UTC),
                "metadata": metadata,
            }
        )

    def abort(self) -> None:
        """Remove the chunks written so far."""
        self._documents.clear()
        self._chunks.delete_many({"files_id": self.file_id})

    def _add(self, data: bytes) -> None:
        self.length += len(data)
        if self._next == 0:
            self._first = bytearray(data)
            self._next = 1
            return
        self._documents.append({"files_id": self.file_id, "n": self._next, "data": data})
        self._next += 1
        if len(self._documents) >= self._batch:
            self._insert()

    def _insert(self) -> None:
        if self._documents:
            self._chunks.insert_many(self._documents, ordered=True)
            self._documents.clear()
