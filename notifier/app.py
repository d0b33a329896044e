"""The notifier service: emails the owner when their MP3 is ready."""

from __future__ import annotations

import logging

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from common.broker import EventPublisher, create_broker
from common.consuming import subscribe
from common.service import create_worker_app
from contracts import Mp3Converted, NotificationSent, Queues
from notifier.message import compose_ready_email
from notifier.settings import NotifierSettings
from notifier.smtp import send

__all__ = ["create_app", "register"]

log = logging.getLogger(__name__)


def register(broker: RabbitBroker, settings: NotifierSettings) -> None:
    """Subscribe the notifier to ``Mp3Converted`` on ``broker``."""
    events = EventPublisher(broker, [NotificationSent])

    async def notify(event: Mp3Converted) -> None:
        message = compose_ready_email(event, sender=settings.mail_from, public_url=settings.public_url)
        await send(message, settings)
        log.info("emailed %s", event.owner_email, extra={"job_id": str(event.job_id), "event_id": str(event.event_id)})
        await events.publish(NotificationSent(job_id=event.job_id, recipient=event.owner_email))

    subscribe(
        broker,
        Queues.NOTIFIER,
        Mp3Converted,
        notify,
        title="notifier.mp3-converted:consume",
        description="Email the owner the download link, then report it; SMTP failures are retried later.",
    )


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings.load()
    broker = create_broker(settings, description="Notifier")
    register(broker, settings)
    return create_worker_app(broker)
