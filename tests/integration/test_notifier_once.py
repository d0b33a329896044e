"""One email per job, whatever the broker delivers: repeats, concurrent duplicates, failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage
from uuid import UUID, uuid4

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from common.consuming import Unprocessable
from common.links import LinkSigner
from contracts import ConversionFailed, Event, FailureReason, Mp3Converted, NotificationSent, VideoUploaded
from notifier.contacts import JobContacts
from notifier.ledger import Claim, EmailKind, NotificationLedger
from notifier.service import ContactUnknown, NotificationInProgress, Notifier


class Outbox:
    """Stands in for SMTP and the broker: records what would leave the notifier."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.emails: list[EmailMessage] = []
        self.events: list[Event] = []
        self._fail_first, self._delay = fail_first, delay

    async def send(self, message: EmailMessage) -> None:
        await asyncio.sleep(self._delay)
        if self._fail_first:
            self._fail_first -= 1
            raise ConnectionRefusedError("SMTP away")
        self.emails.append(message)

    async def publish(self, event: Event) -> None:
        self.events.append(event)


def notifier(database: AsyncDatabase, outbox: Outbox) -> Notifier:
    return Notifier(
        NotificationLedger(database),
        outbox.send,
        outbox.publish,
        contacts=JobContacts(database),
        links=LinkSigner("a link key of at least thirty-two bytes, for tests", lifetime=timedelta(days=1)),
        sender="n@example.com",
        public_url="http://x",
    )


def converted(job_id: UUID | None = None) -> Mp3Converted:
    return Mp3Converted(
        job_id=job_id or uuid4(), owner_id="1", owner_email="ada@example.com", mp3_file_id="m",
        filename="a.mp3", size_bytes=1, duration_seconds=1.0,
    )  # fmt: skip


def uploaded() -> VideoUploaded:
    return VideoUploaded(
        job_id=uuid4(), owner_id="1", owner_email="ada@example.com", video_file_id="v",
        filename="a.mp4", size_bytes=1,
    )  # fmt: skip


def failed(job_id: UUID) -> ConversionFailed:
    return ConversionFailed(job_id=job_id, reason=FailureReason.NO_AUDIO_STREAM, message="no audio stream")


async def test_a_repeated_event_sends_one_email_and_the_same_announcement(mongo_database: AsyncDatabase) -> None:
    outbox = Outbox()
    event = converted()

    await notifier(mongo_database, outbox).handle(event)
    await notifier(mongo_database, outbox).handle(event)

    assert len(outbox.emails) == 1
    assert [type(e) for e in outbox.events] == [NotificationSent, NotificationSent]
    assert outbox.events[0].event_id == outbox.events[1].event_id


async def test_concurrent_duplicates_send_one_email(mongo_database: AsyncDatabase) -> None:
    outbox = Outbox(delay=0.2)
    event = converted()

    results = await asyncio.gather(
        *(notifier(mongo_database, outbox).handle(event) for _ in range(5)), return_exceptions=True
    )

    assert len(outbox.emails) == 1
    assert all(r is None or isinstance(r, NotificationInProgress) for r in results)


async def test_a_failed_send_is_retried_and_then_sent_once(mongo_database: AsyncDatabase) -> None:
    outbox = Outbox(fail_first=1)
    event = converted()

    with pytest.raises(ConnectionRefusedError):
        await notifier(mongo_database, outbox).handle(event)
    await notifier(mongo_database, outbox).handle(event)

    assert len(outbox.emails) == 1
    assert len(outbox.events) == 1


async def test_a_stale_claim_is_taken_over_by_exactly_one_of_many(mongo_database: AsyncDatabase) -> None:
    job_ids = [uuid4() for _ in range(10)]
    ledger = NotificationLedger(mongo_database, stale_after=timedelta(milliseconds=200))
    for job_id in job_ids:
        assert await ledger.claim(job_id) is Claim.SEND  # and its sender dies
    await asyncio.sleep(0.3)

    for job_id in job_ids:
        takers = [NotificationLedger(mongo_database, stale_after=timedelta(milliseconds=200)) for _ in range(8)]
        outcomes = await asyncio.gather(*(taker.claim(job_id) for taker in takers))
        assert outcomes.count(Claim.SEND) == 1, outcomes
        assert set(outcomes) == {Claim.SEND, Claim.BUSY}


async def test_an_email_that_cannot_be_built_is_unprocessable_and_claims_nothing(
    mongo_database: AsyncDatabase,
) -> None:
    outbox = Outbox()
    event = converted()
    broken = Notifier(
        NotificationLedger(mongo_database),
        outbox.send,
        outbox.publish,
        contacts=JobContacts(mongo_database),
        links=LinkSigner("a link key of at least thirty-two bytes, for tests", lifetime=timedelta(days=1)),
        sender="n@example.com\nBcc: x@y",
        public_url="x",
    )

    with pytest.raises(Unprocessable, match="cannot be built"):
        await broken.handle(event)

    assert (outbox.emails, outbox.events) == ([], [])
    await notifier(mongo_database, outbox).handle(event)  # no claim was left behind
    assert len(outbox.emails) == 1


async def test_a_failed_job_gets_one_failure_email_once_its_upload_is_known(mongo_database: AsyncDatabase) -> None:
    outbox = Outbox()
    upload = uploaded()
    failure = failed(upload.job_id)

    # the failure may arrive before the upload event (another queue): retried until it is known
    with pytest.raises(ContactUnknown):
        await notifier(mongo_database, outbox).handle_failed(failure)
    await notifier(mongo_database, outbox).handle_uploaded(upload)
    await notifier(mongo_database, outbox).handle_uploaded(upload)  # a repeat changes nothing
    await asyncio.gather(*(notifier(mongo_database, outbox).handle_failed(failure) for _ in range(3)),
                         return_exceptions=True)  # fmt: skip
    await notifier(mongo_database, outbox).handle_failed(failure)  # a repeat once the contact is gone

    [email] = outbox.emails
    assert email["To"] == "ada@example.com"
    assert email["Subject"] == f"Could not convert a.mp4 (job {str(upload.job_id)[:8]})"
    assert outbox.events == []  # a failure email is no NotificationSent: the job stays failed


async def test_the_failure_and_the_ready_email_are_claimed_apart(mongo_database: AsyncDatabase) -> None:
    ledger = NotificationLedger(mongo_database)
    job_id = uuid4()
    assert await ledger.claim(job_id, EmailKind.FAILED) is Claim.SEND
    assert await ledger.claim(job_id, EmailKind.READY) is Claim.SEND  # a failure email in flight blocks nothing
    assert await ledger.claim(job_id, EmailKind.FAILED) is Claim.BUSY


async def test_no_failure_email_after_the_ready_email(mongo_database: AsyncDatabase) -> None:
    """A watchdog's late verdict on a job that did convert must not contradict the ready email."""
    outbox = Outbox()
    upload = uploaded()
    await notifier(mongo_database, outbox).handle_uploaded(upload)
    await notifier(mongo_database, outbox).handle(converted(upload.job_id))
    await notifier(mongo_database, outbox).handle_failed(failed(upload.job_id))

    assert [email["X-Vidmp3-Email"] for email in outbox.emails] == ["ready"]
