"""Conversion options through the gateway: a bad value is a 4xx problem naming the field, in
a multipart form and in tus metadata alike (no job is created); good ones reach the MP3. A
video cut short gets past the upload check and fails as truncated, and the converter goes on."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import pytest
from mutagen.mp3 import MP3, BitrateMode

from converter.samples import write_sample_video
from tests.e2e.conftest import System
from tests.e2e.test_flow import bearer, upload, wait_terminal
from tests.e2e.test_gateway_uploads import TUS, assert_problem
from tests.unit.mp3_facts import decode, frame_seconds

BAD = [
    ({"bitrate_kbps": "100"}, "bitrate_kbps"),
    ({"vbr_quality": "10"}, "vbr_quality"),
    ({"sample_rate_hz": "44000"}, "sample_rate_hz"),
    ({"channels": "surround"}, "channels"),
    ({"start_seconds": "-2"}, "start_seconds"),
    ({"end_seconds": "0"}, "end_seconds"),
    ({"normalize": "perhaps"}, "normalize"),
    ({"split_chapters": "by all means"}, "split_chapters"),
    ({"start_seconds": "9", "end_seconds": "3"}, "end_seconds"),  # the pair is wrong: the later one is named
    ({"bitrate_kbps": "128", "vbr_quality": "2"}, "vbr_quality"),
]


@pytest.fixture(scope="module")
def token(system: System) -> str:
    return system.new_user_token()


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("options") / "clip.mp4"
    write_sample_video(path, seconds=6.0, silent_until=1.0, width=64, height=48, metadata={"artist": "The Testers"})
    return path.read_bytes()


@pytest.fixture(scope="module")
def refused(system: System) -> str:
    """A user whose every upload is refused: they never have a job."""
    return system.new_user_token()


@pytest.mark.parametrize(("fields", "field"), BAD)
def test_a_bad_option_in_a_form_is_a_422_naming_it(
    system: System, refused: str, video: bytes, fields: dict[str, str], field: str
) -> None:
    problem = assert_problem(upload(system, refused, "clip.mp4", video, **fields), 422)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert_for_people(problem["detail"])
    assert httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(refused)).json()["items"] == []


@pytest.mark.parametrize(("fields", "field"), BAD)
def test_a_bad_option_in_tus_metadata_is_a_422_naming_it(
    system: System, refused: str, fields: dict[str, str], field: str
) -> None:
    pairs = {"filename": "clip.mp4", "filetype": "video/mp4", **fields}
    metadata = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items())

    response = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**bearer(refused), **TUS, "Upload-Length": "1000", "Upload-Metadata": metadata},
    )

    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert_for_people(problem["detail"])


def assert_for_people(detail: str) -> None:
    """Words a person acts on: no field names, no library messages ("Value error, ...")."""
    assert detail[0].isupper(), detail
    assert "_" not in detail, detail
    assert "Value error" not in detail, detail
    assert "Input should" not in detail, detail


def test_the_options_shape_the_mp3(system: System, token: str, video: bytes, tmp_path: Path) -> None:
    accepted = upload(
        system,
        token,
        "Sea shanty.mp4",
        video,
        vbr_quality="3",
        channels="mono",
        sample_rate_hz="32000",
        start_seconds="0.5",
        end_seconds="4.5",
        normalize="true",
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]

    assert wait_terminal(system, token, job_id)["state"] == "notified"
    mp3 = httpx.get(f"{system.gateway}/v1/jobs/{job_id}/mp3", headers=bearer(token)).content

    decoded = decode(mp3)
    assert (decoded.sample_rate, decoded.channels) == (32_000, 1)
    assert abs(decoded.seconds - 4.0) <= frame_seconds(32_000)
    info = MP3(io.BytesIO(mp3))
    assert info.info.bitrate_mode == BitrateMode.VBR
    assert abs(info.info.length - 4.0) <= frame_seconds(32_000)  # the Xing frame made it into GridFS
    assert info.tags is not None
    assert info.tags.version[:2] == (2, 3)
    assert (str(info.tags["TIT2"]), str(info.tags["TPE1"])) == ("Sea shanty", "The Testers")


def test_a_video_cut_short_fails_as_truncated_and_the_next_job_converts(
    system: System, token: str, video: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "cut.mp4"
    write_sample_video(path, seconds=10.0, width=64, height=48, faststart=True)
    data = path.read_bytes()
    cut = upload(system, token, "cut.mp4", data[: len(data) // 2])  # the header is whole: the check lets it in
    assert cut.status_code == 202, cut.text

    failed = wait_terminal(system, token, cut.json()["job_id"])

    assert failed["state"] == "failed", failed
    assert failed["error"]["reason"] == "truncated_input"
    assert "cut short" in failed["error"]["message"]
    after = upload(system, token, "after.mp4", video)
    assert wait_terminal(system, token, after.json()["job_id"])["state"] == "notified"
