"""Receive an upload: stream the multipart body's file part straight into GridFS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from gridfs import AsyncGridFSBucket
from gridfs.asynchronous.grid_file import AsyncGridIn
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from common.mongo import Document
from contracts import ConversionOptions
from gateway.filenames import sanitize_filename
from gateway.multipart import PartEnd, PartStart

__all__ = ["InvalidUpload", "StoredVideo", "VideoStore"]

_FIELD_LIMIT = 1024
_FILE_FIELD = "file"


class InvalidUpload(ValueError):
    """The upload is well-formed HTTP but not an acceptable job: a 4xx for the client."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


@dataclass(frozen=True)
class StoredVideo:
    file_id: str
    filename: str
    size_bytes: int
    options: ConversionOptions


class VideoStore:
    """Uploaded videos, in the ``videos`` GridFS bucket, tagged with their job and owner."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._bucket = AsyncGridFSBucket(database, bucket_name="videos")

    async def receive(
        self, parts: AsyncIterator[PartStart | bytes | PartEnd], *, job_id: UUID, owner_id: str
    ) -> StoredVideo:
        """Store the ``file`` part and read the option fields; nothing is kept if this fails."""
        writer: AsyncGridIn | None = None
        fields: dict[str, bytearray] = {}
        current: bytearray | None = None
        size = 0
        try:
            async for item in parts:
                match item:
                    case PartStart(name=name) if name == _FILE_FIELD:
                        if writer is not None:
                            raise InvalidUpload("send exactly one file part")
                        filename = sanitize_filename(item.filename)
                        writer = self._bucket.open_upload_stream(
                            filename,
                            metadata={"job_id": str(job_id), "owner_id": owner_id, "content_type": item.content_type},
                        )
                        current = None
                    case PartStart(name=name):
                        current = fields.setdefault(name, bytearray())
                    case bytes() if current is not None:
                        current.extend(item)
                        if len(current) > _FIELD_LIMIT:
                            raise InvalidUpload(f"form fields are limited to {_FIELD_LIMIT} bytes")
                    case bytes() if writer is not None:
                        await writer.write(item)
                        size += len(item)
                    case PartEnd():
                        current = None
            if writer is None:
                raise InvalidUpload(f"the form needs a '{_FILE_FIELD}' part holding the video")
            if size == 0:
                raise InvalidUpload("the uploaded file is empty")
            options = _options(fields)
            await writer.close()
        except BaseException:
            if writer is not None:
                await _discard(self._bucket, writer)
            raise
        return StoredVideo(str(writer._id), writer.filename or "video", size, options)


def _options(fields: dict[str, bytearray]) -> ConversionOptions:
    values = {name: value.decode("utf-8", "replace") for name, value in fields.items()}
    try:
        return ConversionOptions.model_validate(values, strict=False)
    except ValidationError as error:
        raise InvalidUpload(
            "invalid conversion options",
            [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in error.errors()],
        ) from None


async def _discard(bucket: AsyncGridFSBucket, writer: AsyncGridIn) -> None:
    if writer.closed:
        await bucket.delete(writer._id)
    else:
        await writer.abort()
