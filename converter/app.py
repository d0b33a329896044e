"""The converter service: consumes ``VideoUploaded`` (and cancellations), stores the MP3,
reports progress and the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker
from pydantic import Field

from common.broker import EventPublisher, create_broker
from common.consuming import Reroute, subscribe
from common.limits import MediaLimits
from common.mongo import create_client
from common.service import create_worker_app
from common.storage_layout import require_current_layout_blocking
from contracts import (
    ConversionFailed,
    ConversionProgress,
    ConversionStarted,
    FailureReason,
    JobCancelled,
    JobDeleted,
    Mp3Converted,
    VideoUploaded,
)
from contracts.topology import Queues
from converter.claims import ConversionClaims
from converter.encoders import Mp3Engine, pick_engine
from converter.metrics import CONVERSIONS_RUNNING, MP3_ENCODER, SLOTS_IN_USE, SLOTS_WAITING
from converter.reclaim import Reclaimer
from converter.settings import ConverterSettings
from converter.storage import MediaStore
from converter.worker import Converter, is_heavy, worker_name

__all__ = ["Cancellation", "create_app", "register"]

Cancellation = Annotated[JobCancelled | JobDeleted, Field(discriminator="type")]


def register(
    broker: RabbitBroker,
    store: MediaStore,
    claims: ConversionClaims,
    *,
    engine: Mp3Engine = "auto",
    conversions: int = 1,
    heavy_conversions: int | None = None,
    hold: timedelta = timedelta(minutes=10),
    limits: MediaLimits | None = None,
) -> Converter:
    """Subscribe a converter to ``VideoUploaded`` (its queue and the heavy lane's),
    ``JobCancelled`` and ``JobDeleted`` on ``broker``."""
    events = EventPublisher(broker, [ConversionStarted, ConversionProgress, Mp3Converted, ConversionFailed])
    converter = Converter(
        store,
        claims,
        events.publish,
        worker_name(),
        engine=engine,
        conversions=conversions,
        heavy_conversions=heavy_conversions,
        hold=hold,
        limits=limits,
    )

    def light_only(handle: Callable[[VideoUploaded], Awaitable[None]]) -> Callable[[VideoUploaded], Awaitable[None]]:
        async def handle_light(uploaded: VideoUploaded) -> None:
            if is_heavy(uploaded):
                raise Reroute(Queues.CONVERTER_HEAVY, "a heavy job (normalize) waits in its own lane")
            await handle(uploaded)

        return handle_light

    async def handle_redelivered(uploaded: VideoUploaded) -> None:
        await converter.handle(uploaded, redelivered=True)

    async def give_up(uploaded: VideoUploaded, error: Exception) -> None:
        await events.publish(
            ConversionFailed(
                job_id=uploaded.job_id,
                reason=FailureReason.RETRIES_EXHAUSTED,
                message=f"gave up after repeated failures: {error}",
            )
        )

    subscribe(
        broker,
        Queues.CONVERTER,
        VideoUploaded,
        light_only(converter.handle),
        title="converter.video-uploaded:consume",
        description=(
            "Extract the uploaded video's audio as MP3. Acked once the job is on record and its "
            "conversion ended, or 10 minutes in (a record that outlives its worker is taken over). "
            "A heavy job (normalize) is moved to the heavy lane's queue."
        ),
        on_give_up=give_up,
        redelivered_handler=light_only(handle_redelivered),
    )
    subscribe(
        broker,
        Queues.CONVERTER_HEAVY,
        VideoUploaded,
        converter.handle,
        title="converter.video-uploaded.heavy:consume",
        description=(
            "The heavy lane: jobs with normalize, fewer at once than light ones, so a light job "
            "never waits behind them. Acked as the converter's queue is."
        ),
        on_give_up=give_up,
        redelivered_handler=handle_redelivered,
        prefetch=converter.heavy_conversions,
    )
    subscribe(
        broker,
        Queues.CONVERTER_CANCELLATIONS,
        Cancellation,
        converter.cancel,
        title="converter.job-cancelled:consume",
        description="Stop converting a cancelled or deleted job; a deleted job's MP3 is removed too.",
    )
    return converter


def create_app(settings: ConverterSettings | None = None) -> AsgiFastStream:
    settings = settings or ConverterSettings.load()
    broker = create_broker(settings, description="Converter")
    client = create_client(settings)
    database = client[settings.mongo_database]
    # picked once, logged (a warning when it falls back) and exported: a converter without the
    # system library still works, at a CPU cost an operator should see
    engine = pick_engine(settings.mp3_encoder, library=settings.libmp3lame, announce=True)
    MP3_ENCODER.labels(engine.name, engine.detail).set(1)
    converter = register(
        broker,
        MediaStore(database),
        ConversionClaims(database, lease=timedelta(seconds=settings.lease_seconds)),
        engine=engine,
        conversions=settings.conversions,
        heavy_conversions=settings.heavy_conversions,
        hold=timedelta(seconds=settings.hold_seconds),
        limits=settings.media_limits,
    )
    reclaimer = Reclaimer(converter, settings.reclaim_interval)
    CONVERSIONS_RUNNING.set_function(lambda: converter.running)
    SLOTS_IN_USE.set_function(lambda: converter.slots.in_use)
    SLOTS_WAITING.set_function(lambda: converter.slots.waiting)

    async def check_layout() -> None:
        await asyncio.to_thread(require_current_layout_blocking, database)

    async def close() -> None:
        client.close()

    return create_worker_app(
        broker, on_startup=[check_layout, reclaimer.start], on_shutdown=[reclaimer.stop, converter.shutdown, close]
    )
