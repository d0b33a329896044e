"""The cover route with every service running: the picture embedded in a job's MP3, to its owner only."""

from __future__ import annotations

import io

import av
import httpx
import pytest

from converter.samples import write_sample_video
from tests.e2e.conftest import System
from tests.e2e.test_flow import bearer, upload, wait_terminal


def converted_job(system: System, tmp_path_factory: pytest.TempPathFactory, **fields: str) -> tuple[str, str]:
    video = tmp_path_factory.mktemp("covers") / "clip.mp4"
    write_sample_video(video, seconds=2.0, width=160, height=120, cover=(800, 600))
    token = system.new_user_token()
    accepted = upload(system, token, "clip.mp4", video.read_bytes(), **fields)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert wait_terminal(system, token, job_id)["state"] == "notified"
    return token, job_id


def cover(system: System, token: str, job_id: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{system.gateway}/v1/jobs/{job_id}/cover", headers={**bearer(token), **headers})


def test_the_owner_gets_the_cover_with_validators(system: System, tmp_path_factory: pytest.TempPathFactory) -> None:
    token, job_id = converted_job(system, tmp_path_factory)

    response = cover(system, token, job_id)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"].startswith("private")
    with av.open(io.BytesIO(response.content), format="image2pipe") as picture:
        frame = next(picture.decode(video=0))
        assert (frame.width, frame.height) == (600, 450)
    again = cover(system, token, job_id, **{"If-None-Match": response.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")

    stranger = cover(system, system.new_user_token(), job_id)
    assert stranger.status_code == 404
    assert stranger.headers["content-type"] == "application/problem+json"


def test_a_job_that_asked_for_no_cover_has_none(system: System, tmp_path_factory: pytest.TempPathFactory) -> None:
    token, job_id = converted_job(system, tmp_path_factory, cover_art="false")

    response = cover(system, token, job_id)

    assert response.status_code == 404
    assert "has no cover picture" in response.json()["detail"]
