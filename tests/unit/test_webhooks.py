"""Webhooks' pure parts: which addresses are refused, how internal events become public ones,
and signatures with one secret or two."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from common import webhooks_asyncapi
from common.links import LinkSigner
from common.outbound import UnsafeUrl, WebhookSettings, _blocked, check_url
from common.webhook_deliveries import delivery_id
from common.webhook_endpoints import Endpoint, Secret, callback_secrets, new_secret
from contracts import ConversionFailed, ConversionProgress, ConversionStarted, FailureReason, Mp3Converted, Mp3Part
from contracts.webhooks import WebhookEventAdapter, WebhookEventType
from gateway.app import create_app
from gateway.asyncapi_page import rendered_webhooks
from gateway.settings import GatewaySettings
from notifier.webhooks.public import progress_step, public_event
from notifier.webhooks.sender import signature_header

_LINKS = LinkSigner("k" * 40, lifetime=timedelta(hours=1))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.3.4",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address checked, nothing bound)
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "ff02::1",
    ],
)
def test_private_local_and_reserved_addresses_are_blocked(address: str) -> None:
    assert _blocked(ipaddress.ip_address(address), [])


def test_public_addresses_pass_and_an_allowed_network_lets_a_private_one_through() -> None:
    assert not _blocked(ipaddress.ip_address("93.184.216.34"), [])
    assert not _blocked(ipaddress.ip_address("2606:2800:220:1::1"), [])
    allowed = [ipaddress.ip_network("127.0.0.1/32")]
    assert not _blocked(ipaddress.ip_address("127.0.0.1"), allowed)
    assert _blocked(ipaddress.ip_address("127.0.0.2"), allowed)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/x", "https://"),
        ("https://user:pw@93.184.216.34/x", "user name"),
        ("http://10.0.0.1/hook", "public internet"),
        ("http://[::1]:8080/hook", "public internet"),
        ("not a url", "https://"),
    ],
)
async def test_check_url_says_why_in_words(url: str, words: str) -> None:
    with pytest.raises(UnsafeUrl, match=words.replace("+", r"\+")):
        await check_url(url, [])


async def test_check_url_resolves_to_the_address_it_checked() -> None:
    destination = await check_url("http://127.0.0.1:9/x", [ipaddress.ip_network("127.0.0.0/8")])
    assert destination.address == ipaddress.ip_address("127.0.0.1")


def test_settings_read_networks_and_delays_from_comma_separated_values() -> None:
    settings = WebhookSettings(webhook_allowed_networks="127.0.0.1/32, ::1/128", webhook_retry_delays="1,2.5")  # type: ignore[arg-type]
    assert [str(n) for n in settings.webhook_allowed_networks] == ["127.0.0.1/32", "::1/128"]
    assert settings.webhook_retry_delays == [1.0, 2.5]
    assert 20 * 3600 < sum(WebhookSettings().webhook_retry_delays) < 26 * 3600  # about a day


def test_progress_is_sent_at_most_once_per_tenth() -> None:
    assert [progress_step(p) for p in (0, 3, 9.9, 10, 55, 99.9, 100)] == [0, 0, 0, 10, 50, 90, None]
    job = uuid4()
    started = public_event(
        ConversionStarted(job_id=job, worker="w"), filename="a.mp4", public_url="https://x", links=_LINKS
    )
    early = public_event(
        ConversionProgress(job_id=job, percent=4, processed_seconds=1),
        filename="a.mp4",
        public_url="https://x",
        links=_LINKS,
    )
    later = public_event(
        ConversionProgress(job_id=job, percent=42, processed_seconds=9),
        filename="a.mp4",
        public_url="https://x",
        links=_LINKS,
    )
    assert started is not None
    assert early is not None
    assert later is not None
    assert started.event_id == early.event_id != later.event_id
    done = ConversionProgress(job_id=job, percent=100, processed_seconds=9)
    assert public_event(done, filename="a.mp4", public_url="https://x", links=_LINKS) is None


def test_ready_carries_a_signed_link_and_failed_says_what_happened_in_words() -> None:
    job = uuid4()
    ready = public_event(
        Mp3Converted(
            job_id=job,
            owner_id="u",
            owner_email="a@example.com",
            mp3_file_id="f1",
            filename="a.mp3",
            size_bytes=10,
            duration_seconds=3.0,
        ),
        filename="a.mp4",
        public_url="https://vidmp3.example.com/",
        links=_LINKS,
    )
    assert ready is not None
    assert ready.type == "job.ready"
    data = WebhookEventAdapter.validate_json(ready.model_dump_json()).data
    token = data.download_url.rsplit("/", 1)[1]  # type: ignore[union-attr]
    assert data.download_url.startswith("https://vidmp3.example.com/v1/downloads/")  # type: ignore[union-attr]
    assert _LINKS.verify(token).job_id == job
    failed = public_event(
        ConversionFailed(job_id=job, reason=FailureReason.NO_AUDIO_STREAM, message="no audio"),
        filename="a.mp4",
        public_url="https://x",
        links=_LINKS,
    )
    assert failed is not None
    assert failed.data.reason == "no_audio_stream"  # type: ignore[union-attr]
    assert "has no sound" in failed.data.detail  # type: ignore[union-attr]


def test_a_job_split_per_chapter_is_ready_with_a_signed_link_for_each_chapter() -> None:
    job = uuid4()
    parts = [
        Mp3Part(
            number=n,
            file_id=f"6650a1f2c3d4e5f601234567.{n:03d}",
            filename=f"a - {n:02d} Part {n}.mp3",
            title=f"Part {n}",
            start_seconds=2.0 * (n - 1),
            duration_seconds=2.0,
            size_bytes=50,
        )
        for n in (1, 2)
    ]
    converted = Mp3Converted(
        job_id=job,
        owner_id="u",
        owner_email="a@example.com",
        mp3_file_id="6650a1f2c3d4e5f601234567",
        filename="a.mp3",
        size_bytes=100,
        duration_seconds=4.0,
        parts=parts,
    )

    ready = public_event(converted, filename="a.mp4", public_url="https://x", links=_LINKS)

    assert ready is not None
    data = WebhookEventAdapter.validate_json(ready.model_dump_json()).data
    listed = data.parts  # type: ignore[union-attr]
    assert [(p.number, p.title, p.size_bytes) for p in listed] == [(1, "Part 1", 50), (2, "Part 2", 50)]
    links = [_LINKS.verify(p.download_url.rsplit("/", 1)[1]) for p in listed]
    assert [link.file_id for link in links] == [part.file_id for part in parts]
    assert all(link.expires_at <= data.download_expires_at for link in links)  # type: ignore[union-attr]


def test_the_webhook_id_is_stable_per_event_and_endpoint() -> None:
    event = uuid4()
    assert delivery_id(event, "ep_a") == delivery_id(event, "ep_a") != delivery_id(event, "ep_b")


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new_one() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    endpoint = Endpoint(
        "ep_x",
        "u",
        "a@example.com",
        "https://x",
        ("job.ready",),
        "",
        (Secret(new), Secret(old, now + timedelta(hours=1))),
        now,
    )
    secrets = endpoint.signing_secrets(now)
    body = '{"type": "job.ready"}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature_header(secrets, "msg_1", now, body),
    }
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    assert endpoint.signing_secrets(now + timedelta(hours=2)) == [new]
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_a_callback_secret_depends_on_the_job_and_the_key() -> None:
    job = uuid4()
    assert callback_secrets(["a" * 32], job) == callback_secrets(["a" * 32], job)
    assert callback_secrets(["a" * 32], job) != callback_secrets(["b" * 32], job)
    assert callback_secrets(["a" * 32], job) != callback_secrets(["a" * 32], uuid4())
    Webhook(callback_secrets(["a" * 32], job)[0])  # a valid Standard Webhooks secret


def test_the_public_asyncapi_document_is_committed_complete_and_its_examples_valid() -> None:
    spec = webhooks_asyncapi.document()
    committed = Path(__file__).parents[2] / "asyncapi.webhooks.yaml"
    assert committed.read_text(encoding="utf-8") == webhooks_asyncapi.render(spec)
    messages = spec["components"]["messages"]
    assert {m["name"] for m in messages.values()} == {str(t) for t in WebhookEventType}
    for message in messages.values():
        assert message["description"]
        assert message["examples"]
        for example in message["examples"]:
            event = WebhookEventAdapter.validate_python(example["payload"])
            assert event.type == message["name"]
    for schema in spec["components"]["schemas"].values():
        for name, field in schema.get("properties", {}).items():
            assert field.get("description") or "$ref" in field or name in ("type", "data"), (schema, name)


def test_the_gateway_documents_the_webhooks_in_openapi_and_on_a_page_apart_from_the_internal_events() -> None:
    document = create_app(GatewaySettings()).openapi_schema.to_schema()
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == {str(t) for t in WebhookEventType}
    ready = document["webhooks"]["job.ready"]["post"]
    body = ready["requestBody"]["content"]["application/json"]
    assert "download_url" in body["schema"]["properties"]["data"]["properties"]
    assert body["examples"]
    assert "$ref" not in json.dumps(body["schema"])
    page = rendered_webhooks().html
    for event_type in WebhookEventType:
        assert f"<code>{event_type}</code>" in page
    assert "Internal events between the services" in page
    assert "webhook-signature" in page
