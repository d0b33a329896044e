"""Per-user bounds through the gateway, every service running: work in flight (a job with
``normalize`` counts 4 of a user's 8 units) and open status streams (10 at once). Each
refusal is a 429 problem in plain words with ``Retry-After``; units come back when jobs end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, job, upload
from tests.faults.media import write_long_video

TERMINAL = {"notified", "failed", "cancelled"}


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Fifteen minutes of audio: normalized, it is converting (or queued) for a while."""
    path = tmp_path_factory.mktemp("limits") / "long.mp4"
    write_long_video(path, 900)
    return path.read_bytes()


def assert_too_many(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    problem: dict[str, Any] = response.json()
    assert problem["status"] == 429
    return problem


def cancel(system: System, token: str, job_id: str) -> None:
    httpx.post(f"{system.gateway}/v1/jobs/{job_id}/cancel", headers=bearer(token), timeout=30)


@pytest.fixture
def two_heavy_jobs(system: System, long_video: bytes) -> Iterator[tuple[str, list[str]]]:
    """A user with two normalize jobs in flight (all 8 units), cancelled afterwards."""
    token = system.new_user_token()
    jobs = [upload(system, token, f"loud-{n}.mp4", long_video, normalize="true").json()["job_id"] for n in range(2)]
    yield token, jobs
    for job_id in jobs:
        cancel(system, token, job_id)


def test_a_user_with_as_much_in_flight_as_allowed_gets_429_until_a_job_ends(
    system: System, sample_video: Any, two_heavy_jobs: tuple[str, list[str]]
) -> None:
    token, jobs = two_heavy_jobs
    assert all(job(system, token, job_id)["state"] not in TERMINAL for job_id in jobs)
    video = sample_video[0].read_bytes()

    problem = assert_too_many(upload(system, token, "one-more.mp4", video))
    assert problem["detail"] == (
        "You have as many conversions queued or running as allowed at once (8 units: a job counts 1, or 4 "
        "with loudness normalization). Wait until one finishes, or cancel one, then upload again."
    )
    tus = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**bearer(token), "Tus-Resumable": "1.0.0", "Upload-Length": str(len(video))},
    )
    assert_too_many(tus)
    # another user is not held up by this one's work
    other = system.new_user_token()
    assert upload(system, other, "theirs.mp4", video).status_code == 202

    cancel(system, token, jobs[0])  # its 4 units come back once the projection sees it end
    accepted = wait_for(
        lambda: (response := upload(system, token, "now.mp4", video)).status_code == 202 and response, timeout=60
    )
    assert accepted.json()["state"] == "queued"


def test_a_user_may_have_ten_status_streams_open_at_once(system: System, two_heavy_jobs: tuple[str, list[str]]) -> None:
    token, jobs = two_heavy_jobs
    url = f"{system.gateway}/v1/jobs/{jobs[1]}/events"
    with httpx.Client(headers=bearer(token), timeout=30) as client, ExitStack() as streams:
        opened = [streams.enter_context(client.stream("GET", url)) for _ in range(10)]
        assert all(stream.status_code == 200 for stream in opened)

        problem = assert_too_many(client.get(url))
        assert problem["detail"].startswith("You have 10 live status streams open, the most allowed at once.")
        other = system.new_user_token()  # another user's streams are counted apart
        theirs = httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(other), timeout=30)
        assert theirs.status_code == 200

        opened[0].close()

        def one_more() -> bool:
            with client.stream("GET", url) as stream:
                return stream.status_code == 200

        wait_for(one_more, timeout=60, interval=0.5)
