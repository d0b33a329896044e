"""The blob store (``common.blobs``) on the real server: what it writes is a GridFS file any
reader reads, ranges are read by computed chunk ids, and removals leave nothing, also when
one was cut short or the file never got its files document."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from bson import ObjectId
from gridfs import AsyncGridFSBucket, GridFSBucket
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from common.blobs import MP3S, VIDEOS, AsyncBucket, Bucket, CorruptFile, chunk_id

CHUNK = 1000


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in chunks])


async def stored(bucket: AsyncBucket, data: bytes) -> ObjectId:
    file_id = ObjectId()
    writer = bucket.writer(file_id, chunk_size=CHUNK, batch_bytes=3 * CHUNK)
    for start in range(0, len(data), 700):
        await writer.write(data[start : start + 700])
    await writer.finish()
    await bucket.complete(file_id, length=len(data), chunk_size=CHUNK, filename="a.bin", metadata={"k": 1})
    return file_id


async def chunks_of(database: AsyncDatabase, bucket: str, file_id: ObjectId) -> int:
    return await database[f"{bucket}.chunks"].count_documents({"files_id": file_id})


async def test_a_written_file_is_a_gridfs_file_with_computed_chunk_ids(mongo_database: AsyncDatabase) -> None:
    data = os.urandom(5 * CHUNK + 17)
    file_id = await stored(AsyncBucket(mongo_database, VIDEOS), data)

    download = await AsyncGridFSBucket(mongo_database, bucket_name=VIDEOS).open_download_stream(file_id)
    assert await download.read() == data
    ids = [c["_id"] async for c in mongo_database["videos.chunks"].find({"files_id": file_id}, {"_id": 1})]
    assert sorted(ids) == [chunk_id(file_id, n) for n in range(6)]


@pytest.mark.parametrize(("start", "end"), [(0, 1), (0, 5017), (999, 1001), (4000, 5017), (5016, 5017), (1500, 3500)])
async def test_ranges_read_the_stored_bytes(mongo_database: AsyncDatabase, start: int, end: int) -> None:
    data = os.urandom(5 * CHUNK + 17)
    videos = AsyncBucket(mongo_database, VIDEOS)
    file = await videos.find(await stored(videos, data))
    assert file is not None

    assert await collect(videos.read(file, start, end)) == data[start:end]


async def test_a_missing_chunk_fails_the_read(mongo_database: AsyncDatabase) -> None:
    videos = AsyncBucket(mongo_database, VIDEOS)
    file = await videos.find(await stored(videos, os.urandom(4 * CHUNK)))
    assert file is not None
    await mongo_database["videos.chunks"].delete_one({"_id": chunk_id(file.file_id, 2)})

    with pytest.raises(CorruptFile, match="chunk 2"):
        await collect(videos.read(file, 0, 4 * CHUNK))


async def test_a_removal_cut_short_is_finished_by_the_next(mongo_database: AsyncDatabase) -> None:
    videos = AsyncBucket(mongo_database, VIDEOS)
    file_id = await stored(videos, os.urandom(150 * CHUNK))
    # what a removal that died halfway leaves: the first chunks gone, the rest and the files document there
    chunks = mongo_database["videos.chunks"]
    for n in range(80):
        await chunks.delete_one({"_id": chunk_id(file_id, n)})

    await videos.remove(file_id)

    assert await chunks_of(mongo_database, VIDEOS, file_id) == 0
    assert await videos.find(file_id) is None


async def test_a_write_cut_short_is_removed_past_what_was_recorded(mongo_database: AsyncDatabase) -> None:
    videos, file_id = AsyncBucket(mongo_database, VIDEOS), ObjectId()
    writer = videos.writer(file_id, chunk_size=CHUNK)
    await writer.write(os.urandom(90 * CHUNK + 5))
    await writer.finish()  # no files document: the upload never completed

    await videos.remove(file_id, chunks=10)  # it only recorded 10 chunks

    assert await chunks_of(mongo_database, VIDEOS, file_id) == 0


async def test_removing_leaves_other_files_alone(mongo_database: AsyncDatabase) -> None:
    mp3s = AsyncBucket(mongo_database, MP3S)
    doomed, kept = await stored(mp3s, os.urandom(3 * CHUNK)), await stored(mp3s, os.urandom(3 * CHUNK))

    await mp3s.remove(doomed)
    await mp3s.remove(doomed)

    assert await chunks_of(mongo_database, MP3S, doomed) == 0
    assert await chunks_of(mongo_database, MP3S, kept) == 3


def test_the_blocking_side_writes_reads_and_removes(sync_database: Database) -> None:
    mp3s, data = Bucket(sync_database, MP3S), os.urandom(7 * CHUNK + 3)
    writer = mp3s.writer("b.mp3", chunk_size=CHUNK, batch=2)
    writer.write(data)
    writer.rewrite(0, b"HEAD")  # the first chunk is held back until close
    file = writer.close({"job_id": "j"})
    expected = b"HEAD" + data[4:]

    assert GridFSBucket(sync_database, bucket_name=MP3S).open_download_stream(file.file_id).read() == expected
    with mp3s.open(file) as reader:
        reader.seek(-10, os.SEEK_END)
        assert reader.read() == expected[-10:]
        reader.seek(0)
        assert reader.read() == expected

    mp3s.remove(file.file_id)
    assert sync_database["mp3s.chunks"].count_documents({"files_id": file.file_id}) == 0
    assert mp3s.find(file.file_id) is None
