"""``python -m projections retain-finished`` hands a store's finished jobs to retention: the
event that ended each one lands in retention's queue, once per run; running jobs stay out."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from uuid import uuid4

import aio_pika
from pymongo.asynchronous.database import AsyncDatabase

from common.broker import create_broker, declare_topology
from common.settings import BrokerSettings
from contracts import EventAdapter, Mp3Converted, VideoUploaded
from contracts.topology import Queues
from projections.event_store import EventStore
from tests.services import Endpoints


def uploaded(job_id: object) -> VideoUploaded:
    return VideoUploaded(
        job_id=job_id, owner_id="1", owner_email="ada@example.com", video_file_id="0" * 24,
        filename="a.mp4", size_bytes=10,
    )  # fmt: skip


async def test_finished_jobs_are_handed_to_retention(
    endpoints: Endpoints, mongo_database: AsyncDatabase, mongo_database_name: str
) -> None:
    broker = create_broker(BrokerSettings(rabbit_url=endpoints.rabbit_url))
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    finished, running = uuid4(), uuid4()
    converted = Mp3Converted(
        job_id=finished, owner_id="1", owner_email="ada@example.com", mp3_file_id="1" * 24,
        filename="a.mp3", size_bytes=5, duration_seconds=1.0,
    )  # fmt: skip
    # a database of its own: the session's holds the finished jobs of other tiers' tests
    database_name = f"{mongo_database_name}_backfill"
    own = mongo_database.client[database_name]
    try:
        await _hand_over(endpoints, own, database_name, finished, running, converted)
    finally:
        await mongo_database.client.drop_database(database_name)


async def _hand_over(  # noqa: PLR0917 (the test's parts)
    endpoints: Endpoints,
    database: AsyncDatabase,
    database_name: str,
    finished: object,
    running: object,
    converted: Mp3Converted,
) -> None:
    events = EventStore(database)
    for event in (uploaded(finished), converted, uploaded(running)):
        await events.append(event)

    connection = await aio_pika.connect(endpoints.rabbit_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(Queues.RETENTION.name)
        await queue.purge()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VIDMP3_")},
            "VIDMP3_MONGO_URL": endpoints.mongo_url,
            "VIDMP3_MONGO_DATABASE": database_name,
            "VIDMP3_RABBIT_URL": endpoints.rabbit_url,
        }
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "projections", "retain-finished"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "handed 1 finished jobs to retention" in result.stdout

        message = None
        for _ in range(50):  # a quorum queue may show a confirmed message a moment later
            if (message := await queue.get(fail=False)) is not None:
                break
            await asyncio.sleep(0.1)
        assert message is not None
        await message.ack()
        assert EventAdapter.validate_json(message.body) == converted
        assert await queue.get(fail=False) is None
