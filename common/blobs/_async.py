"""The asyncio side of the blob store: the gateway's uploads, downloads and removals."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import Any

from pymongo import DeleteOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from common.blobs._layout import (
    CHUNK_SIZE,
    MAX_PARTS,
    REMOVE_BATCH,
    ChunkCutter,
    CorruptFile,
    StoredFile,
    chunk_id,
    files_document,
    part_id,
    parts_recorded,
    removal_batches,
)
from common.mongo import Document

__all__ = ["AsyncBucket", "AsyncChunkWriter"]

BATCH_BYTES = 2 * 1024 * 1024
"""Whole chunks gathered before they are inserted together (one round trip)."""
READ_AHEAD = 2
"""Chunks a ranged read fetches ahead of the one it is sending, concurrently."""
_DUPLICATE_KEY = 11000


class AsyncBucket:
    """One GridFS bucket (``videos`` or ``mp3s``), every access by a computed primary key."""

    def __init__(self, database: AsyncDatabase[Document], name: str) -> None:
        self.name = name
        self._files = database[f"{name}.files"]
        self._chunks = database[f"{name}.chunks"]

    async def find(self, file_id: Any) -> StoredFile | None:
        """The complete file ``file_id``; ``None`` if it is not (or no longer, or not yet) stored."""
        document = await self._files.find_one({"_id": file_id})
        return None if document is None else StoredFile.from_document(document)

    def writer(
        self,
        file_id: Any,
        *,
        chunk_size: int = CHUNK_SIZE,
        first_chunk: int = 0,
        head: bytes = b"",
        batch_bytes: int = BATCH_BYTES,
        on_flush: Callable[[int], Awaitable[object]] | None = None,
    ) -> AsyncChunkWriter:
        """Writes the chunks of ``file_id`` from ``first_chunk`` on (see ``AsyncChunkWriter``)."""
        return AsyncChunkWriter(
            self._chunks,
            file_id,
            chunk_size=chunk_size,
            first_chunk=first_chunk,
            head=head,
            batch_bytes=batch_bytes,
            on_flush=on_flush,
        )

    async def complete(
        self, file_id: Any, *, length: int, chunk_size: int, filename: str, metadata: dict[str, Any]
    ) -> StoredFile:
        """Write the files document once every chunk is stored (again, harmlessly, on a retry)."""
        document = files_document(file_id, length=length, chunk_size=chunk_size, filename=filename, metadata=metadata)
        with suppress(DuplicateKeyError):
            await self._files.insert_one(document)
        return StoredFile.from_document(document)

    async def chunk(self, file_id: Any, n: int) -> bytes | None:
        document = await self._chunks.find_one({"_id": chunk_id(file_id, n)})
        return None if document is None else bytes(document["data"])

    async def read(self, stored: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (excluded) of a stored file, chunk by chunk, fetching the
        next ``READ_AHEAD`` chunks while one is sent; ``CorruptFile`` if one is missing or short."""
        if start >= end:
            return
        size = stored.chunk_size
        numbers = iter(range(start // size, (end - 1) // size + 1))
        pending: deque[tuple[int, asyncio.Task[bytes | None]]] = deque()

        def fetch_more() -> None:
            while len(pending) <= READ_AHEAD and (n := next(numbers, None)) is not None:
                pending.append((n, asyncio.create_task(self.chunk(stored.file_id, n))))

        try:
            fetch_more()
            while pending:
                n, task = pending.popleft()
                data = await task
                fetch_more()
                base = n * size
                wanted = min(end, base + size, stored.length) - max(start, base)
                if data is None:
                    raise CorruptFile(f"chunk {n} of file {stored.file_id} is missing")
                piece = data[max(0, start - base) : end - base]
                if len(piece) < wanted:
                    raise CorruptFile(f"chunk {n} of file {stored.file_id} is short")
                yield piece
        finally:
            for _, task in pending:
                task.cancel()

    async def remove_with_parts(self, file_id: Any) -> None:
        """Remove the MP3 ``file_id`` and its parts (``part_id``), complete or not. The parts
        go first: the MP3's files document, which counts them, goes last. Without it (a write
        cut short, a removal cut short), parts are looked for in order until one is not there
        (they are written one after the other)."""
        count = parts_recorded(await self.find(file_id))
        if count is None:
            number = 1
            while number <= MAX_PARTS and await self.remove(part_id(file_id, number)):
                number += 1
        else:
            for number in range(1, count + 1):
                await self.remove(part_id(file_id, number))
        await self.remove(file_id)

    async def remove(self, file_id: Any, *, chunks: int | None = None) -> bool:
        """Remove the file ``file_id``, complete or not, and its chunks, by their computed ids.

        ``chunks``: how many it has, if the files document does not tell (a write cut short).
        The files document goes last, so a removal cut short is finished by the next one.
        Returns whether there was anything to remove.
        """
        if chunks is None:
            stored = await self.find(file_id)
            chunks = stored.chunks if stored is not None else 0
        batches = removal_batches(chunks)
        found = False
        while batches:
            numbers = batches.pop(0)
            result = await self._chunks.bulk_write(
                [DeleteOne({"_id": chunk_id(file_id, n)}) for n in numbers], ordered=False
            )
            found = found or bool(result.deleted_count)
            if not batches and result.deleted_count:  # chunks past the known end: look further
                batches.append(range(numbers.stop, numbers.stop + REMOVE_BATCH))
        deleted = await self._files.delete_one({"_id": file_id})
        return found or bool(deleted.deleted_count)


class AsyncChunkWriter:
    """Writes bytes as a file's chunks from chunk ``first_chunk`` on (``head`` being the start
    of that chunk, already stored), a batch of whole chunks at a time.

    ``on_flush`` hears how many bytes of the file are stored after each batch. Chunks stored
    before under the same ids are replaced: a resumed upload rewrites its partial last chunk,
    and any an interrupted append left past its recorded offset.
    """

    def __init__(
        self,
        chunks: Any,
        file_id: Any,
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
        self.chunks_started = first_chunk
        """Chunk numbers this writer may have stored below: what a removal must cover."""

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
        self.chunks_started = max(self.chunks_started, chunks[-1]["n"] + 1)
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
