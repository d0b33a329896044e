"""The RabbitMQ broker every service uses: one factory, one topology, typed publishing."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.publisher import RabbitPublisher

from common.settings import BrokerSettings
from contracts import Event
from contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    RETRY_DELAYS,
    Queues,
    dead_letter_queue,
    due_queue,
    retry_queue,
    routing_keys,
)

__all__ = ["EventPublisher", "create_broker", "declare_topology"]


def create_broker(settings: BrokerSettings, *, description: str | None = None) -> RabbitBroker:
    """A broker that connects on start, with a prefetch limit and publisher confirms."""
    return RabbitBroker(
        settings.rabbit_url.get_secret_value(),
        default_channel=Channel(prefetch_count=settings.prefetch, publisher_confirms=True),
        graceful_timeout=30.0,
        description=description,
        logger=logging.getLogger("faststream"),
    )


async def declare_topology(broker: RabbitBroker) -> None:
    """Declare the exchanges, every consumer's queue, its retry queues and its dead-letter queue.

    Every service declares all of it, so no event is published into an exchange with no
    queue bound yet, whatever order the services start in.
    """
    events = await broker.declare_exchange(EXCHANGE)
    dead_letters = await broker.declare_exchange(DEAD_LETTER_EXCHANGE)
    for queue in Queues.ALL:
        declared = await broker.declare_queue(queue)
        for routing_key in routing_keys(queue):
            await declared.bind(events, routing_key=routing_key)
        dead_queue = dead_letter_queue(queue)
        dead = await broker.declare_queue(dead_queue)
        await dead.bind(dead_letters, routing_key=dead_queue.routing())
        await broker.declare_queue(due_queue(queue))
        for delay in RETRY_DELAYS:
            await broker.declare_queue(retry_queue(queue, delay))


class EventPublisher:
    """Publishes events of the given types, persistently and confirmed by the broker.

    Registering one publisher per type puts each event in the AsyncAPI document of the
    service that sends it.
    """

    def __init__(self, broker: RabbitBroker, event_types: Iterable[type[Event]], *, sender: str | None = None) -> None:
        self._publishers: dict[str, RabbitPublisher] = {}
        for event_type in event_types:
            routing_key = event_type.model_fields["type"].default
            self._publishers[routing_key] = broker.publisher(
                exchange=EXCHANGE,
                routing_key=routing_key,
                persist=True,
                schema=event_type,
                # a second sender of the same event type needs a channel of its own in the document
                title=f"{sender + '.' if sender else ''}{routing_key}:publish",
                description=(event_type.__doc__ or "").strip(),
            )

    async def publish(self, event: Event) -> None:
        """Publish ``event`` and wait for the broker's confirm."""
        await self._publishers[event.type].publish(
            event,
            message_id=str(event.event_id),
            correlation_id=str(event.job_id),
            message_type=event.type,
        )
