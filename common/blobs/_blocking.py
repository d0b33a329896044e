"""The blocking side of the blob store: the converter's reads and writes, the gateway's
media check (both in worker threads, next to PyAV)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import DeleteOne
from pymongo.database import Database

from common.blobs._layout import (
    CHUNK_SIZE,
    MAX_PARTS,
    REMOVE_BATCH,
    StoredFile,
    chunk_document,
    chunk_id,
    files_document,
    part_id,
    parts_recorded,
    removal_batches,
)
from common.blobs._reader import ChunkReader
from common.mongo import Document

__all__ = ["BlobWriter", "Bucket"]


class Bucket:
    """One GridFS bucket (``videos`` or ``mp3s``), every access by a computed primary key."""

    def __init__(self, database: Database[Document], name: str) -> None:
        self.name = name
        self._files = database[f"{name}.files"]
        self._chunks = database[f"{name}.chunks"]

    def find(self, file_id: Any) -> StoredFile | None:
        """The complete file ``file_id``; ``None`` if it is not (or no longer, or not yet) stored."""
        document = self._files.find_one({"_id": file_id})
        return None if document is None else StoredFile.from_document(document)

    def open(self, stored: StoredFile, *, ahead: int = 16) -> ChunkReader:
        """A seekable reader over ``stored``, fetching up to ``ahead`` chunks in advance."""
        return ChunkReader(self._chunks, stored.file_id, stored.length, stored.chunk_size, ahead=ahead)

    def writer(
        self, filename: str, *, file_id: ObjectId | str | None = None, chunk_size: int = CHUNK_SIZE, batch: int = 4
    ) -> BlobWriter:
        return BlobWriter(self, filename, file_id=file_id, chunk_size=chunk_size, batch=batch)

    def insert_chunks(self, documents: list[Document]) -> None:
        if documents:
            self._chunks.insert_many(documents, ordered=True)

    def insert_file(self, document: Document) -> None:
        self._files.insert_one(document)

    def remove_with_parts(self, file_id: Any) -> None:
        """Remove the MP3 ``file_id`` and its parts (``part_id``), complete or not. The parts
        go first: the MP3's files document, which counts them, goes last. Without it (a write
        cut short, a removal cut short), parts are looked for in order until one is not there
        (they are written one after the other)."""
        count = parts_recorded(self.find(file_id))
        if count is None:
            number = 1
            while number <= MAX_PARTS and self.remove(part_id(file_id, number)):
                number += 1
        else:
            for number in range(1, count + 1):
                self.remove(part_id(file_id, number))
        self.remove(file_id)

    def remove(self, file_id: Any, *, chunks: int | None = None) -> bool:
        """Remove the file ``file_id``, complete or not, and its chunks, by their computed ids.

        ``chunks``: how many it has, if the files document does not tell (a write cut short).
        The files document goes last, so a removal cut short is finished by the next one.
        Returns whether there was anything to remove.
        """
        if chunks is None:
            stored = self.find(file_id)
            chunks = stored.chunks if stored is not None else 0
        batches = removal_batches(chunks)
        found = False
        while batches:
            numbers = batches.pop(0)
            result = self._chunks.bulk_write([DeleteOne({"_id": chunk_id(file_id, n)}) for n in numbers], ordered=False)
            found = found or bool(result.deleted_count)
            if not batches and result.deleted_count:  # chunks past the known end: look further
                batches.append(range(numbers.stop, numbers.stop + REMOVE_BATCH))
        deleted = self._files.delete_one({"_id": file_id})
        return found or bool(deleted.deleted_count)


class BlobWriter:
    """A write-only file that becomes the file ``file_id`` named ``filename`` on ``close``.

    Chunks are inserted ``batch`` at a time (pymongo's ``GridIn`` would hold up to 48 MB before
    its first insert), the files document last, so a reader finds the file only once it is
    complete. The first chunk is held back until ``close``: an MP3's head (its Xing frame) is
    only known at the end, and ``rewrite`` changes it in memory instead of a stored chunk.
    """

    def __init__(
        self,
        bucket: Bucket,
        filename: str,
        *,
        file_id: ObjectId | str | None = None,
        chunk_size: int = CHUNK_SIZE,
        batch: int = 4,
    ) -> None:
        self.file_id = file_id or ObjectId()
        self.filename = filename
        self.length = 0
        self._bucket = bucket
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

    def close(self, metadata: dict[str, Any]) -> StoredFile:
        """Store what is left and the files document: the file is complete."""
        if self._pending:
            self._add(bytes(self._pending))
            self._pending.clear()
        if self._first is not None:
            self._documents.append(chunk_document(self.file_id, 0, self._first))
        self._insert()
        document = files_document(
            self.file_id, length=self.length, chunk_size=self._chunk_size, filename=self.filename, metadata=metadata
        )
        self._bucket.insert_file(document)
        return StoredFile.from_document(document)

    def abort(self) -> None:
        """Remove the chunks written so far (by their ids: this writer knows how many)."""
        self._documents.clear()
        self._bucket.remove(self.file_id, chunks=self._next)

    def _add(self, data: bytes) -> None:
        self.length += len(data)
        if self._next == 0:
            self._first = bytearray(data)
            self._next = 1
            return
        self._documents.append(chunk_document(self.file_id, self._next, data))
        self._next += 1
        if len(self._documents) >= self._batch:
            self._insert()

    def _insert(self) -> None:
        self._bucket.insert_chunks(self._documents)
        self._documents = []
