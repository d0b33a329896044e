"""File names that break lines or hide what people read are cleaned wherever a name comes in
(multipart, tus metadata), and the notifier is never poisoned by one: the job is notified."""

from __future__ import annotations

import asyncio
import base64
import uuid
from email.header import decode_header, make_header
from pathlib import Path

import aio_pika
import httpx
import pytest

from contracts import Mp3Converted
from contracts.topology import EXCHANGE
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, wait_terminal
from tests.e2e.test_gateway_uploads import OFFSET_STREAM, TUS, multipart

UNSAFE = {
    "line separator": ("clip\u2028Bcc: x@example.com.mp4", "clip_Bcc_ x@example.com.mp4"),
    "next line": ("clip\u0085more.mp4", "clip_more.mp4"),
    "bidi override": ("invoice\u202egnp.mp4", "invoicegnp.mp4"),
    "zero width": ("zero\u200bwidth\ufeff.mp4", "zerowidth.mp4"),
    "isolates and paragraph": ("a\u2066b\u2069c\u2029d.mp4", "abc_d.mp4"),
}
FORBIDDEN = "\u2028\u2029\u0085\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\ufeff\r\n"


def subject(system: System, job_id: str) -> str:
    [mail] = wait_for(lambda: system.mailbox.for_job(job_id), timeout=30)
    return str(make_header(decode_header(mail["Subject"])))


@pytest.fixture(scope="module")
def token(system: System) -> str:
    return system.new_user_token()


@pytest.mark.parametrize(("sent", "kept"), UNSAFE.values(), ids=UNSAFE.keys())
def test_a_multipart_name_is_cleaned_and_its_job_is_notified(
    system: System, token: str, sample_video: tuple[Path, float], sent: str, kept: str
) -> None:
    body, headers = multipart(sent, sample_video[0].read_bytes())
    response = httpx.post(f"{system.gateway}/v1/jobs", content=body, headers={**bearer(token), **headers})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]

    status = wait_terminal(system, token, job_id)
    assert status["state"] == "notified", status  # not stuck at `converted`, retried for an hour
    assert status["filename"] == kept
    assert not set(status["mp3"]["filename"]) & set(FORBIDDEN)
    assert not set(subject(system, job_id)) & set(FORBIDDEN)


@pytest.mark.parametrize(("sent", "kept"), UNSAFE.values(), ids=UNSAFE.keys())
def test_a_tus_name_is_cleaned_the_same_way(
    system: System, token: str, sample_video: tuple[Path, float], sent: str, kept: str
) -> None:
    data = sample_video[0].read_bytes()
    created = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={
            **bearer(token),
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {base64.b64encode(sent.encode()).decode()}",
        },
    )
    assert created.status_code == 201, created.text
    done = httpx.patch(
        f"{system.gateway}{created.headers['location']}",
        headers={**bearer(token), **TUS, **OFFSET_STREAM, "Upload-Offset": "0"},
        content=data,
        timeout=60,
    )
    assert done.status_code == 204, done.text
    job_id = done.headers["job-location"].rsplit("/", 1)[1]
    status = wait_terminal(system, token, job_id)
    assert (status["state"], status["filename"]) == ("notified", kept)


def test_the_notifier_cleans_a_name_an_older_gateway_let_through(system: System) -> None:
    """An ``Mp3Converted`` published with a poisoned name (as before the sanitizer) is emailed
    at once, its subject cleaned, instead of failing and being retried."""
    event = Mp3Converted(
        job_id=uuid.uuid4(),
        owner_id="someone",
        owner_email="someone@example.com",
        mp3_file_id="0" * 24,
        filename="old\u2028Bcc: x@example.com\u0085\u202e.mp3",
        size_bytes=1,
        duration_seconds=1.0,
    )

    async def publish() -> None:
        connection = await aio_pika.connect(system.stack.config.rabbit_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EXCHANGE.name)
            await exchange.publish(
                aio_pika.Message(
                    event.model_dump_json().encode(),
                    content_type="application/json",
                    message_id=str(event.event_id),
                    correlation_id=str(event.job_id),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=event.type,
            )

    asyncio.run(publish())
    cleaned = subject(system, str(event.job_id))
    assert "old_Bcc_ x@example.com_.mp3" in cleaned, cleaned  # then the job's short id
    assert not set(cleaned) & set(FORBIDDEN)
