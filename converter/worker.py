"""What the converter does with a job: claim it, convert it under a lease, announce one outcome.

Delivery and conversion are decoupled, because a conversion can outlast RabbitMQ's
``consumer_timeout`` (30 min by default; it closes the channel of a delivery left unacked that
long, and a per-queue ``x-consumer-timeout`` needs RabbitMQ 3.12, this one is 3.10):

- A delivery first waits for a free conversion slot (``conversions`` per process, the
  prefetch matches). If none frees up within ``hold`` it is postponed: sent round through
  the shortest retry queue, uncounted, and acked.
- The job is then put on record with its whole ``VideoUploaded`` and claimed (see
  ``converter.claims``). From here the delivery is not needed any more: it is acked when the
  conversion ends or after ``hold`` (10 min), whichever comes first. Holding it that long
  keeps the broker's prefetch a real limit for ordinary jobs; acking after ``hold`` keeps a
  long one clear of the timeout.
- A job on record is finished by whoever holds its attempt. If that worker dies, the job is
  taken over as soon as that is known: a delivery the broker hands out again (the dead
  worker's, unacked) whose holder is a dead process of this host is taken at once, else as
  soon as the holder's short lease lapses (``_retake_later``); every converter's sweep
  (``reclaim``, every few seconds) takes over what no message covers. Transient failures
  (storage away) release the attempt with a backoff, and this process takes the job again
  when that delay is over (the sweep, if it died meanwhile); after ``max_attempts`` the job
  fails as ``retries_exhausted``. Jobs taken over or retried go before new deliveries for
  the next free slot (``converter.slots``).
- Heavy jobs (``normalize``) run in a lane of their own: at most ``heavy_conversions`` at
  once, so light jobs always find a slot beside them.

While converting, the attempt's lease is renewed (a heartbeat every fifth of the lease) and
the job's cancellation record polled every ``poll`` seconds; the progress callback stops the
conversion (raising in its thread) once the job is cancelled, taken over, or the process
shuts down. Progress reports are handed to the event loop without waiting; one that fails
is only logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from bson import ObjectId

from common.consuming import Postpone
from common.limits import MediaLimits
from contracts import (
    ConversionFailed,
    ConversionProgress,
    ConversionStarted,
    Event,
    EventAdapter,
    FailureReason,
    JobCancelled,
    JobDeleted,
    Mp3Converted,
    Mp3Part,
    VideoUploaded,
)
from contracts.topology import RETRY_DELAYS
from converter.cancellations import Cancellations
from converter.claims import Attempt, Claim, ClaimOutcome, ConversionClaims, Outcome, Result
from converter.conversion import convert_stored
from converter.encoders import Mp3Engine
from converter.holders import holder_gone, worker_name
from converter.metrics import AUDIO_SECONDS, CONVERSION_SECONDS, JOBS, STORAGE_BYTES_READ
from converter.mp3_files import Mp3Files
from converter.progress import ProgressThrottle
from converter.slots import Slot, Slots
from converter.storage import MediaStore, StoredMp3
from converter.transcode import ConversionError

__all__ = ["Converter", "Stop", "StopReason", "is_heavy", "worker_name"]

log = logging.getLogger(__name__)

Publish = Callable[[Event], Coroutine[Any, Any, None]]


def is_heavy(uploaded: VideoUploaded) -> bool:
    """Whether the job runs in the heavy lane: loudness normalization reads the audio twice
    and costs many times a plain conversion's CPU."""
    return uploaded.options.normalize


class StopReason(StrEnum):
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    """The lease ran out (storage away, process stalled) and another worker took the job."""
    SHUTDOWN = "shutdown"


