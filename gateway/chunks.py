"""GridFS files read and written chunk by chunk, with memory bounded by a few chunks.

The gateway writes GridFS's layout itself (a ``<bucket>.chunks`` document per ``chunk_size``
bytes, numbered from 0, then the ``<bucket>.files`` document) instead of going through
``AsyncGridIn``/``AsyncGridOut``:

- chunks go in batches (``insert_many``: several times faster on FerretDB than one by one,
  and ``AsyncGridIn`` briefly held ~200 MB while storing a large upload);
- a resumable upload appends to a file that is not finished yet;
- each chunk's ``_id`` is ``<file id>:<n>``, so one chunk is found by its primary key: on
  FerretDB (SQLite) only ``_id`` lookups use an index, any other query scans the collection
  (every chunk of every file), which made the media check of a 1 GB upload take minutes;
- readers fetch a few chunks at a time (the driver's cursors fetch 101 chunks, 25 MB, in
  their first batch), in natural order, which is ``n`` order on MongoDB (the ``files_id, n``
  index) and on FerretDB (insertion order); sorting is only the fallback, as FerretDB must
  materialize a sorted result first.

Any GridFS reader reads the files written here: the spec finds chunks by ``files_id`` and ``n``.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bson import Binary, ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from common.mongo import Document

__all__ = [
    "CHUNK_SIZE",
    "BlockingChunkReader",
    "ChunkCutter",
    "ChunkWriter",
    "CorruptFile",
    "chunk_id",
    "files_document",
    "read_chunks",
]

CHUNK_SIZE = 255 * 1024  # GridFS's default
BATCH_BYTES = 2 * 1024 * 1024
"""Whole chunks gathered before they are inserted together."""
_DUPLICATE_KEY = 11000
_READ_BATCH = 4
"""Chunks a reader's cursor fetches at a time (1 MiB)."""


class CorruptFile(Exception):
    """A chunk is missing or has the wrong size."""


def chunk_id(file_id: Any, n: int) -> str:
    """The ``_id`` of chunk ``n`` of a file this module wrote."""
    return f"{file_id}:{n:08d}"


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
        return {"_id": chunk_id(self._file_id, n), "files_id": self._file_id, "n": n, "data": Binary(bytes(data))}

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
            await self._insert(chunks)
            if self._on_flush is not None:
                await self._on_flush(self._cutter.n * self._chunk_size)

    async def _insert(self, chunks: list[Document]) -> None:
        """Insert ``chunks``, replacing those stored before (a resumed upload rewrites its
        partial last chunk, and any an interrupted append left past its recorded offset)."""
        try:
            await self._chunks.insert_many(chunks, ordered=False)
        except BulkWriteError as error:
            failures = error.details.get("writeErrors", [])
            if any(failure.get("code") != _DUPLICATE_KEY for failure in failures):
                raise
            for failure in failures:
                chunk = chunks[failure["index"]]
                await self._chunks.replace_one({"_id": chunk["_id"]}, chunk, upsert=True)

    async def finish(self) -> int:
        """Store what is left, the last partial chunk included; the bytes the file holds."""
        await self._write_full()
        if (rest := self._cutter.take_rest()) is not None:
            await self._insert([rest])
        return self._cutter.n * self._chunk_size + len(self._cutter.buffer)


async def read_chunks(
    chunks: AsyncCollection[Document], file_id: Any, *, chunk_size: int, start: int, end: int
) -> AsyncIterator[bytes]:
    """Bytes ``start`` to ``end`` (excluded) of a GridFS file, a few chunks per round trip."""
    if start >= end:
        return
    expected, last = start // chunk_size, (end - 1) // chunk_size
    in_order = False  # natural order first, sorted by n if that fails
    while expected <= last:
        query = {"files_id": file_id, "n": {"$gte": expected, "$lte": last}}
        cursor = chunks.find(query, batch_size=_READ_BATCH)
        if in_order:
            cursor = cursor.sort("n", 1)
        out_of_order = False
        async with cursor:
            async for chunk in cursor:
                if chunk["n"] != expected:
                    out_of_order = True
                    break
                base = expected * chunk_size
                piece = bytes(chunk["data"])[max(0, start - base) : end - base]
                if len(piece) < min(end, base + chunk_size) - max(start, base):
                    raise CorruptFile(f"chunk {expected} of file {file_id} is short")
                yield piece
                expected += 1
        if not out_of_order and expected <= last:
            raise CorruptFile(f"chunk {expected} of file {file_id} is missing")
        if out_of_order:
            if in_order:
                raise CorruptFile(f"chunk {expected} of file {file_id} is missing")
            in_order = True


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
            document = self._chunks.find_one({"_id": chunk_id(self._file_id, n)}) or self._chunks.find_one(
                {"files_id": self._file_id, "n": n}  # a file another writer made
            )
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
