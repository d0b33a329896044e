"""The system's AsyncAPI document: every service's subscribers and publishers on one broker.

``python -m common.asyncapi write`` (``./run asyncapi``) writes ``asyncapi.yaml`` from FastStream's
specification of this app, completed with what FastStream does not know: which service owns
each channel (tags), each message's description and examples (``common.event_examples``), and
an overview generated from the routing keys and the topology. Keys are sorted: FastStream
orders channels by object identity, which differs between machines.
``python -m common.asyncapi check`` (in CI) fails when the committed file is stale or the
document misses a part (``missing_parts``). Nothing here connects to anything. The gateway
serves the same document at ``/docs/asyncapi``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

import converter.app
import notifier.app
import projections.app
import projections.retention
from common.asyncapi_contents import ROUTING_KEYS, describe_system, missing_parts
from common.broker import EventPublisher
from common.event_examples import EXAMPLES, examples_of
from common.in_flight import JobsInFlight
from common.mongo import Document
from common.retention import DEFAULT_RETENTION_HOURS
from common.settings import DEV_MONGO_URL
from contracts import JobCancelled, JobDeleted, VideoUploaded
from contracts.snapshots import event_types
from contracts.topology import Queues, routing_keys
from contracts.webhooks import DeliverWebhook
from converter.claims import ConversionClaims
from converter.storage import MediaStore
from notifier.contacts import JobContacts
from notifier.ledger import NotificationLedger
from notifier.settings import NotifierSettings
from projections.store import EventStore, JobStatusView

__all__ = ["create_app", "document", "missing_parts", "render"]

JSON = "application/json"


def _services() -> list[tuple[str, str, Callable[[RabbitBroker], object]]]:
    """Each service's name, what it does, and how it registers its channels on a broker."""
    database: AsyncDatabase[Document] = AsyncMongoClient(DEV_MONGO_URL, connect=False)["vidmp3"]
    blocking: Database[Document] = MongoClient(DEV_MONGO_URL, connect=False)["vidmp3"]
    return [
        (
            "gateway",
            "The REST API: publishes through its outbox what users do to their jobs.",
            lambda broker: EventPublisher(broker, [VideoUploaded, JobCancelled, JobDeleted]),  # gateway.app
        ),
        (
            "converter",
            "Extracts the audio of uploaded videos as MP3.",
            lambda broker: converter.app.register(broker, MediaStore(blocking), ConversionClaims(blocking)),
        ),
        (
            "notifier",
            "Emails owners when their MP3 is ready, or when their video could not be converted; sends "
            "their webhooks (the public events: /docs/webhooks/asyncapi).",
            # defaults, not this process's VIDMP3_* variables: the document is the same wherever it
            # is built, and the production gateway serving it has no notifier settings to give
            lambda broker: _register_notifier(broker, database),
        ),
        (
            "projections",
            "Records every event and folds it into the job-status read model; its watchdog fails stuck jobs.",
            lambda broker: projections.app.register(
                broker, EventStore(database), JobStatusView(database), JobsInFlight(database)
            ),
        ),
        (
            "retention",
            "Runs in the projections service: removes a finished job's video at once, and expires the job "
            "(its MP3 and video removed) when the retention period has passed.",
            lambda broker: projections.retention.register_retention(
                broker, database, retention=timedelta(hours=DEFAULT_RETENTION_HOURS), remove_source=True
            ),
        ),
    ]


def _register_notifier(broker: RabbitBroker, database: AsyncDatabase[Document]) -> None:
    settings = NotifierSettings.model_construct()
    notifier.app.register(broker, settings, NotificationLedger(database), JobContacts(database))
    notifier.app.register_webhooks(broker, settings, database)


def _register_all(broker: RabbitBroker) -> dict[str, str]:
    """Register every service on ``broker``; returns which service owns each channel."""
    owners: dict[str, str] = {}
    for name, _, register in _services():
        register(broker)
        # every channel not yet owned is this service's (the broker's lists keep no stable order)
        channels: list[str] = [channel for publisher in broker.publishers for channel in publisher.schema()]
        channels += [channel for subscriber in broker.subscribers for channel in subscriber.schema()]
        for channel in channels:
            owners.setdefault(channel, name)
    return owners


