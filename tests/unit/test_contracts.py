"""The event contracts: round trips, discrimination, tolerant reading, frozen values."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts import ConversionOptions, EventAdapter, Mp3Converted, RoutingKey, VideoUploaded
from contracts.events import (
    ConversionFailed,
    ConversionProgress,
    ConversionStarted,
    JobCancelled,
    JobDeleted,
    JobExpired,
    NotificationSent,
    SourceRemoved,
)
from contracts.topology import Queues

ALL_EVENTS = (
    VideoUploaded,
    ConversionStarted,
    ConversionProgress,
    Mp3Converted,
    ConversionFailed,
    NotificationSent,
    JobCancelled,
    JobDeleted,
    SourceRemoved,
    JobExpired,
)


def uploaded() -> VideoUploaded:
    return VideoUploaded(
        job_id=uuid4(), owner_id="1", owner_email="ada@example.com", video_file_id="f", filename="a.mp4", size_bytes=1
    )


def test_an_event_round_trips_through_json_as_its_own_type() -> None:
    event = uploaded()

    decoded = EventAdapter.validate_json(event.model_dump_json())

    assert decoded == event
    assert isinstance(decoded, VideoUploaded)


def test_every_event_type_has_a_routing_key_docstring_and_version() -> None:
    assert {event.model_fields["type"].default for event in ALL_EVENTS} == set(RoutingKey)
    for event in ALL_EVENTS:
        assert event.__doc__
        assert event.__doc__.startswith("Sent when")
        expected = {VideoUploaded: 4, ConversionFailed: 2}.get(event, 1)
        assert event.model_fields["schema_version"].default == expected
        for name, field in event.model_fields.items():
            assert field.description, f"{event.__name__}.{name} has no description"


def test_unknown_fields_are_ignored_by_readers() -> None:
    payload = json.loads(uploaded().model_dump_json()) | {"added_in_a_later_minor": True}

    assert isinstance(EventAdapter.validate_python(payload), VideoUploaded)


def test_unknown_type_or_version_is_refused() -> None:
    payload = json.loads(uploaded().model_dump_json())

    with pytest.raises(ValidationError):
        EventAdapter.validate_python(payload | {"type": "video.deleted"})
    with pytest.raises(ValidationError):
        EventAdapter.validate_python(payload | {"schema_version": 5})


def test_events_are_frozen() -> None:
    event = uploaded()
    with pytest.raises(ValidationError):
        event.filename = "b.mp4"  # type: ignore[misc]


def test_options_refuse_a_bitrate_lame_cannot_encode() -> None:
    assert ConversionOptions(bitrate_kbps=320).bitrate_kbps == 320
    assert ConversionOptions.model_validate({"bitrate_kbps": "128"}).bitrate_kbps == 128  # as a form sends it
    with pytest.raises(ValidationError):
        ConversionOptions.model_validate({"bitrate_kbps": "100"})
    with pytest.raises(ValidationError):
        ConversionOptions(bitrate_kbps=100)  # type: ignore[arg-type]


def test_every_queue_dead_letters_after_bounded_deliveries() -> None:
    for queue in Queues.ALL:
        assert queue.arguments["x-queue-type"] == "quorum"
        assert queue.arguments["x-delivery-limit"] > 0
        assert queue.arguments["x-dead-letter-routing-key"] == queue.name


def test_a_v1_conversion_failed_still_reads_and_v2_names_the_limit_reasons() -> None:
    """v2 added ``too_long`` and ``output_too_large``; events stored as v1 read unchanged."""
    job_id = "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b"
    v1 = {
        "type": "conversion.failed",
        "job_id": job_id,
        "reason": "no_audio_stream",
        "message": "m",
        "schema_version": 1,
    }
    assert EventAdapter.validate_python(v1).schema_version == 1
    for reason in ("too_long", "output_too_large"):
        event = EventAdapter.validate_python(v1 | {"reason": reason, "schema_version": 2})
        assert isinstance(event, ConversionFailed)
        assert event.reason == reason
