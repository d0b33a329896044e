"""``GET /v1/jobs/{id}/events``: a job's status as server-sent events, every service running."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from converter.samples import write_sample_video
from tests.e2e.conftest import System
from tests.e2e.test_flow import bearer, job, upload

ORDER = ["queued", "converting", "converted", "notified"]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Five minutes of audio (a few seconds to convert), almost no video."""
    path = tmp_path_factory.mktemp("events") / "long.mp4"
    write_sample_video(path, seconds=300.0, width=64, height=48, fps=1)
    return path.read_bytes()


def events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Each event's fields (``event``, ``id``, ``data``), as a browser's parser would see them."""
    fields: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def test_the_owner_sees_every_change_until_the_job_ends(system: System, long_video: bytes) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "long.mp4", long_video).json()["job_id"]
    received = []
    started = time.monotonic()
    with httpx.stream("GET", f"{system.gateway}/v1/jobs/{job_id}/events", headers=bearer(token), timeout=30) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        received = list(events(stream.iter_lines()))  # the server ends the stream
    assert time.monotonic() - started < 60
    assert {event["event"] for event in received} == {"status"}
    assert [int(event["id"]) for event in received] == list(range(1, len(received) + 1))
    statuses = [json.loads(event["data"]) for event in received]
    states = [status["state"] for status in statuses]
    assert states[-1] == "notified"
    assert "converting" in states  # seen live, not only the end
    ranks = [ORDER.index(state) for state in states]
    assert ranks == sorted(ranks)
    assert all(a != b for a, b in itertools.pairwise(statuses))  # sent on change only
    assert statuses[-1] == job(system, token, job_id)  # what the REST route answers


def test_deleting_a_job_ends_its_stream(system: System, long_video: bytes) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "long.mp4", long_video).json()["job_id"]
    with httpx.stream("GET", f"{system.gateway}/v1/jobs/{job_id}/events", headers=bearer(token), timeout=30) as stream:
        received = events(stream.iter_lines())
        first = next(received)
        assert json.loads(first["data"])["state"] in ("queued", "converting")
        assert httpx.delete(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token), timeout=60).status_code == 204
        rest = list(received)
    # deleting an unfinished job cancels it first: the stream ends with whichever it sees
    last = rest[-1]
    if last["event"] == "deleted":
        assert json.loads(last["data"]) == {"job_id": job_id}
    else:
        assert json.loads(last["data"])["state"] == "cancelled"


def test_only_the_owner_may_follow_a_job(system: System, sample_video: tuple[Path, float]) -> None:
    owner, stranger = system.new_user_token(), system.new_user_token()
    job_id = upload(system, owner, "mine.mp4", sample_video[0].read_bytes()).json()["job_id"]
    url = f"{system.gateway}/v1/jobs/{job_id}/events"
    for headers, status in (({}, 401), (bearer(stranger), 404), (bearer("not-a-token"), 401)):
        response = httpx.get(url, headers=headers, timeout=10)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
    with httpx.stream("GET", url, headers=bearer(owner), timeout=30) as stream:  # its first event is enough
        assert stream.status_code == 200
        assert next(events(stream.iter_lines()))["event"] == "status"
