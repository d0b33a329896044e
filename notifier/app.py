"""The notifier service: emails the owner when their MP3 is ready."""

from __future__ import annotations

from email.message import EmailMessage

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from common.broker import EventPublisher, create_broker
from common.consuming import subscribe
from common.mongo import create_async_client
from common.service import create_worker_app
from contracts import Mp3Converted, NotificationSent
from contracts.topology import Queues
from notifier.ledger import NotificationLedger
from notifier.service import Notifier
from notifier.settings import NotifierSettings
from notifier.smtp import send

__all__ = ["create_app", "register"]


def register(broker: RabbitBroker, settings: NotifierSettings, ledger: NotificationLedger) -> None:
    """Subscribe the notifier to ``Mp3Converted`` on ``broker``."""
    events = EventPublisher(broker, [NotificationSent])

    async def send_email(message: EmailMessage) -> None:
        await send(message, settings)

    notifier = Notifier(ledger, send_email, events.publish, sender=settings.mail_from, public_url=settings.public_url)
    subscribe(
        broker,
        Queues.NOTIFIER,
        Mp3Converted,
        notifier.handle,
        title="notifier.mp3-converted:consume",
        description="Email the owner the download link, then report it; SMTP failures are retried later.",
    )


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings.load()
    broker = create_broker(settings, description="Notifier")
    mongo = create_async_client(settings)
    register(broker, settings, NotificationLedger(mongo[settings.mongo_database]))
    return create_worker_app(broker, on_shutdown=[mongo.close])
