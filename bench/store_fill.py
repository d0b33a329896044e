"""Fill a store with finished jobs, fast, as the services would have left them.

Every document comes from the services' own builders (``common.blobs``, the event store's,
the read model's, the lists' ``JobIndex.load``), inserted in batches (``insert_many``) instead
of through the services one event at a time; chunk payloads are one buffer reused. Each job
is uploaded, converted, its owner notified: its video and MP3, five events and their ids,
its status, the gateway's record of its upload, the converter's attempt and result, the
notifier's claim; the per-owner lists are rebuilt once a fill is done.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.database import Database

from common.blobs import CHUNK_SIZE, MP3S, VIDEOS, chunk_count, chunk_document, files_document
from common.mongo import Document
from common.storage_layout import request_key
from contracts import (
    ConversionProgress,
    ConversionStarted,
    Event,
    EventAdapter,
    Mp3Converted,
    NotificationSent,
    RoutingKey,
    VideoUploaded,
)
from projections.documents import EVERYONE, MongoIndexStore, index_entry, status_document
from projections.event_store import event_document, event_id_document
from projections.job_index import Entry, JobIndex
from projections.job_status import fold

__all__ = ["Filler"]

_BATCH_JOBS = 100


@dataclass
class Filler:
    """Adds finished jobs to ``database``, spread over ``owners``, each storing ``bytes_per_job``
    (four fifths video, one fifth MP3), created over the month before ``until``."""

    database: Database[Document]
    mongo_url: str
    owners: list[str]
    bytes_per_job: int
    planned_jobs: int
    until: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=1))
    jobs: int = 0
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    job_ids: dict[str, list[str]] = field(default_factory=dict)
    """Each owner's jobs (their ids), to ask for."""
    _payload: bytes = field(default=b"", repr=False)

    def fill_to(self, total: int) -> None:
        while self.jobs < total:
            count = min(_BATCH_JOBS, total - self.jobs)
            self._insert([self._job(self.jobs + k) for k in range(count)])
            self.jobs += count
        asyncio.run(self._rebuild_lists())

    def _job(self, number: int) -> dict[str, list[Document]]:
        job_id, owner = uuid.uuid4(), self.owners[number % len(self.owners)]
        created = self.until - timedelta(days=30) * (1 - number / max(1, self.planned_jobs))
        video_bytes, mp3_bytes = self.bytes_per_job * 4 // 5, max(1, self.bytes_per_job // 5)
        video_id, mp3_id = ObjectId(), ObjectId()
        email = f"owner-{owner}@example.com"
        events: list[Event] = [
            VideoUploaded(
                job_id=job_id,
                occurred_at=created,
                owner_id=owner,
                owner_email=email,
                video_file_id=str(video_id),
                filename=f"video-{number}.mp4",
                size_bytes=video_bytes,
            ),
            ConversionStarted(job_id=job_id, occurred_at=created + timedelta(seconds=1), worker="bench:1"),
            ConversionProgress(
                job_id=job_id, occurred_at=created + timedelta(seconds=2), percent=50.0, processed_seconds=30.0
            ),
            Mp3Converted(
                job_id=job_id,
                occurred_at=created + timedelta(seconds=3),
                owner_id=owner,
                owner_email=email,
                mp3_file_id=str(mp3_id),
                filename=f"video-{number}.mp3",
                size_bytes=mp3_bytes,
                duration_seconds=60.0,
            ),
            NotificationSent(
                event_id=uuid.uuid5(job_id, RoutingKey.NOTIFICATION_SENT),
                job_id=job_id,
                occurred_at=created + timedelta(seconds=4),
                recipient=email,
            ),
        ]
        status = fold(events)
        assert status is not None
        listed = index_entry(status)
        assert listed is not None
        self.entries.setdefault(owner, []).append(listed[1])
        self.job_ids.setdefault(owner, []).append(str(job_id))
        converted = EventAdapter.dump_python(events[3], mode="json")
        return {
            "events": [event_document(event, seq) for seq, event in enumerate(events, 1)],
            "event_ids": [event_id_document(event, seq) for seq, event in enumerate(events, 1)],
            "job_status": [status_document(status)],
            "gateway_events": [
                {
                    "_id": request_key(job_id, RoutingKey.VIDEO_UPLOADED),
                    "event": EventAdapter.dump_python(events[0], mode="json"),
                }
            ],
            "conversion_attempts": [
                {
                    "_id": f"{job_id}:1",
                    "job_id": str(job_id),
                    "worker": "bench:1",
                    "state": "converting",
                    "started_at": created,
                    "renewed_at": created,
                    "pending_mp3": mp3_id,
                    "cleaned": True,
                }
            ],
            "conversion_results": [
                {
                    "_id": str(job_id),
                    "outcome": "converted",
                    "event": converted,
                    "mp3_file_id": str(mp3_id),
                    "at": created,
                }
            ],
            "notifications": [{"_id": str(job_id), "state": "sent", "claimed_at": created, "sent_at": created}],
            **self._file(VIDEOS, video_id, video_bytes, job_id, owner),
            **self._file(MP3S, mp3_id, mp3_bytes, job_id, owner),
        }

    def _file(self, bucket: str, file_id: ObjectId, length: int, job_id: uuid.UUID, owner: str) -> dict[str, Any]:
        if len(self._payload) < CHUNK_SIZE:
            self._payload = bytes(range(256)) * (CHUNK_SIZE // 256)
        chunks = [
            chunk_document(file_id, n, self._payload[: min(CHUNK_SIZE, length - n * CHUNK_SIZE)])
            for n in range(chunk_count(length, CHUNK_SIZE))
        ]
        metadata = {"job_id": str(job_id), "owner_id": owner}
        files = files_document(file_id, length=length, chunk_size=CHUNK_SIZE, filename="f", metadata=metadata)
        return {f"{bucket}.chunks": chunks, f"{bucket}.files": [files]}

    def _insert(self, jobs: list[dict[str, list[Document]]]) -> None:
        collections: dict[str, list[Document]] = {}
        for job in jobs:
            for name, documents in job.items():
                collections.setdefault(name, []).extend(documents)
        for name, documents in collections.items():
            self.database[name].insert_many(documents, ordered=False)

    async def _rebuild_lists(self) -> None:
        client: AsyncMongoClient[Document] = AsyncMongoClient(self.mongo_url, tz_aware=True)
        try:
            index = JobIndex(MongoIndexStore(client[self.database.name]["job_index"]))
            everyone: list[Entry] = []
            for owner, entries in self.entries.items():
                await index.load(owner, entries)
                everyone += entries
            await index.load(EVERYONE, everyone)
        finally:
            await client.close()
