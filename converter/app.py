"""The converter service: consumes ``VideoUploaded``, stores the MP3, reports the outcome."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from common.broker import EventPublisher, create_broker
from common.consuming import subscribe
from common.mongo import create_client
from common.service import create_worker_app
from contracts import ConversionFailed, ConversionStarted, FailureReason, Mp3Converted, VideoUploaded
from contracts.topology import Queues
from converter.claims import ConversionClaims
from converter.encoders import EngineChoice
from converter.settings import ConverterSettings
from converter.storage import MediaStore
from converter.worker import Converter, worker_name

__all__ = ["create_app", "register"]


def register(
    broker: RabbitBroker, store: MediaStore, claims: ConversionClaims, *, engine: EngineChoice = "auto"
) -> None:
    """Subscribe a converter to ``VideoUploaded`` on ``broker``."""
    events = EventPublisher(broker, [ConversionStarted, Mp3Converted, ConversionFailed])
    converter = Converter(store, claims, events.publish, worker_name(), engine=engine)

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
        description="Extract the uploaded video's audio as MP3; acked once the outcome is published.",
        on_give_up=give_up,
    )


def create_app(settings: ConverterSettings | None = None) -> AsgiFastStream:
    settings = settings or ConverterSettings.load()
    broker = create_broker(settings, description="Converter")
    client = create_client(settings)
    database = client[settings.mongo_database]
    register(broker, MediaStore(database), ConversionClaims(database), engine=settings.mp3_encoder)

    async def close() -> None:
        client.close()

    return create_worker_app(broker, on_shutdown=[close])
