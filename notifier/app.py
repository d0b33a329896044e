"""The notifier service: emails the owner when their MP3 is ready, or when it cannot be made."""

from __future__ import annotations

from email.message import EmailMessage

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from common.broker import EventPublisher, create_broker
from common.consuming import subscribe
from common.mongo import create_async_client
from common.service import create_worker_app
from contracts import ConversionFailed, Mp3Converted, NotificationSent, VideoUploaded
from contracts.topology import Queues
from notifier.contacts import JobContacts
from notifier.ledger import NotificationLedger
from notifier.service import Notifier
from notifier.settings import NotifierSettings
from notifier.smtp import send

__all__ = ["create_app", "register"]


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


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings.load()
    broker = create_broker(settings, description="Notifier")
    mongo = create_async_client(settings)
    database = mongo[settings.mongo_database]
    register(broker, settings, NotificationLedger(database), JobContacts(database))
    return create_worker_app(broker, on_shutdown=[mongo.close])
