"""Stored files (uploaded videos, MP3s) in GridFS's layout, every access by primary key.

One module for every service that reads or writes files: the gateway (uploads, the media
check, downloads, removals) and the converter (reading videos, writing MP3s, removing them).

Layout (``common.storage_layout`` lists every collection):

- ``<bucket>.chunks``: ``_id`` ``"<file id>:<n:08d>"`` (``chunk_id``), with GridFS's own
  fields ``files_id``, ``n`` and ``data``, so any GridFS reader still reads the files (the
  spec finds chunks by ``files_id`` and ``n``). Every chunk holds ``chunkSize`` bytes but the
  last.
- ``<bucket>.files``: ``_id`` the file's ObjectId, written once every chunk is stored, so a
  file is complete exactly when its files document exists.

Chunks are read and removed by their computed ids, never found by a query: on FerretDB (SQLite)
only ``{"_id": value}`` uses an index, and a query on ``files_id`` reads every chunk of every
file. A removal deletes ids in batches (``bulk_write`` of ``DeleteOne``: one round trip, each
statement an indexed delete) up to the file's known end and on while any are found, then the
files document, so a removal cut short is finished by the next one.

An MP3 split per chapter has its parts as files of their own in the same bucket, under ids
computed from the MP3's (``part_id``: ``<mp3 id>.<n:03d>``); its files document counts them
(``metadata.parts``). Every removal of an MP3 is ``remove_with_parts``, so nothing that removes
a job's MP3 by its id can leave a part behind.

GridFS's secondary index (``files_id``, ``n``) serves no read here; FerretDB never uses it for
reads, and it makes chunk inserts slower there (``bench/gridfs_index.py``: 255 kB chunks, 80
per round; 1.2x as long with it on a quiet machine, 4.2-5.3 ms against 5.0-6.6 ms a chunk, and
1.5x under a load of 9). So ``ensure_indexes`` creates it only on MongoDB, where other GridFS
readers (drivers' ``GridFSBucket``) need it to be fast.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from common.blobs._async import AsyncBucket, AsyncChunkWriter
from common.blobs._blocking import BlobWriter, Bucket
from common.blobs._layout import (
    CHUNK_SIZE,
    MAX_PARTS,
    MP3S,
    VIDEOS,
    ChunkCutter,
    CorruptFile,
    StoredFile,
    chunk_count,
    chunk_document,
    chunk_id,
    files_document,
    part_id,
)
from common.blobs._reader import ChunkReader
from common.mongo import Document, blocking_server_is_ferretdb, server_is_ferretdb

__all__ = [
    "CHUNK_SIZE",
    "MAX_PARTS",
    "MP3S",
    "VIDEOS",
    "AsyncBucket",
    "AsyncChunkWriter",
    "BlobWriter",
    "Bucket",
    "ChunkCutter",
    "ChunkReader",
    "CorruptFile",
    "StoredFile",
    "chunk_count",
    "chunk_document",
    "chunk_id",
    "ensure_indexes",
    "ensure_indexes_blocking",
    "files_document",
    "part_id",
]

_CHUNK_INDEX = [("files_id", 1), ("n", 1)]
_FILE_INDEX = [("filename", 1), ("uploadDate", 1)]


async def ensure_indexes(database: AsyncDatabase[Document], bucket: str) -> None:
    """GridFS's own indexes on ``bucket``, on MongoDB only (see the module's docstring)."""
    if await server_is_ferretdb(database):
        return
    await database[f"{bucket}.chunks"].create_index(_CHUNK_INDEX, unique=True)
    await database[f"{bucket}.files"].create_index(_FILE_INDEX)


def ensure_indexes_blocking(database: Database[Document], bucket: str) -> None:
    if blocking_server_is_ferretdb(database):
        return
    database[f"{bucket}.chunks"].create_index(_CHUNK_INDEX, unique=True)
    database[f"{bucket}.files"].create_index(_FILE_INDEX)
