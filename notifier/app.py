"""The notifier service: emails the owner when their MP3 is ready, or when it cannot be made, and
sends the owner's webhooks (``notifier.webhooks``)."""

from __future__ import annotations

from email.message import EmailMessage
from uuid import UUID

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker
from pymongo.asynchronous.database import AsyncDatabase

from common import outbound
from common.broker import EventPublisher, create_broker
from common.consuming import subscribe
from common.mongo import Document, create_async_client
from common.service import Hook, create_worker_app
from common.webhook_deliveries import DeliveryLog
from common.webhook_endpoints import EndpointRegistry
from contracts import ConversionFailed, Event, Mp3Converted, NotificationSent, VideoUploaded
from contracts.topology import Queues, retry_queue
from contracts.webhooks import DeliverWebhook
from notifier.contacts import JobContacts
from notifier.ledger import EmailKind, NotificationLedger
from notifier.service import Notifier
from notifier.settings import NotifierSettings
from notifier.smtp import send
from notifier.webhooks.email import compose_disabled_email
from notifier.webhooks.fanout import FanOut
from notifier.webhooks.jobs import WebhookJobs
from notifier.webhooks.sender import Sender

__all__ = ["create_app", "register", "register_webhooks"]


def register(
    broker: RabbitBroker, settings: NotifierSettings, ledger: NotificationLedger, contacts: JobContacts
) -> None:
    """Subscribe the notifier to ``VideoUploaded``, ``Mp3Converted`` and ``ConversionFailed`` on ``broker``."""
    events = EventPublisher(broker, [NotificationSent])

    async def send_email(message: EmailMessage) -> None:
        await send(message, settings)

    notifier = Notifier(
        ledger,
        send_email,
        events.publish,
        contacts=contacts,
        links=settings.link_signer(),
        sender=settings.mail_from,
        public_url=settings.public_url,
        retention=settings.retention,
    )
    subscribe(
        broker,
        Queues.NOTIFIER,
        Mp3Converted,
        notifier.handle,
        title="notifier.mp3-converted:consume",
        description="Email the owner the download link, then report it; SMTP failures are retried later.",
    )
    subscribe(
        broker,
        Queues.NOTIFIER_UPLOADS,
        VideoUploaded,
        notifier.handle_uploaded,
        title="notifier.video-uploaded:consume",
        description="Remember the owner's address and the video's name, for a failure email.",
    )
    subscribe(
        broker,
        Queues.NOTIFIER_FAILURES,
        ConversionFailed,
        notifier.handle_failed,
        title="notifier.conversion-failed:consume",
        description=(
            "Email the owner why the video could not be converted and what to try; "
            "retried while the upload event is not recorded yet or SMTP fails."
        ),
    )


def register_webhooks(broker: RabbitBroker, settings: NotifierSettings, database: AsyncDatabase[Document]) -> Hook:
    """Subscribe the webhook sender (events to deliveries, deliveries to receivers); returns
    the hook that closes its HTTP client."""
    commands = broker.publisher(
        queue=Queues.NOTIFIER_WEBHOOK_DELIVERIES.name,
        persist=True,
        schema=DeliverWebhook,
        title="notifier.webhook-deliveries:publish",
        description="Send one stored webhook delivery (published straight to the sender's queue).",
    )

    async def command(message: DeliverWebhook) -> None:
        await commands.publish(message, message_id=message.delivery_id)

    async def send_email(message: EmailMessage) -> None:
        await send(message, settings)

    registry = EndpointRegistry(database, max_per_owner=settings.webhook_max_endpoints)
    deliveries = DeliveryLog(database, size=settings.webhook_log_size)
    links = settings.link_signer()
    ledger = NotificationLedger(database)

    async def ready_announced(job_id: UUID) -> bool:
        return await ledger.claimed(job_id, EmailKind.READY)

    fanout = FanOut(
        WebhookJobs(database),
        registry,
        deliveries,
        command,
        links=links,
        public_url=settings.public_url,
        ready_announced=ready_announced,
    )
    client = outbound.create_client(settings)
    sender = Sender(
        deliveries,
        registry,
        client,
        link_keys=[key.get_secret_value() for key in (settings.link_key, *settings.link_previous_keys)],
        allowed_networks=settings.webhook_allowed_networks,
        max_response_bytes=settings.webhook_max_response_bytes,
        send_email=send_email,
        compose_disabled=lambda endpoint, reason: compose_disabled_email(
            endpoint, reason, sender=settings.mail_from, public_url=settings.public_url
        ),
    )
    subscribe(
        broker,
        Queues.NOTIFIER_WEBHOOK_EVENTS,
        Event,
        fanout.handle,
        title="notifier.webhook-events:consume",
        description=(
            "Turn a job's events into public webhook events and store a delivery for each endpoint "
            "of its owner that wants it (and the job's callback URL), then ask for each to be sent."
        ),
    )
    subscribe(
        broker,
        Queues.NOTIFIER_WEBHOOK_DELIVERIES,
        DeliverWebhook,
        sender.deliver,
        title="notifier.webhook-deliveries:consume",
        description=(
            "POST one delivery, signed (Standard Webhooks), to its endpoint; a failed attempt is "
            "tried again after each delay of the webhook schedule (about a day), then the delivery has failed."
        ),
        delays=settings.webhook_retry_delays,
        on_give_up=sender.give_up,
    )
    return client.aclose


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings.load()
    broker = create_broker(settings, description="Notifier")
    mongo = create_async_client(settings)
    database = mongo[settings.mongo_database]
    register(broker, settings, NotificationLedger(database), JobContacts(database))
    close_client = register_webhooks(broker, settings, database)
    deliveries = Queues.NOTIFIER_WEBHOOK_DELIVERIES

    async def declare_webhook_retries() -> None:
        """The delivery schedule's own retry queues (the topology declares the standard ones)."""
        for delay in settings.webhook_retry_delays:
            await broker.declare_queue(retry_queue(deliveries, delay))

    return create_worker_app(broker, on_startup=[declare_webhook_retries], on_shutdown=[close_client, mongo.close])
