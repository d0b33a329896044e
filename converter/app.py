"""The converter service: consumes ``VideoUploaded`` (and cancellations), stores the MP3,
reports progress and the outcome."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker
from pydantic import Field

from common.broker import EventPublisher, create_broker
from common.consuming import subscribe
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
from converter.metrics import MP3_ENCODER
from converter.reclaim import Reclaimer
from converter.settings import ConverterSettings
from converter.storage import MediaStore
from converter.worker import Converter, worker_name

__all__ = ["Cancellation", "create_app", "register"]

Cancellation = Annotated[JobCancelled | JobDeleted, Field(discriminator="type")]


def register(
    broker: RabbitBroker,
    store: MediaStore,
    claims: ConversionClaims,
    *,
    engine: Mp3Engine = "auto",
    conversions: int = 1,
    hold: timedelta = timedelta(minutes=10),
    limits: MediaLimits | None = None,
) -> Converter:
    """Subscribe a converter to ``VideoUploaded``, ``JobCancelled`` and ``JobDeleted`` on ``broker``."""
    events = EventPublisher(broker, [ConversionStarted, ConversionProgress, Mp3Converted, ConversionFailed])
    converter = Converter(
        store,
        claims,
        events.publish,
        worker_name(),
        engine=engine,
        conversions=conversions,
        hold=hold,
        limits=limits,
    )

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
        converter.handle,
        title="converter.video-uploaded:consume",
        description=(
            "Extract the uploaded video's audio as MP3. Acked once the job is on record and its "
            "conversion ended, or 10 minutes in (a record that outlives its worker is taken over)."
        ),
        on_give_up=give_up,
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
        hold=timedelta(seconds=settings.hold_seconds),
        limits=settings.media_limits,
    )
    reclaimer = Reclaimer(converter, settings.reclaim_interval)

    async def check_layout() -> None:
        await asyncio.to_thread(require_current_layout_blocking, database)

    async def close() -> None:
        client.close()

    return create_worker_app(
        broker, on_startup=[check_layout, reclaimer.start], on_shutdown=[reclaimer.stop, converter.shutdown, close]
    )
