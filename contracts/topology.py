"""The broker topology, declared once: one topic exchange, a routing key per event type,
a durable quorum queue per consumer and a dead-letter queue behind each."""

from faststream.rabbit import ExchangeType, QueueType, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from contracts.routing import RoutingKey

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "DELIVER_WEBHOOK_KEY",
    "EXCHANGE",
    "MAX_DELIVERIES",
    "RETRY_DELAYS",
    "Queues",
    "RoutingKey",
    "consumer_queue",
    "dead_letter_queue",
    "due_queue",
    "expiry_wait_queue",
    "retry_queue",
    "routing_keys",
]


EXCHANGE = RabbitExchange("vidmp3.events", type=ExchangeType.TOPIC, durable=True)
DEAD_LETTER_EXCHANGE = RabbitExchange("vidmp3.dead-letter", type=ExchangeType.DIRECT, durable=True)

MAX_DELIVERIES = 5
"""A message delivered this many times without an outcome (its worker died each time) is
dead-lettered."""

RETRY_DELAYS = (5, 30, 120, 600, 1800)
"""Seconds before each further attempt of a message whose handling failed (broker, storage
or SMTP unavailable); after the last one it is dead-lettered. About 43 minutes in all."""


DELIVER_WEBHOOK_KEY = "notifier.deliver-webhook"
"""Where the notifier's webhook sender gets its ``DeliverWebhook`` commands: they are published
straight to its queue (the default exchange), never to the events exchange, so no event
consumer sees them; the binding under this key only names the channel."""

_ROUTING_KEYS: dict[str, tuple[str, ...]] = {}


def consumer_queue(name: str, routing_key: str, *also: str, single_active_consumer: bool = False) -> RabbitQueue:
    """A durable quorum queue bound to ``routing_key`` (and the keys ``also``), dead-lettering
    to ``<name>.dead``."""
    _ROUTING_KEYS[name] = (routing_key, *also)
    arguments: QuorumQueueArgs = {
        "x-delivery-limit": MAX_DELIVERIES,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
        "x-dead-letter-routing-key": name,
    }
    if single_active_consumer:
        # only where wanted: a queue's arguments cannot change once it is declared
        arguments["x-single-active-consumer"] = True
    return RabbitQueue(name, queue_type=QueueType.QUORUM, routing_key=routing_key, arguments=arguments)


class Queues:
    """Each consuming service's queue and what it is bound to."""

    CONVERTER = consumer_queue("converter.video-uploaded", RoutingKey.VIDEO_UPLOADED)
    # the heavy lane (normalize): the converter moves such jobs here from its queue, so they
    # never fill the prefetch light jobs are delivered through; bound to its own name only
    # (no event carries that key: messages arrive through the default exchange)
    CONVERTER_HEAVY = consumer_queue("converter.video-uploaded.heavy", "converter.video-uploaded.heavy")
    # recorded by whichever converter gets it; the one converting the job reads the record
    CONVERTER_CANCELLATIONS = consumer_queue(
        "converter.job-cancelled", RoutingKey.JOB_CANCELLED, RoutingKey.JOB_DELETED
    )
    NOTIFIER = consumer_queue("notifier.mp3-converted", RoutingKey.MP3_CONVERTED)
    # the failure email needs the owner's address and the video's name: the upload event has them
    NOTIFIER_UPLOADS = consumer_queue("notifier.video-uploaded", RoutingKey.VIDEO_UPLOADED)
    NOTIFIER_FAILURES = consumer_queue("notifier.conversion-failed", RoutingKey.CONVERSION_FAILED)
    # one writer of the read model at a time: further projection processes stand by
    PROJECTIONS = consumer_queue("projections.job-status", "#", single_active_consumer=True)
    # retention: a job whose conversion is final loses its video, and is due to expire later
    RETENTION = consumer_queue(
        "retention.job-finished", RoutingKey.MP3_CONVERTED, RoutingKey.CONVERSION_FAILED, RoutingKey.JOB_CANCELLED
    )
    # fed by ``expiry_wait_queue`` only: nothing is published under its routing key
    EXPIRY = consumer_queue("retention.job-due", "retention.job-due")
    # what a job's owner may hear about through webhooks: turned into public events and stored deliveries
    NOTIFIER_WEBHOOK_EVENTS = consumer_queue(
        "notifier.webhook-events",
        RoutingKey.VIDEO_UPLOADED,
        RoutingKey.CONVERSION_STARTED,
        RoutingKey.CONVERSION_PROGRESS,
        RoutingKey.MP3_CONVERTED,
        RoutingKey.CONVERSION_FAILED,
        RoutingKey.JOB_CANCELLED,
        RoutingKey.JOB_DELETED,
        RoutingKey.JOB_EXPIRED,
    )
    # one stored delivery to send per message; retried on its own schedule (about a day)
    NOTIFIER_WEBHOOK_DELIVERIES = consumer_queue("notifier.webhook-deliveries", DELIVER_WEBHOOK_KEY)

    ALL = (
        CONVERTER,
        CONVERTER_HEAVY,
        CONVERTER_CANCELLATIONS,
        NOTIFIER,
        NOTIFIER_UPLOADS,
        NOTIFIER_FAILURES,
        PROJECTIONS,
        RETENTION,
        EXPIRY,
        NOTIFIER_WEBHOOK_EVENTS,
        NOTIFIER_WEBHOOK_DELIVERIES,
    )


