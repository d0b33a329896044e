"""The notifier's email through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from uuid import uuid4

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from contracts import Mp3Converted
from notifier.message import compose_ready_email
from notifier.settings import NotifierSettings
from notifier.smtp import send


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or b"")))
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


def converted() -> Mp3Converted:
    return Mp3Converted(
        job_id=uuid4(),
        owner_id="1",
        owner_email="ada@example.com",
        mp3_file_id="m",
        filename="Ünïcode <b>name</b>.mp3",
        size_bytes=1,
        duration_seconds=75.4,
    )


async def test_the_owner_receives_the_download_link(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    event = converted()
    settings = NotifierSettings(smtp_port=port, public_url="https://mp3.example.com/")

    await send(compose_ready_email(event, sender=settings.mail_from, public_url=settings.public_url), settings)

    [(recipients, message)] = inbox.received
    assert recipients == ["ada@example.com"]
    assert message["X-Vidmp3-Job-Id"] == str(event.job_id)
    assert f"job-{event.job_id}" in message["Message-ID"]
    plain, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    link = f"https://mp3.example.com/v1/jobs/{event.job_id}/mp3"
    assert link in plain
    assert "1:15" in plain
    assert f'href="{link}"' in html
    assert "&lt;b&gt;name&lt;/b&gt;" in html
    assert "<b>name</b>" not in html


async def test_an_unreachable_server_raises_so_the_message_is_retried() -> None:
    settings = NotifierSettings(smtp_port=free_port(), smtp_timeout_seconds=2)
    with pytest.raises(aiosmtplib.SMTPException):
        await send(
            compose_ready_email(converted(), sender=settings.mail_from, public_url=settings.public_url), settings
        )
