"""SIGKILL the converter in the middle of a conversion split per chapter and start it again:
the job finishes once, with the whole MP3 and one per chapter, each as long as its chapter,
and nothing the killed attempt stored (its finished parts, a part and an MP3 cut short) is
left behind."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_flow import bearer, job, upload, wait_terminal
from tests.faults.media import write_long_video
from tests.system import System, wait_for
from tests.unit.mp3_facts import decode, frame_seconds

SECONDS = 240
CHAPTERS = [(0.0, "One"), (60.0, "Two"), (120.0, "Three"), (180.0, "Four")]


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("split") / "lecture.mp4"
    write_long_video(path, SECONDS, chapters=CHAPTERS)
    return path.read_bytes()


@pytest.mark.timeout(600)
def test_a_converter_killed_mid_split_leaves_one_mp3_and_its_parts_and_nothing_else(
    system: System, lecture: bytes
) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "lecture.mp4", lecture, split_chapters="true").json()["job_id"]
    # past the first chapters: the killed attempt has whole parts stored, and one cut short
    wait_for(
        lambda: (
            (status := job(system, token, job_id))["state"] == "converting" and (status["progress_percent"] or 0) >= 55
        ),
        timeout=180,
        interval=0.1,
    )
    system.kill("converter")
    left = system.mp3_files(job_id)
    assert left >= 2, "the killed attempt had stored no whole part: the test broke in too early"
    system.start("converter")

    status = wait_terminal(system, token, job_id, timeout=300)

    assert status["state"] == "notified", status
    parts = status["mp3"]["parts"]
    assert [part["title"] for part in parts] == [title for _, title in CHAPTERS]
    wait_for(lambda: system.mp3_files(job_id) == 1 + len(CHAPTERS), timeout=60, interval=1)
    # the killed attempt's MP3 and parts are removed right after the outcome is announced
    wait_for(lambda: system.orphan_chunks() == 0, timeout=60, interval=1)
    assert system.mp3_files(job_id) == 1 + len(CHAPTERS)
    for part in parts:
        mp3 = httpx.get(f"{system.gateway}{part['api_url']}", headers=bearer(token), timeout=60)
        assert mp3.status_code == 200
        assert abs(decode(mp3.content).seconds - 60.0) <= frame_seconds(44_100)
