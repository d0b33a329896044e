"""Every query the services send the store is a primary-key access or reads a collection that
is small by design (``common.storage_layout``), on every path a user or a timer drives.

A system of its own records each process's queries (``VIDMP3_MONGO_COMMAND_LOG``) while users
upload (multipart and tus; one tus upload removed unfinished, one upload sent twice with an
Idempotency-Key, one split per chapter), follow, list, download ranges (with a token and through a signed link),
cancel and delete, and a conversion fails (its email sent); while events are folded, the
outbox relays, the watchdog and the reclaimer go round and deleted files are removed. Then the
record is checked: one query filtering a collection that grows with use on
anything but ``_id`` fails the test, naming the process, the collection and the filter.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from common.store_audit import read_log, violations
from converter.samples import write_sample_video
from tests.e2e.test_flow import bearer, job, upload, wait_terminal
from tests.e2e.test_job_events import events
from tests.services import Endpoints
from tests.system import System, running_system, wait_for

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def audited(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[System, Path]]:
    log_dir = tmp_path_factory.mktemp("mongo-commands")
    database = f"vidmp3_audit_{uuid.uuid4().hex[:8]}"
    environment = {
        "VIDMP3_MONGO_COMMAND_LOG": str(log_dir),
        "VIDMP3_OUTBOX_RELAY_SECONDS": "1",
        "VIDMP3_WATCHDOG_INTERVAL_SECONDS": "1",
        "VIDMP3_RECLAIM_INTERVAL_SECONDS": "1",
    }
    try:
        with running_system(
            endpoints, database, tmp_path_factory.mktemp("audit"), show_logs=False, **environment
        ) as system:
            yield system, log_dir
    finally:
        with MongoClient(endpoints.mongo_url) as client:
            client.drop_database(database)


def tus_upload(system: System, token: str, data: bytes) -> str:
    metadata = f"filename {base64.b64encode(b'tus.mp4').decode()}"
    created = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**bearer(token), **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata},
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    half = len(data) // 2
    for offset, part in ((0, data[:half]), (half, data[half:])):
        patched = httpx.patch(
            f"{system.gateway}{location}",
            headers={
                **bearer(token),
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
            content=part,
            timeout=60,
        )
        assert patched.status_code == 204, patched.text
    assert httpx.head(f"{system.gateway}{location}", headers={**bearer(token), **TUS}).status_code == 200
    return str(location.rsplit("/", 1)[-1])


def stored_files(system: System, job_id: str) -> int:
    config = system.stack.config
    with MongoClient(config.mongo_url) as client:
        database = client[config.mongo_database]
        return sum(database[f"{b}.files"].count_documents({"metadata.job_id": job_id}) for b in ("videos", "mp3s"))


def test_no_service_filters_a_growing_collection_on_anything_but_its_key(
    audited: tuple[System, Path], tmp_path: Path
) -> None:
    system, log_dir = audited
    video = tmp_path / "clip.mp4"
    write_sample_video(video, seconds=12.0, width=96, height=64, fps=5)  # an MP3 of two chunks at 192k
    data = video.read_bytes()
    owner, admin = system.new_user_token(), system.login(*system.create_user(admin=True))

    # upload, follow the job's stream to its end, list, download a range
    first = upload(system, owner, "first.mp4", data, bitrate_kbps="192").json()["job_id"]
    with httpx.stream("GET", f"{system.gateway}/v1/jobs/{first}/events", headers=bearer(owner), timeout=60) as stream:
        states = [json.loads(event["data"])["state"] for event in events(stream.iter_lines())]
    assert states[-1] == "notified"
    second = tus_upload(system, owner, data)
    assert wait_terminal(system, owner, second)["state"] == "notified"
    mp3 = job(system, owner, first)["mp3"]
    ranged = httpx.get(f"{system.gateway}{mp3['api_url']}", headers={**bearer(owner), "Range": "bytes=261000-261200"})
    assert ranged.status_code == 206
    assert len(ranged.content) == 201
    # the signed link: no token, the same bytes, read by computed chunk ids
    linked = httpx.get(f"{system.gateway}{mp3['download_url']}", headers={"Range": "bytes=261000-261200"})
    assert linked.status_code == 206
    assert linked.content == ranged.content
    page = httpx.get(f"{system.gateway}/v1/jobs?limit=1", headers=bearer(owner)).json()
    assert [item["job_id"] for item in page["items"]] == [second]
    rest = httpx.get(f"{system.gateway}{page['next_url']}", headers=bearer(owner)).json()
    assert [item["job_id"] for item in rest["items"]] == [first]
    everyone = httpx.get(f"{system.gateway}/v1/jobs?all=true", headers=bearer(admin)).json()
    assert {first, second} <= {item["job_id"] for item in everyone["items"]}

    # a job split per chapter: a part downloaded by token and by link (its chunks by computed ids)
    lecture = tmp_path / "lecture.mp4"
    write_sample_video(lecture, seconds=4.0, width=64, height=48, chapters=[(0.0, "One"), (2.0, "Two")])
    split = upload(system, owner, "lecture.mp4", lecture.read_bytes(), split_chapters="true").json()["job_id"]
    assert wait_terminal(system, owner, split)["state"] == "notified"
    part = job(system, owner, split)["mp3"]["parts"][1]
    by_token = httpx.get(f"{system.gateway}{part['api_url']}", headers={**bearer(owner), "Range": "bytes=10-20"})
    by_link = httpx.get(f"{system.gateway}{part['download_url']}", headers={"Range": "bytes=10-20"})
    assert by_token.status_code == by_link.status_code == 206
    assert by_token.content == by_link.content

    # a video cut short fails converting: the notifier emails the failure (its contact and claim by id)
    whole = tmp_path / "whole.mp4"
    write_sample_video(whole, seconds=10.0, width=64, height=48, faststart=True)  # its index first: it probes
    cut = upload(system, owner, "cut.mp4", whole.read_bytes()[: whole.stat().st_size // 2]).json()["job_id"]
    assert wait_terminal(system, owner, cut)["state"] == "failed"
    wait_for(lambda: system.mailbox.for_job(cut), timeout=60)
    # an unfinished tus upload removed by its owner gives its slot back
    created = httpx.post(
        f"{system.gateway}/v1/uploads", headers={**bearer(owner), **TUS, "Upload-Length": str(len(data))}
    )
    assert created.status_code == 201, created.text
    removed = httpx.delete(f"{system.gateway}{created.headers['location']}", headers={**bearer(owner), **TUS})
    assert removed.status_code == 204

    # an upload sent twice with one Idempotency-Key: the retry answers from the key's record
    keyed = {**bearer(owner), "Idempotency-Key": str(uuid.uuid4())}
    sent = [
        httpx.post(f"{system.gateway}/v1/jobs", headers=keyed, files={"file": ("kept.mp4", data)}, timeout=60)
        for _ in range(2)
    ]
    assert sent[0].status_code == sent[1].status_code == 202
    assert sent[0].json() == sent[1].json()

    # cancel one at once, delete another: its files go in the background
    stopped = upload(system, owner, "stopped.mp4", data).json()["job_id"]
    httpx.post(f"{system.gateway}/v1/jobs/{stopped}/cancel", headers=bearer(owner))
    wait_for(lambda: job(system, owner, stopped)["state"] in {"cancelled", "notified"}, timeout=60)
    wait_for(lambda: stored_files(system, first) == 1, timeout=60)  # its MP3: retention removed the video
    assert httpx.delete(f"{system.gateway}/v1/jobs/{first}", headers=bearer(owner)).status_code == 204
    assert httpx.get(f"{system.gateway}/v1/jobs/{first}", headers=bearer(owner)).status_code == 404
    wait_for(lambda: stored_files(system, first) == 0, timeout=60)
    assert httpx.delete(f"{system.gateway}/v1/jobs/{split}", headers=bearer(owner)).status_code == 204
    wait_for(lambda: stored_files(system, split) == 0, timeout=60)  # the MP3 and both parts

    time.sleep(4)  # a few rounds of the relay, the watchdog and the reclaimer
    system.stack.stop()

    queries = read_log(log_dir)
    processes = {query.process for query in queries}
    for service in ("gateway", "converter", "projections", "notifier"):
        assert any(service in process for process in processes), f"no queries recorded from {service}"
    periodic = {(q.command, q.collection) for q in queries}
    for read in (("find", "outbox"), ("find", "active_jobs"), ("find", "conversion_claims"), ("find", "file_removals")):
        assert read in periodic, f"{read} was not seen: the periodic path did not run under audit"
    found = violations(queries)
    assert not found, "queries that read a whole growing collection:\n" + "\n".join(
        f"  {q.process}: {q.command} {q.collection} {json.dumps(q.filter)}" for q in found
    )
