"""End to end through the gateway, with every service running as its own process."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import av
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth.tokens import load_private_key
from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for

TERMINAL = {"notified", "failed"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(system: System, token: str, name: str, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{system.gateway}/v1/jobs",
        headers=bearer(token),
        files={"file": (name, data, "video/mp4")},
        data=fields,
        timeout=60,
    )


def job(system: System, token: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_terminal(system: System, token: str, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    try:
        return wait_for(lambda: (status := job(system, token, job_id))["state"] in TERMINAL and status, timeout)  # type: ignore[no-any-return]
    except AssertionError as error:
        raise AssertionError(f"{error}\n{system.diagnosis(job_id)}") from None


def decoded_duration(mp3: bytes) -> float:
    with av.open(io.BytesIO(mp3)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.sample_rate


def test_a_video_becomes_an_mp3_the_owner_is_emailed_about_and_downloads(
    system: System, sample_video: tuple[Path, float]
) -> None:
    path, audio_seconds = sample_video
    token = system.new_user_token()

    accepted = upload(system, token, "Holiday 2026 – été.mp4", path.read_bytes())
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert accepted.headers["location"] == f"/v1/jobs/{job_id}"

    status = wait_terminal(system, token, job_id)
    assert status["state"] == "notified", status
    assert [step["state"] for step in status["history"]] == ["queued", "converting", "converted", "notified"]
    assert status["filename"] == "Holiday 2026 – été.mp4"

    mail = wait_for(lambda: system.mailbox.for_job(job_id), timeout=10)
    assert len(mail) == 1
    text = mail[0].get_payload()[0].get_payload(decode=True).decode()
    assert job_id in text
    assert f"{system.gateway}/jobs/{job_id}" in text
    [emailed] = re.findall(rf"{re.escape(system.gateway)}/v1/downloads/\S+", text)
    assert (
        httpx.get(emailed).content
        == httpx.get(f"{system.gateway}{status['mp3']['api_url']}", headers=bearer(token)).content
    )

    download = httpx.get(f"{system.gateway}{status['mp3']['download_url']}", headers=bearer(token))
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/mpeg"
    assert int(download.headers["content-length"]) == len(download.content)
    assert "filename*=UTF-8''Holiday%202026%20%E2%80%93%20%C3%A9t%C3%A9.mp3" in download.headers["content-disposition"]
    assert abs(decoded_duration(download.content) - audio_seconds) < 0.1


def test_another_user_cannot_see_or_download_the_job(system: System, sample_video: tuple[Path, float]) -> None:
    owner, stranger = system.new_user_token(), system.new_user_token()
    job_id = upload(system, owner, "mine.mp4", sample_video[0].read_bytes()).json()["job_id"]
    wait_terminal(system, owner, job_id)

    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/mp3"):
        response = httpx.get(f"{system.gateway}{path}", headers=bearer(stranger))
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{system.gateway}/v1/jobs/{job_id}/mp3", headers=bearer(owner)).status_code == 200


def _claims(system: System, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "1",
        "email": "x@example.com",
        "roles": ["user"],
        "iss": "vidmp3-auth",
        "aud": "vidmp3",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j",
    } | changes


def _kid(system: System, token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_requests_without_a_valid_token_are_refused(system: System) -> None:
    real = system.new_user_token()
    key = load_private_key(system.stack.config.signing_key_file)
    kid = _kid(system, real)
    now = int(time.time())
    forged = {
        "no token": None,
        "not a jwt": "not-a-token",
        "other key": jwt.encode(_claims(system), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}),
        "expired": jwt.encode(
            _claims(system, iat=now - 3600, nbf=now - 3600, exp=now - 1800),
            key,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "alg none": jwt.encode(_claims(system), None, algorithm="none", headers={"kid": kid}),
        "tampered": real.rsplit(".", 2)[0]
        + "."
        + jwt.utils.base64url_encode(b'{"sub":"2"}').decode()
        + "."
        + real.rsplit(".", 1)[1],
    }
    for case, token in forged.items():
        headers = bearer(token) if token else {}
        response = httpx.get(f"{system.gateway}/v1/jobs/00000000-0000-4000-8000-000000000000", headers=headers)
        assert response.status_code == 401, case
        assert response.headers["content-type"].startswith("application/problem+json"), case
        assert response.headers["www-authenticate"].startswith("Bearer"), case
    assert (
        httpx.get(f"{system.gateway}/v1/jobs/00000000-0000-4000-8000-000000000000", headers=bearer(real)).status_code
        == 404
    )


def test_inputs_without_audio_are_refused_at_upload_with_a_reason_and_service_goes_on(
    system: System, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    token = system.new_user_token()
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)

    refusals = {
        "text": upload(system, token, "notes.txt", b"this is not a video\n" * 100),
        "no audio": upload(system, token, "silent.mp4", silent.read_bytes()),
    }
    good_job = upload(system, token, "good.mp4", sample_video[0].read_bytes()).json()["job_id"]

    for case, response in refusals.items():
        assert 400 <= response.status_code < 500, case
        assert response.headers["content-type"].startswith("application/problem+json"), case
        assert response.json()["detail"], case
    assert "audio" in refusals["no audio"].json()["detail"]
    assert wait_terminal(system, token, good_job)["state"] == "notified"
    # a conversion that fails after upload ends as failed with a reason: converter tests cover it


@pytest.mark.parametrize(
    ("files", "data", "status"),
    [
        ({"file": ("empty.mp4", b"", "video/mp4")}, {}, 422),
        ({"file": ("a.mp4", b"x" * 100, "video/mp4")}, {"bitrate_kbps": "100"}, 422),
        ({"file": ("a.mp4", b"x" * 100, "video/mp4")}, {"bitrate_kbps": "loud"}, 422),
        ({"other": ("a.mp4", b"x" * 100, "video/mp4")}, {}, 422),
    ],
)
def test_unacceptable_uploads_are_refused_with_a_problem(
    system: System, files: dict[str, Any], data: dict[str, str], status: int
) -> None:
    token = system.tokens.setdefault("refusals", system.new_user_token())

    response = httpx.post(f"{system.gateway}/v1/jobs", headers=bearer(token), files=files, data=data)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_body_that_is_not_multipart_is_a_bad_request(system: System) -> None:
    token = system.tokens.setdefault("refusals", system.new_user_token())
    response = httpx.post(f"{system.gateway}/v1/jobs", headers=bearer(token), json={"file": "x"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_wrong_password_is_refused(system: System) -> None:
    email, _ = system.create_user()
    response = httpx.post(f"{system.gateway}/v1/auth/login", json={"email": email, "password": "wrong"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_openapi_document_is_served_and_names_every_route(system: System) -> None:
    document = httpx.get(f"{system.gateway}/docs/openapi.json").json()
    assert set(document["paths"]) >= {
        "/v1/auth/login",
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/mp3",
        "/v1/jobs/{job_id}/parts/{number}/mp3",
    }
    assert "multipart/form-data" in document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    assert httpx.get(f"{system.gateway}/docs/swagger").status_code == 200


def test_the_requested_bitrate_is_what_comes_out(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.tokens.setdefault("bitrate", system.new_user_token())
    accepted = upload(system, token, "low.mp4", sample_video[0].read_bytes(), bitrate_kbps="128")
    assert accepted.status_code == 202, accepted.text
    status = wait_terminal(system, token, accepted.json()["job_id"])

    mp3 = httpx.get(f"{system.gateway}{status['mp3']['download_url']}", headers=bearer(token)).content
    with av.open(io.BytesIO(mp3)) as container:
        assert container.streams.audio[0].codec_context.bit_rate == 128_000
