"""Retention and the stored-bytes quota end to end, on a system of its own with a short period.

A finished job loses its video at once and expires after the period: its files are gone (every
chunk), its status says ``expired``, its MP3 answers 410, its owner's stored bytes drop to
nothing, while a job that finished later keeps its files. The quota refuses an upload in words
that say what to do and when the oldest job expires, and admits it once that job has expired.
A job split per chapter counts its parts' bytes and loses every part when it expires.
Every query the services sent meanwhile reads by key (the store audit).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from bson import ObjectId
from pymongo import MongoClient

from common.store_audit import read_log, violations
from converter.samples import write_sample_video
from tests.e2e.test_flow import bearer, job, upload, wait_terminal
from tests.services import Endpoints
from tests.system import System, running_system, wait_for

RETENTION_HOURS = 0.015  # 54 s
QUOTA = 1_000_000


@pytest.fixture(scope="module")
def retaining(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[System, Path]]:
    log_dir = tmp_path_factory.mktemp("mongo-commands")
    database = f"vidmp3_retention_{uuid.uuid4().hex[:8]}"
    environment = {
        "VIDMP3_MONGO_COMMAND_LOG": str(log_dir),
        "VIDMP3_RETENTION_HOURS": str(RETENTION_HOURS),
        "VIDMP3_USER_QUOTA_BYTES": str(QUOTA),
    }
    try:
        with running_system(endpoints, database, tmp_path_factory.mktemp("retention"), **environment) as system:
            yield system, log_dir
    finally:
        with MongoClient(endpoints.mongo_url) as client:
            client.drop_database(database)


def stored(system: System, bucket: str, file_id: str | None) -> tuple[int, int]:
    """The file's files documents and chunks (a test may scan; the services never do)."""
    if file_id is None:
        return 0, 0
    config = system.stack.config
    with MongoClient(config.mongo_url) as client:
        database = client[config.mongo_database]
        oid = ObjectId(file_id)
        files = database[f"{bucket}.files"].count_documents({"_id": oid})
        return files, database[f"{bucket}.chunks"].count_documents({"files_id": oid})


def status_document(system: System, job_id: str) -> dict[str, Any]:
    config = system.stack.config
    with MongoClient(config.mongo_url) as client:
        document = client[config.mongo_database]["job_status"].find_one({"_id": job_id})
        assert document is not None
        return document


def stored_bytes(system: System, token: str) -> int:
    """What the owner's list head counts (the quota's counter)."""
    owner = jwt.decode(token, options={"verify_signature": False})["sub"]
    config = system.stack.config
    with MongoClient(config.mongo_url) as client:
        head = client[config.mongo_database]["job_index"].find_one({"_id": f"{owner}:head"})
    assert head is not None
    return sum(page[4] for page in json.loads(head["head"])["pages"])


def converted_at(view: dict[str, Any]) -> datetime:
    return next(datetime.fromisoformat(c["at"]) for c in view["history"] if c["state"] == "converted")


def test_a_finished_job_loses_its_video_then_expires_and_nothing_else_goes(
    retaining: tuple[System, Path], sample_video: tuple[Path, float]
) -> None:
    system, _ = retaining
    data = sample_video[0].read_bytes()
    owner, other = system.new_user_token(), system.new_user_token()

    first = upload(system, owner, "first.mp4", data).json()["job_id"]
    view = wait_terminal(system, owner, first)
    assert view["state"] == "notified"
    finished = converted_at(view)
    assert datetime.fromisoformat(view["expires_at"]) == finished + timedelta(hours=RETENTION_HOURS)
    files = status_document(system, first)
    video, mp3 = files["video_file_id"], files["mp3_file_id"]
    # the video goes as soon as the conversion is final; the MP3 stays
    wait_for(lambda: stored(system, "videos", video) == (0, 0), timeout=60)
    assert stored(system, "mp3s", mp3)[0] == 1
    wait_for(lambda: stored_bytes(system, owner) == status_document(system, first)["mp3_size_bytes"], timeout=30)
    [email] = wait_for(lambda: system.mailbox.for_job(first), timeout=60)
    assert "kept until" in email.as_string()

    # a second job, finished well after the first: untouched when the first expires
    time.sleep(max(0.0, (finished + timedelta(seconds=20) - datetime.now(finished.tzinfo)).total_seconds()))
    second = upload(system, other, "second.mp4", data).json()["job_id"]
    assert wait_terminal(system, other, second)["state"] == "notified"
    second_mp3 = status_document(system, second)["mp3_file_id"]

    wait_for(lambda: job(system, owner, first)["state"] == "expired", timeout=RETENTION_HOURS * 3600 + 90)
    assert job(system, other, second)["state"] == "notified"
    assert stored(system, "mp3s", second_mp3)[0] == 1

    expired = job(system, owner, first)
    assert expired["mp3"] is None
    assert datetime.fromisoformat(expired["expires_at"]) >= finished + timedelta(hours=RETENTION_HOURS)
    assert stored(system, "mp3s", mp3) == (0, 0)
    assert stored(system, "videos", video) == (0, 0)
    gone = httpx.get(f"{system.gateway}/v1/jobs/{first}/mp3", headers=bearer(owner))
    assert gone.status_code == 410
    assert "expired" in gone.json()["detail"]
    listed = httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(owner)).json()["items"]
    assert [(item["job_id"], item["state"]) for item in listed] == [(first, "expired")]
    wait_for(lambda: stored_bytes(system, owner) == 0, timeout=30)


