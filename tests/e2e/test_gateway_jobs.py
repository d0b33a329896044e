"""The jobs API with every service running: listing, cancelling, deleting, ranged downloads,
and other users' jobs staying out of sight."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, upload, wait_terminal
from tests.services import Endpoints


@pytest.fixture(scope="module")
def database(endpoints: Endpoints, mongo_database_name: str) -> Iterator[Database]:
    with MongoClient(endpoints.mongo_url, tz_aware=True) as client:
        yield client[mongo_database_name]


@pytest.fixture(scope="module")
def converted(system: System, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(token, job id) of a job whose MP3 is ready: 15 s at 320 kbit/s, a few GridFS chunks."""
    video = tmp_path_factory.mktemp("jobs") / "long.mp4"
    write_sample_video(video, seconds=15.0, width=160, height=120)
    token = system.new_user_token()
    accepted = upload(system, token, "Ünïcode clip.mp4", video.read_bytes(), bitrate_kbps="320")
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert wait_terminal(system, token, job_id)["state"] == "notified"
    return token, job_id


def get(system: System, token: str, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{system.gateway}{path}", headers={**bearer(token), **headers})


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert (problem["status"], problem["type"]) == (status, "about:blank")
    return problem


def test_another_users_job_is_404_for_every_route(system: System, converted: tuple[str, str]) -> None:
    owner, job_id = converted
    stranger = system.tokens.setdefault("stranger", system.new_user_token())
    path = f"/v1/jobs/{job_id}"
    for method, url in (
        ("GET", path),
        ("GET", f"{path}/mp3"),
        ("POST", f"{path}/cancel"),
        ("DELETE", path),
    ):
        problem = assert_problem(httpx.request(method, f"{system.gateway}{url}", headers=bearer(stranger)), 404)
        assert problem["detail"] == f"No job {job_id} in your account: it was deleted, or the id is mistyped."
    assert job_id not in [job["job_id"] for job in get(system, stranger, "/v1/jobs").json()["items"]]
    assert get(system, owner, path).status_code == 200  # still there

    admin = system.login(*system.create_user(admin=True))
    assert get(system, admin, path).status_code == 200  # admins see everything
    assert get(system, admin, f"{path}/mp3").status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/jobs/not-a-uuid", 404),
        ("/v1/jobs/00000000-0000-0000-0000-000000000000/mp3", 404),
        ("/v1/jobs/%00", 404),
        ("/v1/jobs?limit=0", 400),
        ("/v1/jobs?limit=abc", 400),
        ("/v1/jobs?cursor=bm90IGEgY3Vyc29y", 400),
        ("/v1/nothing-here", 404),
    ],
)
def test_invalid_ids_and_parameters_are_client_errors(system: System, path: str, status: int) -> None:
    token = system.tokens.setdefault("stranger", system.new_user_token())
    assert_problem(get(system, token, path), status)


