"""Child processes of the benchmark that time one job in-process; each prints one JSON line.

    python -m bench.job file INPUT OUTPUT [copy|transcode]
        ``transcode`` on a local file, as ``python -m converter convert`` runs it
    python -m bench.job gridfs MONGO_URL DATABASE FILE_ID
        the worker's own ``Converter.handle`` on a ``VideoUploaded`` event: the video is read
        from GridFS and the MP3 stored there, through ``MediaStore`` and ``transcode``
    python -m bench.job gridfs-read MONGO_URL DATABASE FILE_ID
        every chunk of the file read by its id, in order: what the store alone costs

Each reports the job's own wall and CPU time (all threads), without the interpreter's start
and imports, which a long-running worker does not pay per job.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database

from common.blobs import VIDEOS, Bucket, ChunkReader
from common.mongo import Document
from contracts import ConversionOptions, Event, Mp3Converted, VideoUploaded
from converter.claims import ConversionClaims
from converter.storage import MediaStore
from converter.transcode import transcode
from converter.worker import Converter


class _Store(MediaStore):
    """The worker's store, keeping the readers it opens so their fetch counts can be reported."""

    def __init__(self, database: Database[Document]) -> None:
        super().__init__(database)
        self.readers: list[ChunkReader] = []

    def open_video(self, file_id: str) -> ChunkReader:
        reader = super().open_video(file_id)
        self.readers.append(reader)
        return reader


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def convert(database: Database[Document], file_id: str) -> dict[str, Any]:
    length = database["videos.files"].find_one({"_id": ObjectId(file_id)}, {"length": 1})
    assert length is not None, f"no video {file_id}"
    store = _Store(database)
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)

    event = VideoUploaded(
        job_id=uuid4(),
        owner_id="bench",
        owner_email="bench@example.com",
        video_file_id=file_id,
        filename="bench.mp4",
        size_bytes=length["length"],
    )
    asyncio.run(Converter(store, ConversionClaims(database), publish, "bench:1").handle(event))
    outcome = published[-1]
    if not isinstance(outcome, Mp3Converted):
        raise SystemExit(f"the conversion did not succeed: {outcome!r}")
    return {
        "bytes_fetched": sum(reader.bytes_fetched for reader in store.readers),
        "size_bytes": length["length"],
        "duration_seconds": outcome.duration_seconds,
        "mp3_file_id": outcome.mp3_file_id,
    }


def read(database: Database[Document], file_id: str) -> dict[str, Any]:
    videos = Bucket(database, VIDEOS)
    stored = videos.find(ObjectId(file_id))
    assert stored is not None, f"no video {file_id}"
    with videos.open(stored) as reader:
        while reader.read(stored.chunk_size):
            pass
        return {"bytes_fetched": reader.bytes_fetched}


def convert_file(source: str, target: str, mode: str = "copy") -> dict[str, Any]:
    with Path(source).open("rb") as reader, Path(target).open("wb") as writer:
        result = transcode(reader, writer, ConversionOptions(), stream_copy=mode == "copy")
    return {"duration_seconds": result.duration_seconds, "method": result.method}


def timed(job: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), _cpu()
    report = job()
    return report | {"job_wall_s": time.perf_counter() - wall, "job_cpu_s": _cpu() - cpu}


def main(command: str, *args: str) -> None:
    if command == "file":
        report = timed(lambda: convert_file(*args))
    else:
        mongo_url, database_name, file_id = args
        client: MongoClient[Document] = MongoClient(mongo_url, tz_aware=True)
        with client:
            database = client[database_name]
            database.command("ping")
            job = {"gridfs": convert, "gridfs-read": read}[command]
            report = timed(lambda: job(database, file_id))
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