def test_an_upload_past_the_quota_is_refused_in_words_until_older_jobs_expire(
    retaining: tuple[System, Path], sample_video: tuple[Path, float]
) -> None:
    system, _ = retaining
    token = system.new_user_token()
    kept = upload(system, token, "kept.mp4", sample_video[0].read_bytes()).json()["job_id"]
    assert wait_terminal(system, token, kept)["state"] == "notified"
    wait_for(lambda: stored_bytes(system, token) == status_document(system, kept)["mp3_size_bytes"], timeout=60)

    # alone it fits the quota; beside the kept job's MP3 it does not
    not_a_video = b"\x00" * (QUOTA - 2000)
    refused = upload(system, token, "big.mp4", not_a_video)
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    detail = refused.json()["detail"]
    assert "Delete jobs you no longer need, or wait for older ones to expire" in detail
    expires = datetime.fromisoformat(job(system, token, kept)["expires_at"])
    assert f"your oldest job expires at {expires:%Y-%m-%d %H:%M} UTC" in detail

    wait_for(lambda: job(system, token, kept)["state"] == "expired", timeout=RETENTION_HOURS * 3600 + 90)
    wait_for(lambda: stored_bytes(system, token) == 0, timeout=30)
    admitted = upload(system, token, "big.mp4", not_a_video)
    assert admitted.status_code == 422, admitted.text  # past the quota's check: the media check refuses it


def test_a_split_job_counts_its_parts_and_expires_with_every_one(
    retaining: tuple[System, Path], tmp_path: Path
) -> None:
    system, _ = retaining
    video = tmp_path / "lecture.mp4"
    write_sample_video(video, seconds=4.0, width=64, height=48, chapters=[(0.0, "One"), (2.0, "Two")])
    token = system.new_user_token()
    split = upload(system, token, "lecture.mp4", video.read_bytes(), split_chapters="true").json()["job_id"]
    view = wait_terminal(system, token, split)
    assert view["state"] == "notified", view
    document = status_document(system, split)
    parts = [part["file_id"] for part in document["mp3_parts"]]
    assert len(parts) == 2
    assert all(stored_part(system, part)[0] == 1 for part in parts)
    whole_and_parts = document["mp3_size_bytes"] + sum(part["size_bytes"] for part in document["mp3_parts"])
    wait_for(lambda: stored_bytes(system, token) == whole_and_parts, timeout=60)

    wait_for(lambda: job(system, token, split)["state"] == "expired", timeout=RETENTION_HOURS * 3600 + 90)

    assert stored(system, "mp3s", document["mp3_file_id"]) == (0, 0)
    assert [stored_part(system, part) for part in parts] == [(0, 0), (0, 0)]
    part_url = view["mp3"]["parts"][0]["api_url"]
    assert httpx.get(f"{system.gateway}{part_url}", headers=bearer(token)).status_code == 410
    wait_for(lambda: stored_bytes(system, token) == 0, timeout=30)


def stored_part(system: System, file_id: str) -> tuple[int, int]:
    """A part's files document and chunks (its id is ``<mp3 id>.<n>``, not an ObjectId)."""
    config = system.stack.config
    with MongoClient(config.mongo_url) as client:
        database = client[config.mongo_database]
        files = database["mp3s.files"].count_documents({"_id": file_id})
        return files, database["mp3s.chunks"].count_documents({"files_id": file_id})


def test_retention_reads_the_store_by_key_only(retaining: tuple[System, Path]) -> None:
    system, log_dir = retaining
    system.stack.stop()
    found = violations(read_log(log_dir))
    assert not found, "queries that read a whole growing collection:\n" + "\n".join(
        f"  {q.process}: {q.command} {q.collection} {json.dumps(q.filter)}" for q in found
    )
