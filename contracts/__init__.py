"""Typed message contracts shared by every service: events and options.

The broker topology is in ``contracts.topology`` (it needs the broker client, which the
converter's command line does without). The names here are loaded when first used: the
command line needs only the options and the failure reasons, and building every event
model costs it a tenth of a second at start."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contracts.events import (
        ConversionFailed,
        ConversionProgress,
        ConversionStarted,
        Event,
        EventAdapter,
        JobCancelled,
        JobDeleted,
        JobExpired,
        Mp3Converted,
        Mp3Part,
        NotificationSent,
        SourceRemoved,
        VideoUploaded,
    )
    from contracts.failures import FailureReason
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
    "JobExpired",
    "Mp3Converted",
    "Mp3Part",
    "NotificationSent",
    "RoutingKey",
    "SourceRemoved",
    "VideoUploaded",
]

_MODULES = {"ConversionOptions": "options", "FailureReason": "failures", "RoutingKey": "routing"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'contracts' has no attribute {name!r}")
    value = getattr(import_module(f"contracts.{_MODULES.get(name, 'events')}"), name)
    globals()[name] = value
    return value
