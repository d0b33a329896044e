"""What the converter does with one uploaded video."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from bson import ObjectId

from contracts import ConversionFailed, ConversionStarted, Event, Mp3Converted, VideoUploaded
from converter.claims import ClaimOutcome, ConversionClaims
from converter.conversion import convert_stored
from converter.encoders import EngineChoice
from converter.storage import MediaStore, StoredMp3
from converter.transcode import ConversionError

__all__ = ["ConversionInProgress", "Converter", "worker_name"]

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]


class ConversionInProgress(Exception):
    """Another worker holds this job's claim and is converting it; try again later."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Converter:
    """Converts uploaded videos, publishing what happens to each job.

    A job is converted under a claim, so duplicated or redelivered events never convert it
    twice: while it converts they are retried later, afterwards the stored MP3 is announced
    again. The MP3 is stored before ``Mp3Converted`` is published.
    """

    def __init__(
        self,
        store: MediaStore,
        claims: ConversionClaims,
        publish: Publish,
        worker: str,
        *,
        engine: EngineChoice = "auto",
    ) -> None:
        self._store = store
        self._claims = claims
        self._publish = publish
        self._worker = worker
        self._engine = engine

    async def handle(self, uploaded: VideoUploaded) -> None:
        job_id = uploaded.job_id
        outcome = await asyncio.to_thread(self._claims.claim, job_id, self._worker)
        if outcome is ClaimOutcome.BUSY:
            raise ConversionInProgress(str(job_id))
        # a worker that died after storing the MP3 left it behind: announce that one
        stored = await asyncio.to_thread(self._store.find_mp3, job_id)
        if stored is None and outcome is ClaimOutcome.DONE:
            return  # it failed for good before, and said so then
        if stored is None:
            await self._publish(ConversionStarted(job_id=job_id, worker=self._worker))
            try:
                stored = await self._convert_under_claim(uploaded)
            except ConversionError as error:
                await asyncio.to_thread(self._claims.finish, job_id)
                log.warning("job %s failed: %s", job_id, error.message, extra={"job_id": str(job_id)})
                await self._publish(ConversionFailed(job_id=job_id, reason=error.reason, message=error.message))
                return
        await asyncio.to_thread(self._claims.finish, job_id)
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

    async def _convert_under_claim(self, uploaded: VideoUploaded) -> StoredMp3:
        """Convert while renewing the claim; give the claim back if the attempt breaks."""

        async def keep_claim() -> None:
            while True:
                await asyncio.sleep(self._claims.lease.total_seconds() / 4)
                await asyncio.to_thread(self._claims.renew, uploaded.job_id)

        renewing = asyncio.create_task(keep_claim())
        try:
            return await asyncio.to_thread(self._convert, uploaded)
        except ConversionError:
            raise
        except BaseException:
            await asyncio.to_thread(self._claims.release, uploaded.job_id)
            raise
        finally:
            renewing.cancel()

    def _convert(self, uploaded: VideoUploaded) -> StoredMp3:
        return convert_stored(self._store, uploaded, ObjectId(), engine=self._engine).mp3
