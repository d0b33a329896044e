"""``Idempotency-Key`` through the running system: a retried upload or tus creation answers as
the first time and creates nothing; the same key with another request is a 422; a retry while
the first is still running is a 409 with ``Retry-After``."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
from pymongo import MongoClient

from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, upload, wait_terminal

TUS = {"Tus-Resumable": "1.0.0"}


def keyed(key: str, token: str) -> dict[str, str]:
    return {**bearer(token), "Idempotency-Key": key}


def keyed_upload(system: System, token: str, key: str, name: str, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{system.gateway}/v1/jobs",
        headers=keyed(key, token),
        files={"file": (name, data, "video/mp4")},
        data=fields,
        timeout=60,
    )


def user_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def stored(system: System, collection: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    config = system.stack.config
    with MongoClient(config.mongo_url) as client:
        return list(client[config.mongo_database][collection].find(query))


def jobs_of(system: System, token: str) -> list[str]:
    page = httpx.get(f"{system.gateway}/v1/jobs?limit=100", headers=bearer(token)).json()
    return [item["job_id"] for item in page["items"]]


def test_a_retried_upload_answers_with_the_first_job_and_creates_no_second(
    system: System, sample_video: tuple[Path, float]
) -> None:
    token, key = system.new_user_token(), str(uuid.uuid4())
    data = sample_video[0].read_bytes()

    first = keyed_upload(system, token, key, "once.mp4", data, bitrate_kbps="128")
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    again = keyed_upload(system, token, key, "once.mp4", data, bitrate_kbps="128")
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"] == f"/v1/jobs/{job_id}"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers

    assert wait_terminal(system, token, job_id)["state"] == "notified"
    # one job, one stored MP3, one email: the retry created nothing (the video is gone already:
    # retention removes it once the conversion is final)
    assert jobs_of(system, token) == [job_id]
    assert len(stored(system, "mp3s.files", {"metadata.owner_id": user_of(token)})) == 1
    assert len(wait_for(lambda: system.mailbox.for_job(job_id), timeout=30)) == 1
    # still answered the same after the job finished
    assert keyed_upload(system, token, key, "once.mp4", data, bitrate_kbps="128").json()["job_id"] == job_id


def test_the_same_key_with_a_different_request_is_refused_in_words(
    system: System, sample_video: tuple[Path, float]
) -> None:
    token, key = system.new_user_token(), str(uuid.uuid4())
    data = sample_video[0].read_bytes()
    first = keyed_upload(system, token, key, "first.mp4", data)
    assert first.status_code == 202, first.text

    for name, body, fields in (("first.mp4", data[:-1] + b"\0", {}), ("first.mp4", data, {"bitrate_kbps": "64"})):
        refused = keyed_upload(system, token, key, name, body, **fields)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "different request" in refused.json()["detail"]
    # tus creation with a key used for an upload is a different request too
    created = httpx.post(f"{system.gateway}/v1/uploads", headers={**keyed(key, token), **TUS, "Upload-Length": "10"})
    assert created.status_code == 422, created.text

    # keys are per user: another user's request with the same key is their own
    other = system.new_user_token()
    theirs = keyed_upload(system, other, key, "first.mp4", data)
    assert theirs.status_code == 202, theirs.text
    assert theirs.json()["job_id"] != first.json()["job_id"]
    assert "idempotent-replayed" not in theirs.headers

    bad = keyed_upload(system, token, "has space", "first.mp4", data)
    assert bad.status_code == 400
    assert "Idempotency-Key" in bad.json()["detail"]


def test_a_refused_upload_leaves_its_key_free_for_the_retry(system: System, sample_video: tuple[Path, float]) -> None:
    token, key = system.new_user_token(), str(uuid.uuid4())
    data = sample_video[0].read_bytes()
    refused = keyed_upload(system, token, key, "clip.mp4", data, bitrate_kbps="7")
    assert refused.status_code == 422, refused.text
    accepted = keyed_upload(system, token, key, "clip.mp4", data, bitrate_kbps="128")
    assert accepted.status_code == 202, accepted.text
    assert "idempotent-replayed" not in accepted.headers


def test_a_retried_tus_creation_answers_with_the_same_location(system: System) -> None:
    token, key = system.new_user_token(), str(uuid.uuid4())
    headers = {**keyed(key, token), **TUS, "Upload-Length": "1000", "Upload-Metadata": "filename dHVzLm1wNA=="}
    first = httpx.post(f"{system.gateway}/v1/uploads", headers=headers)
    assert first.status_code == 201, first.text
    again = httpx.post(f"{system.gateway}/v1/uploads", headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["upload-offset"] == "0"
    assert again.headers["idempotent-replayed"] == "true"
    assert len(stored(system, "uploads", {"owner_id": user_of(token)})) == 1
    assert (
        httpx.head(f"{system.gateway}{first.headers['location']}", headers={**bearer(token), **TUS}).status_code == 200
    )

    other_length = httpx.post(f"{system.gateway}/v1/uploads", headers={**headers, "Upload-Length": "1001"})
    assert other_length.status_code == 422, other_length.text
    assert "different request" in other_length.json()["detail"]


def test_a_retry_while_the_first_upload_is_still_running_is_told_to_wait(
    system: System, sample_video: tuple[Path, float]
) -> None:
    token, key = system.new_user_token(), str(uuid.uuid4())
    data = sample_video[0].read_bytes()
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    go_on = threading.Event()

    def body() -> Iterator[bytes]:
        yield head + data[:1000]
        go_on.wait(60)
        yield data[1000:] + tail

    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{system.gateway}/v1/jobs",
                headers={**keyed(key, token), "Content-Type": f"multipart/form-data; boundary={boundary}"},
                content=body(),
                timeout=60,
            )
        )
    )
    first.start()
    try:
        wait_for(lambda: stored(system, "idempotency_keys", {"_id": f"{user_of(token)}:{key}"}), timeout=30)
        busy = keyed_upload(system, token, key, "slow.mp4", data)
        assert busy.status_code == 409, busy.text
        assert int(busy.headers["retry-after"]) > 0
        assert "still being handled" in busy.json()["detail"]
    finally:
        go_on.set()
        first.join(60)
    [accepted] = answers
    assert accepted.status_code == 202, accepted.text
    retried = keyed_upload(system, token, key, "slow.mp4", data)
    assert retried.status_code == 202, retried.text
    assert retried.json()["job_id"] == accepted.json()["job_id"]
    assert jobs_of(system, token) in ([], [accepted.json()["job_id"]])  # one job at most (the list may lag)


def test_a_plain_upload_without_a_key_is_unchanged(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    data = sample_video[0].read_bytes()
    one, two = upload(system, token, "a.mp4", data), upload(system, token, "a.mp4", data)
    assert one.status_code == two.status_code == 202
    assert one.json()["job_id"] != two.json()["job_id"]
