"""The status projection: folds every event into the job-status read model; and retention
(``projections.retention``): removes finished jobs' videos, and expires jobs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker
from prometheus_client import Counter, Histogram

from common.broker import EventPublisher, create_broker
from common.consuming import subscribe
from common.in_flight import IN_FLIGHT_STATES, JobsInFlight
from common.mongo import create_async_client
from common.service import create_worker_app
from common.storage_layout import require_current_layout
from contracts import ConversionFailed, Event
from contracts.topology import Queues
from projections.retention import register_retention
from projections.settings import ProjectionSettings
from projections.store import ActiveJobs, EventStore, JobStatusView
from projections.watchdog import Watchdog

__all__ = ["create_app", "register"]

log = logging.getLogger(__name__)

LAG = Histogram(
    "projection_lag_seconds",
    "Time from an event happening to its being folded into the job-status view.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
EVENTS = Counter("projection_events_total", "Events folded into the job-status view.", ["type"])


def register(broker: RabbitBroker, events: EventStore, view: JobStatusView, in_flight: JobsInFlight) -> EventPublisher:
    """Subscribe the projection to every event on ``broker``; returns the watchdog's publisher."""

    async def project(event: Event) -> None:
        await events.append(event)
        status = await view.apply(event)
        if status.state not in IN_FLIGHT_STATES or status.deleted_at is not None:
            await in_flight.release(str(event.job_id))  # the work is over: its owner's units are free
        LAG.observe(max(0.0, (datetime.now(UTC) - event.occurred_at).total_seconds()))
        EVENTS.labels(event.type).inc()
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
    return EventPublisher(broker, [ConversionFailed], sender="projections.watchdog")


def create_app(settings: ProjectionSettings | None = None) -> AsgiFastStream:
    settings = settings or ProjectionSettings.load()
    broker = create_broker(settings, description="Status projection")
    client = create_async_client(settings)
    database = client[settings.mongo_database]
    events, view = EventStore(database), JobStatusView(database)
    publisher = register(broker, events, view, JobsInFlight(database))
    declare_wait_queue = register_retention(
        broker, database, retention=settings.retention, remove_source=settings.remove_source
    )
    watchdog = Watchdog(
        ActiveJobs(database),
        publisher.publish,
        queued_timeout=timedelta(seconds=settings.queued_timeout_seconds),
        converting_timeout=timedelta(seconds=settings.converting_timeout_seconds),
    )
    background: list[asyncio.Task[None]] = []

    async def start() -> None:
        await require_current_layout(database)
        await declare_wait_queue()
        background.append(asyncio.create_task(watchdog.run(settings.watchdog_interval_seconds)))

    async def stop() -> None:
        for task in background:
            task.cancel()
        await client.close()

    return create_worker_app(broker, on_startup=[start], on_shutdown=[stop])
