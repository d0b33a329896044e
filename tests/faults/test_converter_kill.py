"""SIGKILL the converter in the middle of long conversions and start it again: every job
finishes once, with exactly one MP3, no orphan chunks and one email.

``VIDMP3_FAULT_KILL_LOOPS`` sets how many jobs are cut short (3 by default). Half of them
are killed right after they start converting, while their delivery is most likely still
unacked (the broker hands it to the restarted converter); the others later, once it was
acked (the restarted converter's reclaimer takes the job over, nothing is redelivered). The
counts of each path are printed and written to ``VIDMP3_FAULT_REPORT`` if set.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from contracts.topology import Queues
from tests.e2e.test_flow import bearer, decoded_duration, job, upload, wait_terminal
from tests.faults.conftest import LONG_SECONDS
from tests.system import System, wait_for

KILL_LOOPS = int(os.environ.get("VIDMP3_FAULT_KILL_LOOPS", "3"))


def converting(system: System, token: str, job_id: str, at_least: float | None) -> bool:
    status = job(system, token, job_id)
    if status["state"] != "converting":
        return False
    return at_least is None or (status["progress_percent"] or 0) >= at_least


@pytest.mark.timeout(max(600, 120 * KILL_LOOPS))
def test_a_killed_converter_leaves_each_job_finished_once(system: System, long_video: bytes) -> None:
    token = system.new_user_token()
    paths: Counter[str] = Counter()
    seconds: list[float] = []

    for iteration in range(KILL_LOOPS):
        started = time.monotonic()
        job_id = upload(system, token, f"kill-{iteration}.mp4", long_video).json()["job_id"]
        early = iteration % 2 == 1
        at_least = None if early else 30.0 + (iteration * 17) % 50
        wait_for(lambda: converting(system, token, job_id, at_least), timeout=120, interval=0.1)  # noqa: B023
        # the event loop answers while conversions run in threads beside it
        health = httpx.get(f"{system.stack.config.url('converter')}/health", timeout=1)
        assert health.status_code == 200
        system.kill("converter")
        left_in_queue = system.queued_messages(Queues.CONVERTER.name)
        paths["redelivered" if left_in_queue else "taken over without redelivery"] += 1
        system.start("converter")

        status = wait_terminal(system, token, job_id, timeout=240)
        seconds.append(time.monotonic() - started)
        assert status["state"] == "notified", status
        # the notifier's queue may beat the projection's to Mp3Converted: the fold catches up
        wait_for(lambda: len(job(system, token, job_id)["history"]) == 4, timeout=30)  # noqa: B023
        status = job(system, token, job_id)
        assert [step["state"] for step in status["history"]] == ["queued", "converting", "converted", "notified"]
        wait_for(lambda: system.mailbox.for_job(job_id), timeout=30)  # noqa: B023
        assert system.mp3_files(job_id) == 1, job_id
        # the chunks a killed attempt left are removed right after the outcome is announced
        wait_for(lambda: system.orphan_chunks() == 0, timeout=60, interval=1)
        mp3 = httpx.get(f"{system.gateway}/v1/jobs/{job_id}/mp3", headers=bearer(token), timeout=60)
        assert mp3.status_code == 200
        assert abs(decoded_duration(mp3.content) - LONG_SECONDS) < 0.5
        assert len(system.mailbox.for_job(job_id)) == 1

    time.sleep(3)  # anything late (a second email, a second MP3) would show by now
    summary = {
        "kills": KILL_LOOPS,
        "paths": dict(paths),
        "notified": KILL_LOOPS,
        "mp3s_per_job": 1,
        "orphan_chunks": system.orphan_chunks(),
        "emails": len([m for m in system.mailbox.messages if m["X-Vidmp3-Job-Id"]]),
        "seconds_per_job": {"min": round(min(seconds), 1), "max": round(max(seconds), 1)},
    }
    print(f"\nkill loop: {json.dumps(summary)}")
    if report := os.environ.get("VIDMP3_FAULT_REPORT"):
        Path(report).write_text(json.dumps(summary, indent=2))
    assert summary["orphan_chunks"] == 0
