"""The converter's worker over real GridFS: what it stores, what it announces, and how it
survives duplicates, dead workers, cancellations and deletions."""

from __future__ import annotations

import asyncio
import io
import itertools
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import av
import pytest
from bson import ObjectId
from gridfs import GridFSBucket
from prometheus_client import REGISTRY
from pymongo.database import Database

from common.blobs import VIDEOS, chunk_document, chunk_id
from common.consuming import Postpone
from contracts import (
    ConversionFailed,
    ConversionProgress,
    ConversionStarted,
    Event,
    FailureReason,
    JobCancelled,
    JobDeleted,
    Mp3Converted,
    VideoUploaded,
)
from converter.claims import ConversionClaims
from converter.conversion import convert_stored
from converter.samples import write_sample_video
from converter.storage import MediaStore
from converter.worker import Converter
from tests.faults.media import write_long_video
from tests.integration.conftest import store_file

LONG_SECONDS = 120


class Published(list[Event]):
    async def __call__(self, event: Event) -> None:
        self.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        return [event for event in self if isinstance(event, kind)]

    def outcomes(self) -> list[type[Event]]:
        return [type(e) for e in self if not isinstance(e, ConversionProgress)]


class FailingPublish(Published):
    """Refuses progress reports, as a broker gone away would; everything else goes through."""

    async def __call__(self, event: Event) -> None:
        if isinstance(event, ConversionProgress):
            raise ConnectionError("broker away")
        self.append(event)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Two minutes of audio: with PyAV's encoder, a conversion of a few seconds."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_long_video(path, LONG_SECONDS)
    return path.read_bytes()


def store_video(database: Database, data: bytes) -> str:
    return str(store_file(database, VIDEOS, data))


def uploaded(video_file_id: str) -> VideoUploaded:
    return VideoUploaded(
        job_id=uuid4(),
        owner_id="1",
        owner_email="ada@example.com",
        video_file_id=video_file_id,
        filename="clip.mp4",
        size_bytes=1,
    )


def mp3s_of(database: Database, event: VideoUploaded) -> list[dict]:
    return list(database["mp3s.files"].find({"metadata.job_id": str(event.job_id)}))


def chunks_of(database: Database, file_id: ObjectId | str) -> int:
    return database["mp3s.chunks"].count_documents({"files_id": ObjectId(file_id)})


def converter(database: Database, publish: Published, worker: str = "test:1", **options: object) -> Converter:
    lease = options.pop("lease", timedelta(minutes=2))
    assert isinstance(lease, timedelta)
    return Converter(
        MediaStore(database),
        ConversionClaims(database, lease=lease),
        publish,
        worker,
        poll=timedelta(seconds=0.2),
        **options,  # type: ignore[arg-type]
    )


def counted(result: str) -> float:
    return REGISTRY.get_sample_value("converter_jobs_total", {"result": result}) or 0.0


