"""A job split per chapter in the read model and the job view: the parts in the job's own
document, their count and bytes in the lists, a signed link and an API address for each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from common.links import LinkSigner
from contracts import ConversionOptions, Mp3Converted, Mp3Part, NotificationSent, VideoUploaded
from gateway.views import job_view
from projections.documents import index_entry, status_document, status_of
from projections.job_status import JobState, JobStatus, apply

JOB = uuid4()
T0 = datetime.now(UTC)  # links signed now must not have expired
LINKS = LinkSigner("k" * 40, lifetime=timedelta(days=7))


def uploaded(*, split: bool) -> VideoUploaded:
    return VideoUploaded(
        job_id=JOB,
        occurred_at=T0,
        owner_id="7",
        owner_email="ada@example.com",
        video_file_id="f1",
        filename="talk.mp4",
        size_bytes=1000,
        options=ConversionOptions(split_chapters=split),
    )


def converted(parts: int) -> Mp3Converted:
    return Mp3Converted(
        job_id=JOB,
        occurred_at=T0 + timedelta(seconds=5),
        owner_id="7",
        owner_email="ada@example.com",
        mp3_file_id="6650a1f2c3d4e5f601234567",
        filename="talk.mp3",
        size_bytes=300,
        duration_seconds=30.0,
        parts=[
            Mp3Part(
                number=n,
                file_id=f"6650a1f2c3d4e5f601234567.{n:03d}",
                filename=f"talk - {n:02d} Part {n}.mp3",
                title=f"Part {n}",
                start_seconds=10.0 * (n - 1),
                duration_seconds=10.0,
                size_bytes=100,
            )
            for n in range(1, parts + 1)
        ],
    )


def status_after(*, split: bool, parts: int) -> JobStatus:
    return apply(apply(None, uploaded(split=split)), converted(parts))


def test_the_parts_are_folded_into_the_jobs_own_document_and_counted_in_its_bytes() -> None:
    status = status_after(split=True, parts=3)

    assert status.state is JobState.CONVERTED
    assert [part.title for part in status.mp3_parts] == ["Part 1", "Part 2", "Part 3"]
    assert (status.mp3_part_count, status.mp3_parts_bytes) == (3, 300)
    assert status.stored_bytes == 1000 + 300 + 300
    assert status_of(status_document(status)) == status


def test_a_lists_page_holds_the_count_not_the_parts() -> None:
    notified = NotificationSent(job_id=JOB, occurred_at=T0 + timedelta(seconds=6), recipient="ada@example.com")
    status = apply(status_after(split=True, parts=3), notified)

    entry = index_entry(status)

    assert entry is not None
    _, listed = entry
    assert listed.bytes == status.stored_bytes
    assert listed.snapshot is not None
    assert "mp3_parts" not in listed.snapshot
    assert JobStatus.model_validate(listed.snapshot).mp3_part_count == 3


def test_the_job_view_lists_each_part_with_its_links() -> None:
    view = job_view(status_after(split=True, parts=2), LINKS, timedelta(days=30))

    assert view.mp3 is not None
    assert view.note is None
    assert view.mp3.part_count == 2
    first, second = view.mp3.parts
    assert (second.number, second.title, second.start_seconds, second.size_bytes) == (2, "Part 2", 10.0, 100)
    assert second.api_url == f"/v1/jobs/{JOB}/parts/2/mp3"
    assert LINKS.verify(second.download_url.removeprefix("/v1/downloads/")).file_id == "6650a1f2c3d4e5f601234567.002"
    assert first.download_url != second.download_url != view.mp3.download_url


def test_a_split_asked_of_a_video_without_chapters_is_said_in_words() -> None:
    asked = job_view(status_after(split=True, parts=0), LINKS, timedelta(days=30))
    not_asked = job_view(status_after(split=False, parts=0), LINKS, timedelta(days=30))

    assert asked.mp3 is not None
    assert asked.mp3.parts == []
    assert asked.note is not None
    assert "fewer than two chapters" in asked.note
    assert not_asked.note is None
