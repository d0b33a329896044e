"""The media limits at upload, through a real gateway configured with small ones: audio
stating more than the duration limit (lower with ``normalize``) is a 422 naming the limit,
by either upload route, and a user's unfinished tus uploads are bounded (429 beyond)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.stack import Stack
from tests.e2e.conftest import System
from tests.e2e.test_flow import bearer
from tests.e2e.test_gateway_uploads import OFFSET_STREAM, TUS, assert_problem, free_port
from tests.lying_media import flac

PENDING = 3


@pytest.fixture(scope="module")
def limited_gateway(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second gateway process with small media limits, beside the system's."""
    config = dataclasses.replace(
        system.stack.config,
        state_dir=tmp_path_factory.mktemp("limited-gateway"),
        base_port=free_port(),
        extra_env={
            "VIDMP3_MAX_MEDIA_SECONDS": "10",
            "VIDMP3_MAX_NORMALIZE_SECONDS": "2",
            "VIDMP3_MAX_PENDING_UPLOADS": str(PENDING),
            "VIDMP3_AUTH_URL": system.stack.config.url("auth"),
        },
    )
    stack = Stack(config)
    stack.start("gateway")
    try:
        yield config.url("gateway")
    finally:
        stack.stop("gateway")


@pytest.fixture(scope="module")
def long_flac() -> bytes:
    return flac(30)


def multipart(gateway: str, token: str, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{gateway}/v1/jobs",
        headers=bearer(token),
        files={"file": ("a.flac", data, "audio/flac")},
        data=fields,
        timeout=60,
    )


def create(gateway: str, token: str, length: int, **metadata: str) -> httpx.Response:
    pairs = {"filename": "a.flac", **metadata}
    encoded = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items())
    return httpx.post(
        f"{gateway}/v1/uploads",
        headers={**bearer(token), **TUS, "Upload-Length": str(length), "Upload-Metadata": encoded},
    )


def test_audio_stating_more_than_the_limit_is_refused_at_upload(
    system: System, limited_gateway: str, long_flac: bytes
) -> None:
    problem = assert_problem(multipart(limited_gateway, system.new_user_token(), long_flac), 422)

    assert problem["detail"].startswith("The audio to convert is 0:30 long; the limit is 0:10.")
    assert problem["errors"][0]["field"] == "file"


def test_a_trim_within_the_limit_is_accepted(system: System, limited_gateway: str, long_flac: bytes) -> None:
    response = multipart(limited_gateway, system.new_user_token(), long_flac, start_seconds="5", end_seconds="12")
    assert response.status_code == 202, response.text


def test_normalize_has_a_lower_limit(system: System, limited_gateway: str, sample_video: tuple[Path, float]) -> None:
    token, video = system.new_user_token(), sample_video[0].read_bytes()

    problem = assert_problem(multipart(limited_gateway, token, video, normalize="true"), 422)
    assert "with loudness normalization the limit is 0:02 (0:10 without it)" in problem["detail"]
    assert multipart(limited_gateway, token, video).status_code == 202


def test_a_tus_upload_over_the_limit_is_refused_when_it_completes(
    system: System, limited_gateway: str, long_flac: bytes
) -> None:
    token = system.new_user_token()
    created = create(limited_gateway, token, len(long_flac))
    assert created.status_code == 201, created.text
    location = created.headers["location"]

    done = httpx.patch(
        f"{limited_gateway}{location}",
        headers={**bearer(token), **TUS, **OFFSET_STREAM, "Upload-Offset": "0"},
        content=long_flac,
        timeout=60,
    )
    assert "the limit is 0:10" in assert_problem(done, 422)["detail"]
    assert httpx.head(f"{limited_gateway}{location}", headers={**bearer(token), **TUS}).status_code == 404


def test_unfinished_uploads_per_user_are_bounded(system: System, limited_gateway: str) -> None:
    token, other = system.new_user_token(), system.new_user_token()
    locations = []
    for _ in range(PENDING):
        created = create(limited_gateway, token, 1_000_000)
        assert created.status_code == 201, created.text
        locations.append(created.headers["location"])

    refused = create(limited_gateway, token, 1_000_000)
    problem = assert_problem(refused, 429)
    assert f"You have {PENDING} unfinished uploads" in problem["detail"]
    assert create(limited_gateway, other, 1_000_000).status_code == 201  # per user

    removed = httpx.delete(f"{limited_gateway}{locations[0]}", headers={**bearer(token), **TUS})
    assert removed.status_code == 204
    assert create(limited_gateway, token, 1_000_000).status_code == 201  # its slot is free again
    assert create(limited_gateway, token, 1_000_000).status_code == 429


def test_a_completed_upload_frees_its_slot(
    system: System, limited_gateway: str, sample_video: tuple[Path, float]
) -> None:
    token, video = system.new_user_token(), sample_video[0].read_bytes()
    first = create(limited_gateway, token, len(video)).headers["location"]
    for _ in range(PENDING - 1):
        assert create(limited_gateway, token, len(video)).status_code == 201
    assert create(limited_gateway, token, len(video)).status_code == 429

    done = httpx.patch(
        f"{limited_gateway}{first}",
        headers={**bearer(token), **TUS, **OFFSET_STREAM, "Upload-Offset": "0"},
        content=video,
        timeout=60,
    )
    assert done.status_code == 204, done.text
    assert create(limited_gateway, token, len(video)).status_code == 201


def test_an_upload_length_over_the_size_limit_is_413(system: System) -> None:
    response = create(system.gateway, system.new_user_token(), 2 * 1024**3 + 1)
    assert "larger than the 2 GiB limit" in assert_problem(response, 413)["detail"]
