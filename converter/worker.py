"""What the converter does with one uploaded video."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import PurePath

from gridfs.errors import CorruptGridFile

from contracts import ConversionFailed, ConversionStarted, Event, FailureReason, Mp3Converted, VideoUploaded
from converter.encoders import EngineChoice
from converter.storage import MediaStore, StoredMp3
from converter.transcode import ConversionError, Sink, transcode

__all__ = ["Converter", "worker_name"]

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Converter:
    """Converts uploaded videos, publishing what happens to each job.

    The MP3 is stored before ``Mp3Converted`` is published; a redelivered job whose MP3 is
    already stored is announced again, not converted twice.
    """

    def __init__(self, store: MediaStore, publish: Publish, worker: str, *, engine: EngineChoice = "auto") -> None:
        self._store = store
        self._publish = publish
        self._worker = worker
        self._engine = engine

    async def handle(self, uploaded: VideoUploaded) -> None:
        stored = await asyncio.to_thread(self._store.find_mp3, uploaded.job_id)
        if stored is None:
            await self._publish(ConversionStarted(job_id=uploaded.job_id, worker=self._worker))
            try:
                stored = await asyncio.to_thread(self._convert, uploaded)
            except ConversionError as error:
                log.warning("job %s failed: %s", uploaded.job_id, error.message, extra={"job_id": str(uploaded.job_id)})
                await self._publish(
                    ConversionFailed(job_id=uploaded.job_id, reason=error.reason, message=error.message)
                )
                return
        await self._publish(
            Mp3Converted(
                job_id=uploaded.job_id,
                owner_id=uploaded.owner_id,
                owner_email=uploaded.owner_email,
                mp3_file_id=stored.file_id,
                filename=stored.filename,
                size_bytes=stored.size_bytes,
                duration_seconds=stored.duration_seconds,
            )
        )

    def _convert(self, uploaded: VideoUploaded) -> StoredMp3:
        with self._store.open_video(uploaded.video_file_id) as source:

            def write(sink: Sink) -> float:
                result = transcode(source, sink, uploaded.options, engine=self._engine)
                log.info(
                    "job %s: %.1f s of audio by %s, %d of %d stored bytes fetched",
                    uploaded.job_id,
                    result.duration_seconds,
                    result.method,
                    source.bytes_fetched,
                    source.length,
                    extra={"job_id": str(uploaded.job_id)},
                )
                return result.duration_seconds

            try:
                return self._store.store_mp3(uploaded.job_id, uploaded.owner_id, mp3_name(uploaded.filename), write)
            except CorruptGridFile as error:
                incomplete = f"the stored video is incomplete: {error}"
                raise ConversionError(FailureReason.SOURCE_MISSING, incomplete) from error


def mp3_name(filename: str) -> str:
    """``holiday.mp4`` becomes ``holiday.mp3``."""
    return f"{PurePath(filename).stem or 'audio'}.mp3"
