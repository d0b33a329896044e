"""The benchmark's videos in GridFS: each uploaded once, to a database of its own.

A database per input, because FerretDB's SQLite backend answers a chunk query by scanning the
whole chunks collection: other videos beside it would make every read slower.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bson import ObjectId
from gridfs import GridFSBucket
from pymongo import MongoClient

from common.mongo import Document

__all__ = ["delete_mp3", "upload_once"]


def database_name(name: str) -> str:
    return "vidmp3_bench_" + re.sub(r"[^a-z0-9]+", "_", name.lower())


def upload_once(client: MongoClient[Document], name: str, path: Path) -> str:
    """The id of ``path`` in the ``videos`` bucket of its database, uploading it if not there yet."""
    database = client[database_name(name)]
    stat = path.stat()
    source = {"path": str(path), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    found = database["videos.files"].find_one({"metadata.source": source}, {"_id": 1})
    if found is not None:
        return str(found["_id"])
    client.drop_database(database.name)  # a stale copy of an older input
    print(f"uploading {path.name} to GridFS database {database.name} (once) ...", flush=True)
    started = time.perf_counter()
    with path.open("rb") as video:
        file_id = GridFSBucket(database, bucket_name="videos").upload_from_stream(
            path.name, video, metadata={"source": source}
        )
    print(f"  {stat.st_size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s", flush=True)
    return str(file_id)


def delete_mp3(client: MongoClient[Document], name: str, file_id: str) -> None:
    database = client[database_name(name)]
    database["mp3s.chunks"].delete_many({"files_id": ObjectId(file_id)})
    database["mp3s.files"].delete_one({"_id": ObjectId(file_id)})
