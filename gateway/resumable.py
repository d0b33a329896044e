"""Storage of resumable (tus) uploads: bytes go straight into the GridFS chunks of the video
they will become, and completing one copies nothing.

A pending upload is a document in ``uploads`` plus the chunk documents (``videos.chunks``)
of a GridFS file whose files document does not exist yet, so no reader can see it. Every
chunk but the last holds ``chunk_size`` bytes, as GridFS requires, and the upload's
``offset`` counts the bytes stored in them. An append resumes at ``offset``: it reads back
the partial last chunk and writes on from its start, replacing the chunks already there
(that partial one, and any an append cut short left past its recorded offset: they hold the
same bytes of the same file), recording the offset every few MiB and when the body ends,
also when the client drops the connection. Nothing is deleted on the way. Completing the
upload inserts the files document: the chunks already are the video.

``uploads`` holds unfinished uploads only (small by design: the sweep reads all of it); a
completed upload's record moves to ``completed_uploads``, read by its id alone (tus HEAD and
PATCH of a finished upload answer from it).

A user has at most ``max_pending`` unfinished uploads: counting them in ``uploads`` would
read the whole collection on FerretDB (only ``_id`` lookups are indexed), so each holds one of
the user's numbered slots in ``upload_slots`` (``<owner>:<n>``), taken by an insert (atomic
under the unique ``_id``) and given back when the upload completes or is removed. A slot
whose upload is gone or complete (a gateway that died in between) is freed when the user
runs out of them.

One append at a time per upload: a lease in the upload's document (expiring, so a crashed
process does not hold it) guards against other gateway processes; FerretDB does not apply
conditional updates atomically, so requests within this process are also checked in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.blobs import CHUNK_SIZE, VIDEOS, AsyncBucket, chunk_count
from common.mongo import Document
from contracts import ConversionOptions
from gateway.body import ClientDisconnected, TooLarge
from gateway.uploads import StoredVideo

__all__ = ["OffsetMismatch", "PendingUpload", "ResumableUploads", "TooManyUploads", "UploadBusy"]

log = logging.getLogger(__name__)


class UploadBusy(Exception):
    """Another request is appending to this upload right now."""


class TooManyUploads(Exception):
    """The user has as many unfinished uploads as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You have {limit} unfinished uploads, the most allowed at once. Finish one, or remove "
            "one (tus termination), before starting another."
        )
        self.limit = limit


class _Slots:
    """Each user's numbered slots for unfinished uploads: ``_id`` lookups and inserts only."""

    # a slot taken this recently may belong to an upload being created right now
    _SETTLING = timedelta(minutes=1)

    def __init__(self, database: AsyncDatabase[Document], uploads: AsyncCollection[Document], limit: int) -> None:
        self._slots = database["upload_slots"]
        self._uploads = uploads
        self._limit = limit

    def _ids(self, owner_id: str) -> list[str]:
        return [f"{owner_id}:{n}" for n in range(self._limit)]

    async def take(self, owner_id: str, upload_id: str) -> str:
        """A free slot of ``owner_id``'s, now held by ``upload_id``; ``TooManyUploads`` if none is."""
        for looked_for_stale in (False, True):
            for slot in self._ids(owner_id):
                with suppress(DuplicateKeyError):
                    await self._slots.insert_one({"_id": slot, "upload_id": upload_id, "taken_at": datetime.now(UTC)})
                    return slot
            if looked_for_stale or not await self._free_stale(owner_id):
                break
        raise TooManyUploads(self._limit)

    async def _free_stale(self, owner_id: str) -> bool:
        freed, settled = False, datetime.now(UTC) - self._SETTLING
        for slot in self._ids(owner_id):
            held = await self._slots.find_one({"_id": slot})
            if held is None or held["taken_at"] > settled:
                continue
            upload = await self._uploads.find_one({"_id": held["upload_id"]}, {"completed_at": 1})
            if upload is None or upload.get("completed_at") is not None:
                await self.give_back(slot, held["upload_id"])
                freed = True
        return freed

    async def give_back(self, slot: str | None, upload_id: str) -> None:
        """Free ``slot`` if ``upload_id`` still holds it (a freed slot may be another's now)."""
        if slot is None:
            return
        held = await self._slots.find_one({"_id": slot}, {"upload_id": 1})
        if held is not None and held["upload_id"] == upload_id:
            await self._slots.delete_one({"_id": slot})


