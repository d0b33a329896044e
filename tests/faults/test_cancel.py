"""A job cancelled or deleted in the middle of its conversion: it stops promptly, no MP3 is
left, nobody is emailed, and the job ends ``cancelled`` (or is gone)."""

from __future__ import annotations

import time

import httpx

from tests.e2e.test_flow import bearer, job, upload
from tests.system import System, wait_for


def started_converting(system: System, token: str, job_id: str) -> bool:
    status = job(system, token, job_id)
    return status["state"] == "converting" and (status["progress_percent"] or 0) >= 5


def test_a_job_cancelled_mid_conversion_ends_cancelled_without_mp3_or_email(system: System, long_video: bytes) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "cancel-me.mp4", long_video).json()["job_id"]
    wait_for(lambda: started_converting(system, token, job_id), timeout=120, interval=0.1)

    response = httpx.post(f"{system.gateway}/v1/jobs/{job_id}/cancel", headers=bearer(token))
    assert response.status_code == 200, response.text
    cancelled_at = time.monotonic()
    # the conversion stops: its chunks are removed and no further progress is reported
    wait_for(lambda: system.orphan_chunks() == 0 and job(system, token, job_id)["state"] == "cancelled", timeout=30)
    stopped_within = time.monotonic() - cancelled_at
    progress = job(system, token, job_id)["progress_percent"]
    time.sleep(5)

    status = job(system, token, job_id)
    assert status["state"] == "cancelled"
    assert status["progress_percent"] == progress
    assert [step["state"] for step in status["history"]] == ["queued", "converting", "cancelled"]
    assert system.mp3_files(job_id) == 0
    assert system.orphan_chunks() == 0
    assert system.mailbox.for_job(job_id) == []
    assert stopped_within < 10, stopped_within


def test_a_job_deleted_mid_conversion_leaves_nothing_behind(system: System, long_video: bytes) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "delete-me.mp4", long_video).json()["job_id"]
    wait_for(lambda: started_converting(system, token, job_id), timeout=120, interval=0.1)

    response = httpx.delete(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token))
    assert response.status_code == 204, response.text
    wait_for(lambda: system.orphan_chunks() == 0, timeout=30)
    time.sleep(5)

    assert httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token)).status_code == 404
    assert system.mp3_files(job_id) == 0
    assert system.orphan_chunks() == 0
    assert system.mailbox.for_job(job_id) == []
