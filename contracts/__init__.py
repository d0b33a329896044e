"""Typed message contracts shared by every service: events, options and broker topology."""

from contracts.events import (
    ConversionFailed,
    ConversionProgress,
    ConversionStarted,
    Event,
    EventAdapter,
    FailureReason,
    JobCancelled,
    JobDeleted,
    Mp3Converted,
    NotificationSent,
    VideoUploaded,
)
from contracts.options import ConversionOptions
from contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    MAX_DELIVERIES,
    RETRY_DELAYS,
    Queues,
    RoutingKey,
    dead_letter_queue,
    retry_queue,
)

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "EXCHANGE",
    "MAX_DELIVERIES",
    "RETRY_DELAYS",
    "ConversionFailed",
    "ConversionOptions",
    "ConversionProgress",
    "ConversionStarted",
    "Event",
    "EventAdapter",
    "FailureReason",
    "JobCancelled",
    "JobDeleted",
    "Mp3Converted",
    "NotificationSent",
    "Queues",
    "RoutingKey",
    "VideoUploaded",
    "dead_letter_queue",
    "retry_queue",
]
