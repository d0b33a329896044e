"""How every consumer settles a message, decided in this one place.

- The handler returned: ack.
- The handler raised (storage, SMTP or broker unavailable; any bug): the message is
  published again to a retry queue that holds it for the next delay of the schedule and
  then hands it to the queue's due queue (consumed beside it by the same handler, so the
  delay said is the delay observed, whatever backlog the queue holds), and the original is
  acked. After the last delay it is rejected,
  which dead-letters it to ``<queue>.dead``.
- The payload is not a valid event, or the handler raised ``Unprocessable`` (a message it
  can never handle, whatever the state of the world): rejected at once (dead-lettered), with
  the reason logged; retrying cannot help.
- The handler raised ``Postpone`` (no capacity to take it now): the message goes round
  again through the first retry queue without counting as a failed attempt.
- The handler raised ``Reroute`` (the message belongs in another lane of the same service):
  it is sent to that queue as it is, and acked here.
- The worker died mid-message: the broker redelivers it; ``x-delivery-limit`` dead-letters a
  message that keeps killing workers.

Handlers must therefore be idempotent: a retried or redelivered event arrives again.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.exceptions import RejectMessage
from faststream.rabbit import Channel, RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage

from common.metrics import CONSUMER_DEAD_LETTERS, CONSUMER_RETRIES
from contracts.topology import EXCHANGE, RETRY_DELAYS, due_queue, retry_queue

__all__ = ["ATTEMPT_HEADER", "Postpone", "Reroute", "RetryPolicy", "Unprocessable", "subscribe"]

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-vidmp3-attempt"


class Postpone(Exception):
    """Raised by a handler that cannot take the message now, only later (all its slots busy).

    Holding it unacked instead could outlast RabbitMQ's ``consumer_timeout``.
    """


class Unprocessable(Exception):
    """Raised by a handler for a message it can never handle (its content, not the world, is
    at fault): dead-lettered at once, its reason logged, instead of retried for an hour."""


class Reroute(Exception):
    """Raised by a handler whose message belongs in another queue of its service (a lane of
    its own, with its own prefetch): it goes there unchanged, attempt count included."""

    def __init__(self, queue: RabbitQueue, why: str) -> None:
        super().__init__(why)
        self.queue = queue


@dataclass(frozen=True)
class RetryPolicy:
    queue: RabbitQueue
    delays: Sequence[float] = RETRY_DELAYS

    def after_failed(self, attempt: int) -> RabbitQueue | None:
        """The retry queue for a message whose ``attempt`` (from 1) failed; ``None``: give up."""
        if attempt > len(self.delays):
            return None
        return retry_queue(self.queue, self.delays[attempt - 1])

    def postponed(self) -> RabbitQueue:
        """Where a postponed message waits: the shortest delay (straight back without one)."""
        return self.after_failed(1) or self.queue

    def retry_queues(self) -> list[RabbitQueue]:
        return [retry_queue(self.queue, delay) for delay in self.delays]


def subscribe(
    broker: RabbitBroker,
    queue: RabbitQueue,
    event_type: Any,
    handler: Callable[[Any], Awaitable[None]],
    *,
    title: str,
    description: str,
    delays: Sequence[float] = RETRY_DELAYS,
    on_give_up: Callable[[Any, Exception], Awaitable[None]] | None = None,
    redelivered_handler: Callable[[Any], Awaitable[None]] | None = None,
    prefetch: int | None = None,
) -> None:
    """Consume ``event_type`` events from ``queue`` (bound to the events exchange) with ``handler``.

    ``on_give_up`` runs before an event is dead-lettered after its last attempt, so the
    service can end the job with a reason instead of leaving it unfinished.
    ``redelivered_handler``, if given, takes the messages the broker hands out again (their
    consumer went away without settling them: a worker died). ``prefetch``: this queue's
    own limit of unsettled deliveries (the broker's default otherwise).
    """
    policy = RetryPolicy(queue, delays)
    channel = None if prefetch is None else Channel(prefetch_count=prefetch, publisher_confirms=True)

    async def consume(event: event_type, message: RabbitMessage) -> None:  # type: ignore[valid-type]
        try:
            if redelivered_handler is not None and message.raw_message.redelivered:
                await redelivered_handler(event)
            else:
                await handler(event)
        except Postpone as postponed:
            await _send_round(broker, message, policy.postponed(), attempt=_attempt(message))
            log.info("postponed: %s", postponed, extra=_ids(message))
        except Unprocessable as error:
            log.exception("dead-lettering at once, retrying cannot help", extra=_ids(message))
            CONSUMER_DEAD_LETTERS.labels(policy.queue.name).inc()
            if on_give_up is not None:
                await on_give_up(event, error)
            raise RejectMessage from error
        except Reroute as rerouted:
            await _send_round(broker, message, rerouted.queue, attempt=_attempt(message))
            log.info("sent to %s: %s", rerouted.queue.name, rerouted, extra=_ids(message))
        except Exception as error:
            if not await _retry_later(broker, policy, message, error):
                if on_give_up is not None:
                    await on_give_up(event, error)
                raise RejectMessage from error

    broker.subscriber(
        queue, EXCHANGE, ack_policy=AckPolicy.REJECT_ON_ERROR, title=title, description=description, channel=channel
    )(consume)
    broker.subscriber(
        due_queue(queue),
        ack_policy=AckPolicy.REJECT_ON_ERROR,
        title=f"{title.removesuffix(':consume')}.due:consume",
        description=f"Retries of {queue.name} whose delay is over, handled as they are there.",
        channel=channel,
    )(consume)


async def _retry_later(broker: RabbitBroker, policy: RetryPolicy, message: RabbitMessage, error: Exception) -> bool:
    """Send the message round again after its next delay; ``False`` when none is left."""
    attempt = _attempt(message)
    ids = _ids(message) | {"attempt": attempt}
    target = policy.after_failed(attempt)
    if target is None:
        log.error("giving up after %d attempts; dead-lettering: %s", attempt, error, exc_info=error, extra=ids)
        CONSUMER_DEAD_LETTERS.labels(policy.queue.name).inc()
        return False
    CONSUMER_RETRIES.labels(policy.queue.name).inc()
    log.warning("attempt %d failed, trying again via %s: %r", attempt, target.name, error, extra=ids)
    await _send_round(broker, message, target, attempt=attempt + 1)
    return True


def _attempt(message: RabbitMessage) -> int:
    return int(message.headers.get(ATTEMPT_HEADER, 1))


def _ids(message: RabbitMessage) -> dict[str, Any]:
    return {"event_id": message.message_id, "job_id": message.correlation_id}


async def _send_round(broker: RabbitBroker, message: RabbitMessage, target: RabbitQueue, *, attempt: int) -> None:
    """Publish ``message`` to ``target`` (a retry queue, a lane) as attempt ``attempt``, confirmed."""
    raw = message.raw_message
    await broker.publish(
        message.body,
        routing_key=target.name,
        headers=dict(message.headers) | {ATTEMPT_HEADER: attempt},
        persist=True,
        message_id=raw.message_id,
        correlation_id=raw.correlation_id,
        content_type=raw.content_type,
        message_type=raw.type,
    )
