"""The benchmark's videos in GridFS: each uploaded once (through ``common.blobs``, as the
gateway stores uploads), to a database of its own.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bson import ObjectId
from pymongo import MongoClient

from common.blobs import CHUNK_SIZE, MP3S, VIDEOS, Bucket, chunk_document, files_document
from common.mongo import Document

__all__ = ["delete_mp3", "upload_once"]


def database_name(name: str) -> str:
    return "vidmp3_bench_" + re.sub(r"[^a-z0-9]+", "_", name.lower())


def upload_once(client: MongoClient[Document], name: str, path: Path) -> str:
    """The id of ``path`` in the ``videos`` bucket of its database, uploading it if not there yet."""
    database = client[database_name(name)]
    stat = path.stat()
    # the layout is part of the key: a copy stored with other chunk ids is stored again
    source = {"path": str(path), "size": stat.st_size, "mtime": int(stat.st_mtime), "layout": "blobs"}
    found = database["videos.files"].find_one({"metadata.source": source}, {"_id": 1})
    if found is not None:
        return str(found["_id"])
    client.drop_database(database.name)  # a stale copy of an older input
    print(f"uploading {path.name} to GridFS database {database.name} (once) ...", flush=True)
    started = time.perf_counter()
    file_id, chunks = ObjectId(), database[f"{VIDEOS}.chunks"]
    with path.open("rb") as video:
        n = 0
        while batch := [chunk_document(file_id, n + k, data) for k in range(8) if (data := video.read(CHUNK_SIZE))]:
            chunks.insert_many(batch)
            n += len(batch)
    database[f"{VIDEOS}.files"].insert_one(
        files_document(
            file_id, length=stat.st_size, chunk_size=CHUNK_SIZE, filename=path.name, metadata={"source": source}
        )
    )
    print(f"  {stat.st_size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s", flush=True)
    return str(file_id)


def delete_mp3(client: MongoClient[Document], name: str, file_id: str) -> None:
    Bucket(client[database_name(name)], MP3S).remove(ObjectId(file_id))
