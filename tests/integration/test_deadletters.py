"""Listing and replaying dead letters through a real RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import aio_pika
import pytest

from common.broker import create_broker, declare_topology
from common.consuming import ATTEMPT_HEADER
from common.deadletters import counts, replay, show
from common.settings import BrokerSettings
from contracts import Mp3Converted
from contracts.topology import Queues, dead_letter_queue
from tests.services import Endpoints


@pytest.fixture
async def channel(endpoints: Endpoints) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    broker = create_broker(BrokerSettings(rabbit_url=endpoints.rabbit_url))
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    connection = await aio_pika.connect(endpoints.rabbit_url)
    async with connection:
        channel = await connection.channel()
        for queue in (Queues.NOTIFIER, dead_letter_queue(Queues.NOTIFIER)):
            await (await channel.get_queue(queue.name)).purge()
        yield channel


async def settled_count(channel: aio_pika.abc.AbstractChannel, expected: int) -> int:
    """The dead-letter count, once it reads ``expected`` or after 5 s: a quorum queue's count
    in a declare answer can lag a just-confirmed publish."""
    for _ in range(50):
        count = (await counts(channel))[Queues.NOTIFIER.name]
        if count == expected:
            return count
        await asyncio.sleep(0.1)
    return count


async def test_a_dead_letter_is_listed_shown_and_replayed_once(channel: aio_pika.abc.AbstractChannel) -> None:
    event = Mp3Converted(
        job_id=uuid4(), owner_id="1", owner_email="ada@example.com", mp3_file_id="m",
        filename="a.mp3", size_bytes=1, duration_seconds=1.0,
    )  # fmt: skip
    await channel.default_exchange.publish(
        aio_pika.Message(
            event.model_dump_json().encode(),
            message_id=str(event.event_id),
            correlation_id=str(event.job_id),
            type=event.type,
            headers={ATTEMPT_HEADER: 6},
        ),
        routing_key=dead_letter_queue(Queues.NOTIFIER).name,
    )

    assert await settled_count(channel, 1) == 1
    [letter] = await show(channel, Queues.NOTIFIER.name)
    assert (letter.job_id, letter.type, letter.attempts) == (str(event.job_id), "mp3.converted", 6)
    assert await settled_count(channel, 1) == 1  # showing leaves it there

    assert await replay(channel, Queues.NOTIFIER.name) == 1

    assert await settled_count(channel, 0) == 0
    back = await (await channel.get_queue(Queues.NOTIFIER.name)).get(fail=False)
    assert back is not None
    assert Mp3Converted.model_validate_json(back.body) == event
    assert ATTEMPT_HEADER not in (back.headers or {})
    await back.ack()