def routing_keys(queue: RabbitQueue) -> tuple[str, ...]:
    """Every routing key ``queue`` is bound to (``queue.routing()`` is only the first)."""
    return _ROUTING_KEYS.get(queue.name, (queue.routing(),))


def retry_queue(queue: RabbitQueue, delay_seconds: float) -> RabbitQueue:
    """Where a message waits ``delay_seconds`` before going to ``queue``'s due queue.

    One queue per delay (a queue-wide TTL), so a long wait never holds up a short one; on
    expiry the broker dead-letters the message to ``due_queue(queue)``. (Named ``.wait.``:
    the ``.retry.`` queues of earlier versions sent messages back to the tail of ``queue``
    itself, and a queue's arguments cannot change once declared.)
    """
    return RabbitQueue(
        f"{queue.name}.wait.{delay_seconds:g}s",
        durable=True,
        arguments={
            "x-message-ttl": round(delay_seconds * 1000),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": due_queue(queue).name,
        },
    )


def due_queue(queue: RabbitQueue) -> RabbitQueue:
    """Where a retried message goes once its delay is over, consumed beside ``queue`` by the
    same handler: a retry is handled when its delay ends, not after the backlog ``queue`` holds
    (in a burst that backlog made a 5 s retry wait minutes). Bound to no exchange."""
    arguments: QuorumQueueArgs = {
        "x-delivery-limit": MAX_DELIVERIES,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
        "x-dead-letter-routing-key": queue.name,  # into <queue>.dead, with the queue's own
    }
    return RabbitQueue(f"{queue.name}.due", queue_type=QueueType.QUORUM, arguments=arguments)


def expiry_wait_queue(period_seconds: float) -> RabbitQueue:
    """Where a finished job's final event waits out the retention period before it goes on to
    ``Queues.EXPIRY`` (which expires the job).

    A quorum queue with a queue-wide TTL (every message waits the same, so the oldest is always
    the next due), dead-lettering at least once: a message survives broker restarts and is never
    dropped on its way on. One queue per period, so changing the period leaves the messages
    already waiting to their own (each still reaches ``Queues.EXPIRY``).
    """
    arguments: QuorumQueueArgs = {
        "x-message-ttl": round(period_seconds * 1000),
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": Queues.EXPIRY.name,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    return RabbitQueue(f"retention.wait.{period_seconds:g}s", queue_type=QueueType.QUORUM, arguments=arguments)


def dead_letter_queue(queue: RabbitQueue) -> RabbitQueue:
    """The queue holding messages dead-lettered from ``queue``."""
    return RabbitQueue(f"{queue.name}.dead", queue_type=QueueType.QUORUM, routing_key=queue.name)
