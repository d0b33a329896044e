"""The store (FerretDB) goes away in the middle of a conversion and comes back: the job
recovers and completes, once. The system runs on a FerretDB of its own here, so stopping it
disturbs no other test session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.e2e.test_flow import job, upload, wait_terminal
from tests.faults.conftest import CONVERTER_ENV
from tests.services import Endpoints, PrivateFerretDB, own_vhost
from tests.system import System, print_log_tails, running_system, wait_for

OUTAGE_SECONDS = 15
"""Longer than the services' server-selection timeout (10 s): operations fail, not just wait."""


@pytest.fixture
def outage_system(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[System, PrivateFerretDB]]:
    ferretdb = PrivateFerretDB(tmp_path_factory.mktemp("ferretdb"))
    ferretdb.start()
    try:
        with (
            own_vhost(endpoints) as private,
            running_system(
                replace(private, mongo_url=ferretdb.url),
                "vidmp3_outage",
                tmp_path_factory.mktemp("outage"),
                show_logs=False,
                **CONVERTER_ENV,
            ) as system,
        ):
            failed_before = request.session.testsfailed
            yield system, ferretdb
            if request.session.testsfailed > failed_before:
                print_log_tails(system.stack)
    finally:
        ferretdb.stop()


def test_a_conversion_recovers_when_the_store_comes_back(
    outage_system: tuple[System, PrivateFerretDB], long_video: bytes
) -> None:
    system, ferretdb = outage_system
    token = system.new_user_token()
    job_id = upload(system, token, "outage.mp4", long_video).json()["job_id"]
    wait_for(
        lambda: (
            job(system, token, job_id)["state"] == "converting"
            and (job(system, token, job_id)["progress_percent"] or 0) >= 10
        ),
        timeout=120,
        interval=0.1,
    )

    ferretdb.stop()
    time.sleep(OUTAGE_SECONDS)
    ferretdb.start()

    status = wait_terminal(system, token, job_id, timeout=300)
    assert status["state"] == "notified", status
    wait_for(lambda: system.mailbox.for_job(job_id), timeout=30)
    time.sleep(3)
    assert system.mp3_files(job_id) == 1
    wait_for(lambda: system.orphan_chunks() == 0, timeout=60)  # the broken attempt's chunks
    assert len(system.mailbox.for_job(job_id)) == 1
