"""The status projection: folds every event into the job-status read model."""

from __future__ import annotations

import logging

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from common.broker import create_broker
from common.consuming import subscribe
from common.mongo import create_async_client
from common.service import create_worker_app
from contracts import Event, Queues
from projections.settings import ProjectionSettings
from projections.store import EventStore, JobStatusView

__all__ = ["create_app", "register"]

log = logging.getLogger(__name__)


def register(broker: RabbitBroker, events: EventStore, view: JobStatusView) -> None:
    """Subscribe the projection to every event on ``broker``."""

    async def project(event: Event) -> None:
        await events.append(event)
        status = await view.apply(event)
        log.info(
            "job %s is %s",
            event.job_id,
            status.state,
            extra={"job_id": str(event.job_id), "event_id": str(event.event_id), "event_type": event.type},
        )

    subscribe(
        broker,
        Queues.PROJECTIONS,
        Event,
        project,
        title="projections.job-status:consume",
        description="Record every event in the event store and fold it into the job's status.",
    )


def create_app(settings: ProjectionSettings | None = None) -> AsgiFastStream:
    settings = settings or ProjectionSettings.load()
    broker = create_broker(settings, description="Status projection")
    client = create_async_client(settings)
    database = client[settings.mongo_database]
    events, view = EventStore(database), JobStatusView(database)
    register(broker, events, view)

    async def ensure_indexes() -> None:
        await events.ensure_indexes()
        await view.ensure_indexes()

    return create_worker_app(broker, on_startup=[ensure_indexes], on_shutdown=[client.close])
