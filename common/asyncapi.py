"""The system's AsyncAPI document: every service's subscribers and publishers on one broker.

``python -m common.asyncapi write`` (``./run asyncapi``) writes ``asyncapi.yaml`` from FastStream's
specification of this app, with keys sorted: FastStream orders channels by object identity,
which differs between machines. ``python -m common.asyncapi check`` (in CI) fails when the
committed file is stale. Nothing here connects to anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

import converter.app
import notifier.app
import projections.app
from common.broker import EventPublisher
from common.mongo import Document
from common.settings import DEV_MONGO_URL
from contracts import JobCancelled, JobDeleted, VideoUploaded
from converter.claims import ConversionClaims
from converter.storage import MediaStore
from notifier.ledger import NotificationLedger
from notifier.settings import NotifierSettings
from projections.store import EventStore, JobStatusView

__all__ = ["create_app"]

DESCRIPTION = """\
Events of the vidmp3 video-to-MP3 service. Every event is JSON on the topic exchange
`vidmp3.events`, routed by its `type` (`video.uploaded`, `conversion.started`,
`mp3.converted`, `conversion.failed`, `notification.sent`), published persistently with
publisher confirms, with `message_id` = `event_id` and `correlation_id` = `job_id`.

Delivery is at least once: consumers de-duplicate on `event_id`. Readers ignore fields they
do not know; an incompatible change bumps `schema_version`. Each consumer queue is a quorum
queue that dead-letters a message after 5 deliveries to `<queue>.dead` on `vidmp3.dead-letter`.
"""


def _unwrap(text: str) -> str:
    """Paragraphs without their hard line breaks, so YAML keeps them readable."""
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in text.split("\n\n"))


def create_app() -> FastStream:
    broker = RabbitBroker("amqp://guest:guest@localhost:5672/vidmp3", description="RabbitMQ, virtual host vidmp3")
    EventPublisher(broker, [VideoUploaded, JobCancelled, JobDeleted])  # the gateway's publisher (gateway.app)
    database: AsyncDatabase[Document] = AsyncMongoClient(DEV_MONGO_URL, connect=False)["vidmp3"]
    blocking: Database[Document] = MongoClient(DEV_MONGO_URL, connect=False)["vidmp3"]
    converter.app.register(broker, MediaStore(blocking), ConversionClaims(blocking))
    notifier.app.register(broker, NotifierSettings(), NotificationLedger(database))
    projections.app.register(broker, EventStore(database), JobStatusView(database))
    return FastStream(
        broker,
        specification=AsyncAPI(title="vidmp3 events", version="1.0.0", description=_unwrap(DESCRIPTION)),
    )


def render() -> str:
    """The AsyncAPI document as YAML, keys sorted so that it is the same on every machine."""
    import yaml

    specification = create_app().schema.to_specification().to_jsonable()
    return yaml.safe_dump(specification, sort_keys=True, allow_unicode=True, width=100)


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else Path("asyncapi.yaml")
    command = argv[0] if argv else "write"
    document = render()
    if command == "write":
        target.write_text(document, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if command == "check":
        if target.exists() and target.read_text(encoding="utf-8") == document:
            print(f"{target} is up to date")
            return 0
        print(f"{target} is stale: run ./run asyncapi and commit it", file=sys.stderr)
        return 1
    print("usage: python -m common.asyncapi write|check [PATH]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