class OffsetMismatch(Exception):
    """The append does not start where the stored bytes end."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"the upload's offset is {offset}")
        self.offset = offset


@dataclass(frozen=True)
class PendingUpload:
    upload_id: UUID
    """Also the id of the job it becomes."""
    owner_id: str
    length: int
    offset: int
    file_id: ObjectId
    chunk_size: int
    filename: str
    content_type: str | None
    options: ConversionOptions
    metadata: str | None
    """The ``Upload-Metadata`` header it was created with, echoed by ``HEAD``."""
    updated_at: datetime
    completed: bool
    slot: str | None = None
    """The owner's slot it holds while unfinished (``None`` for uploads older than slots)."""

    @classmethod
    def from_document(cls, document: Document) -> PendingUpload:
        return cls(
            upload_id=UUID(document["_id"]),
            owner_id=document["owner_id"],
            length=document["length"],
            offset=document["offset"],
            file_id=document["file_id"],
            chunk_size=document["chunk_size"],
            filename=document["filename"],
            content_type=document.get("content_type"),
            options=ConversionOptions.model_validate(document.get("options") or {}),
            metadata=document.get("metadata"),
            updated_at=document["updated_at"],
            completed=document.get("completed_at") is not None,
            slot=document.get("slot"),
        )


class ResumableUploads:
    def __init__(
        self,
        database: AsyncDatabase[Document],
        *,
        is_job: Callable[[UUID], Awaitable[bool]] | None = None,
        chunk_size: int = CHUNK_SIZE,
        record_every_bytes: int = 2 * 1024 * 1024,
        lease_seconds: float = 60.0,
        max_pending: int = 10,
    ) -> None:
        self._uploads = database["uploads"]
        self._slots = _Slots(database, self._uploads, max_pending)
        self._completed = database["completed_uploads"]
        self._is_job = is_job
        self._videos = AsyncBucket(database, VIDEOS)
        self._chunk_size = chunk_size
        self._record_every = record_every_bytes
        self._lease = timedelta(seconds=lease_seconds)
        self._appending: set[UUID] = set()

    async def create(
        self,
        *,
        owner_id: str,
        length: int,
        filename: str,
        content_type: str | None,
        options: ConversionOptions,
        metadata: str | None,
    ) -> PendingUpload:
        """A new pending upload of ``owner_id``'s; ``TooManyUploads`` when they have the most
        unfinished ones allowed."""
        now, upload_id = datetime.now(UTC), str(uuid4())
        slot = await self._slots.take(owner_id, upload_id)
        document: Document = {
            "_id": upload_id,
            "slot": slot,
            "owner_id": owner_id,
            "length": length,
            "offset": 0,
            "file_id": ObjectId(),
            "chunk_size": self._chunk_size,
            "filename": filename,
            "content_type": content_type,
            "options": options.model_dump(mode="json"),
            "metadata": metadata,
            "created_at": now,
            "updated_at": now,
            "lease": None,
            "lease_until": None,
            "completed_at": None,
        }
        try:
            await self._uploads.insert_one(document)
        except BaseException:
            await self._slots.give_back(slot, upload_id)
            raise
        return PendingUpload.from_document(document)

    async def get(self, upload_id: UUID) -> PendingUpload | None:
        document = await self._uploads.find_one({"_id": str(upload_id)})
        if document is None:
            document = await self._completed.find_one({"_id": str(upload_id)})
        return None if document is None else PendingUpload.from_document(document)

    async def append(self, upload: PendingUpload, offset: int, body: AsyncIterator[bytes]) -> int:
        """Store ``body`` at ``offset``; the new offset. What arrived before the client went
        away (``ClientDisconnected``) or the upload's length was passed (``TooLarge``) is kept."""
        if upload.upload_id in self._appending:
            raise UploadBusy
        self._appending.add(upload.upload_id)
        try:
            lease = await self._take_lease(upload.upload_id)
            try:
                return await self._append(upload, offset, body, lease)
            finally:
                await self._uploads.update_one(
                    {"_id": str(upload.upload_id), "lease": lease}, {"$set": {"lease": None, "lease_until": None}}
                )
        finally:
            self._appending.discard(upload.upload_id)

    async def _take_lease(self, upload_id: UUID) -> str:
        lease, now = uuid4().hex, datetime.now(UTC)
        taken = await self._uploads.update_one(
            {"_id": str(upload_id), "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]},
            {"$set": {"lease": lease, "lease_until": now + self._lease}},
        )
        if taken.matched_count == 0:
            raise UploadBusy
        return lease

    async def _record(self, upload_id: UUID, lease: str, offset: int) -> None:
        now = datetime.now(UTC)
        recorded = await self._uploads.update_one(
            {"_id": str(upload_id), "lease": lease},
            {"$set": {"offset": offset, "updated_at": now, "lease_until": now + self._lease}},
        )
        if recorded.matched_count == 0:
            raise UploadBusy  # the lease ran out and another request took the upload over

    async def _append(self, upload: PendingUpload, offset: int, body: AsyncIterator[bytes], lease: str) -> int:
        stored = await self._uploads.find_one({"_id": str(upload.upload_id)}, {"offset": 1})
        if stored is None or stored["offset"] != offset:
            raise OffsetMismatch(stored["offset"] if stored else 0)
        n, within = divmod(offset, upload.chunk_size)
        head = b""
        if within:
            last = await self._videos.chunk(upload.file_id, n)
            if last is None or len(last) < within:
                raise RuntimeError(f"upload {upload.upload_id} lost the bytes before its offset {offset}")
            head = last[:within]

        async def record(stored: int) -> None:
            await self._record(upload.upload_id, lease, stored)

        writer = self._videos.writer(
            upload.file_id,
            chunk_size=upload.chunk_size,
            first_chunk=n,
            head=head,
            batch_bytes=self._record_every,
            on_flush=record,
        )

        async def finish() -> int:
            end = await writer.finish()
            await record(end)
            return end

        try:
            async for data in body:
                await writer.write(data)
        except (ClientDisconnected, TooLarge):
            await finish()  # the client resumes from what arrived
            raise
        return await finish()

    async def store_file(self, upload: PendingUpload, job_id: UUID, owner_id: str) -> StoredVideo:
        """Turn the complete upload's chunks into a GridFS file (again, harmlessly, on a retry)."""
        last_n, last_size = divmod(upload.length - 1, upload.chunk_size)
        last = await self._videos.chunk(upload.file_id, last_n)
        if last is None or len(last) != last_size + 1:
            raise RuntimeError(f"upload {upload.upload_id} lacks its last chunk")
        metadata = {"job_id": str(job_id), "owner_id": owner_id, "content_type": upload.content_type}
        await self._videos.complete(  # again, harmlessly, on a retried completion
            upload.file_id,
            length=upload.length,
            chunk_size=upload.chunk_size,
            filename=upload.filename,
            metadata=metadata,
        )
        return StoredVideo(str(upload.file_id), upload.filename, upload.length, upload.options)

    async def mark_completed(self, upload_id: UUID) -> None:
        """The upload is a job now: its record moves out of the unfinished ones and its slot
        is given back."""
        document = await self._uploads.find_one({"_id": str(upload_id)})
        if document is None:
            return
        document |= {"completed_at": datetime.now(UTC), "lease": None, "lease_until": None}
        with suppress(DuplicateKeyError):
            await self._completed.insert_one(document)
        await self._uploads.delete_one({"_id": str(upload_id)})
        await self._slots.give_back(document.get("slot"), str(upload_id))

    async def terminate(self, upload: PendingUpload) -> None:
        """Remove an unfinished upload for its owner; ``UploadBusy`` while bytes are arriving."""
        if upload.upload_id in self._appending:
            raise UploadBusy
        await self._take_lease(upload.upload_id)  # no other process is appending either
        await self.delete(upload)

    async def delete(self, upload: PendingUpload) -> None:
        """Remove an upload that did not become a job, with its bytes."""
        await self._videos.remove(upload.file_id, chunks=chunk_count(upload.offset, upload.chunk_size))
        await self._uploads.delete_one({"_id": str(upload.upload_id)})
        await self._slots.give_back(upload.slot, str(upload.upload_id))

    async def forget(self, upload_id: UUID) -> None:
        """Drop the record of an upload whose job is being deleted (the job's files go with it)."""
        upload = await self.get(upload_id)
        await asyncio.gather(
            self._uploads.delete_one({"_id": str(upload_id)}), self._completed.delete_one({"_id": str(upload_id)})
        )
        if upload is not None:
            await self._slots.give_back(upload.slot, str(upload_id))

    async def sweep(self, idle: timedelta) -> int:
        """Remove the uploads nobody added to for ``idle`` and never completed; how many.

        One that holds all its bytes and became a job (the gateway stopped between the two)
        is marked completed instead: its bytes are the job's video."""
        now = datetime.now(UTC)
        removed = 0
        async for document in self._uploads.find({}):  # small by design: the unfinished uploads
            lease_until = document.get("lease_until")
            if document["updated_at"] >= now - idle or (lease_until is not None and lease_until >= now):
                continue
            upload = PendingUpload.from_document(document)
            if upload.offset == upload.length and self._is_job is not None and await self._is_job(upload.upload_id):
                await self.mark_completed(upload.upload_id)
                continue
            await self.delete(upload)
            removed += 1
        return removed

    async def sweep_forever(self, interval_seconds: float, *, idle: timedelta) -> None:
        while True:
            try:
                if removed := await self.sweep(idle):
                    log.info("removed %d abandoned uploads", removed)
            except Exception:  # the store may be away; try again next round
                log.exception("sweeping abandoned uploads failed")
            await asyncio.sleep(interval_seconds)
