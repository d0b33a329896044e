"""The converter's worker over real GridFS: what it stores and what it announces."""

from __future__ import annotations

import io
from pathlib import Path
from uuid import uuid4

import av
from bson import ObjectId
from gridfs import GridFSBucket
from pymongo.database import Database

from contracts import ConversionFailed, ConversionStarted, Event, FailureReason, Mp3Converted, VideoUploaded
from converter.claims import ConversionClaims
from converter.samples import write_sample_video
from converter.storage import MediaStore
from converter.worker import Converter


class Published(list[Event]):
    async def __call__(self, event: Event) -> None:
        self.append(event)


def store_video(database: Database, data: bytes) -> str:
    return str(GridFSBucket(database, bucket_name="videos").upload_from_stream("in.mp4", io.BytesIO(data)))


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


async def test_a_video_is_converted_once_even_when_delivered_twice(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    path, seconds = sample_video
    event = uploaded(store_video(sync_database, path.read_bytes()))
    published = Published()
    converter = Converter(MediaStore(sync_database), ConversionClaims(sync_database), published, "test:1")

    await converter.handle(event)
    await converter.handle(event)

    assert [type(e) for e in published] == [ConversionStarted, Mp3Converted, Mp3Converted]
    first, second = published[1], published[2]
    assert isinstance(first, Mp3Converted)
    assert isinstance(second, Mp3Converted)
    assert first.mp3_file_id == second.mp3_file_id
    assert (first.filename, first.owner_email) == ("clip.mp3", "ada@example.com")
    assert len(mp3s_of(sync_database, event)) == 1
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

    await Converter(MediaStore(sync_database), ConversionClaims(sync_database), published, "test:1").handle(event)

    assert [type(e) for e in published] == [ConversionStarted, ConversionFailed]
    failed = published[1]
    assert isinstance(failed, ConversionFailed)
    assert failed.reason is FailureReason.NO_AUDIO_STREAM
    assert mp3s_of(sync_database, event) == []
    assert sync_database["mp3s.chunks"].count_documents({}) == chunks_before


async def test_a_missing_video_is_a_failure_not_a_crash(sync_database: Database) -> None:
    published = Published()

    for missing in (str(ObjectId()), "not-an-object-id"):
        await Converter(MediaStore(sync_database), ConversionClaims(sync_database), published, "test:1").handle(
            uploaded(missing)
        )

    reasons = [e.reason for e in published if isinstance(e, ConversionFailed)]
    assert reasons == [FailureReason.SOURCE_MISSING, FailureReason.SOURCE_MISSING]
