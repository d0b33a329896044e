"""A job split per chapter on a real store: the MP3 and one file per chapter, within the
job's output limit, and every removal of the MP3 takes its parts along."""

from __future__ import annotations

import io
from uuid import uuid4

import pytest
from bson import ObjectId
from mutagen.id3 import ID3
from pymongo.database import Database

from common.blobs import MP3S, VIDEOS, Bucket, chunk_id, part_id
from common.limits import MediaLimits
from contracts import ConversionOptions, FailureReason, VideoUploaded
from converter.conversion import convert_stored
from converter.mp3_files import Mp3Files
from converter.samples import write_sample_video
from converter.storage import MediaStore
from converter.transcode import ConversionError
from tests.integration.conftest import store_file
from tests.unit.mp3_facts import decode, frame_seconds

CHAPTERS = [(0.0, "Opening"), (1.2, "Methods: A/B"), (2.6, "Close")]
LENGTHS = [1.2, 1.4, 1.4]


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("split") / "lecture.mp4"
    write_sample_video(path, seconds=4.0, width=64, height=48, chapters=CHAPTERS)
    return path.read_bytes()


def upload(database: Database, data: bytes, **options: object) -> VideoUploaded:
    return VideoUploaded(
        job_id=uuid4(),
        owner_id="user-1",
        owner_email="user@example.com",
        video_file_id=str(store_file(database, VIDEOS, data)),
        filename="lecture.mp4",
        size_bytes=len(data),
        options=ConversionOptions(split_chapters=True, **options),  # type: ignore[arg-type]
    )


def stored_bytes(database: Database, file_id: object) -> bytes:
    bucket = Bucket(database, MP3S)
    stored = bucket.find(file_id)
    assert stored is not None
    with bucket.open(stored) as reader:
        return reader.read()


def leftovers(database: Database, mp3_id: ObjectId) -> list[object]:
    ids: list[object] = [mp3_id, *(part_id(mp3_id, n) for n in range(1, 5))]
    files = [i for i in ids if database["mp3s.files"].find_one({"_id": i}) is not None]
    chunks = [i for i in ids if database["mp3s.chunks"].find_one({"_id": chunk_id(i, 0)}) is not None]
    return files + chunks


def test_a_split_job_stores_one_mp3_per_chapter_beside_the_whole(sync_database: Database, lecture: bytes) -> None:
    job = upload(sync_database, lecture)
    mp3_id = ObjectId()

    converted = convert_stored(MediaStore(sync_database), job, mp3_id)

    parts = converted.mp3.parts
    assert [(p.number, p.title, p.file_id) for p in parts] == [
        (n, title, part_id(mp3_id, n)) for n, (_, title) in enumerate(CHAPTERS, start=1)
    ]
    assert [p.filename for p in parts] == [
        "lecture - 01 Opening.mp3",
        "lecture - 02 Methods_ A_B.mp3",
        "lecture - 03 Close.mp3",
    ]
    for part, (start, _), length in zip(parts, CHAPTERS, LENGTHS, strict=True):
        mp3 = stored_bytes(sync_database, part.file_id)
        assert len(mp3) == part.size_bytes
        assert abs(decode(mp3).seconds - length) <= frame_seconds(44_100)
        assert abs(part.duration_seconds - length) <= frame_seconds(44_100)
        assert part.start_seconds == pytest.approx(start)
        assert str(ID3(io.BytesIO(mp3))["TIT2"]) == part.title
    # found again as a whole (an earlier attempt's finished MP3 is adopted with its parts)
    assert Mp3Files(sync_database).find(mp3_id) == converted.mp3

    Mp3Files(sync_database).remove([mp3_id])

    assert leftovers(sync_database, mp3_id) == []


def test_a_removal_finds_the_parts_of_an_mp3_never_completed(sync_database: Database, lecture: bytes) -> None:
    # a converter that died after two parts: their files are stored, the MP3's is not
    mp3_id = ObjectId()
    bucket = Bucket(sync_database, MP3S)
    for number in (1, 2):
        writer = bucket.writer("part.mp3", file_id=part_id(mp3_id, number))
        writer.write(b"x" * 300_000)
        writer.close({})
    partial = bucket.writer("lecture.mp3", file_id=mp3_id)
    partial.write(b"y" * 600_000)  # chunks 1 and 2 stored, chunk 0 held back

    bucket.remove_with_parts(mp3_id)

    assert leftovers(sync_database, mp3_id) == []
    assert sync_database["mp3s.chunks"].find_one({"_id": chunk_id(mp3_id, 1)}) is None


def test_the_output_limit_counts_every_part(sync_database: Database, lecture: bytes) -> None:
    job = upload(sync_database, lecture)
    mp3_id = ObjectId()
    whole = convert_stored(MediaStore(sync_database), upload(sync_database, lecture), ObjectId()).mp3
    # room for the whole MP3, not for it and its parts
    limits = MediaLimits(max_output_bytes=whole.size_bytes + 10_000)

    with pytest.raises(ConversionError) as refused:
        convert_stored(MediaStore(sync_database), job, mp3_id, limits=limits)

    assert refused.value.reason is FailureReason.OUTPUT_TOO_LARGE
    assert leftovers(sync_database, mp3_id) == []


def test_a_split_conversion_stopped_midway_leaves_no_part(
    sync_database: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("split") / "long.mp4"
    write_sample_video(
        path, seconds=12.0, width=64, height=48, chapters=[(0.0, "A"), (1.0, "B"), (2.0, "C"), (9.0, "D")]
    )
    job = upload(sync_database, path.read_bytes())
    mp3_id = ObjectId()

    class Cancelled(Exception):
        pass

    stored_when_stopped: list[object] = []

    def progress(done: float, total: float | None) -> None:
        if done > 6:  # parts A and B are stored by then (the parts' thread is at most two batches behind)
            stored_when_stopped.extend(leftovers(sync_database, mp3_id))
            raise Cancelled

    with pytest.raises(Cancelled):
        convert_stored(MediaStore(sync_database), job, mp3_id, progress=progress)

    assert part_id(mp3_id, 1) in stored_when_stopped
    assert leftovers(sync_database, mp3_id) == []