class Stop(Exception):
    """Raised in the conversion's thread to end it early; its chunks are removed on the way out."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass
class _Running:
    attempt: Attempt
    stop: StopReason | None = None
    """Set on the event loop, read by the conversion thread (one attribute: no lock needed)."""
    reporting: concurrent.futures.Future[None] | None = field(default=None, repr=False)

    def request_stop(self, reason: StopReason) -> None:
        if self.stop is None or reason is StopReason.CANCELLED:
            self.stop = reason


class Converter:
    def __init__(
        self,
        store: MediaStore,
        claims: ConversionClaims,
        publish: Publish,
        worker: str,
        *,
        cancellations: Cancellations | None = None,
        mp3s: Mp3Files | None = None,
        engine: Mp3Engine = "auto",
        conversions: int = 1,
        heavy_conversions: int | None = None,
        gone: Callable[[str], bool] = holder_gone,
        hold: timedelta = timedelta(minutes=10),
        max_attempts: int = 1 + len(RETRY_DELAYS),
        retry_delays: Sequence[float] = RETRY_DELAYS,
        poll: timedelta = timedelta(seconds=1),
        progress_interval: float = 2.0,
        limits: MediaLimits | None = None,
    ) -> None:
        self._store, self._claims = store, claims
        self._cancellations = cancellations or Cancellations(claims.database)
        self._mp3s = mp3s or Mp3Files(claims.database)
        self._publish, self._worker, self._engine = publish, worker, engine
        self._hold, self._poll = hold.total_seconds(), poll.total_seconds()
        self._max_attempts, self._retry_delays = max_attempts, tuple(retry_delays)
        self._progress_interval = progress_interval
        self._limits = limits or MediaLimits()
        self._conversions = conversions
        self._slots = Slots(conversions, heavy_conversions)
        self._gone = gone
        self._running: dict[UUID, _Running] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._retakes: dict[UUID, asyncio.Task[None]] = {}
        self._closing = False

    @property
    def heavy_conversions(self) -> int:
        """How many heavy conversions run here at once, at most."""
        return self._slots.heavy_limit

    @property
    def slots(self) -> Slots:
        """This process's conversion slots (their use is exported as metrics)."""
        return self._slots

    @property
    def running(self) -> int:
        """Conversions under way in this process."""
        return len(self._running)

    # --- entry points ------------------------------------------------------------------

    async def handle(self, uploaded: VideoUploaded, *, redelivered: bool = False) -> None:
        """Handle a delivered ``VideoUploaded``; returning acks it (see the module's docstring).

        ``redelivered``: the broker hands it out again, its consumer gone without acking it (a
        dead worker's): if another worker still seems to hold the job, look again the moment
        its lease lapses rather than leave the job to the sweep.
        """
        job_id = uploaded.job_id
        if job_id in self._running:
            return  # a repeat of a job converting here: it ends it
        if self._closing:
            raise Postpone("shutting down")
        if (result := await asyncio.to_thread(self._claims.result, job_id)) is not None:
            await self._announce(job_id, result)  # a repeat: say it again, in case nobody did
            return
        try:
            slot = await asyncio.wait_for(self._slots.acquire(heavy=is_heavy(uploaded)), timeout=self._hold)
        except TimeoutError:
            raise Postpone(f"all {self._conversions} conversion slots busy") from None
        try:
            await asyncio.to_thread(self._claims.record, uploaded)
            claim = await asyncio.to_thread(self._claims.claim, job_id, self._worker, self._gone)
        except BaseException:
            slot.release()
            raise
        if claim.outcome is ClaimOutcome.BUSY and redelivered:
            self._retake_later(uploaded)
        task = await self._begin(uploaded, claim, slot)
        if task is not None:
            await asyncio.wait({task}, timeout=self._hold)

    async def reclaim(self) -> int:
        """The sweep: take over jobs on record whose worker died (its lease lapsed, or a dead
        process of this host) or whose retry is due, at most as many as this process has
        slots (each waits for the next free one, before new deliveries); returns how many
        started."""
        started = 0
        for uploaded in await asyncio.to_thread(self._claims.unfinished):
            if self._closing or started >= self._slots.total:
                break
            if uploaded.job_id in self._running or uploaded.job_id in self._retakes:
                continue
            try:
                started += await self._take_over(uploaded)
            except Exception:  # storage or broker away: the next round tries again
                log.exception("could not take over", extra=_ids(uploaded))
        return started

    async def _take_over(self, uploaded: VideoUploaded) -> bool:
        """Claim a job on record if it is free now (settle it if it has its outcome)."""
        job_id = uploaded.job_id
        if job_id in self._running or self._closing:
            return False
        free_at = await asyncio.to_thread(self._claims.free_at, job_id, self._gone)
        if free_at is not None and free_at > datetime.now(UTC):
            return False  # its holder is alive, or its retry is not due yet
        slot = await self._slots.acquire(heavy=is_heavy(uploaded), urgent=True)
        try:
            claim = await asyncio.to_thread(self._claims.claim, job_id, self._worker, self._gone)
        except BaseException:
            slot.release()
            raise
        if claim.attempt is not None and claim.outcome is ClaimOutcome.CONVERT:
            log.info("taking over: attempt %d", claim.attempt.number, extra=_ids(uploaded))
        return await self._begin(uploaded, claim, slot) is not None

    def _retake_later(self, uploaded: VideoUploaded, delay: float | None = None) -> None:
        """Take the job over after ``delay`` seconds (``None``: when its holder's lease or its
        retry time runs out), unless that is planned already."""
        job_id = uploaded.job_id
        if job_id in self._retakes or self._closing:
            return
        task = asyncio.create_task(self._retake(uploaded, delay))
        self._retakes[job_id] = task
        task.add_done_callback(lambda _: self._retakes.pop(job_id, None))

    async def _retake(self, uploaded: VideoUploaded, delay: float | None) -> None:
        try:
            if delay is None:
                free_at = await asyncio.to_thread(self._claims.free_at, uploaded.job_id, self._gone)
                delay = 0.0 if free_at is None else (free_at - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.0, delay) + 0.05)
            await self._take_over(uploaded)
        except Exception:  # storage away: the sweep takes the job over later
            log.exception("could not take over", extra=_ids(uploaded))

    async def cancel(self, event: JobCancelled | JobDeleted) -> None:
        """Record a cancellation or deletion, stop the conversion if it runs here, and for a
        deleted job remove the MP3 it may have got."""
        await asyncio.to_thread(self._cancellations.record, event)
        if (running := self._running.get(event.job_id)) is not None:
            running.request_stop(StopReason.CANCELLED)
        if isinstance(event, JobDeleted):
            await asyncio.to_thread(self._remove_mp3s_of, event.job_id)

    async def drain(self) -> None:
        """Wait until no conversion runs here (tests; a delivery may be acked before that)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def shutdown(self) -> None:
        """Stop every conversion and give its attempt back, so another worker resumes at once."""
        self._closing = True
        for retake in list(self._retakes.values()):
            retake.cancel()
        for running in self._running.values():
            running.request_stop(StopReason.SHUTDOWN)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=20.0)

    # --- one attempt -------------------------------------------------------------------

    async def _begin(self, uploaded: VideoUploaded, claim: Claim, slot: Slot) -> asyncio.Task[None] | None:
        """Start the conversion ``claim`` allows (it owns ``slot``), or settle the job."""
        if claim.outcome is ClaimOutcome.CONVERT and claim.attempt is not None:
            task = asyncio.create_task(self._run(uploaded, claim.attempt, slot))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return task
        slot.release()
        if claim.outcome is ClaimOutcome.DONE and claim.result is not None:
            await self._settle(uploaded.job_id, claim.result, claim.leftover_mp3s)
        return None

    async def _run(self, uploaded: VideoUploaded, attempt: Attempt, slot: Slot) -> None:
        running = self._running[uploaded.job_id] = _Running(attempt)
        try:
            result = await self._outcome(uploaded, running)
            if result is not None:
                await self._end(uploaded.job_id, attempt, result)
        except Exception as error:  # storage or broker away: try again later, elsewhere maybe
            JOBS.labels("retried").inc()
            delay = self._retry_delays[min(attempt.number, len(self._retry_delays)) - 1] if self._retry_delays else 0
            log.warning("attempt %d broke off, next in %g s: %r", attempt.number, delay, error, extra=_ids(uploaded))
            with suppress(Exception):  # if storage is away, the lease runs out instead
                await asyncio.to_thread(self._claims.release, attempt, datetime.now(UTC) + timedelta(seconds=delay))
            # the delay observed is the one said: this process takes the job again then
            self._retake_later(uploaded, delay)
        finally:
            del self._running[uploaded.job_id]
            slot.release()

    async def _outcome(self, uploaded: VideoUploaded, running: _Running) -> Result | None:
        """Convert (or adopt an earlier attempt's finished MP3); ``None``: not this worker's to end."""
        job_id, attempt = uploaded.job_id, running.attempt
        if await asyncio.to_thread(self._cancellations.find, job_id) is not None:
            return Result(Outcome.CANCELLED, None)
        if attempt.number > self._max_attempts:
            return _failed(
                job_id,
                FailureReason.RETRIES_EXHAUSTED,
                f"gave up after {attempt.number - 1} attempts (workers died or storage stayed away)",
            )
        await self._publish(ConversionStarted(job_id=job_id, worker=self._worker))
        try:
            stored = await asyncio.to_thread(self._finished_earlier, attempt)
            if stored is None:
                stored = await self._convert(uploaded, running)
        except ConversionError as error:
            log.warning("failed: %s", error.message, extra=_ids(uploaded))
            return _failed(job_id, error.reason, error.message)
        except Stop as stop:
            return await self._stopped(uploaded, attempt, stop.reason)
        if running.stop is StopReason.CANCELLED:
            return Result(Outcome.CANCELLED, None)
        return _converted(uploaded, stored)

    async def _stopped(self, uploaded: VideoUploaded, attempt: Attempt, reason: StopReason) -> Result | None:
        log.info("conversion stopped: %s", reason, extra=_ids(uploaded))
        if reason is StopReason.CANCELLED:
            return Result(Outcome.CANCELLED, None)
        if reason is StopReason.SHUTDOWN:
            await asyncio.to_thread(self._claims.release, attempt, datetime.now(UTC))
        return None  # superseded: the job is the new holder's

    def _finished_earlier(self, attempt: Attempt) -> StoredMp3 | None:
        """A complete MP3 an earlier attempt stored before dying unannounced (newest first)."""
        for file_id in reversed(attempt.earlier_mp3s):
            if (stored := self._mp3s.find(file_id)) is not None:
                return stored
        return None

    async def _convert(self, uploaded: VideoUploaded, running: _Running) -> StoredMp3:
        loop = asyncio.get_running_loop()

        def send(event: ConversionProgress) -> None:
            # the conversion's thread: hand it over, never wait; skip while one is in flight
            if running.reporting is not None and not running.reporting.done():
                return
            running.reporting = asyncio.run_coroutine_threadsafe(self._publish(event), loop)
            running.reporting.add_done_callback(_log_failed_report)

        throttle = ProgressThrottle(uploaded.job_id, send, min_interval=self._progress_interval)

        def progress(done_seconds: float, total_seconds: float | None) -> None:
            if running.stop is not None:
                raise Stop(running.stop)
            throttle(done_seconds, total_seconds)

        watching = asyncio.create_task(self._watch(running))
        started = time.monotonic()
        try:
            converted = await asyncio.to_thread(
                convert_stored,
                self._store,
                uploaded,
                running.attempt.pending_mp3,
                engine=self._engine,
                progress=progress,
                limits=self._limits,
            )
        finally:
            watching.cancel()
        CONVERSION_SECONDS.observe(time.monotonic() - started)
        AUDIO_SECONDS.inc(converted.mp3.duration_seconds)
        STORAGE_BYTES_READ.inc(converted.bytes_read)
        return converted.mp3

    async def _watch(self, running: _Running) -> None:
        """Renew the lease (a heartbeat every fifth of it) and look for a cancellation (every ``poll``)."""
        attempt = running.attempt
        renew_every = self._claims.lease.total_seconds() / 5
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(min(self._poll, renew_every))
            try:
                if await asyncio.to_thread(self._cancellations.find, attempt.job_id) is not None:
                    running.request_stop(StopReason.CANCELLED)
                if time.monotonic() - renewed >= renew_every:
                    if not await asyncio.to_thread(self._claims.renew, attempt):
                        running.request_stop(StopReason.SUPERSEDED)
                    renewed = time.monotonic()
            except Exception as error:  # storage away: if it stays away, the lease runs out
                log.warning("could not renew the lease: %r", error, extra={"job_id": str(attempt.job_id)})

    # --- the outcome -------------------------------------------------------------------

    async def _end(self, job_id: UUID, attempt: Attempt, result: Result) -> None:
        winner = await asyncio.to_thread(self._claims.finish, job_id, result)
        if winner is result:
            JOBS.labels(result.outcome.value).inc()
        else:
            log.info("another attempt ended the job first (%s)", winner.outcome, extra={"job_id": str(job_id)})
        # this attempt's own chunks are gone already unless its MP3 was stored complete (a
        # conversion that raised removed them): only a stored one needs removing, no scan else
        own = attempt.pending_mp3
        if str(own) != winner.mp3_file_id and await asyncio.to_thread(self._mp3s.find, own) is None:
            await asyncio.to_thread(self._claims.cleaned, job_id, (own,))
            await self._settle(job_id, winner, attempt.earlier_mp3s)
        else:
            await self._settle(job_id, winner, (*attempt.earlier_mp3s, own))

    async def _settle(self, job_id: UUID, result: Result, leftovers: Sequence[ObjectId]) -> None:
        """Announce the outcome, remove every attempt's file but the job's MP3, forget the job.

        Leftovers are removed only once the outcome is final: before, a stalled holder might
        still store (and win with) the file an impatient successor would remove. And only after
        the announcement, which they need not hold up (each removal deletes its chunks by their
        computed ids). Cut short, all of it is done again (the job stays on record until
        forgotten), the announcement with the same event id.
        """
        await self._announce(job_id, result)
        doomed = [file_id for file_id in leftovers if str(file_id) != result.mp3_file_id]
        if doomed:
            await asyncio.to_thread(self._mp3s.remove, doomed)
        if leftovers:
            await asyncio.to_thread(self._claims.cleaned, job_id, tuple(leftovers))
        await asyncio.to_thread(self._claims.forget, job_id)

    async def _announce(self, job_id: UUID, result: Result) -> None:
        """Publish the outcome's event (again), unless the job was cancelled or deleted
        meanwhile: then its MP3 goes instead, and nobody is told it is ready."""
        if await asyncio.to_thread(self._cancellations.find, job_id) is not None:
            if result.mp3_file_id is not None:
                await asyncio.to_thread(self._mp3s.remove, [result.mp3_file_id])
            return
        if result.event is not None:
            await self._publish(EventAdapter.validate_python(result.event))

    def _remove_mp3s_of(self, job_id: UUID) -> None:
        # every MP3 a converter may have written for the job is on record before its first chunk
        self._mp3s.remove(self._claims.mp3s_of(job_id))


def _converted(uploaded: VideoUploaded, stored: StoredMp3) -> Result:
    event = Mp3Converted(
        job_id=uploaded.job_id,
        owner_id=uploaded.owner_id,
        owner_email=uploaded.owner_email,
        mp3_file_id=stored.file_id,
        filename=stored.filename,
        size_bytes=stored.size_bytes,
        duration_seconds=stored.duration_seconds,
        parts=[
            Mp3Part(
                number=part.number,
                file_id=part.file_id,
                filename=part.filename,
                title=part.title,
                start_seconds=part.start_seconds,
                duration_seconds=part.duration_seconds,
                size_bytes=part.size_bytes,
            )
            for part in stored.parts
        ],
    )
    return Result(Outcome.CONVERTED, event.model_dump(mode="json"), stored.file_id)


def _failed(job_id: UUID, reason: FailureReason, message: str) -> Result:
    event = ConversionFailed(job_id=job_id, reason=reason, message=message)
    return Result(Outcome.FAILED, event.model_dump(mode="json"))


def _ids(uploaded: VideoUploaded) -> dict[str, str]:
    return {"job_id": str(uploaded.job_id), "event_id": str(uploaded.event_id)}


def _log_failed_report(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.warning("a progress report was not published: %r", error)
