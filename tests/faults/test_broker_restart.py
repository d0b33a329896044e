"""A RabbitMQ restart in the middle of a burst of uploads loses and duplicates nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.test_flow import upload, wait_terminal
from tests.services import Endpoints
from tests.system import System

UPLOADS = 12


def test_a_broker_restart_during_uploads_loses_no_job(
    system: System, endpoints: Endpoints, sample_video: tuple[Path, float]
) -> None:
    if endpoints.rabbitmqctl is None:
        pytest.fail("this test restarts RabbitMQ: it needs rabbitmqctl rights (run as root, or with Docker)")
    # three users of four jobs each: while the broker is down no job ends, and one user may have
    # only 8 in flight (VIDMP3_MAX_JOBS_IN_FLIGHT)
    tokens = [system.new_user_token() for _ in range(3)]
    video = sample_video[0].read_bytes()
    owners: dict[str, str] = {}

    def send(n: int) -> str:
        token = tokens[n % len(tokens)]
        response = upload(system, token, f"burst-{n}.mp4", video)
        assert response.status_code == 202, response.text
        job_id = str(response.json()["job_id"])
        owners[job_id] = token
        return job_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        first = list(pool.map(send, range(UPLOADS // 3)))
        endpoints.rabbitmqctl("stop_app")
        try:
            # the broker is down: uploads are still accepted, their events wait in the outbox
            during = list(pool.map(send, range(UPLOADS // 3, 2 * UPLOADS // 3)))
            time.sleep(2)
        finally:
            endpoints.rabbitmqctl("start_app")
        after = list(pool.map(send, range(2 * UPLOADS // 3, UPLOADS)))

    jobs = first + during + after
    statuses = {job_id: wait_terminal(system, owners[job_id], job_id, timeout=300) for job_id in jobs}
    time.sleep(3)
    for job_id, status in statuses.items():
        assert status["state"] == "notified", status
        assert len(system.mailbox.for_job(job_id)) == 1, job_id
        assert system.mp3_files(job_id) == 1, job_id
