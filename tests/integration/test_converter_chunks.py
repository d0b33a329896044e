"""The converter's GridFS reader and writer on a real server.

Converting fetches each stored chunk at most once, whatever the demuxer seeks; what the
writer stores is a plain GridFS file, whose head (ID3 tag, Xing frame) is completed before
the first chunk is stored.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import av
import pytest
from bson import ObjectId
from gridfs import GridFSBucket
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode
from pymongo import MongoClient, monitoring
from pymongo.database import Database

from common.blobs import MP3S, VIDEOS, Bucket, chunk_id
from contracts import ConversionFailed, ConversionOptions, FailureReason, Mp3Converted, VideoUploaded
from converter.claims import ConversionClaims
from converter.conversion import convert_stored
from converter.samples import write_sample_video
from converter.storage import MediaStore
from converter.transcode import ConversionError
from converter.worker import Converter
from tests.integration.conftest import store_file
from tests.integration.test_converter_worker import Published
from tests.services import Endpoints

CHUNK_SIZE = 4 * 1024  # small chunks, so the video spans dozens and the demuxer's jumps cross many


class ChunkFetches(monitoring.CommandListener):
    """Counts, per chunk number, how often the server sent a ``videos.chunks`` document."""

    def __init__(self) -> None:
        self.times: Counter[int] = Counter()
        self.bytes = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        cursor = event.reply.get("cursor") if event.command_name in ("find", "getMore") else None
        if not cursor or not str(cursor.get("ns", "")).endswith(".videos.chunks"):
            return
        for document in cursor.get("firstBatch", cursor.get("nextBatch", [])):
            self.times[document["n"]] += 1
            self.bytes += len(document["data"])

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def watched_database(endpoints: Endpoints, mongo_database_name: str) -> Iterator[tuple[Database, ChunkFetches]]:
    fetches = ChunkFetches()
    with MongoClient(endpoints.mongo_url, tz_aware=True, event_listeners=[fetches]) as client:
        yield client[mongo_database_name], fetches


@pytest.fixture(scope="module")
def index_at_end(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, float]:
    """An MP4 as PyAV (and ffmpeg, by default) writes it: samples first, the index (moov) last."""
    path = tmp_path_factory.mktemp("chunks") / "index-at-end.mp4"
    seconds = write_sample_video(path, seconds=4.0, width=640, height=360)
    data = path.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0
    return data, seconds


def uploaded(database: Database, data: bytes) -> VideoUploaded:
    video_id = store_file(database, VIDEOS, data, chunk_size=CHUNK_SIZE)
    return VideoUploaded(
        job_id=uuid4(),
        owner_id="1",
        owner_email="ada@example.com",
        video_file_id=str(video_id),
        filename="clip.mp4",
        size_bytes=len(data),
    )


async def test_a_conversion_fetches_each_stored_chunk_at_most_once(
    watched_database: tuple[Database, ChunkFetches], index_at_end: tuple[bytes, float]
) -> None:
    database, fetches = watched_database
    data, seconds = index_at_end
    event = uploaded(database, data)
    chunk_count = -(-len(data) // CHUNK_SIZE)
    published = Published()

    await Converter(MediaStore(database), ConversionClaims(database), published, "test:1").handle(event)

    converted = published[-1]
    assert isinstance(converted, Mp3Converted)
    assert fetches.times, "no chunk fetches were observed"
    assert max(fetches.times.values()) == 1
    assert set(fetches.times) == set(range(chunk_count))
    assert fetches.bytes == len(data)
    mp3 = GridFSBucket(database, bucket_name="mp3s").open_download_stream(ObjectId(converted.mp3_file_id)).read()
    with av.open(io.BytesIO(mp3)) as container:
        stream = container.streams.audio[0]
        assert abs(sum(frame.samples for frame in container.decode(stream)) / stream.sample_rate - seconds) < 0.1


async def test_a_stored_video_missing_a_chunk_fails_for_good(
    sync_database: Database, index_at_end: tuple[bytes, float]
) -> None:
    event = uploaded(sync_database, index_at_end[0])
    sync_database["videos.chunks"].delete_one({"_id": chunk_id(event.video_file_id, 20)})
    published = Published()

    await Converter(MediaStore(sync_database), ConversionClaims(sync_database), published, "test:1").handle(event)

    failed = published[-1]
    assert isinstance(failed, ConversionFailed)
    assert failed.reason is FailureReason.SOURCE_MISSING
    assert "chunk 20" in failed.message
    assert sync_database["mp3s.files"].count_documents({"metadata.job_id": str(event.job_id)}) == 0


def test_the_reader_reads_the_stored_bytes(
    watched_database: tuple[Database, ChunkFetches], index_at_end: tuple[bytes, float]
) -> None:
    database, _ = watched_database
    data, _ = index_at_end
    video_id = store_file(database, VIDEOS, data, chunk_size=CHUNK_SIZE)

    with MediaStore(database).open_video(str(video_id)) as reader:
        head = reader.read(100)
        reader.seek(-5000, 2)
        tail = reader.read()
        reader.seek(100)
        rest = reader.read()
        assert reader.bytes_fetched == len(data)

    assert (head + rest, tail) == (data, data[-5000:])


def test_what_the_writer_stores_is_a_gridfs_file(sync_database: Database) -> None:
    data = bytes(range(256)) * 100
    writer = Bucket(sync_database, MP3S).writer("a.mp3", chunk_size=1000, batch=3)
    for start in range(0, len(data), 777):
        writer.write(data[start : start + 777])

    writer.close({"job_id": "j"})

    stored = GridFSBucket(sync_database, bucket_name="mp3s").open_download_stream(writer.file_id)
    assert stored.read() == data
    assert (stored.filename, stored.length, stored.metadata) == ("a.mp3", len(data), {"job_id": "j"})


def test_an_aborted_write_leaves_nothing(sync_database: Database) -> None:
    writer = Bucket(sync_database, MP3S).writer("b.mp3", chunk_size=1000, batch=2)
    writer.write(bytes(5500))

    writer.abort()

    assert sync_database["mp3s.chunks"].count_documents({"files_id": writer.file_id}) == 0
    assert sync_database["mp3s.files"].count_documents({"_id": writer.file_id}) == 0


def test_the_writer_rewrites_its_first_chunk_before_storing_it(sync_database: Database) -> None:
    data = bytearray(bytes(range(256)) * 20)
    writer = Bucket(sync_database, MP3S).writer("c.mp3", chunk_size=1000, batch=2)
    writer.write(bytes(data[:300]))
    writer.rewrite(10, b"early")  # while the first chunk is still being filled
    writer.write(bytes(data[300:]))
    writer.rewrite(990, b"late!")  # after it is complete, chunks after it already stored
    data[10:15], data[990:995] = b"early", b"late!"

    with pytest.raises(ValueError, match="first chunk"):
        writer.rewrite(998, b"across")
    writer.close({})

    assert GridFSBucket(sync_database, bucket_name="mp3s").open_download_stream(writer.file_id).read() == data


def test_a_stored_mp3_has_its_tags_and_a_xing_frame_that_states_its_length(
    sync_database: Database, index_at_end: tuple[bytes, float]
) -> None:
    data, seconds = index_at_end
    event = uploaded(sync_database, data).model_copy(
        update={"filename": "Trip to Lyon.mp4", "options": ConversionOptions(vbr_quality=2)}
    )
    mp3_id = ObjectId()

    converted = convert_stored(MediaStore(sync_database), event, mp3_id)

    stored = GridFSBucket(sync_database, bucket_name="mp3s").open_download_stream(mp3_id).read()
    assert (converted.mp3.size_bytes, converted.method) == (len(stored), "system")
    tag = ID3(io.BytesIO(stored))
    assert (tag.version, str(tag["TIT2"])) == ((2, 3, 0), "Trip to Lyon")
    info = MP3(io.BytesIO(stored)).info
    assert info.bitrate_mode == BitrateMode.VBR
    assert abs(info.length - seconds) <= 1152 / 44_100  # only the Xing frame can tell a VBR file's length
    assert stored[len(tag_bytes(stored)) + 4 + 32 :][:4] == b"Xing"


def test_a_stored_mp3_has_the_cover_and_chapters_within_its_first_chunk(
    sync_database: Database, tmp_path: Path
) -> None:
    source = tmp_path / "talk.mp4"
    seconds = write_sample_video(
        source, seconds=4.0, width=640, height=360, cover=(1024, 768), chapters=[(0.0, "Intro"), (2.5, "Questions")]
    )
    event = uploaded(sync_database, source.read_bytes()).model_copy(
        update={"options": ConversionOptions(start_seconds=0.5)}
    )
    mp3_id = ObjectId()

    convert_stored(MediaStore(sync_database), event, mp3_id)

    chunks = sync_database["mp3s.chunks"].find({"files_id": mp3_id}).sort("n", 1)
    first = next(chunks)["data"]
    head = tag_bytes(first)
    assert len(head) < len(first)  # the whole tag (and the Xing frame after it) in the first chunk
    tag = ID3(io.BytesIO(head))
    (cover,) = tag.getall("APIC")
    with av.open(io.BytesIO(cover.data), format="image2pipe") as picture:
        frame = next(picture.decode(video=0))
        assert (frame.width, frame.height) == (600, 450)
    assert [(c.start_time, c.end_time, str(c.sub_frames["TIT2"])) for c in tag.getall("CHAP")] == [
        (0, 2000, "Intro"),
        (2000, 3500, "Questions"),
    ]
    stored = GridFSBucket(sync_database, bucket_name="mp3s").open_download_stream(mp3_id).read()
    assert abs(MP3(io.BytesIO(stored)).info.length - (seconds - 0.5)) <= 1152 / 44_100


def test_a_stored_video_without_a_cover_gets_a_frame_and_its_whole_audio(
    watched_database: tuple[Database, ChunkFetches], index_at_end: tuple[bytes, float]
) -> None:
    database, fetches = watched_database
    data, seconds = index_at_end
    mp3_id = ObjectId()

    convert_stored(MediaStore(database), uploaded(database, data), mp3_id)

    stored = GridFSBucket(database, bucket_name="mp3s").open_download_stream(mp3_id).read()
    (cover,) = ID3(io.BytesIO(stored)).getall("APIC")
    with av.open(io.BytesIO(cover.data), format="image2pipe") as picture:
        frame = next(picture.decode(video=0))
        assert (frame.width, frame.height) == (600, 338)
    with av.open(io.BytesIO(stored)) as container:
        stream = container.streams.audio[0]
        assert abs(sum(f.samples for f in container.decode(stream)) / stream.sample_rate - seconds) <= 1152 / 44_100
    assert max(fetches.times.values()) == 1  # the frame and the audio: each chunk fetched once


def tag_bytes(mp3: bytes) -> bytes:
    """The ID3v2 tag at the start of ``mp3`` (its size is four 7-bit bytes after the header)."""
    size = mp3[6] << 21 | mp3[7] << 14 | mp3[8] << 7 | mp3[9]
    return mp3[: 10 + size]


def test_a_stored_video_cut_short_fails_as_truncated(sync_database: Database, tmp_path: Path) -> None:
    path = tmp_path / "faststart.mp4"
    write_sample_video(path, seconds=10.0, width=64, height=48, faststart=True)
    data = path.read_bytes()
    event = uploaded(sync_database, data[: len(data) // 2])
    mp3_id = ObjectId()

    with pytest.raises(ConversionError) as raised:
        convert_stored(MediaStore(sync_database), event, mp3_id)

    assert raised.value.reason is FailureReason.TRUNCATED_INPUT
    assert sync_database["mp3s.chunks"].count_documents({"files_id": mp3_id}) == 0
    assert sync_database["mp3s.files"].count_documents({"_id": mp3_id}) == 0