def _build() -> tuple[FastStream, dict[str, str]]:
    broker = RabbitBroker("amqp://guest:guest@localhost:5672/vidmp3", description="RabbitMQ, virtual host vidmp3")
    owners = _register_all(broker)
    specification = AsyncAPI(title="vidmp3 events", version="1.0.0", description=describe_system())
    return FastStream(broker, specification=specification), owners


def create_app() -> FastStream:
    """Every service's channels on one broker (for FastStream's own tools, e.g. ``faststream docs serve``)."""
    return _build()[0]


def document() -> dict[str, Any]:
    """The complete AsyncAPI document, as JSON-compatible data."""
    app, owners = _build()
    spec: dict[str, Any] = app.schema.to_specification().to_jsonable()
    _complete(spec, owners)
    return spec


def _complete(spec: dict[str, Any], owners: dict[str, str]) -> None:
    """Add what FastStream leaves out: owners as tags, message descriptions and examples."""
    spec["info"]["tags"] = [{"name": name, "description": text} for name, text, _ in _services()]
    for section in ("channels", "operations"):
        for name, item in spec.get(section, {}).items():
            item["tags"] = [{"name": owners[name]}]
    # a channel's address holds one routing key; a queue may be bound to several
    queues = {queue.name: queue for queue in Queues.ALL}
    for channel in spec.get("channels", {}).values():
        queue = queues.get(channel.get("bindings", {}).get("amqp", {}).get("queue", {}).get("name"))
        if queue is not None:
            channel[ROUTING_KEYS] = [str(key) for key in routing_keys(queue)]
    schemas = spec["components"]["schemas"]
    by_name = {event_type.__name__: event_type for event_type in event_types()}
    for message in spec["components"]["messages"].values():
        schema_name = message["payload"]["$ref"].rsplit("/", 1)[1]
        message["contentType"] = JSON
        if schema_name == DeliverWebhook.__name__:  # the webhook sender's command to itself
            message["name"] = schema_name
            message["description"] = (DeliverWebhook.__doc__ or "").strip()
            command = DeliverWebhook(delivery_id="msg_6f1c0a9e8d7b4c3a9e2f1d0c8b7a6f5e")
            message["examples"] = [
                {
                    "name": "deliver-webhook-1",
                    "summary": "Send one stored delivery",
                    "payload": command.model_dump(mode="json"),
                }
            ]
            continue
        if schema_name in by_name:
            event_type = by_name[schema_name]
            message["name"] = schema_name
            message["description"] = (event_type.__doc__ or "").strip()
            examples = examples_of(str(event_type.model_fields["type"].default))
        else:  # a consumer of several types: every event, told apart by ``type``
            message["name"] = "Event"
            refs = [ref["$ref"].rsplit("/", 1)[1] for ref in schemas[schema_name].get("oneOf", [])]
            message["description"] = f"Any event ({', '.join(refs)}); its `type` says which."
            examples = list(EXAMPLES)
        message["examples"] = [
            {"name": f"{event.type}-{index}", "summary": summary, "payload": event.model_dump(mode="json")}
            for index, (summary, event) in enumerate(examples, start=1)
        ]


def render(spec: dict[str, Any] | None = None) -> str:
    """The AsyncAPI document (``spec``, or the one ``document`` builds) as YAML, keys sorted so
    that it is the same on every machine."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # multi-line descriptions as literal blocks: the committed file reads like the page
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _Dumper.add_representer(str, text)
    spec = document() if spec is None else spec
    return yaml.dump(spec, Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=100)


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else Path("asyncapi.yaml")
    command = argv[0] if argv else "write"
    if len(argv) <= 1 and command in ("write", "check"):
        # the public webhook events' document beside it (asyncapi.webhooks.yaml)
        from common import webhooks_asyncapi

        if (public := webhooks_asyncapi.main([command])) != 0:
            return public
    spec = document()
    rendered = render(spec)
    if command == "write":
        target.write_text(rendered, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if command == "check":
        if problems := missing_parts(spec):
            print("the AsyncAPI document is incomplete:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        if target.exists() and target.read_text(encoding="utf-8") == rendered:
            print(f"{target} is up to date")
            return 0
        print(f"{target} is stale: run ./run asyncapi and commit it", file=sys.stderr)
        return 1
    print("usage: python -m common.asyncapi write|check [PATH]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
