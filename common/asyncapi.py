"""The system's AsyncAPI document: every service's subscribers and publishers on one broker.

Generate it with ``faststream docs gen common.asyncapi:create_app --factory --yaml``
(``just asyncapi``); CI fails when the committed ``asyncapi.yaml`` differs from it. Nothing
here connects to anything.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase

import converter.app
import notifier.app
import projections.app
from common.broker import EventPublisher
from common.mongo import Document
from common.settings import DEV_MONGO_URL
from contracts import VideoUploaded
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
    EventPublisher(broker, [VideoUploaded])  # the gateway's publisher
    database: AsyncDatabase[Document] = AsyncMongoClient(DEV_MONGO_URL, connect=False)["vidmp3"]
    converter.app.register(broker, MediaStore(MongoClient(DEV_MONGO_URL, connect=False)["vidmp3"]))
    notifier.app.register(broker, NotifierSettings(), NotificationLedger(database))
    projections.app.register(broker, EventStore(database), JobStatusView(database))
    return FastStream(
        broker,
        specification=AsyncAPI(title="vidmp3 events", version="1.0.0", description=_unwrap(DESCRIPTION)),
    )
