"""What the AsyncAPI document must say, derived from the contracts rather than written by hand.

``describe_system`` writes the document's overview from the routing keys, the events and the
broker topology, so a new event type or queue shows up there without anyone remembering to.
``missing_parts`` lists what the document lacks: an event type without its routing key in the
overview, without a channel that sends it, a message without a description or an example.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts import EventAdapter, RoutingKey
from contracts.snapshots import event_types
from contracts.topology import DEAD_LETTER_EXCHANGE, EXCHANGE, MAX_DELIVERIES, RETRY_DELAYS, Queues, routing_keys
from contracts.webhooks import DeliverWebhook

__all__ = ["NOT_SENT_YET", "ROUTING_KEYS", "describe_system", "event_type_of", "missing_parts"]

NOT_SENT_YET: frozenset[RoutingKey] = frozenset()
"""Event types in the contract that no service sends yet. They are documented (schema, example,
consumers) but have no channel of their own; ``missing_parts`` says so once one appears, to take
it off this list."""


ROUTING_KEYS = "x-routing-keys"
"""On a queue's channel: every routing key the queue is bound to (its ``address`` holds one)."""


def event_type_of(routing_key: str) -> Any:
    """The event class whose ``type`` is ``routing_key``."""
    for event_type in event_types():
        if event_type.model_fields["type"].default == routing_key:
            return event_type
    raise LookupError(f"routing key {routing_key!r} has no event type in contracts.Event")


def _delay(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def describe_system() -> str:
    """The overview at the top of the document."""
    keys = []
    for key in RoutingKey:
        event_type = event_type_of(key)
        later = " (not sent yet)" if key in NOT_SENT_YET else ""
        keys.append(f"- `{key}`{later}: {event_type.__name__}. {(event_type.__doc__ or '').strip()}")
    queues = []
    for queue in Queues.ALL:
        arguments = queue.arguments or {}
        single = "; one consumer at a time" if arguments.get("x-single-active-consumer") else ""
        bound = routing_keys(queue)
        binding = "every event" if bound == ("#",) else " and ".join(f"`{key}`" for key in bound)
        queues.append(f"- `{queue.name}`, bound to {binding}{single}")
    delays = ", ".join(_delay(seconds) for seconds in RETRY_DELAYS)
    return "\n\n".join(
        [
            f"Events of the vidmp3 video-to-MP3 service. Every event is JSON on the topic exchange "
            f"`{EXCHANGE.name}`, published persistently with publisher confirms, with `message_id` = "
            "`event_id` and `correlation_id` = `job_id`. Its routing key is its `type`:",
            "\n".join(keys),
            "Each consuming service reads a durable quorum queue of its own, bound to the exchange:",
            "\n".join(queues),
            f"A message whose handling fails waits in `<queue>.wait.<delay>` ({delays}), then comes back "
            "through `<queue>.due` (consumed beside the queue, so a retry is not held up by its backlog); "
            f"after the last delay, or after {MAX_DELIVERIES} deliveries without an outcome (its worker died), "
            f"it is dead-lettered to `<queue>.dead` through the direct exchange `{DEAD_LETTER_EXCHANGE.name}`.",
            f"Nothing is published under `{Queues.EXPIRY.name}`'s routing key: the retention consumer puts "
            "a job's final event (`mp3.converted`, `conversion.failed` or `job.cancelled`) in "
            "`retention.wait.<seconds>s`, a quorum queue whose messages live for the retention period "
            "(`VIDMP3_RETENTION_HOURS`), and the broker dead-letters it into that queue when the period is over.",
            "Delivery is at least once: consumers de-duplicate on `event_id`. Readers ignore fields they do "
            "not know; an incompatible change bumps `schema_version`.",
        ]
    )


def _schema_name(message: dict[str, Any]) -> str:
    return str(message.get("payload", {}).get("$ref", "")).rsplit("/", 1)[-1]


def _message_problems(name: str, message: dict[str, Any]) -> list[str]:
    problems = []
    if not message.get("description"):
        problems.append(f"message {name} has no description")
    examples = message.get("examples") or []
    if not examples:
        problems.append(f"message {name} has no example")
    # the webhook sender's command to itself is the one message that is not an event
    adapter: TypeAdapter[Any] = _COMMAND if _schema_name(message) == DeliverWebhook.__name__ else EventAdapter
    for example in examples:
        try:
            adapter.validate_python(example.get("payload"))
        except ValidationError as error:
            problems.append(f"message {name}: example {example.get('name')} is not a valid event ({error})")
    return problems


_COMMAND: TypeAdapter[DeliverWebhook] = TypeAdapter(DeliverWebhook)


def _sent_on(spec: dict[str, Any], routing_key: str) -> list[str]:
    """Channels with a send operation whose address is ``routing_key``."""
    channels = spec.get("channels", {})
    sending = []
    for operation in spec.get("operations", {}).values():
        channel_name = operation.get("channel", {}).get("$ref", "").rsplit("/", 1)[-1]
        if operation.get("action") == "send" and channels.get(channel_name, {}).get("address") == routing_key:
            sending.append(channel_name)
    return sending


def _event_problems(spec: dict[str, Any], key: RoutingKey) -> list[str]:
    problems = []
    try:
        event_type = event_type_of(key)
    except LookupError as error:
        return [str(error)]
    name = event_type.__name__
    schema = spec.get("components", {}).get("schemas", {}).get(name)
    if schema is None:
        problems.append(f"{key}: no schema {name}")
    elif not schema.get("description"):
        problems.append(f"{key}: schema {name} has no description")
    if f"`{key}`" not in spec.get("info", {}).get("description", ""):
        problems.append(f"{key}: not listed in the overview")
    messages = spec.get("components", {}).get("messages", {})
    examples = [
        example
        for message in messages.values()
        for example in message.get("examples") or []
        if (example.get("payload") or {}).get("type") == key
    ]
    if not examples:
        problems.append(f"{key}: no example")
    sent_on = _sent_on(spec, key)
    if key in NOT_SENT_YET:
        if sent_on:
            problems.append(f"{key} is sent on {sent_on}: take it off NOT_SENT_YET (common.asyncapi_contents)")
    elif not sent_on:
        problems.append(f"{key}: no channel sends it")
    elif not any(_schema_name(message) == name for message in messages.values()):
        problems.append(f"{key}: no message carries {name}")
    return problems


def missing_parts(spec: dict[str, Any]) -> list[str]:
    """What the document lacks; empty when it is complete."""
    problems = []
    for key in RoutingKey:
        problems += _event_problems(spec, key)
    for name, message in spec.get("components", {}).get("messages", {}).items():
        problems += _message_problems(name, message)
    for name, channel in spec.get("channels", {}).items():
        if not channel.get("description"):
            problems.append(f"channel {name} has no description")
        if not channel.get("tags"):
            problems.append(f"channel {name} names no service")
    queues = {
        channel.get("bindings", {}).get("amqp", {}).get("queue", {}).get("name")
        for channel in spec.get("channels", {}).values()
    }
    problems += [f"queue {queue.name} has no channel" for queue in Queues.ALL if queue.name not in queues]
    for queue in Queues.ALL:
        for name, channel in spec.get("channels", {}).items():
            if channel.get("bindings", {}).get("amqp", {}).get("queue", {}).get("name") != queue.name:
                continue
            if channel.get(ROUTING_KEYS) != [str(key) for key in routing_keys(queue)]:
                problems.append(f"channel {name} does not list every routing key {queue.name} is bound to")
    return problems
