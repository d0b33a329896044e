"""A store written by the code before this layout keeps working once migrated.

``tests/fixtures/store_6b88bda.json.gz`` is what a real flow left in the store at commit
6b88bda (``tests/fixtures/record_store.py``): two users' jobs, converted (multipart and tus),
cancelled and deleted, and an unfinished tus upload. Loaded into a database of its own (its
owners mapped to users made here), it is refused by the services, migrated (twice: the
second run changes nothing), then used through every route: status, lists, the MP3's bytes,
tus HEADs, a delete, and a new upload beside the old jobs.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import json_util
from pymongo import MongoClient
from pymongo.database import Database

from common.storage_layout import OldLayout, require_current_layout_blocking
from converter.samples import write_sample_video
from tests.e2e.test_flow import bearer, upload, wait_terminal
from tests.services import Endpoints
from tests.system import running_system, wait_for

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store_6b88bda.json.gz"
PASSWORD = "correct horse battery staple"
TUS = {"Tus-Resumable": "1.0.0"}


def environment(**settings: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VIDMP3_")} | settings


def create_user(endpoints: Endpoints, email: str) -> str:
    """A user made with the auth command line, before any service runs; returns its id."""
    env = environment(VIDMP3_MYSQL_URL=endpoints.mysql_url)
    done = subprocess.run(
        [sys.executable, "-m", "auth", "create-user", email, "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = re.search(r"created user (\S+)", done.stdout)
    assert found, done.stdout
    return found.group(1)


def load(database: Database, owners: dict[str, str]) -> dict[str, Any]:
    """The fixture into ``database``, every recorded owner id replaced by ``owners[id]``."""
    recorded = json_util.loads(gzip.decompress(FIXTURE.read_bytes()))
    renamed = {recorded["owners"][name]: new for name, new in owners.items()}

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rename(item) for item in value]
        return renamed.get(value, value) if isinstance(value, str) else value

    for name, documents in recorded["collections"].items():
        if documents:
            database[name].insert_many([rename(document) for document in documents])
    return recorded


@pytest.fixture(scope="module")
def migrated(endpoints: Endpoints) -> Iterator[tuple[Database, dict[str, Any], dict[str, str]]]:
    suffix = uuid.uuid4().hex[:8]
    emails = {"alice": f"alice-{suffix}@example.com", "bob": f"bob-{suffix}@example.com"}
    owners = {name: create_user(endpoints, email) for name, email in emails.items()}
    name = f"vidmp3_migrate_{suffix}"
    with MongoClient(endpoints.mongo_url, tz_aware=True) as client:
        try:
            recorded = load(client[name], owners)
            yield client[name], recorded, emails
        finally:
            client.drop_database(name)


def migrate(endpoints: Endpoints, database: str) -> str:
    env = environment(VIDMP3_MONGO_URL=endpoints.mongo_url, VIDMP3_MONGO_DATABASE=database)
    done = subprocess.run(
        [sys.executable, "-m", "projections", "migrate"], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def mp3_bytes(recorded: dict[str, Any], file_id: str) -> bytes:
    chunks = [c for c in recorded["collections"]["mp3s.chunks"] if str(c["files_id"]) == file_id]
    return b"".join(bytes(c["data"]) for c in sorted(chunks, key=lambda c: c["n"]))


def test_a_store_written_by_the_older_code_is_migrated_and_works(
    endpoints: Endpoints,
    migrated: tuple[Database, dict[str, Any], dict[str, str]],
    tmp_path: Path,
) -> None:
    database, recorded, emails = migrated
    jobs = recorded["jobs"]
    with pytest.raises(OldLayout, match="migrate"):
        require_current_layout_blocking(database)

    first = migrate(endpoints, database.name)
    again = migrate(endpoints, database.name)

    assert "re-keyed 4 chunks" in first
    assert "re-keyed 25 events" in first
    assert "re-keyed 0 chunks" in again
    assert "re-keyed 0 events" in again
    require_current_layout_blocking(database)

    with running_system(endpoints, database.name, tmp_path / "stack") as system:
        alice, bob = system.login(emails["alice"], PASSWORD), system.login(emails["bob"], PASSWORD)

        def get(token: str, path: str, **headers: str) -> httpx.Response:
            return httpx.get(f"{system.gateway}{path}", headers={**bearer(token), **headers})

        holiday = get(alice, f"/v1/jobs/{jobs['holiday']}").json()
        assert (holiday["state"], holiday["filename"]) == ("notified", "Holiday été.mp4")
        assert [step["state"] for step in holiday["history"]] == ["queued", "converting", "converted", "notified"]
        assert get(alice, f"/v1/jobs/{jobs['stopped']}").json()["state"] == "cancelled"
        assert get(alice, f"/v1/jobs/{jobs['gone']}").status_code == 404
        assert get(bob, f"/v1/jobs/{jobs['holiday']}").status_code == 404

        listed = [item["job_id"] for item in get(alice, "/v1/jobs").json()["items"]]
        assert listed == [jobs["stopped"], jobs["talk"], jobs["holiday"]]
        assert [item["job_id"] for item in get(bob, "/v1/jobs").json()["items"]] == [jobs["bob"]]

        status = get(alice, f"/v1/jobs/{jobs['holiday']}").json()
        expected = mp3_bytes(recorded, str(database["job_status"].find_one({"_id": jobs["holiday"]})["mp3_file_id"]))
        assert len(expected) > 255 * 1024  # two chunks
        whole = get(alice, status["mp3"]["download_url"])
        assert whole.content == expected
        ranged = get(alice, status["mp3"]["download_url"], Range="bytes=261100-261200")
        assert (ranged.status_code, ranged.content) == (206, expected[261100:261201])

        done = httpx.head(f"{system.gateway}/v1/uploads/{jobs['talk']}", headers={**bearer(alice), **TUS})
        assert done.headers["job-location"] == f"/v1/jobs/{jobs['talk']}"
        half = httpx.head(f"{system.gateway}/v1/uploads/{jobs['unfinished_upload']}", headers={**bearer(alice), **TUS})
        assert 0 < int(half.headers["upload-offset"]) < int(half.headers["upload-length"])

        video_id = database["job_status"].find_one({"_id": jobs["holiday"]})["video_file_id"]
        assert httpx.delete(f"{system.gateway}/v1/jobs/{jobs['holiday']}", headers=bearer(alice)).status_code == 204
        wait_for(lambda: database["videos.files"].count_documents({"metadata.job_id": jobs["holiday"]}) == 0)
        wait_for(lambda: database["mp3s.files"].count_documents({"metadata.job_id": jobs["holiday"]}) == 0)
        assert database["videos.chunks"].count_documents({"files_id": video_id}) == 0

        video = tmp_path / "new.mp4"
        write_sample_video(video, seconds=1.0, width=64, height=48)
        new = upload(system, alice, "new.mp4", video.read_bytes()).json()["job_id"]
        assert wait_terminal(system, alice, new)["state"] == "notified"
        listed = [item["job_id"] for item in get(alice, "/v1/jobs").json()["items"]]
        assert listed == [new, jobs["stopped"], jobs["talk"]]
