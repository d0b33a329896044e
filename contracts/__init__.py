"""Typed message contracts shared by every service: events and options.

The broker topology is in ``contracts.topology`` (it needs the broker client, which the
converter's command line does without)."""

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
from contracts.routing import RoutingKey

__all__ = [
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
    "RoutingKey",
    "VideoUploaded",
]
