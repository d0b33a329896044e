"""One status watcher per gateway process: each followed job is read once per round however
many streams follow it, changes reach every stream, and nothing is read once nobody follows."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from litestar.response import ServerSentEventMessage

from common.links import DEV_LINK_KEY, LinkSigner
from contracts import ConversionStarted, Mp3Converted, NotificationSent, VideoUploaded
from gateway.status_stream import StatusWatcher, TooManyStreams, status_events
from projections.job_status import JobState, JobStatus, apply

LINKS = LinkSigner(DEV_LINK_KEY, lifetime=timedelta(days=7))
RETENTION = timedelta(hours=24)


class Statuses:
    """The read model as the watcher sees it: statuses by job, counting the reads."""

    def __init__(self) -> None:
        self.now: dict[UUID, JobStatus | None] = {}
        self.reads: Counter[UUID] = Counter()

    async def read(self, job_id: UUID) -> JobStatus | None:
        self.reads[job_id] += 1
        return self.now.get(job_id)


def uploaded(job_id: UUID) -> JobStatus:
    return apply(
        None,
        VideoUploaded(
            job_id=job_id, owner_id="1", owner_email="a@example.com", video_file_id="v", filename="a.mp4", size_bytes=1
        ),
    )


async def test_a_job_followed_by_many_streams_is_read_once_per_round() -> None:
    statuses = Statuses()
    watcher = StatusWatcher(statuses.read, poll_seconds=0.01)
    jobs = [uuid4() for _ in range(3)]
    for job in jobs:
        statuses.now[job] = uploaded(job)

    async def follow(job: UUID, user: str) -> JobStatus | None:
        async with watcher.follow(job, user, statuses.now[job]) as changes:
            return await changes.next(5.0)

    followers = [asyncio.create_task(follow(jobs[n % 3], f"user-{n % 2}")) for n in range(60)]
    await asyncio.sleep(0.05)
    assert (watcher.followed, watcher.streams_of("user-0"), watcher.streams_of("user-1")) == (3, 30, 30)
    changed = apply(statuses.now[jobs[0]], ConversionStarted(job_id=jobs[0], worker="w"))
    statuses.now[jobs[0]] = changed
    await asyncio.sleep(0.05)
    for job in jobs[1:]:
        statuses.now[job] = None  # deleted, as far as the stream is concerned

    results = await asyncio.gather(*followers)

    assert [r for n, r in enumerate(results) if n % 3 == 0] == [changed] * 20
    assert all(r is None for n, r in enumerate(results) if n % 3)
    rounds = max(statuses.reads.values())
    assert all(count <= rounds for count in statuses.reads.values())
    assert sum(statuses.reads.values()) <= 3 * rounds  # not 60 streams' worth
    assert watcher.followed == 0
    assert watcher.streams_of("user-0") == 0
    reads = sum(statuses.reads.values())
    await asyncio.sleep(0.05)
    assert sum(statuses.reads.values()) == reads  # nobody follows: nothing is read
    await watcher.close()


async def test_a_stream_sends_each_change_and_ends_with_the_job() -> None:
    statuses = Statuses()
    watcher = StatusWatcher(statuses.read, poll_seconds=0.01)
    job = uuid4()
    status = statuses.now[job] = uploaded(job)
    messages: list[ServerSentEventMessage] = []

    async def listen() -> None:
        async for message in status_events(
            watcher,
            job,
            "1",
            status,
            LinkSigner(DEV_LINK_KEY, lifetime=timedelta(days=7)),
            retention=timedelta(hours=24),
        ):
            messages.append(message)

    listening = asyncio.create_task(listen())
    for event in (
        ConversionStarted(job_id=job, worker="w"),
        Mp3Converted(
            job_id=job,
            owner_id="1",
            owner_email="a@example.com",
            mp3_file_id="m",
            filename="a.mp3",
            size_bytes=1,
            duration_seconds=1.0,
        ),
        NotificationSent(job_id=job, recipient="a@example.com"),
    ):
        await asyncio.sleep(0.05)
        status = statuses.now[job] = apply(status, event)
    await asyncio.wait_for(listening, 5.0)

    sent = [m for m in messages if m.event == "status"]
    assert [m.id for m in sent] == [1, 2, 3, 4]
    assert status.state is JobState.NOTIFIED
    assert '"state":"notified"' in str(sent[-1].data)
    await watcher.close()


async def test_a_user_gets_as_many_streams_as_allowed_counted_from_when_each_is_let_in() -> None:
    statuses = Statuses()
    watcher = StatusWatcher(statuses.read, poll_seconds=0.01)
    job_id = uuid4()
    statuses.now[job_id] = uploaded(job_id)
    admitted = [watcher.admit("1", 3) for _ in range(3)]  # none started yet: counted all the same
    with pytest.raises(TooManyStreams, match="3 live status streams"):
        watcher.admit("1", 3)
    assert watcher.admit("2", 3) is not None  # another user's are counted apart

    first = status_events(watcher, job_id, "1", uploaded(job_id), LINKS, retention=RETENTION, admission=admitted[0])
    await anext(first)
    assert watcher.streams_of("1") == 3  # the stream took its admission's place
    await first.aclose()
    assert watcher.streams_of("1") == 2
    watcher.admit("1", 3)
    await watcher.close()


async def test_a_stream_let_in_whose_client_left_before_it_started_counts_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher = StatusWatcher(Statuses().read)
    watcher.admit("1", 1)
    clock = time.monotonic() + 11
    monkeypatch.setattr("gateway.status_stream.time.monotonic", lambda: clock)
    assert watcher.streams_of("1") == 0
    watcher.admit("1", 1)


async def test_a_stream_ends_after_its_longest_life_whatever_the_job_does() -> None:
    statuses = Statuses()
    watcher = StatusWatcher(statuses.read, poll_seconds=0.01)
    job_id = uuid4()
    statuses.now[job_id] = current = uploaded(job_id)
    sent = [
        message
        async for message in status_events(
            watcher, job_id, "1", current, LINKS, retention=RETENTION, max_seconds=0.3, admission=watcher.admit("1", 1)
        )
    ]
    assert [message.event for message in sent] == [None, "status"]  # the retry hint, the status; then the end
    assert watcher.streams_of("1") == 0
    await watcher.close()