async def until(predicate, within: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_video_is_converted_once_even_when_delivered_twice(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    path, seconds = sample_video
    event = uploaded(store_video(sync_database, path.read_bytes()))
    published = Published()
    worker = converter(sync_database, published)
    converted_before = counted("converted")

    await worker.handle(event)
    await worker.handle(event)

    assert published.outcomes() == [ConversionStarted, Mp3Converted, Mp3Converted]
    first, second = published.of(Mp3Converted)
    assert isinstance(first, Mp3Converted)
    assert second == first  # announced again as the same event, id included
    assert (first.filename, first.owner_email) == ("clip.mp3", "ada@example.com")
    assert len(mp3s_of(sync_database, event)) == 1
    assert counted("converted") == converted_before + 1
    mp3 = GridFSBucket(sync_database, bucket_name="mp3s").open_download_stream(ObjectId(first.mp3_file_id)).read()
    assert len(mp3) == first.size_bytes
    with av.open(io.BytesIO(mp3)) as container:
        stream = container.streams.audio[0]
        decoded = sum(frame.samples for frame in container.decode(stream)) / stream.sample_rate
    assert abs(decoded - seconds) < 0.1
    assert abs(first.duration_seconds - seconds) < 0.1


async def test_a_failed_conversion_is_announced_and_leaves_no_chunks(sync_database: Database, tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    event = uploaded(store_video(sync_database, silent.read_bytes()))
    published = Published()
    chunks_before = sync_database["mp3s.chunks"].count_documents({})
    failed_before = counted("failed")

    await converter(sync_database, published).handle(event)
    await converter(sync_database, published).handle(event)

    assert published.outcomes() == [ConversionStarted, ConversionFailed, ConversionFailed]
    failed, again = published.of(ConversionFailed)
    assert isinstance(failed, ConversionFailed)
    assert failed.reason is FailureReason.NO_AUDIO_STREAM
    assert again == failed
    assert counted("failed") == failed_before + 1
    assert mp3s_of(sync_database, event) == []
    assert sync_database["mp3s.chunks"].count_documents({}) == chunks_before


async def test_a_missing_video_is_a_failure_not_a_crash(sync_database: Database) -> None:
    published = Published()

    for missing in (str(ObjectId()), "not-an-object-id"):
        await converter(sync_database, published).handle(uploaded(missing))

    reasons = [e.reason for e in published if isinstance(e, ConversionFailed)]
    assert reasons == [FailureReason.SOURCE_MISSING, FailureReason.SOURCE_MISSING]


async def test_progress_is_reported_every_few_seconds_and_a_failed_report_changes_nothing(
    sync_database: Database, long_video: bytes
) -> None:
    event = uploaded(store_video(sync_database, long_video))
    published = Published()
    worker = converter(sync_database, published, engine="pyav", progress_interval=0.5)

    started = time.monotonic()
    await worker.handle(event)
    elapsed = time.monotonic() - started

    reports = published.of(ConversionProgress)
    assert published.outcomes() == [ConversionStarted, Mp3Converted]
    assert 2 <= len(reports) <= elapsed / 0.5 + 1, (len(reports), elapsed)
    percents = [r.percent for r in reports if isinstance(r, ConversionProgress)]
    assert percents == sorted(percents)
    assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(percents))
    totals = [r.total_seconds for r in reports if isinstance(r, ConversionProgress)]
    assert totals == [pytest.approx(LONG_SECONDS, abs=1)] * len(totals)

    refused = FailingPublish()
    again = uploaded(store_video(sync_database, long_video))
    await converter(sync_database, refused, engine="pyav", progress_interval=0.2).handle(again)
    assert refused.outcomes() == [ConversionStarted, Mp3Converted]


async def test_a_job_cancelled_before_it_is_handled_is_never_converted(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    published = Published()
    worker = converter(sync_database, published)
    cancelled_before = counted("cancelled")

    await worker.cancel(JobCancelled(job_id=event.job_id, requested_by="1"))
    await worker.handle(event)
    await worker.handle(event)

    assert published == []
    assert mp3s_of(sync_database, event) == []
    assert counted("cancelled") == cancelled_before + 1


async def test_a_cancellation_consumed_by_another_converter_stops_the_conversion_promptly(
    sync_database: Database, long_video: bytes
) -> None:
    event = uploaded(store_video(sync_database, long_video))
    published, elsewhere = Published(), Published()
    worker = converter(sync_database, published, engine="pyav", progress_interval=0.2)
    other = converter(sync_database, elsewhere, "test:2")
    chunks_before = sync_database["mp3s.chunks"].count_documents({})

    handling = asyncio.create_task(worker.handle(event))
    # cancelled once chunks are being written
    await until(lambda: sync_database["mp3s.chunks"].count_documents({}) > chunks_before)
    assert published.of(ConversionProgress)
    cancelled_at = time.monotonic()
    await other.cancel(JobCancelled(job_id=event.job_id, requested_by="1"))
    await handling
    stopped_after = time.monotonic() - cancelled_at

    # promptly: well before the conversion's end, however busy the machine (no MP3 is stored,
    # below, is what proves it stopped); the time itself is not what this test measures
    assert stopped_after < 20, stopped_after
    assert published.outcomes() == [ConversionStarted]
    assert elsewhere == []
    assert mp3s_of(sync_database, event) == []
    assert sync_database["mp3s.chunks"].count_documents({}) == chunks_before
    await worker.handle(event)  # a repeat changes nothing
    assert published.outcomes() == [ConversionStarted]


async def test_a_deleted_job_loses_the_mp3_it_already_had(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    published = Published()
    worker = converter(sync_database, published)
    await worker.handle(event)
    [converted] = published.of(Mp3Converted)
    assert isinstance(converted, Mp3Converted)

    await worker.cancel(JobDeleted(job_id=event.job_id, requested_by="1"))
    await worker.handle(event)

    assert mp3s_of(sync_database, event) == []
    assert chunks_of(sync_database, converted.mp3_file_id) == 0
    assert published.outcomes() == [ConversionStarted, Mp3Converted]  # nothing announced again


@pytest.mark.parametrize("from_end", [1, 2, 5, 50])
async def test_a_video_missing_a_chunk_near_its_end_fails_and_frees_its_slot(
    sync_database: Database, long_video: bytes, from_end: int
) -> None:
    """A job's video removed while it converts (the job deleted) loses its last chunks: PyAV
    drops the error of such a chunk and reads again, which once waited for good, holding the
    conversion's slot (and, twice over, every slot of the converter)."""
    file_id = store_file(sync_database, VIDEOS, long_video, chunk_size=4096)
    chunks = -(-len(long_video) // 4096)
    sync_database[f"{VIDEOS}.chunks"].delete_one({"_id": chunk_id(file_id, chunks - from_end)})
    event = uploaded(str(file_id))
    published = Published()
    worker = converter(sync_database, published, engine="pyav")

    await asyncio.wait_for(worker.handle(event), timeout=120)

    [failed] = published.of(ConversionFailed)
    assert isinstance(failed, ConversionFailed)
    assert "missing" in failed.message
    assert worker.slots.in_use == 0
    assert mp3s_of(sync_database, event) == []


async def test_a_dead_workers_job_is_taken_over_without_a_redelivery_and_its_chunks_removed(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    lease = timedelta(seconds=0.5)
    claims = ConversionClaims(sync_database, lease=lease)
    # what a worker killed mid-conversion leaves: the job on record, an attempt, some chunks
    claims.record(event)
    dead = claims.claim(event.job_id, "dead:1").attempt
    assert dead is not None
    sync_database["mp3s.chunks"].insert_many(
        [chunk_document(dead.pending_mp3, n, b"\xff" * 1024) for n in range(1, 4)]  # chunk 0 is held back
    )
    published = Published()
    worker = converter(sync_database, published, lease=lease)

    assert await worker.reclaim() == 0  # its lease still runs
    await asyncio.sleep(0.6)
    assert await worker.reclaim() == 1
    await worker.drain()

    assert published.outcomes() == [ConversionStarted, Mp3Converted]
    assert len(mp3s_of(sync_database, event)) == 1
    assert chunks_of(sync_database, dead.pending_mp3) == 0
    assert all(u.job_id != event.job_id for u in claims.unfinished())
    assert await worker.reclaim() == 0


async def test_an_mp3_stored_by_a_worker_that_died_before_announcing_it_is_announced_not_redone(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    lease = timedelta(seconds=0.3)
    claims = ConversionClaims(sync_database, lease=lease)
    claims.record(event)
    dead = claims.claim(event.job_id, "dead:1").attempt
    assert dead is not None
    convert_stored(MediaStore(sync_database), event, dead.pending_mp3)
    await asyncio.sleep(0.4)
    published = Published()

    await converter(sync_database, published, lease=lease).handle(event)

    assert published.outcomes() == [ConversionStarted, Mp3Converted]
    assert published.of(ConversionProgress) == []  # nothing was converted again
    [converted] = published.of(Mp3Converted)
    assert isinstance(converted, Mp3Converted)
    assert converted.mp3_file_id == str(dead.pending_mp3)
    assert len(mp3s_of(sync_database, event)) == 1


async def test_a_stalled_holder_that_lost_its_lease_stops_and_one_mp3_remains(
    sync_database: Database, long_video: bytes
) -> None:
    event = uploaded(store_video(sync_database, long_video))
    lease = timedelta(seconds=4)
    stalled, successor = Published(), Published()
    first = converter(sync_database, stalled, "stalled:1", engine="pyav", lease=lease)
    second = converter(sync_database, successor, "successor:1", lease=lease)
    handling = asyncio.create_task(first.handle(event))
    await until(lambda: bool(stalled.of(ConversionProgress)))
    assert await second.reclaim() == 0  # renewed: it is busy

    # as the store sees a holder that stalled (or lost its connection) past its lease
    deadline = time.monotonic() + 10
    while True:
        sync_database["conversion_attempts"].update_one(
            {"_id": f"{event.job_id}:1"}, {"$set": {"renewed_at": datetime.now(UTC) - 2 * lease}}
        )
        if await second.reclaim() == 1:
            break
        assert time.monotonic() < deadline
    await asyncio.gather(handling, second.drain())

    assert stalled.outcomes() == [ConversionStarted]  # it found out and stopped
    assert successor.outcomes() == [ConversionStarted, Mp3Converted]
    assert len(mp3s_of(sync_database, event)) == 1


async def test_a_delivery_is_let_go_before_a_long_conversion_ends_and_extra_ones_are_postponed(
    sync_database: Database, long_video: bytes, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, long_video))
    published = Published()
    worker = converter(sync_database, published, engine="pyav", conversions=1, hold=timedelta(seconds=0.5))

    started = time.monotonic()
    await worker.handle(event)  # returns (acks) while converting
    assert time.monotonic() - started < 2
    assert worker.running == 1
    with pytest.raises(Postpone):
        await worker.handle(uploaded(store_video(sync_database, sample_video[0].read_bytes())))
    await worker.drain()

    assert published.outcomes() == [ConversionStarted, Mp3Converted]
    assert len(mp3s_of(sync_database, event)) == 1


async def test_conversions_run_side_by_side_and_the_event_loop_stays_free(
    sync_database: Database, long_video: bytes
) -> None:
    events = [uploaded(store_video(sync_database, long_video)) for _ in range(2)]
    published = Published()
    worker = converter(sync_database, published, engine="pyav", conversions=2)
    most_at_once, worst_lag = 0, 0.0

    async def watch() -> None:
        nonlocal most_at_once, worst_lag
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.05)
            worst_lag = max(worst_lag, time.monotonic() - before - 0.05)
            most_at_once = max(most_at_once, worker.running)

    watching = asyncio.create_task(watch())
    await asyncio.gather(*(worker.handle(event) for event in events))
    watching.cancel()

    assert most_at_once == 2
    assert worst_lag < 0.5, worst_lag
    assert published.outcomes().count(Mp3Converted) == 2


async def test_a_converter_shutting_down_gives_its_job_back_for_another_to_take_at_once(
    sync_database: Database, long_video: bytes
) -> None:
    event = uploaded(store_video(sync_database, long_video))
    leaving, staying = Published(), Published()
    first = converter(sync_database, leaving, "leaving:1", engine="pyav")  # a 2-minute lease
    second = converter(sync_database, staying, "staying:1")
    handling = asyncio.create_task(first.handle(event))
    await until(lambda: bool(leaving.of(ConversionProgress)))
    await first.handle(event)  # a repeat while it converts here returns at once

    await first.shutdown()
    await handling
    with pytest.raises(Postpone):
        await first.handle(uploaded(str(ObjectId())))
    assert await second.reclaim() == 1  # no waiting for the lease to run out
    await second.drain()

    assert leaving.outcomes() == [ConversionStarted]
    assert staying.outcomes() == [ConversionStarted, Mp3Converted]
    assert len(mp3s_of(sync_database, event)) == 1


def dead_holder() -> str:
    """The name a converter of this host had that is gone now (its pid exited)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:gone"


async def test_a_redelivered_job_of_a_dead_process_of_this_host_is_taken_over_at_once(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    claims = ConversionClaims(sync_database)  # a 2-minute lease, fresh
    claims.record(event)
    assert claims.claim(event.job_id, dead_holder()).attempt is not None
    published = Published()

    await converter(sync_database, published).handle(event, redelivered=True)

    assert published.outcomes() == [ConversionStarted, Mp3Converted]
    assert len(mp3s_of(sync_database, event)) == 1


async def test_a_redelivered_job_held_elsewhere_is_taken_over_when_the_lease_lapses(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    lease = timedelta(seconds=1)
    claims = ConversionClaims(sync_database, lease=lease)
    claims.record(event)
    assert claims.claim(event.job_id, "another-host:1:x").attempt is not None  # it stops renewing
    published = Published()
    worker = converter(sync_database, published, lease=lease)

    await worker.handle(event, redelivered=True)  # acked: the holder still seems alive
    assert published.outcomes() == []
    await until(lambda: bool(published.of(Mp3Converted)), within=60)  # no sweep ran

    assert published.outcomes() == [ConversionStarted, Mp3Converted]
    await worker.drain()


async def test_a_live_holder_keeps_its_job_when_its_delivery_comes_again(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    lease = timedelta(seconds=1)
    claims = ConversionClaims(sync_database, lease=lease)
    claims.record(event)
    holder = claims.claim(event.job_id, "another-host:1:x").attempt
    assert holder is not None
    published = Published()
    worker = converter(sync_database, published, lease=lease)

    await worker.handle(event, redelivered=True)
    for _ in range(6):  # the holder renews its lease, as a live one does
        await asyncio.sleep(0.25)
        assert claims.renew(holder)
    await asyncio.sleep(0.3)

    assert published.outcomes() == []
    assert not claims.superseded(holder)


async def test_a_retry_waits_the_delay_it_announced_and_no_longer(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    started: list[float] = []

    class BrokerAwayOnce(Published):
        async def __call__(self, published_event: Event) -> None:
            if isinstance(published_event, ConversionStarted):
                started.append(time.monotonic())
                if len(started) == 1:
                    raise ConnectionError("broker away")
            self.append(published_event)

    published = BrokerAwayOnce()
    worker = converter(sync_database, published, retry_delays=(2,))

    await worker.handle(event)  # the attempt breaks off: "next in 2 s"
    await until(lambda: bool(published.of(Mp3Converted)), within=60)  # no sweep ran

    assert len(started) == 2
    assert started[1] - started[0] >= 2
    assert published.outcomes() == [ConversionStarted, Mp3Converted]
    await worker.drain()
