"""The GridFS layout every service writes: chunk ids computed from the file, and the pieces
both the async and the blocking sides share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import Binary
from gridfs.errors import CorruptGridFile

from common.mongo import Document

CHUNK_SIZE = 255 * 1024  # GridFS's default
VIDEOS, MP3S = "videos", "mp3s"
"""The buckets: uploaded videos (written by the gateway), MP3s (written by the converter)."""

REMOVE_BATCH = 64
"""Chunk ids deleted per round trip when a file is removed."""
REMOVE_SLACK = 16
"""Chunk numbers probed past a file's known end on removal: a write cut short may have stored
a batch beyond what was recorded (the writers insert at most 2 MiB, 8 chunks, at a time)."""


MAX_PARTS = 100
"""Parts an MP3 can have at most (one per chapter: ``converter.chapters.MAX_CHAPTERS``)."""


def part_id(file_id: Any, number: int) -> str:
    """The file id of part ``number`` (1, 2, ...) of the MP3 ``file_id``: computed from it, so
    whatever removes an MP3 by its id finds its parts too (``remove_with_parts``)."""
    return f"{file_id}.{number:03d}"


def parts_recorded(stored: StoredFile | None) -> int | None:
    """How many parts a stored MP3 has (its files document says so: it is written after every
    part's); ``None`` when it is not stored (a write cut short, or removed): then look."""
    if stored is None:
        return None
    parts = stored.metadata.get("parts", 0)
    return parts if isinstance(parts, int) else 0


class CorruptFile(CorruptGridFile):
    """A chunk is missing or has the wrong size."""


def chunk_id(file_id: Any, n: int) -> str:
    """The ``_id`` of chunk ``n`` of file ``file_id``: its primary key, computed, never looked up."""
    return f"{file_id}:{n:08d}"


def chunk_count(length: int, chunk_size: int) -> int:
    return -(-length // chunk_size)


def chunk_document(file_id: Any, n: int, data: bytes | bytearray) -> Document:
    """A chunk as GridFS stores it (``files_id``, ``n``, ``data``), under its computed id."""
    return {"_id": chunk_id(file_id, n), "files_id": file_id, "n": n, "data": Binary(bytes(data))}


def files_document(file_id: Any, *, length: int, chunk_size: int, filename: str, metadata: dict[str, Any]) -> Document:
    """The ``<bucket>.files`` document that makes stored chunks a GridFS file; written last."""
    return {
        "_id": file_id,
        "length": length,
        "chunkSize": chunk_size,
        "uploadDate": datetime.now(UTC),
        "filename": filename,
        "metadata": metadata,
    }


@dataclass(frozen=True)
class StoredFile:
    """A complete file: its ``files`` document exists (it is written after every chunk)."""

    file_id: Any
    length: int
    chunk_size: int
    filename: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def chunks(self) -> int:
        return chunk_count(self.length, self.chunk_size)

    @classmethod
    def from_document(cls, document: Document) -> StoredFile:
        return cls(
            document["_id"],
            document["length"],
            document["chunkSize"],
            document.get("filename") or "",
            document.get("metadata") or {},
        )


class ChunkCutter:
    """Cuts a byte stream into the chunks ``n``, ``n + 1``, ... of one file."""

    def __init__(self, file_id: Any, chunk_size: int, n: int = 0, head: bytes = b"") -> None:
        self._file_id, self._size, self.n = file_id, chunk_size, n
        self.buffer = bytearray(head)
        self.full: list[Document] = []

    def add(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= self._size:
            self.full.append(chunk_document(self._file_id, self.n + len(self.full), self.buffer[: self._size]))
            del self.buffer[: self._size]

    def take_full(self) -> list[Document]:
        """The whole chunks cut so far; ``n`` moves past them."""
        taken, self.full = self.full, []
        self.n += len(taken)
        return taken

    def take_rest(self) -> Document | None:
        """The partial chunk left over (at ``n``), once ``take_full`` has taken the rest."""
        return chunk_document(self._file_id, self.n, self.buffer) if self.buffer else None

    @property
    def pending_bytes(self) -> int:
        return len(self.full) * self._size


def removal_batches(chunks: int) -> list[range]:
    """The chunk numbers a removal deletes before it looks whether anything is left past them."""
    end = chunks + REMOVE_SLACK
    return [range(start, min(start + REMOVE_BATCH, end)) for start in range(0, end, REMOVE_BATCH)]
