"""Uploads through the gateway, every service running: file names, refused files, the size
limit, and a resumable (tus) upload that survives a dropped connection."""

from __future__ import annotations

import base64
import dataclasses
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from common.stack import Stack
from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, decoded_duration, upload, wait_terminal
from tests.services import Endpoints

SMALL_LIMIT = 200_000
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = {"Content-Type": "application/offset+octet-stream"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def small_gateway(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second gateway process, beside the system's, that takes files up to 200 kB."""
    config = dataclasses.replace(
        system.stack.config,
        state_dir=tmp_path_factory.mktemp("small-gateway"),
        base_port=free_port(),
        extra_env={"VIDMP3_MAX_UPLOAD_BYTES": str(SMALL_LIMIT), "VIDMP3_AUTH_URL": system.stack.config.url("auth")},
    )
    stack = Stack(config)
    stack.start("gateway")
    try:
        yield config.url("gateway")
    finally:
        stack.stop("gateway")


@pytest.fixture(scope="module")
def database(endpoints: Endpoints, mongo_database_name: str) -> Iterator[Database]:
    with MongoClient(endpoints.mongo_url, tz_aware=True) as client:
        yield client[mongo_database_name]


@pytest.fixture(scope="module")
def token(system: System) -> str:
    return system.new_user_token()


def owner_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["instance"]
    return problem


def stored_videos(database: Database, owner_id: str, filename: str) -> int:
    """The owner's stored videos of that name (by name: retention removes other jobs' videos
    as they finish, so a count of all would change under the test)."""
    return database["videos.files"].count_documents({"metadata.owner_id": owner_id, "filename": filename})


def orphan_chunks(database: Database) -> set[Any]:
    """Chunks no file and no pending upload owns: what an upload cut short could leave."""
    owned = set(database["videos.files"].distinct("_id")) | set(database["uploads"].distinct("file_id"))
    return set(database["videos.chunks"].distinct("files_id")) - owned


def multipart(name: str, data: bytes, boundary: str = "b0undary") -> tuple[bytes, dict[str, str]]:
    """A multipart body built by hand, so file names reach the server byte for byte."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}"
    }


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../../etc/evil.mp4", "evil.mp4"),
        ("..\\..\\Windows\\clip.mp4", "clip.mp4"),
        ("/absolute/path/holiday.mp4", "holiday.mp4"),
        ("tab\there\x01\x1f\x7f.mp4", "tab_here___.mp4"),
        ('a<b>c:d"e|f?g*h.mp4', "a_b_c_d_e_f_g_h.mp4"),
        ("..", "video"),
    ],
)
def test_file_names_lose_their_paths_and_control_characters(
    system: System, token: str, sample_video: tuple[Path, float], sent: str, kept: str
) -> None:
    body, headers = multipart(sent, sample_video[0].read_bytes())
    response = httpx.post(f"{system.gateway}/v1/jobs", content=body, headers={**bearer(token), **headers})
    assert response.status_code == 202, response.text
    job = httpx.get(f"{system.gateway}/v1/jobs/{response.json()['job_id']}", headers=bearer(token)).json()
    assert job["filename"] == kept


def test_the_mp3_is_named_after_the_sanitized_video(
    system: System, token: str, sample_video: tuple[Path, float]
) -> None:
    body, headers = multipart("../../secret/Été 2026.mov", sample_video[0].read_bytes())
    job_id = httpx.post(f"{system.gateway}/v1/jobs", content=body, headers={**bearer(token), **headers}).json()[
        "job_id"
    ]
    assert wait_terminal(system, token, job_id)["state"] == "notified"
    download = httpx.get(f"{system.gateway}/v1/jobs/{job_id}/mp3", headers=bearer(token))
    assert download.status_code == 200, download.text
    disposition = download.headers["content-disposition"]
    assert disposition == "attachment; filename=\"_t_ 2026.mp3\"; filename*=UTF-8''%C3%89t%C3%A9%202026.mp3"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.mp4", b"", "empty"),
        ("notes.txt", b"this is not a video\n" * 100, "not a video"),
        ("noise.mp4", bytes(range(256)) * 64, "not a video"),
    ],
)
def test_files_without_audio_are_refused_before_a_job_exists(
    system: System, token: str, database: Database, *, name: str, data: bytes, reason: str
) -> None:
    problem = assert_problem(upload(system, token, name, data), 422)
    assert reason in problem["errors"][0]["message"]  # for integrators; the detail is for people
    assert "FFmpeg" not in problem["detail"]
    assert problem["errors"][0]["field"] == "file"
    assert stored_videos(database, owner_of(token), name or "video") == 0


def test_a_video_without_an_audio_stream_is_refused(system: System, token: str, tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    problem = assert_problem(upload(system, token, "silent.mp4", silent.read_bytes()), 422)
    assert problem["detail"] == "This video has no audio track, so there is no sound to make an MP3 of."
    assert problem["errors"] == [{"field": "file", "message": "the file has no audio stream", "source": "body"}]


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(
    system: System, small_gateway: str, database: Database, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    owner = owner_of(token)
    earlier = orphan_chunks(database)  # other tiers' tests share the session's database
    fits = httpx.post(
        f"{small_gateway}/v1/jobs",
        headers=bearer(token),
        files={"file": ("ok.mp4", sample_video[0].read_bytes(), "video/mp4")},
    )
    assert fits.status_code == 202, fits.text

    too_big = b"\x00" * (SMALL_LIMIT + 1)
    announced = httpx.post(
        f"{small_gateway}/v1/jobs", headers=bearer(token), files={"file": ("big.mp4", too_big, "video/mp4")}
    )
    assert "limit" in assert_problem(announced, 413)["detail"]

    # no Content-Length: the limit trips while the file is being stored
    body, headers = multipart("big.mp4", too_big)
    streamed = httpx.post(
        f"{small_gateway}/v1/jobs",
        headers={**bearer(token), **headers},
        content=(body[i : i + 16_384] for i in range(0, len(body), 16_384)),
    )
    assert_problem(streamed, 413)
    assert stored_videos(database, owner, "big.mp4") == 0
    assert orphan_chunks(database) - earlier == set()

    created = httpx.post(
        f"{small_gateway}/v1/uploads", headers={**bearer(token), **TUS, "Upload-Length": str(SMALL_LIMIT + 1)}
    )
    assert_problem(created, 413)
    assert httpx.options(f"{small_gateway}/v1/uploads").headers["tus-max-size"] == str(SMALL_LIMIT)


def create_upload(system: System, token: str, data: bytes, metadata: dict[str, str] | None = None) -> str:
    pairs = {"filename": "resumed.mp4", "filetype": "video/mp4", "bitrate_kbps": "128"} | (metadata or {})
    encoded = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items())
    response = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**bearer(token), **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": encoded},
    )
    assert response.status_code == 201, response.text
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["upload-offset"] == "0"
    location: str = response.headers["location"]
    return location


def offset_of(system: System, token: str, location: str) -> int:
    response = httpx.head(f"{system.gateway}{location}", headers={**bearer(token), **TUS})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    return int(response.headers["upload-offset"])


def patch_cut_short(system: System, token: str, location: str, data: bytes, sent: int) -> None:
    """A PATCH announcing all of ``data`` whose connection drops after ``sent`` bytes."""
    url = urlsplit(system.gateway)
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port)) as connection:
        connection.sendall(head + data[:sent])
        time.sleep(0.3)  # let the server take the bytes in before the connection goes


def patch(system: System, token: str, location: str, offset: int, data: bytes) -> httpx.Response:
    for _ in range(20):
        response = httpx.patch(
            f"{system.gateway}{location}",
            headers={**bearer(token), **TUS, **OFFSET_STREAM, "Upload-Offset": str(offset)},
            content=data,
            timeout=60,
        )
        if response.status_code != 423:  # the dropped request may still be finishing
            return response
        time.sleep(0.2)
    return response


def test_an_interrupted_tus_upload_resumes_from_its_offset_and_converts(
    system: System, token: str, sample_video: tuple[Path, float]
) -> None:
    path, audio_seconds = sample_video
    data = path.read_bytes()
    half = len(data) // 2 + 1234  # not on a chunk boundary
    location = create_upload(system, token, data)

    patch_cut_short(system, token, location, data, half)
    assert wait_for(lambda: offset_of(system, token, location) == half, timeout=30)

    stale = patch(system, token, location, 0, data)
    assert assert_problem(stale, 409)
    assert stale.headers["upload-offset"] == str(half)

    done = patch(system, token, location, half, data[half:])
    assert done.status_code == 204, done.text
    assert done.headers["upload-offset"] == str(len(data))
    job_url = done.headers["job-location"]
    assert job_url == "/v1/jobs/" + location.rsplit("/", 1)[1]  # the upload's id is the job's

    status = wait_terminal(system, token, job_url.rsplit("/", 1)[1])
    assert status["state"] == "notified", status
    assert status["filename"] == "resumed.mp4"
    mp3 = httpx.get(f"{system.gateway}{status['mp3']['download_url']}", headers=bearer(token))
    assert abs(decoded_duration(mp3.content) - audio_seconds) < 0.1

    again = patch(system, token, location, len(data), b"")  # a client that missed the answer
    assert (again.status_code, again.headers["job-location"]) == (204, job_url)
    assert_problem(httpx.delete(f"{system.gateway}{location}", headers={**bearer(token), **TUS}), 409)


def test_a_tus_upload_is_its_owners_alone(system: System, token: str) -> None:
    location = create_upload(system, token, b"x" * 1000)
    stranger = bearer(system.tokens.setdefault("stranger", system.new_user_token()))
    url = f"{system.gateway}{location}"
    assert httpx.head(url, headers={**stranger, **TUS}).status_code == 404
    assert_problem(httpx.patch(url, headers={**stranger, **TUS, **OFFSET_STREAM, "Upload-Offset": "0"}), 404)
    assert_problem(httpx.delete(url, headers={**stranger, **TUS}), 404)
    assert offset_of(system, token, location) == 0

    assert httpx.delete(url, headers={**bearer(token), **TUS}).status_code == 204
    assert httpx.head(url, headers={**bearer(token), **TUS}).status_code == 404


def test_tus_refuses_what_the_protocol_does(system: System, token: str) -> None:
    location = create_upload(system, token, b"x" * 1000)
    url, auth = f"{system.gateway}{location}", bearer(token)
    assert_problem(httpx.delete(url, headers={**auth, "Tus-Resumable": "0.2.2"}), 412)
    old_client = httpx.head(url, headers={**auth, "Tus-Resumable": "0.2.2"})  # HEAD answers have no body
    assert (old_client.status_code, old_client.headers["tus-version"]) == (412, "1.0.0")
    assert_problem(httpx.patch(url, headers={**auth, **TUS, "Upload-Offset": "0"}, content=b"x"), 415)
    assert_problem(
        httpx.patch(url, headers={**auth, **TUS, **OFFSET_STREAM, "Upload-Offset": "0"}, content=b"x" * 1001), 413
    )
    bad_metadata = {**auth, **TUS, "Upload-Length": "10", "Upload-Metadata": "filename ***"}
    assert assert_problem(httpx.post(f"{system.gateway}/v1/uploads", headers=bad_metadata), 400)["errors"]
    empty = {**auth, **TUS, "Upload-Length": "0"}
    assert_problem(httpx.post(f"{system.gateway}/v1/uploads", headers=empty), 422)
    bad_option = {**auth, **TUS, "Upload-Length": "10", "Upload-Metadata": "bitrate_kbps MTAw"}
    assert_problem(httpx.post(f"{system.gateway}/v1/uploads", headers=bad_option), 422)


def test_a_tus_upload_of_no_media_is_refused_when_complete(system: System, token: str, database: Database) -> None:
    data = b"this is not a video\n" * 200
    earlier = orphan_chunks(database)  # other tiers' tests share the session's database
    location = create_upload(system, token, data, {"filename": "notes.txt"})
    upload_id = location.rsplit("/", 1)[1]
    assert patch(system, token, location, 0, data[:1000]).status_code == 204
    problem = assert_problem(patch(system, token, location, 1000, data[1000:]), 422)
    assert problem["errors"][0]["field"] == "file"
    assert httpx.head(f"{system.gateway}{location}", headers={**bearer(token), **TUS}).status_code == 404
    assert httpx.get(f"{system.gateway}/v1/jobs/{upload_id}", headers=bearer(token)).status_code == 404
    assert database["videos.files"].count_documents({"metadata.job_id": upload_id}) == 0
    assert orphan_chunks(database) - earlier == set()


def test_the_tus_options_name_the_protocol(system: System) -> None:
    response = httpx.options(f"{system.gateway}/v1/uploads")
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) >= {"creation", "termination"}
    assert int(response.headers["tus-max-size"]) > 0
