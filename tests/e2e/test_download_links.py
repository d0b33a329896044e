"""Signed download links through the running system: no token needed, one file, ranges and
validators as the API download; expired, forged and deleted-job links refused. And the
emails: both links in the ready email, a failure email with the reason in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from common.links import DEV_LINK_KEY, LinkSigner
from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, job, upload, wait_terminal


@pytest.fixture(scope="module")
def converted(system: System, sample_video: tuple[Path, float]) -> tuple[str, dict[str, Any]]:
    token = system.new_user_token()
    job_id = upload(system, token, "linked.mp4", sample_video[0].read_bytes()).json()["job_id"]
    status = wait_terminal(system, token, job_id)
    assert status["state"] == "notified", status
    return token, status


def test_the_job_views_link_downloads_without_a_token(system: System, converted: tuple[str, dict[str, Any]]) -> None:
    token, status = converted
    mp3 = status["mp3"]
    assert mp3["download_url"].startswith("/v1/downloads/")
    assert mp3["api_url"] == f"/v1/jobs/{status['job_id']}/mp3"
    assert mp3["size_bytes"] > 0
    expires = datetime.fromisoformat(mp3["download_expires_at"])
    # a link never outlives its MP3: kept a day (retention), the link ends then, not after 7 days
    assert expires == datetime.fromisoformat(status["expires_at"]).replace(microsecond=0)
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)

    by_link = httpx.get(f"{system.gateway}{mp3['download_url']}")  # no Authorization header
    by_token = httpx.get(f"{system.gateway}{mp3['api_url']}", headers=bearer(token))
    assert by_link.status_code == 200
    assert by_link.content == by_token.content
    assert len(by_link.content) == mp3["size_bytes"]
    assert by_link.headers["content-type"] == "audio/mpeg"
    assert by_link.headers["etag"] == by_token.headers["etag"]
    assert by_link.headers["content-disposition"].startswith('attachment; filename="linked.mp3"')

    ranged = httpx.get(f"{system.gateway}{mp3['download_url']}", headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == by_token.content[100:200]
    assert ranged.headers["content-range"] == f"bytes 100-199/{len(by_token.content)}"
    again = httpx.get(f"{system.gateway}{mp3['download_url']}", headers={"If-None-Match": by_link.headers["etag"]})
    assert again.status_code == 304


def test_refused_links_say_why_to_programs_and_to_people(system: System, converted: tuple[str, dict[str, Any]]) -> None:
    _, status = converted
    job_id, url = UUID(status["job_id"]), status["mp3"]["download_url"]
    # the stack runs with the development key, so the test can sign as the services do
    signer = LinkSigner(DEV_LINK_KEY, lifetime=timedelta(days=7))
    file_id = signer.verify(url.rsplit("/", 1)[1]).file_id

    expired = signer.sign(job_id, file_id, now=datetime.now(UTC) - timedelta(days=8)).path
    answer = httpx.get(f"{system.gateway}{expired}")
    assert answer.status_code == 410
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "expired" in answer.json()["detail"]

    forged = LinkSigner("someone else's key of thirty-two bytes or more", lifetime=timedelta(days=1))
    for path in (forged.sign(job_id, file_id).path, url[:-8], signer.sign(job_id, "6650a1f2c3d4e5f601234567").path):
        refused = httpx.get(f"{system.gateway}{path}")
        assert refused.status_code in (404, 410), (path, refused.text)
        assert refused.json()["detail"]

    # a browser opening an expired link from an email reads a page, not JSON
    page = httpx.get(f"{system.gateway}{expired}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 410
    assert page.headers["content-type"].startswith("text/html")
    assert "has expired" in page.text
    assert "<script" not in page.text


def test_deleting_the_job_revokes_its_links(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "revoked.mp4", sample_video[0].read_bytes()).json()["job_id"]
    link = wait_terminal(system, token, job_id)["mp3"]["download_url"]
    assert httpx.get(f"{system.gateway}{link}").status_code == 200

    assert httpx.delete(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token)).status_code == 204

    gone = httpx.get(f"{system.gateway}{link}")
    assert gone.status_code == 410
    assert "deleted" in gone.json()["detail"]


def test_the_ready_email_links_to_the_mp3_and_to_the_job(system: System, converted: tuple[str, dict[str, Any]]) -> None:
    _, status = converted
    job_id = status["job_id"]
    [email] = wait_for(lambda: system.mailbox.for_job(job_id), timeout=30)
    assert email["Date"]
    assert f"(job {job_id[:8]})" in email["Subject"]
    plain = email.get_payload()[0].get_payload(decode=True).decode()
    [download] = re.findall(rf"{re.escape(system.gateway)}/v1/downloads/\S+", plain)
    assert f"{system.gateway}/jobs/{job_id}" in plain
    assert httpx.get(download).status_code == 200  # signed out


def test_a_failed_job_is_emailed_with_the_reason_in_words(system: System, tmp_path: Path) -> None:
    token = system.new_user_token()
    path = tmp_path / "cut.mp4"
    write_sample_video(path, seconds=10.0, width=64, height=48, faststart=True)
    data = path.read_bytes()
    job_id = upload(system, token, "cut short.mp4", data[: len(data) // 2]).json()["job_id"]
    assert wait_terminal(system, token, job_id)["state"] == "failed"

    [email] = wait_for(lambda: system.mailbox.for_job(job_id), timeout=60)
    assert email["X-Vidmp3-Email"] == "failed"
    assert email["Date"]
    assert "Could not convert cut short.mp4" in str(email["Subject"])
    plain = email.get_payload()[0].get_payload(decode=True).decode()
    assert "The file ends too early" in plain
    assert "What to try: Upload a complete copy of the file." in plain
    assert f"{system.gateway}/jobs/{job_id}" in plain
    assert job(system, token, job_id)["state"] == "failed"  # no "notified" for a failure email
