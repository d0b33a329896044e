"""One MP3 per chapter with every service running: a split job lists a downloadable MP3 for
each chapter, as long as the chapter, beside the whole MP3; deleting the job removes every
part's blobs; a video without chapters asked to split is an ordinary job that says so."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mutagen.id3 import ID3
from pymongo import MongoClient
from pymongo.database import Database

from common.blobs import chunk_id
from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, upload, wait_terminal
from tests.e2e.test_gateway_uploads import assert_problem, create_upload, patch
from tests.services import Endpoints
from tests.unit.mp3_facts import decode, frame_seconds

CHAPTERS = [(0.0, "Welcome"), (2.2, "The method"), (4.0, "Questions")]
SECONDS = 6.0
LENGTHS = [2.2, 1.8, 2.0]


@pytest.fixture(scope="module")
def database(endpoints: Endpoints, mongo_database_name: str) -> Iterator[Database]:
    with MongoClient(endpoints.mongo_url, tz_aware=True) as client:
        yield client[mongo_database_name]


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("split") / "lecture.mp4"
    write_sample_video(path, seconds=SECONDS, width=64, height=48, chapters=CHAPTERS, metadata={"title": "Lecture 4"})
    return path.read_bytes()


@pytest.fixture(scope="module")
def split_job(system: System, lecture: bytes) -> tuple[str, dict[str, Any]]:
    token = system.new_user_token()
    accepted = upload(system, token, "lecture.mp4", lecture, split_chapters="true")
    assert accepted.status_code == 202, accepted.text
    status = wait_terminal(system, token, accepted.json()["job_id"], timeout=120)
    assert status["state"] == "notified", status
    return token, status


def get(system: System, path: str, token: str | None = None, **headers: str) -> httpx.Response:
    return httpx.get(f"{system.gateway}{path}", headers={**(bearer(token) if token else {}), **headers}, timeout=30)


def test_a_split_job_yields_one_downloadable_mp3_per_chapter(
    system: System, split_job: tuple[str, dict[str, Any]]
) -> None:
    token, status = split_job
    mp3 = status["mp3"]

    parts = mp3["parts"]
    assert [(p["number"], p["title"]) for p in parts] == [(1, "Welcome"), (2, "The method"), (3, "Questions")]
    assert mp3["part_count"] == 3
    assert status["note"] is None
    for part, (start, title), length in zip(parts, CHAPTERS, LENGTHS, strict=True):
        assert part["start_seconds"] == pytest.approx(start, abs=0.001)
        assert abs(part["duration_seconds"] - length) <= frame_seconds(44_100)
        assert part["api_url"] == f"/v1/jobs/{status['job_id']}/parts/{part['number']}/mp3"
        by_token = get(system, part["api_url"], token)
        by_link = get(system, part["download_url"])  # no token
        assert by_token.status_code == by_link.status_code == 200, by_token.text
        assert by_token.content == by_link.content
        assert len(by_token.content) == part["size_bytes"]
        assert by_token.headers["content-type"] == "audio/mpeg"
        assert part["filename"] in by_token.headers["content-disposition"]
        assert abs(decode(by_token.content).seconds - length) <= frame_seconds(44_100), title
        tag = ID3(io.BytesIO(by_token.content))
        assert (str(tag["TIT2"]), str(tag["TRCK"]), str(tag["TALB"])) == (title, f"{part['number']}/3", "Lecture 4")
    # the whole MP3 is the job's as before, with every chapter
    whole = get(system, mp3["api_url"], token)
    assert abs(decode(whole.content).seconds - SECONDS) <= frame_seconds(44_100)
    assert len(ID3(io.BytesIO(whole.content)).getall("CHAP")) == 3
    # the email names how many there are and sends to the job's page for them
    [mail] = wait_for(lambda: system.mailbox.for_job(status["job_id"]), timeout=30)
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    assert "cut into 3 MP3s, one per chapter" in text
    assert f"{system.gateway}/jobs/{status['job_id']}" in text


def test_a_part_has_ranges_and_validators_and_only_its_owner_gets_it(
    system: System, split_job: tuple[str, dict[str, Any]]
) -> None:
    token, status = split_job
    part = status["mp3"]["parts"][1]
    full = get(system, part["api_url"], token).content

    ranged = get(system, part["download_url"], Range="bytes=100-199")
    assert ranged.status_code == 206
    assert ranged.content == full[100:200]
    assert ranged.headers["content-range"] == f"bytes 100-199/{len(full)}"
    etag = get(system, part["api_url"], token).headers["etag"]
    assert get(system, part["api_url"], token, **{"If-None-Match": etag}).status_code == 304

    assert_problem(get(system, part["api_url"], system.new_user_token()), 404)
    assert_problem(get(system, part["api_url"]), 401)
    missing = assert_problem(get(system, f"/v1/jobs/{status['job_id']}/parts/4/mp3", token), 404)
    assert "numbered 1 to 3" in missing["detail"]
    listed = get(system, "/v1/jobs", token).json()["items"]
    assert [item["mp3"]["part_count"] for item in listed] == [3]


def test_deleting_a_split_job_removes_every_parts_blobs(system: System, database: Database, lecture: bytes) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "lecture.mp4", lecture, split_chapters="true").json()["job_id"]
    status = wait_terminal(system, token, job_id, timeout=120)
    assert status["state"] == "notified", status
    files = list(database["mp3s.files"].find({"metadata.job_id": job_id}, {"_id": 1, "length": 1, "chunkSize": 1}))
    assert len(files) == 4  # the whole MP3 and three parts
    chunk_ids = [chunk_id(file["_id"], n) for file in files for n in range(-(-file["length"] // file["chunkSize"]))]
    assert all(database["mp3s.chunks"].find_one({"_id": key}) is not None for key in chunk_ids)
    link = status["mp3"]["parts"][0]["download_url"]

    assert httpx.delete(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token)).status_code == 204

    assert get(system, link).status_code == 410
    wait_for(lambda: database["mp3s.files"].count_documents({"metadata.job_id": job_id}) == 0, timeout=30)
    assert [key for key in chunk_ids if database["mp3s.chunks"].find_one({"_id": key}) is not None] == []


def test_a_video_without_chapters_asked_to_split_is_one_mp3_that_says_so(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("split") / "plain.mp4"
    write_sample_video(path, seconds=2.0, width=64, height=48)
    data = path.read_bytes()
    token = system.new_user_token()
    # through tus metadata this time, as the web page and the command line send it
    location = create_upload(system, token, data, {"split_chapters": "true"})
    done = patch(system, token, location, 0, data)
    assert done.status_code == 204, done.text
    job_id = done.headers["job-location"].rsplit("/", 1)[1]

    status = wait_terminal(system, token, job_id, timeout=120)

    assert status["state"] == "notified", status
    assert status["mp3"]["parts"] == []
    assert status["mp3"]["part_count"] == 0
    assert "fewer than two chapters" in status["note"]
    assert_problem(get(system, f"/v1/jobs/{job_id}/parts/1/mp3", token), 404)
    assert get(system, status["mp3"]["api_url"], token).status_code == 200
