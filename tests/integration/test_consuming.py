"""Retries, dead-lettering and poison messages through a real RabbitMQ."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker

from common.broker import create_broker
from common.consuming import ATTEMPT_HEADER, Postpone, RetryPolicy, Unprocessable, subscribe
from common.settings import BrokerSettings
from contracts import NotificationSent
from contracts.topology import DEAD_LETTER_EXCHANGE, EXCHANGE, consumer_queue, dead_letter_queue
from tests.services import Endpoints

DELAYS = (0.3, 0.6)


@pytest.fixture
async def queue_name() -> str:
    return f"test-consuming-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def channel(endpoints: Endpoints, queue_name: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(endpoints.rabbit_url)
    async with connection:
        channel = await connection.channel()
        yield channel
        for suffix in ("", ".dead", ".due", *(f".wait.{d:g}s" for d in DELAYS)):
            await channel.queue_delete(queue_name + suffix)


async def run_consumer(endpoints: Endpoints, queue_name: str, handler, on_give_up=None):  # type: ignore[no-untyped-def]
    """Start a broker consuming the test queue with ``handler``; returns it."""
    queue = consumer_queue(queue_name, queue_name)
    broker: RabbitBroker = create_broker(BrokerSettings(rabbit_url=endpoints.rabbit_url))
    subscribe(
        broker, queue, NotificationSent, handler, title="t", description="t", delays=DELAYS, on_give_up=on_give_up
    )
    await broker.start()
    dead_letters = await broker.declare_exchange(DEAD_LETTER_EXCHANGE)
    dead = await broker.declare_queue(dead_letter_queue(queue))
    await dead.bind(dead_letters, routing_key=queue_name)
    for retry in RetryPolicy(queue, DELAYS).retry_queues():
        await broker.declare_queue(retry)
    return broker


async def dead_letters(
    channel: aio_pika.abc.AbstractChannel, queue_name: str, wait: float = 10.0
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    queue = await channel.get_queue(f"{queue_name}.dead")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            return [message]
        await asyncio.sleep(0.1)
    return []


def event() -> NotificationSent:
    return NotificationSent(job_id=uuid.uuid4(), recipient="ada@example.com")


async def test_a_failing_handler_is_tried_again_after_each_delay(
    endpoints: Endpoints, queue_name: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls: list[float] = []
    done = asyncio.Event()

    async def flaky(received: NotificationSent) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError("SMTP away")
        done.set()

    broker = await run_consumer(endpoints, queue_name, flaky)
    try:
        sent = event()
        await broker.publish(
            sent, exchange=EXCHANGE, routing_key=queue_name, persist=True, message_id=str(sent.event_id)
        )
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        await broker.stop()

    assert len(calls) == 3
    assert calls[1] - calls[0] >= DELAYS[0] * 0.9
    assert calls[2] - calls[1] >= DELAYS[1] * 0.9
    assert await dead_letters(channel, queue_name, wait=0.5) == []


async def test_a_handler_that_keeps_failing_ends_in_the_dead_letter_queue(
    endpoints: Endpoints, queue_name: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls = 0
    given_up: list[tuple[NotificationSent, Exception]] = []

    async def broken(received: NotificationSent) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    async def give_up(received: NotificationSent, error: Exception) -> None:
        given_up.append((received, error))

    broker = await run_consumer(endpoints, queue_name, broken, on_give_up=give_up)
    try:
        sent = event()
        await broker.publish(
            sent, exchange=EXCHANGE, routing_key=queue_name, persist=True, message_id=str(sent.event_id)
        )
        [dead] = await dead_letters(channel, queue_name)
    finally:
        await broker.stop()

    assert calls == len(DELAYS) + 1
    assert [(event, str(error)) for event, error in given_up] == [(sent, "always")]
    assert NotificationSent.model_validate_json(dead.body) == sent
    assert dead.message_id == str(sent.event_id)
    assert dead.headers[ATTEMPT_HEADER] == len(DELAYS) + 1


async def test_an_invalid_payload_is_dead_lettered_at_once(
    endpoints: Endpoints, queue_name: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls = 0

    async def handler(received: NotificationSent) -> None:
        nonlocal calls
        calls += 1

    broker = await run_consumer(endpoints, queue_name, handler)
    try:
        await broker.publish(
            b'{"type": "notification.sent", "job_id": "not a uuid"}',
            exchange=EXCHANGE,
            routing_key=queue_name,
            content_type="application/json",
        )
        started = time.monotonic()
        [dead] = await dead_letters(channel, queue_name)
    finally:
        await broker.stop()

    assert calls == 0
    assert time.monotonic() - started < DELAYS[0] + 2
    assert b"not a uuid" in dead.body


async def test_a_postponed_message_comes_back_later_without_using_up_an_attempt(
    endpoints: Endpoints, queue_name: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls: list[float] = []
    done = asyncio.Event()

    async def busy_at_first(received: NotificationSent) -> None:
        calls.append(time.monotonic())
        if len(calls) < 4:  # more times than there are retries
            raise Postpone("no free slot")
        done.set()

    broker = await run_consumer(endpoints, queue_name, busy_at_first)
    try:
        sent = event()
        await broker.publish(
            sent, exchange=EXCHANGE, routing_key=queue_name, persist=True, message_id=str(sent.event_id)
        )
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        await broker.stop()

    assert len(calls) == 4
    assert all(later - earlier >= DELAYS[0] * 0.9 for earlier, later in itertools.pairwise(calls))
    assert await dead_letters(channel, queue_name, wait=0.5) == []


async def test_an_unprocessable_message_is_dead_lettered_at_once(
    endpoints: Endpoints, queue_name: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls, given_up = 0, []

    async def handler(received: NotificationSent) -> None:
        nonlocal calls
        calls += 1
        raise Unprocessable("its content can never be handled")

    async def on_give_up(received: NotificationSent, error: Exception) -> None:
        given_up.append(error)

    broker = await run_consumer(endpoints, queue_name, handler, on_give_up)
    try:
        sent = event()
        await broker.publish(sent, exchange=EXCHANGE, routing_key=queue_name, message_id=str(sent.event_id))
        [dead] = await dead_letters(channel, queue_name)
    finally:
        await broker.stop()

    assert calls == 1  # no retry round
    assert [str(error) for error in given_up] == ["its content can never be handled"]
    assert NotificationSent.model_validate_json(dead.body) == sent


async def test_a_retry_comes_back_when_its_delay_is_over_not_after_the_queues_backlog(
    endpoints: Endpoints, queue_name: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    backlog = 40
    handled: list[str] = []
    done, published = asyncio.Event(), asyncio.Event()
    failed_once = False

    async def slow(received: NotificationSent) -> None:
        nonlocal failed_once
        if received.recipient == "first@example.com" and not failed_once:
            failed_once = True
            raise ConnectionError("SMTP away")
        await published.wait()  # the whole backlog is queued
        await asyncio.sleep(0.3)  # a queue that takes a while (12 s) to work through, however busy the broker
        handled.append(received.recipient)
        if len(handled) == backlog + 1:
            done.set()

    broker = await run_consumer(endpoints, queue_name, slow)
    try:
        for n in range(backlog + 1):
            recipient = "first@example.com" if n == 0 else f"{n}@example.com"
            sent = NotificationSent(job_id=uuid.uuid4(), recipient=recipient)
            await broker.publish(
                sent, exchange=EXCHANGE, routing_key=queue_name, persist=True, message_id=str(sent.event_id)
            )
        published.set()
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await broker.stop()

    # back after its 0.3 s, well before the 40 messages queued behind it were worked through
    assert handled.index("first@example.com") < backlog // 2, handled.index("first@example.com")
