"""Receive an upload: stream the multipart body's file part straight into GridFS chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from bson import ObjectId
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from common.blobs import CHUNK_SIZE, VIDEOS, AsyncBucket, AsyncChunkWriter
from common.mongo import Document
from contracts import ConversionOptions
from contracts.option_words import option_problem
from gateway.body import TooLarge
from gateway.filenames import sanitize_filename
from gateway.multipart import PartEnd, PartStart
from gateway.unsettled import UnsettledUploads
from gateway.wording import too_large

__all__ = ["InvalidUpload", "StoredVideo", "VideoStore", "options_from_fields"]

_FIELD_LIMIT = 1024
_FILE_FIELD = "file"
_CALLBACK_FIELD = "callback_url"


class InvalidUpload(ValueError):
    """The upload is well-formed HTTP but not an acceptable job: a 4xx for the client."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.errors = errors or ([{"field": field, "message": message, "source": "body"}] if field else [])


@dataclass(frozen=True)
class StoredVideo:
    file_id: str
    filename: str
    size_bytes: int
    options: ConversionOptions
    callback_url: str | None = None
    """Unchecked as sent: ``create_job`` checks it."""


class VideoStore:
    """Uploaded videos, in the ``videos`` GridFS bucket, tagged with their job and owner."""

    def __init__(self, database: AsyncDatabase[Document], unsettled: UnsettledUploads | None = None) -> None:
        self._videos = AsyncBucket(database, VIDEOS)
        self.unsettled = unsettled or UnsettledUploads(database)
        """Its uploads being written, which the gateway's sweep watches (``gateway.unsettled``)."""

    async def receive(
        self, parts: AsyncIterator[PartStart | bytes | PartEnd], *, job_id: UUID, owner_id: str, max_bytes: int
    ) -> StoredVideo:
        """Store the ``file`` part and read the option fields; nothing is kept if this fails
        (``TooLarge`` once the file passes ``max_bytes``). The upload stays on record as
        unsettled until ``settle`` (it became a job) or ``delete``: a gateway killed before
        either leaves it to the sweep (``gateway.unsettled``)."""
        file_id = ObjectId()
        writer: AsyncChunkWriter | None = None
        filename, content_type = "video", None
        fields: dict[str, bytearray] = {}
        current: bytearray | None = None
        size = 0
        try:
            async for item in parts:
                match item:
                    case PartStart(name=name) if name == _FILE_FIELD:
                        if writer is not None:
                            raise InvalidUpload("Send one video per upload.", field=_FILE_FIELD)
                        filename, content_type = sanitize_filename(item.filename), item.content_type
                        await self.unsettled.begin(file_id, job_id)
                        writer = self._videos.writer(
                            file_id, on_flush=lambda stored: self.unsettled.touch(file_id, stored)
                        )
                        current = None
                    case PartStart(name=name):
                        current = fields.setdefault(name, bytearray())
                    case bytes() if current is not None:
                        current.extend(item)
                        if len(current) > _FIELD_LIMIT:
                            raise InvalidUpload(f"A form field holds at most {_FIELD_LIMIT} bytes.", field=name)
                    case bytes() if writer is not None:
                        size = _within(size + len(item), max_bytes)
                        await writer.write(item)
                    case PartEnd():
                        current = None
            if writer is None:
                raise InvalidUpload(
                    "The upload holds no video: attach the file as the form's file part.", field=_FILE_FIELD
                )
            if size == 0:
                raise InvalidUpload("The file is empty (0 bytes): choose the video itself.", field=_FILE_FIELD)
            callback = fields.pop(_CALLBACK_FIELD, None)
            options = options_from_fields(fields)
            metadata = {"job_id": str(job_id), "owner_id": owner_id, "content_type": content_type}
            await writer.finish()
            await self._videos.complete(
                file_id, length=size, chunk_size=CHUNK_SIZE, filename=filename, metadata=metadata
            )
        except BaseException:
            if writer is not None:
                await self._videos.remove(file_id, chunks=writer.chunks_started)
                await self.unsettled.settle(file_id)
            raise
        callback_url = None if callback is None else bytes(callback).decode("utf-8", "replace")
        return StoredVideo(str(file_id), filename, size, options, callback_url or None)

    async def delete(self, file_id: str) -> None:
        """Remove a stored video; gone already is fine."""
        await self._videos.remove(ObjectId(file_id))
        await self.unsettled.settle(file_id)

    async def settle(self, file_id: str) -> None:
        """The stored video is a job's now: the sweep must leave it alone."""
        await self.unsettled.settle(file_id)


def _within(size: int, max_bytes: int) -> int:
    if size > max_bytes:
        raise TooLarge(too_large(max_bytes))
    return size


def options_from_fields(fields: Mapping[str, bytes | bytearray], *, source: str = "body") -> ConversionOptions:
    """The conversion options sent as form fields (or tus metadata); ``InvalidUpload`` if wrong."""
    values = {name: bytes(value).decode("utf-8", "replace") for name, value in fields.items()}
    try:
        return ConversionOptions.model_validate(values, strict=False)
    except ValidationError as error:
        raise InvalidUpload(*option_problem(error, source=source)) from None
