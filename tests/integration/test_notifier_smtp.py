"""The notifier's email through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from email.utils import parsedate_to_datetime
from uuid import uuid4

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from common.links import LinkSigner
from contracts import ConversionFailed, FailureReason, Mp3Converted
from notifier.contacts import Contact
from notifier.message import compose_failure_email, compose_ready_email
from notifier.settings import NotifierSettings
from notifier.smtp import send


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or b"", policy=policy.default))
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


LINKS = LinkSigner("a link key of at least thirty-two bytes, for tests", lifetime=timedelta(days=7))


def converted() -> Mp3Converted:
    return Mp3Converted(
        job_id=uuid4(),
        owner_id="1",
        owner_email="ada@example.com",
        mp3_file_id="6650a1f2c3d4e5f601234567",
        filename="Ünïcode <b>name</b>.mp3",
        size_bytes=2_345_678,
        duration_seconds=75.4,
    )


def parts(message: Message) -> tuple[str, str]:
    plain, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    return plain, html


def links_in(text: str) -> list[str]:
    return re.findall(r"https://mp3\.example\.com/[^\s\"<]+", text)


async def test_the_owner_receives_a_download_link_and_a_page_link(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    event = converted()
    settings = NotifierSettings(smtp_port=port, public_url="https://mp3.example.com/")
    link = LINKS.sign(event.job_id, event.mp3_file_id)
    before = datetime.now(UTC).replace(microsecond=0)

    email = compose_ready_email(event, sender=settings.mail_from, public_url=settings.public_url, link=link)
    await send(email, settings)

    [(recipients, message)] = inbox.received
    assert recipients == ["ada@example.com"]
    assert message["X-Vidmp3-Job-Id"] == str(event.job_id)
    assert message["Message-ID"] == f"<job-{event.job_id}.ready@vidmp3>"  # the same for a repeat
    assert before <= parsedate_to_datetime(message["Date"]) <= datetime.now(UTC)
    # two jobs of the same file tell apart by the job's short id
    assert message["Subject"] == f"Your MP3 is ready: Ünïcode <b>name</b>.mp3 (job {str(event.job_id)[:8]})"
    plain, html = parts(message)
    download = f"https://mp3.example.com{link.path}"
    page = f"https://mp3.example.com/jobs/{event.job_id}"
    assert links_in(plain) == [download, page]
    assert LINKS.verify(links_in(plain)[0].rsplit("/", 1)[1]).job_id == event.job_id  # a link the gateway accepts
    assert f'href="{download}"' in html
    assert f'href="{page}"' in html
    assert "1:15, 2.3 MB" in plain
    assert link.expires_at.strftime("%d %b %Y") in plain  # says until when the link works
    assert "&lt;b&gt;name&lt;/b&gt;" in html
    assert "<b>name</b>" not in html


async def test_a_failed_job_gets_an_email_saying_why_and_what_to_try(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = NotifierSettings(smtp_port=port, public_url="https://mp3.example.com")
    event = ConversionFailed(
        job_id=uuid4(),
        reason=FailureReason.NO_AUDIO_STREAM,
        message="no audio stream in the container (av.error.InvalidDataError)",
    )
    contact = Contact("ada@example.com", "holiday.mp4", datetime(2026, 5, 4, 10, 15, tzinfo=UTC))

    await send(
        compose_failure_email(event, contact, sender=settings.mail_from, public_url=settings.public_url), settings
    )

    [(recipients, message)] = inbox.received
    assert recipients == ["ada@example.com"]
    assert message["Subject"] == f"Could not convert holiday.mp4 (job {str(event.job_id)[:8]})"
    assert message["Message-ID"] == f"<job-{event.job_id}.failed@vidmp3>"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    plain, html = parts(message)
    assert links_in(plain) == [f"https://mp3.example.com/jobs/{event.job_id}"]
    assert "The video has no sound" in plain
    assert "What to try: Check that the video plays with sound" in plain
    assert "uploaded Mon 04 May 2026, 10:15 UTC" in plain
    assert "InvalidDataError" not in plain + html  # the library's words are for operators
    assert "The video has no sound" in html


async def test_an_unreachable_server_raises_so_the_message_is_retried() -> None:
    settings = NotifierSettings(smtp_port=free_port(), smtp_timeout_seconds=2)
    event = converted()
    email = compose_ready_email(
        event, sender=settings.mail_from, public_url=settings.public_url, link=LINKS.sign(event.job_id, "f")
    )
    with pytest.raises(aiosmtplib.SMTPException):
        await send(email, settings)
