"""``python -m projections migrate`` (``./run migrate``): bring a store written by older code to
this layout (``common.storage_layout``). Offline: stop the services first.

What changes, step by step, each idempotent and safe to cut short (run it again: it goes on
where it stopped, and a finished store is left as it is):

1. Secondary indexes the older code made are dropped: FerretDB never reads through them, they
   only slow inserts, and the unique ones would refuse step 2's copies (MongoDB gets GridFS's
   own back at the end).
2. Chunks keyed by an ObjectId (the converter's MP3s) are copied under ``<file>:<n>`` and the
   old ones deleted.
3. Events keyed by their id (numbered by a ``job_id, seq`` index) are copied under
   ``<job>:<seq>``, their ids recorded in ``event_ids``, and the old ones deleted.
4. Outbox entries become the gateway's per-job records (``gateway_events``); those already
   published leave the outbox, the others stay in it, to be sent.
5. Completed tus uploads move to ``completed_uploads``.
6. Every job's status is folded again from its events (it gains the fields the lists need),
   then the unfinished jobs and the per-owner lists are built from the statuses.
7. The store is marked as this layout, so the services start on it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from common.blobs import MP3S, VIDEOS, chunk_id, ensure_indexes
from common.mongo import Document
from common.storage_layout import LAYOUT_VERSION, event_key, request_key
from contracts import RoutingKey
from projections.event_store import EventStore
from projections.job_status import fold
from projections.store import JobStatusView

__all__ = ["Report", "migrate"]

_GATEWAY_EVENTS = {RoutingKey.VIDEO_UPLOADED, RoutingKey.JOB_CANCELLED, RoutingKey.JOB_DELETED}
_INDEXED = ("events", "outbox", "job_status", "uploads", "videos.files", "videos.chunks", "mp3s.files", "mp3s.chunks")


@dataclass
class Report:
    indexes_dropped: int = 0
    chunks_rekeyed: int = 0
    events_rekeyed: int = 0
    outbox_entries: int = 0
    uploads_completed: int = 0
    jobs_folded: int = 0
    jobs_listed: int = 0

    @property
    def changed(self) -> bool:
        return any((self.indexes_dropped, self.chunks_rekeyed, self.events_rekeyed, self.outbox_entries))


async def migrate(database: AsyncDatabase[Document], echo: Callable[[str], None] = lambda _: None) -> Report:
    report = Report()
    for name in _INDEXED:
        report.indexes_dropped += await _drop_indexes(database[name])
    echo(f"dropped {report.indexes_dropped} secondary indexes")
    for bucket in (VIDEOS, MP3S):
        report.chunks_rekeyed += await _rekey_chunks(database[f"{bucket}.chunks"])
        await ensure_indexes(database, bucket)  # on MongoDB: GridFS's own, for other readers
    echo(f"re-keyed {report.chunks_rekeyed} chunks")
    report.events_rekeyed = await _rekey_events(database)
    echo(f"re-keyed {report.events_rekeyed} events")
    report.outbox_entries = await _split_outbox(database)
    echo(f"moved {report.outbox_entries} outbox entries to the per-job records")
    report.uploads_completed = await _move_completed_uploads(database)
    echo(f"moved {report.uploads_completed} completed uploads")
    view = JobStatusView(database)
    async for _, events in EventStore(database).every_job():
        if (status := fold(events)) is not None:
            await view.put(status, derive=False)
            report.jobs_folded += 1
    report.jobs_listed = await view.rederive()
    echo(f"folded {report.jobs_folded} jobs again, {report.jobs_listed} listed")
    await database["store_meta"].replace_one(
        {"_id": "layout"}, {"_id": "layout", "version": LAYOUT_VERSION, "since": datetime.now(UTC)}, upsert=True
    )
    echo(f"the store is at layout {LAYOUT_VERSION}")
    return report


async def _drop_indexes(collection: AsyncCollection[Document]) -> int:
    dropped = 0
    with suppress(OperationFailure):  # a collection that does not exist has none
        async for index in await collection.list_indexes():
            if index["name"] != "_id_":
                await collection.drop_index(index["name"])
                dropped += 1
    return dropped


async def _rekey_chunks(chunks: AsyncCollection[Document]) -> int:
    """Each chunk not under ``<file>:<n>`` copied there, then the old one deleted (by id)."""
    old = [
        document["_id"]
        async for document in chunks.find({}, {"_id": 1, "files_id": 1, "n": 1})
        if document["_id"] != chunk_id(document["files_id"], document["n"])
    ]
    for old_id in old:
        document = await chunks.find_one({"_id": old_id})
        if document is None:
            continue
        with suppress(DuplicateKeyError):  # copied before a cut-short run deleted the old one
            await chunks.insert_one(document | {"_id": chunk_id(document["files_id"], document["n"])})
        await chunks.delete_one({"_id": old_id})
    return len(old)


async def _rekey_events(database: AsyncDatabase[Document]) -> int:
    """Events keyed by their own id become ``<job>:<seq>``, their ids recorded in ``event_ids``."""
    events, ids = database["events"], database["event_ids"]
    old = [document["_id"] async for document in events.find({}, {"_id": 1}) if ":" not in str(document["_id"])]
    for old_id in old:
        document = await events.find_one({"_id": old_id})
        if document is None:
            continue
        key = event_key(document["job_id"], document["seq"])
        with suppress(DuplicateKeyError):
            await events.insert_one(document | {"_id": key})
        with suppress(DuplicateKeyError):
            await ids.insert_one({"_id": document["event_id"], "key": key})
        await events.delete_one({"_id": old_id})
    return len(old)


async def _split_outbox(database: AsyncDatabase[Document]) -> int:
    """Each entry's event kept as the job's record; published entries leave the outbox."""
    outbox, records = database["outbox"], database["gateway_events"]
    old = [entry async for entry in outbox.find({}) if "published_at" in entry]
    for entry in old:
        event: dict[str, Any] = entry["event"]
        if event["type"] in _GATEWAY_EVENTS:
            with suppress(DuplicateKeyError):
                await records.insert_one({"_id": request_key(event["job_id"], event["type"]), "event": event})
        if entry["published_at"] is None:
            await outbox.replace_one({"_id": entry["_id"]}, {k: v for k, v in entry.items() if k != "published_at"})
        else:
            await outbox.delete_one({"_id": entry["_id"]})
    return len(old)


async def _move_completed_uploads(database: AsyncDatabase[Document]) -> int:
    uploads, completed = database["uploads"], database["completed_uploads"]
    done = [upload async for upload in uploads.find({}) if upload.get("completed_at") is not None]
    for upload in done:
        with suppress(DuplicateKeyError):
            await completed.insert_one(upload)
        await uploads.delete_one({"_id": upload["_id"]})
    return len(done)
