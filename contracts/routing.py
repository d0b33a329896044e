"""The routing key of each event type, free of any broker library (the converter's command line
imports the contracts and should not pay for the broker client)."""

from enum import StrEnum

__all__ = ["RoutingKey"]


class RoutingKey(StrEnum):
    """Routing key of each event type; also the event's ``type`` discriminator."""

    VIDEO_UPLOADED = "video.uploaded"
    CONVERSION_STARTED = "conversion.started"
    MP3_CONVERTED = "mp3.converted"
    CONVERSION_FAILED = "conversion.failed"
    NOTIFICATION_SENT = "notification.sent"
    CONVERSION_PROGRESS = "conversion.progress"
    JOB_CANCELLED = "job.cancelled"
    JOB_DELETED = "job.deleted"
    SOURCE_REMOVED = "source.removed"
    JOB_EXPIRED = "job.expired"
