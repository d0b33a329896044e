"""GridFS files read and written chunk by chunk, with memory bounded by a few chunks.

The gateway writes GridFS's layout itself (a ``<bucket>.chunks`` document per ``chunk_size``
bytes, numbered from 0, then the ``<bucket>.files`` document) instead of going through
``AsyncGridIn``/``AsyncGridOut``: chunks go in batches (``insert_many``, several times faster
on FerretDB than a chunk at a time), a resumable upload can append to a file that is not
finished, and readers fetch a few chunks at a time (the driver's cursors fetch 101 chunks,
25 MB, in their first batch). Any GridFS reader reads the files written here.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bson import Binary, ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.collection import Collection

from common.mongo import Document

__all__ = [
    "CHUNK_SIZE",
    "BlockingChunkReader",
    "ChunkCutter",
    "ChunkWriter",
    "CorruptFile",
    "files_document",
    "read_chunks",
]

CHUNK_SIZE = 255 * 1024  # GridFS's default
BATCH_BYTES = 4 * 1024 * 1024
"""Whole chunks gathered before they are inserted together."""
_READ_BATCH = 4
"""Chunks a reader's cursor fetches at a time (1 MiB)."""


class CorruptFile(Exception):
    """A chunk is missing or has the wrong size."""


def files_document(
    file_id: ObjectId, *, length: int, chunk_size: int, filename: str, metadata: dict[str, Any]
) -> Document:
    """The ``<bucket>.files`` document that makes written chunks a GridFS file."""
    return {
        "_id": file_id,
        "length": length,
        "chunkSize": chunk_size,
        "uploadDate": datetime.now(UTC),
        "filename": filename,
        "metadata": metadata,
    }


class ChunkCutter:
    """Cuts a byte stream into the GridFS chunks ``n``, ``n + 1``, ... of one file."""

    def __init__(self, file_id: ObjectId, chunk_size: int, n: int = 0, head: bytes = b"") -> None:
        self._file_id, self._size, self.n = file_id, chunk_size, n
        self.buffer = bytearray(head)
        self.full: list[Document] = []

    def add(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= self._size:
            self.full.append(self._chunk(self.n + len(self.full), self.buffer[: self._size]))
            del self.buffer[: self._size]

    def _chunk(self, n: int, data: bytes | bytearray) -> Document:
        return {"files_id": self._file_id, "n": n, "data": Binary(bytes(data))}

    def take_full(self) -> list[Document]:
        """The whole chunks cut so far; ``n`` moves past them."""
        taken, self.full = self.full, []
        self.n += len(taken)
        return taken

    def take_rest(self) -> Document | None:
        """The partial chunk left over (at ``n``), once ``take_full`` has taken the rest."""
        return self._chunk(self.n, self.buffer) if self.buffer else None

    @property
    def pending_bytes(self) -> int:
        return len(self.full) * self._size


class ChunkWriter:
    """Writes bytes as a file's chunks from chunk ``first_chunk`` on (``head`` being the start
    of that chunk, already stored), a batch of whole chunks at a time.

    ``on_flush`` hears how many bytes of the file are stored after each batch.
    """

    def __init__(
        self,
        chunks: AsyncCollection[Document],
        file_id: ObjectId,
        *,
        chunk_size: int = CHUNK_SIZE,
        first_chunk: int = 0,
        head: bytes = b"",
        batch_bytes: int = BATCH_BYTES,
        on_flush: Callable[[int], Awaitable[object]] | None = None,
    ) -> None:
        self._chunks, self._chunk_size, self._batch = chunks, chunk_size, batch_bytes
        self._cutter = ChunkCutter(file_id, chunk_size, first_chunk, head)
        self._on_flush = on_flush

    async def write(self, data: bytes) -> None:
        self._cutter.add(data)
        if self._cutter.pending_bytes >= self._batch:
            await self._write_full()

    async def _write_full(self) -> None:
        if chunks := self._cutter.take_full():
            await self._chunks.insert_many(chunks)
            if self._on_flush is not None:
                await self._on_flush(self._cutter.n * self._chunk_size)

    async def finish(self) -> int:
        """Store what is left, the last partial chunk included; the bytes the file holds."""
        await self._write_full()
        if (rest := self._cutter.take_rest()) is not None:
            await self._chunks.insert_one(rest)
        return self._cutter.n * self._chunk_size + len(self._cutter.buffer)


async def read_chunks(
    chunks: AsyncCollection[Document], file_id: Any, *, chunk_size: int, start: int, end: int
) -> AsyncIterator[bytes]:
    """Bytes ``start`` to ``end`` (excluded) of a GridFS file, a chunk at a time."""
    if start >= end:
        return
    first, last = start // chunk_size, (end - 1) // chunk_size
    cursor = chunks.find({"files_id": file_id, "n": {"$gte": first, "$lte": last}}).sort("n", 1).batch_size(_READ_BATCH)
    expected = first
    async for chunk in cursor:
        if chunk["n"] != expected:
            raise CorruptFile(f"chunk {expected} of file {file_id} is missing")
        data = bytes(chunk["data"])
        base = expected * chunk_size
        piece = data[max(0, start - base) : end - base]
        if len(piece) < min(end, base + chunk_size) - max(start, base):
            raise CorruptFile(f"chunk {expected} of file {file_id} is short")
        yield piece
        expected += 1
    if expected <= last:
        raise CorruptFile(f"file {file_id} ends at chunk {expected - 1}, not {last}")


class BlockingChunkReader(io.RawIOBase):
    """A seekable, read-only file over a GridFS file's chunks, holding one chunk at a time:
    for PyAV, in a worker thread. Only what is read is fetched."""

    def __init__(self, chunks: Collection[Document], file_id: Any, *, length: int, chunk_size: int) -> None:
        super().__init__()
        self._chunks, self._file_id = chunks, file_id
        self._length, self._chunk_size = length, chunk_size
        self._position = 0
        self._cached: tuple[int, bytes] | None = None
        self.bytes_fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def _chunk(self, n: int) -> bytes:
        if self._cached is None or self._cached[0] != n:
            document = self._chunks.find_one({"files_id": self._file_id, "n": n})
            if document is None:
                raise CorruptFile(f"chunk {n} of file {self._file_id} is missing")
            self._cached = (n, bytes(document["data"]))
            self.bytes_fetched += len(self._cached[1])
        return self._cached[1]

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._length:
            return 0
        n, within = divmod(self._position, self._chunk_size)
        data = self._chunk(n)[within : within + len(buffer)]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