def test_a_ranged_download_returns_exactly_the_bytes_asked_for(system: System, converted: tuple[str, str]) -> None:
    token, job_id = converted
    path = f"/v1/jobs/{job_id}/mp3"
    whole = get(system, token, path)
    assert whole.status_code == 200
    mp3, etag, size = whole.content, whole.headers["etag"], len(whole.content)
    assert size > 2 * 261_120  # spans GridFS chunks
    assert whole.headers["accept-ranges"] == "bytes"
    assert int(whole.headers["content-length"]) == size
    assert "filename*=UTF-8''%C3%9Cn%C3%AFcode%20clip.mp3" in whole.headers["content-disposition"]

    for header, start, end in (
        ("bytes=0-0", 0, 0),
        ("bytes=100-1099", 100, 1099),
        (f"bytes={size - 10}-", size - 10, size - 1),
        ("bytes=-700", size - 700, size - 1),
        (f"bytes=5000-{size * 2}", 5000, size - 1),
        ("bytes=261000-530000", 261000, 530000),  # across GridFS chunk boundaries
    ):
        part = get(system, token, path, Range=header)
        assert part.status_code == 206, header
        assert part.content == mp3[start : end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert int(part.headers["content-length"]) == end - start + 1

    unsatisfiable = assert_problem(get(system, token, path, Range=f"bytes={size}-"), 416)
    assert str(size) in unsatisfiable["detail"]
    assert get(system, token, path, Range=f"bytes={size}-").headers["content-range"] == f"bytes */{size}"

    unchanged = get(system, token, path, **{"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", etag)
    assert get(system, token, path, **{"If-None-Match": '"other"'}).status_code == 200
    other_version = get(system, token, path, Range="bytes=0-9", **{"If-Range": '"other"'})
    assert (other_version.status_code, other_version.content) == (200, mp3)
    assert get(system, token, path, Range="bytes=0-9,20-29").status_code == 200  # several ranges: all of it


def test_the_job_list_pages_newest_first(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    video = sample_video[0].read_bytes()
    uploaded = [upload(system, token, f"clip-{n}.mp4", video).json()["job_id"] for n in range(5)]

    def listed() -> list[str]:
        return [job["job_id"] for job in get(system, token, "/v1/jobs?limit=100").json()["items"]]

    assert wait_for(lambda: len(listed()) == 5, timeout=30)
    assert listed() == uploaded[::-1]

    pages, url = [], "/v1/jobs?limit=2"
    while url:
        page = get(system, token, url).json()
        pages.append([job["job_id"] for job in page["items"]])
        url = page["next_url"]
        assert (url is None) == (page["next_cursor"] is None)
    assert pages == [uploaded[4:2:-1], uploaded[2:0:-1], uploaded[:1]]
    assert get(system, token, "/v1/jobs?limit=5").json()["next_cursor"] is None

    assert_problem(get(system, token, "/v1/jobs?all=true"), 403)
    admin = system.login(*system.create_user(admin=True))
    everyone = get(system, admin, "/v1/jobs?all=true&limit=100").json()["items"]
    assert set(uploaded) <= {job["job_id"] for job in everyone}
    assert get(system, admin, "/v1/jobs").json()["items"] == []  # an admin's own jobs, by default


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Fifteen minutes of audio, almost no video: still converting when the cancel arrives, on
    a busy machine too (a few seconds' sample could be done first)."""
    path = tmp_path_factory.mktemp("cancel") / "long.mp4"
    write_sample_video(path, seconds=900.0, width=64, height=48, fps=1)
    return path.read_bytes()


def test_a_job_is_cancelled_before_it_finishes_and_not_after(
    system: System, converted: tuple[str, str], long_video: bytes
) -> None:
    token, finished = converted
    job_id = upload(system, token, "cancel me.mp4", long_video).json()["job_id"]

    cancelled = httpx.post(f"{system.gateway}/v1/jobs/{job_id}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    again = httpx.post(f"{system.gateway}/v1/jobs/{job_id}/cancel", headers=bearer(token))
    assert (again.status_code, again.json()["state"]) == (200, "cancelled")
    status = wait_terminal_or_cancelled(system, token, job_id)
    assert status["state"] == "cancelled"
    assert "cancelled" in [step["state"] for step in status["history"]]

    problem = assert_problem(httpx.post(f"{system.gateway}/v1/jobs/{finished}/cancel", headers=bearer(token)), 409)
    assert "already ended (its MP3 is ready)" in problem["detail"]


def wait_terminal_or_cancelled(system: System, token: str, job_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        status: dict[str, Any] = get(system, token, f"/v1/jobs/{job_id}").json()
        listed = [job["job_id"] for job in get(system, token, "/v1/jobs?limit=100").json()["items"]]
        # the projection has folded the cancellation in once the listing shows it too
        return status if status["state"] == "cancelled" and job_id in listed else None

    result: dict[str, Any] = wait_for(settled, timeout=30)
    return result


def test_deleting_a_job_removes_it_and_its_files_idempotently(
    system: System, database: Database, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "delete me.mp4", sample_video[0].read_bytes()).json()["job_id"]
    assert wait_terminal(system, token, job_id)["state"] == "notified"
    files = {"metadata.job_id": job_id}
    # the video went once the conversion was final (retention); the MP3 stays until deleted
    wait_for(lambda: database["videos.files"].count_documents(files) == 0, timeout=30)
    assert database["mp3s.files"].count_documents(files) == 1

    for _ in range(2):  # deleting again is fine
        response = httpx.delete(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token))
        assert response.status_code == 204, response.text

    assert_problem(get(system, token, f"/v1/jobs/{job_id}"), 404)
    assert_problem(get(system, token, f"/v1/jobs/{job_id}/mp3"), 404)
    assert wait_for(lambda: get(system, token, "/v1/jobs").json()["items"] == [], timeout=30)
    # the files go in the background, within moments
    wait_for(lambda: database["videos.files"].count_documents(files) == 0, timeout=30)
    wait_for(lambda: database["mp3s.files"].count_documents(files) == 0, timeout=30)
    assert database["file_removals"].count_documents({"_id": job_id}) == 0
