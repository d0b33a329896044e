"""The webhook sender (a part of the notifier) killed mid-delivery, again and again, under a
burst of jobs: every event still reaches the receiver at least once, and a repeat carries the
same ``webhook-id`` and body as the first. The counts are printed and written to
``bench/results/faults-webhook-sender-kill.json``."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

from tests.e2e.test_flow import upload
from tests.system import System, wait_for
from tests.webhooks.receiver import Received, receiving

JOBS = 12
KILLS = 4
_RESULTS = Path(__file__).parents[2] / "bench" / "results" / "faults-webhook-sender-kill.json"


def _upload_when_room(system: System, token: str, name: str, data: bytes) -> str:
    """Upload, waiting while the user has as much work in flight as allowed (429)."""
    deadline = time.monotonic() + 300
    while True:
        response = upload(system, token, name, data)
        if response.status_code != 429 or time.monotonic() > deadline:
            assert response.status_code == 202, response.text
            return str(response.json()["job_id"])
        time.sleep(float(response.headers.get("Retry-After", "1")))


def test_killing_the_sender_mid_delivery_loses_no_event_and_repeats_keep_their_id(
    system: System, sample_video: tuple[Path, float]
) -> None:
    in_flight = threading.Semaphore(0)

    def slow_ok(_received: Received, _before: int) -> int:
        in_flight.release()  # the test kills the sender while this answer is still on its way
        time.sleep(0.3)
        return 200

    with receiving() as receiver:
        receiver.answers["/burst"] = slow_ok
        token = system.new_user_token()
        created = httpx.post(
            f"{system.gateway}/v1/webhooks",
            json={"url": receiver.url("/burst")},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        data = sample_video[0].read_bytes()
        jobs = [_upload_when_room(system, token, f"burst-{n}.mp4", data) for n in range(JOBS)]

        kills = 0
        for _ in range(KILLS):
            assert in_flight.acquire(timeout=180), "no delivery arrived to kill the sender under"
            system.kill("notifier")  # mid-request: the receiver has it, the sender never hears back
            kills += 1
            while in_flight.acquire(blocking=False):
                pass
            time.sleep(0.5)
            system.start("notifier")

        def every_job_ready() -> bool:
            return all("job.ready" in receiver.types("/burst", job_id) for job_id in jobs)

        wait_for(every_job_ready, timeout=600, interval=1.0)
        time.sleep(5)  # repeats of the last deliveries, if any, arrive too
        got = receiver.got("/burst")

    by_id: dict[str, set[str]] = defaultdict(set)
    ids_of_event: dict[tuple[str, str], set[str]] = defaultdict(set)
    for received in got:
        event = Webhook(secret).verify(received.body, received.headers)
        by_id[received.webhook_id].add(received.body)
        ids_of_event[(event["data"]["job_id"], event["event_id"])].add(received.webhook_id)
    for job_id in jobs:
        types = set(receiver.types("/burst", job_id))
        assert {"job.queued", "job.converting", "job.ready"} <= types, (job_id, types)
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a repeat is the same delivery
    assert all(len(ids) == 1 for ids in ids_of_event.values())  # one webhook-id per event and endpoint

    counts = {
        "jobs": JOBS,
        "kills": kills,
        "deliveries_received": len(got),
        "distinct_webhook_ids": len(by_id),
        "repeats": len(got) - len(by_id),
        "webhook_ids_received_more_than_once": sum(1 for wid in by_id if sum(r.webhook_id == wid for r in got) > 1),
        "received_by_type": {
            t: sum(1 for r in got if r.event["type"] == t) for t in sorted({r.event["type"] for r in got})
        },
    }
    print(f"\nwebhook sender killed {kills} times under {JOBS} jobs: {json.dumps(counts)}")
    _RESULTS.parent.mkdir(parents=True, exist_ok=True)
    _RESULTS.write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
