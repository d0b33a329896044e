"""The gateway's storage adapters against the real MongoDB-wire server: resumable uploads
written straight into GridFS chunks, the media check over GridFS, deleting a job's files."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from bson import ObjectId
from gridfs import AsyncGridFSBucket
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from common.blobs import MP3S, VIDEOS, chunk_id
from contracts import ConversionOptions
from converter.samples import write_sample_video
from gateway.body import ClientDisconnected, TooLarge
from gateway.media import MediaProbe
from gateway.removals import FileRemovals
from gateway.resumable import OffsetMismatch, PendingUpload, ResumableUploads, UploadBusy
from tests.integration.conftest import store_file

CHUNK = 1000  # small chunks, so a few KB cross many chunk boundaries


async def pieces(data: bytes, size: int, *, then: BaseException | None = None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
    if then is not None:
        raise then


async def new_upload(store: ResumableUploads, length: int, owner: str = "owner-1") -> PendingUpload:
    return await store.create(
        owner_id=owner,
        length=length,
        filename="clip.mp4",
        content_type="video/mp4",
        options=ConversionOptions(),
        metadata=None,
    )


async def read_back(database: AsyncDatabase, file_id: str) -> bytes:
    """The file as any GridFS reader sees it."""
    download = await AsyncGridFSBucket(database, bucket_name="videos").open_download_stream(ObjectId(file_id))
    return await download.read()


@pytest.fixture
async def store(mongo_database: AsyncDatabase) -> ResumableUploads:
    return ResumableUploads(mongo_database, chunk_size=CHUNK, record_every_bytes=3 * CHUNK)


async def test_an_upload_resumes_where_the_dropped_connection_left_it(
    store: ResumableUploads, mongo_database: AsyncDatabase
) -> None:
    data = os.urandom(7 * CHUNK + 123)
    upload = await new_upload(store, len(data))

    # the connection drops mid-chunk: what arrived is kept, to the byte
    with pytest.raises(ClientDisconnected):
        await store.append(upload, 0, pieces(data[:3456], 700, then=ClientDisconnected()))
    assert (await store.get(upload.upload_id)).offset == 3456  # type: ignore[union-attr]

    with pytest.raises(OffsetMismatch) as mismatch:
        await store.append(upload, 3000, pieces(data[3000:], 500))
    assert mismatch.value.offset == 3456

    # an append cut short before it recorded its offset leaves chunks past it: they are replaced
    await mongo_database["videos.chunks"].insert_one(
        {"_id": chunk_id(upload.file_id, 4), "files_id": upload.file_id, "n": 4, "data": b"stale"}
    )
    assert await store.append(upload, 3456, pieces(data[3456:5000], 333)) == 5000
    assert await store.append(upload, 5000, pieces(data[5000:], 4096)) == len(data)

    job_id = uuid4()
    stored = await store.store_file(upload, job_id, "owner-1")
    assert (stored.size_bytes, stored.filename) == (len(data), "clip.mp4")
    assert await read_back(mongo_database, stored.file_id) == data
    again = await store.store_file(upload, job_id, "owner-1")  # a retried completion
    assert again.file_id == stored.file_id


async def test_bytes_past_the_length_are_refused_and_the_rest_kept(store: ResumableUploads) -> None:
    upload = await new_upload(store, 2500)

    async def too_much() -> AsyncIterator[bytes]:
        yield b"x" * 2000
        raise TooLarge("past the length")

    with pytest.raises(TooLarge):
        await store.append(upload, 0, too_much())
    assert (await store.get(upload.upload_id)).offset == 2000  # type: ignore[union-attr]


async def test_one_append_at_a_time(store: ResumableUploads) -> None:
    upload = await new_upload(store, 10 * CHUNK)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"a" * 100
        started.set()
        await release.wait()

    first = asyncio.create_task(store.append(upload, 0, slow()))
    await started.wait()
    with pytest.raises(UploadBusy):
        await store.append(upload, 0, pieces(b"b" * 100, 100))
    with pytest.raises(UploadBusy):
        await store.terminate(upload)
    release.set()
    assert await first == 100
    assert await store.append(upload, 100, pieces(b"c" * 100, 100)) == 200


async def test_abandoned_and_terminated_uploads_leave_no_bytes(
    store: ResumableUploads, mongo_database: AsyncDatabase
) -> None:
    kept, abandoned, terminated = [await new_upload(store, 5000) for _ in range(3)]
    for upload in (kept, abandoned, terminated):
        await store.append(upload, 0, pieces(b"z" * 2500, 1000))
    await mongo_database["uploads"].update_one(
        {"_id": str(abandoned.upload_id)}, {"$set": {"updated_at": abandoned.updated_at - timedelta(days=2)}}
    )

    assert await store.sweep(timedelta(days=1)) == 1
    await store.terminate(terminated)

    chunks = mongo_database["videos.chunks"]
    assert await store.get(abandoned.upload_id) is None
    assert await store.get(terminated.upload_id) is None
    assert await chunks.count_documents({"files_id": {"$in": [abandoned.file_id, terminated.file_id]}}) == 0
    assert await chunks.count_documents({"files_id": kept.file_id}) == 3


async def test_a_completed_upload_leaves_the_unfinished_ones(mongo_database: AsyncDatabase) -> None:
    jobs: set[UUID] = set()

    async def is_job(upload_id: UUID) -> bool:
        return upload_id in jobs

    store = ResumableUploads(mongo_database, chunk_size=CHUNK, is_job=is_job)
    done, stopped = await new_upload(store, 2500), await new_upload(store, 2500)
    for upload in (done, stopped):
        await store.append(upload, 0, pieces(b"x" * 2500, 1000))

    await store.mark_completed(done.upload_id)
    # one that became a job, but the gateway stopped before marking it: the sweep does
    jobs.add(stopped.upload_id)
    await mongo_database["uploads"].update_one(
        {"_id": str(stopped.upload_id)}, {"$set": {"updated_at": stopped.updated_at - timedelta(days=2)}}
    )
    assert await store.sweep(timedelta(days=1)) == 0

    for upload in (done, stopped):
        assert await mongo_database["uploads"].find_one({"_id": str(upload.upload_id)}) is None
        found = await store.get(upload.upload_id)
        assert found is not None
        assert (found.completed, found.offset) == (True, 2500)
    assert await mongo_database["videos.chunks"].count_documents({"files_id": stopped.file_id}) == 3


@pytest.fixture(scope="module")
def moov_at_end(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("probe") / "clip.mp4"
    write_sample_video(path, seconds=2.0)  # PyAV writes the MP4 index (moov) last
    data = path.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")
    return data


@pytest.mark.parametrize(
    ("kind", "problem"),
    [("video", None), ("silent", "no audio stream"), ("text", "not a video"), ("half", "not a video")],
)
def test_the_media_check_reads_gridfs_files(
    sync_database: Database, moov_at_end: bytes, tmp_path: Path, kind: str, problem: str | None
) -> None:
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    data = {
        "video": moov_at_end,
        "silent": silent.read_bytes(),
        "text": b"this is not a video\n" * 500,
        "half": moov_at_end[: len(moov_at_end) // 2],
    }[kind]
    file_id = store_file(sync_database, VIDEOS, data)
    found = MediaProbe(sync_database)._check(file_id)
    assert found is None if problem is None else problem in (found.reason if found else "")
    assert found is None or "FFmpeg" not in found.detail  # the detail is for people


async def test_a_deleted_jobs_files_are_removed_in_the_background_once_and_for_all(
    sync_database: Database, mongo_database: AsyncDatabase
) -> None:
    video = store_file(sync_database, VIDEOS, b"v" * 700_000)
    mp3 = store_file(sync_database, MP3S, b"m" * 1000)
    other = store_file(sync_database, VIDEOS, b"o" * 10)
    forgotten: list[UUID] = []

    async def forget(upload_id: UUID) -> None:
        forgotten.append(upload_id)

    removals, job = FileRemovals(mongo_database, forget_upload=forget), uuid4()

    await removals.request(job, videos=[str(video)])
    await removals.request(job, videos=[str(video)], mp3s=[str(mp3), None])  # a repeat naming the MP3 too
    assert await mongo_database["videos.files"].count_documents({"_id": video}) == 1  # not yet
    assert await removals.remove_pending() == 1
    assert await removals.remove_pending() == 0

    for bucket, file_id in ((VIDEOS, video), (MP3S, mp3)):
        assert await mongo_database[f"{bucket}.files"].count_documents({"_id": file_id}) == 0
        assert await mongo_database[f"{bucket}.chunks"].count_documents({"files_id": file_id}) == 0
    assert await mongo_database["videos.files"].count_documents({"_id": other}) == 1
    assert await mongo_database["file_removals"].count_documents({}) == 0
    assert forgotten == [job]
