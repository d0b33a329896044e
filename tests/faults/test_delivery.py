"""Nothing lost while the SMTP server is out of service."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.test_flow import job, upload, wait_terminal
from tests.system import System, wait_for


def test_emails_wait_for_the_smtp_server_and_go_out_once(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    system.mailbox.out_of_service = True
    try:
        job_id = upload(system, token, "offline.mp4", sample_video[0].read_bytes()).json()["job_id"]
        wait_for(lambda: _state(system, token, job_id) == "converted", timeout=60)
        time.sleep(7)  # the first retry, 5 s later, is refused as well
        assert system.mailbox.refused >= 2
        assert system.mailbox.for_job(job_id) == []
        assert _state(system, token, job_id) == "converted"
    finally:
        system.mailbox.out_of_service = False

    status = wait_terminal(system, token, job_id)  # the next retry comes 30 s after the first
    assert status["state"] == "notified"
    time.sleep(2)
    assert len(system.mailbox.for_job(job_id)) == 1


def _state(system: System, token: str, job_id: str) -> str:
    return str(job(system, token, job_id)["state"])
