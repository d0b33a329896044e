"""Fault tests: a system of its own, with ways to break its surroundings on purpose."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import aio_pika
import pytest

from contracts.topology import EXCHANGE
from tests.faults.media import write_long_video
from tests.services import Endpoints
from tests.system import System, print_log_tails, running_system

DUPLICATE_HEADER = "x-test-duplicate"

CONVERTER_ENV = {
    # PyAV's encoder (about 3x slower than lameenc) makes a long input a conversion to break into
    "VIDMP3_MP3_ENCODER": "pyav",
    # a dead converter's job is taken over within seconds, not minutes
    "VIDMP3_LEASE_SECONDS": "6",
    "VIDMP3_RECLAIM_INTERVAL_SECONDS": "2",
    # deliveries are let go 3 s into a conversion: a later kill needs no redelivery
    "VIDMP3_HOLD_SECONDS": "3",
}


WEBHOOK_ENV = {
    # the test's receiver listens on loopback; retries come within seconds, not hours
    "VIDMP3_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "VIDMP3_WEBHOOK_RETRY_DELAYS": "1,2,3,5,8,13",
}

LONG_SECONDS = 300


@pytest.fixture(scope="package")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Five minutes of audio: with PyAV's encoder, a conversion of 10-30 s on this machine."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_long_video(path, LONG_SECONDS)
    return path.read_bytes()


@pytest.fixture(scope="package")
def system(
    endpoints: Endpoints,
    mongo_database_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[System]:
    with running_system(
        endpoints,
        mongo_database_name,
        tmp_path_factory.mktemp("faults"),
        show_logs=False,
        **CONVERTER_ENV,
        **WEBHOOK_ENV,
    ) as system:
        failed_before = request.session.testsfailed
        yield system
        if request.session.testsfailed > failed_before:
            print_log_tails(system.stack)


class Duplicator:
    """Publishes every event on the exchange a second time, identical but for a marker header."""

    def __init__(self, rabbit_url: str) -> None:
        self.copies = 0
        self._url = rabbit_url
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),), daemon=True)

    def __enter__(self) -> Duplicator:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the duplicator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        connection = await aio_pika.connect(self._url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EXCHANGE.name)
            tap = await channel.declare_queue(exclusive=True, auto_delete=True)
            await tap.bind(exchange, routing_key="#")

            async def copy(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                async with message.process():
                    if (message.headers or {}).get(DUPLICATE_HEADER):
                        return
                    await exchange.publish(
                        aio_pika.Message(
                            message.body,
                            headers={**(message.headers or {}), DUPLICATE_HEADER: 1},
                            content_type=message.content_type,
                            message_id=message.message_id,
                            correlation_id=message.correlation_id,
                            type=message.type,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=message.routing_key or "",
                    )
                    self.copies += 1

            await tap.consume(copy)
            self._ready.set()
            await self._stop.wait()


@pytest.fixture
def duplicator(endpoints: Endpoints) -> Iterator[Duplicator]:
    with Duplicator(endpoints.rabbit_url) as running:
        yield running
