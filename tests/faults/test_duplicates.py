"""Every event published twice: the read model, the stored MP3s and the mailbox are unchanged."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.test_flow import upload, wait_terminal
from tests.faults.conftest import Duplicator
from tests.system import System


def test_every_event_published_twice_changes_nothing(
    system: System, duplicator: Duplicator, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    jobs = [upload(system, token, f"twice-{n}.mp4", sample_video[0].read_bytes()).json()["job_id"] for n in range(4)]

    statuses = [wait_terminal(system, token, job_id) for job_id in jobs]
    time.sleep(3)  # let the copies of the last events arrive too

    assert duplicator.copies >= 4 * 4
    for job_id, status in zip(jobs, statuses, strict=True):
        assert status["state"] == "notified", status
        assert [step["state"] for step in status["history"]] == ["queued", "converting", "converted", "notified"]
        assert len(system.mailbox.for_job(job_id)) == 1, job_id
        assert system.mp3_files(job_id) == 1, job_id
