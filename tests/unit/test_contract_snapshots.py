"""An event cannot change incompatibly without a schema version bump."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from contracts import (
    ConversionFailed,
    ConversionOptions,
    ConversionProgress,
    ConversionStarted,
    FailureReason,
    Mp3Converted,
    VideoUploaded,
)
from contracts.snapshots import breaking_changes, current_schemas, event_types, snapshot_path

CURRENT = current_schemas()


@pytest.mark.parametrize(("event_type", "version"), sorted(CURRENT))
def test_each_event_matches_its_committed_schema(event_type: str, version: int) -> None:
    path = snapshot_path(event_type, version)
    assert path.exists(), (
        f"no committed schema for {event_type} v{version}: a new event or version; "
        "record it with `python -m contracts.snapshots write`"
    )
    committed = json.loads(path.read_text())
    current = CURRENT[(event_type, version)]
    if current == committed:
        return
    if problems := breaking_changes(committed, current):
        pytest.fail(
            f"{event_type} changed incompatibly ({'; '.join(problems)}) without a version bump: "
            "raise its schema_version (and keep serving the old one while consumers move)"
        )
    pytest.fail(f"{event_type} changed compatibly: record it with `python -m contracts.snapshots write`")


BASE: dict[str, Any] = {
    "properties": {"a": {"type": "string"}, "b": {"type": "integer", "description": "x"}},
    "required": ["a"],
}


@pytest.mark.parametrize(
    ("new", "breaking"),
    [
        (BASE, False),
        ({**BASE, "properties": {**BASE["properties"], "c": {"type": "string"}}}, False),
        ({**BASE, "properties": {**BASE["properties"], "b": {"type": "integer", "description": "y"}}}, False),
        ({**BASE, "properties": {"a": {"type": "string"}}}, True),
        ({**BASE, "properties": {**BASE["properties"], "a": {"type": "integer"}}}, True),
        (
            {"properties": {**BASE["properties"], "c": {"type": "string"}}, "required": ["a", "c"]},
            True,
        ),
    ],
)
def test_what_counts_as_breaking(new: dict[str, Any], breaking: bool) -> None:
    assert bool(breaking_changes(BASE, new)) is breaking


@pytest.mark.parametrize(
    "old_required",
    [
        # an optional field made required: events stored or queued without it no longer validate
        (["a"], ["a", "b"]),
        # a required field made optional: consumers written against the old schema rely on it
        (["a", "b"], ["a"]),
    ],
)
def test_changing_whether_a_field_is_required_is_breaking(old_required: tuple[list[str], list[str]]) -> None:
    before, after = old_required
    assert breaking_changes({**BASE, "required": before}, {**BASE, "required": after})


# The real events, changed in each way that breaks a consumer, judged against their committed
# schemas: what the snapshot test above would say if someone made the change in contracts/.


def _schema_of(
    event_type: type[BaseModel], *, drop: tuple[str, ...] = (), **fields: tuple[Any, FieldInfo]
) -> dict[str, Any]:
    """The JSON schema ``event_type`` would have with ``fields`` added or replaced and ``drop``
    removed, under the same name."""
    definitions: dict[str, Any] = {
        name: (field.annotation, field) for name, field in event_type.model_fields.items() if name not in drop
    }
    definitions.update(fields)
    changed = create_model(event_type.__name__, __doc__=event_type.__doc__, **definitions)
    return changed.model_json_schema(mode="validation")


def _committed(event_type: type[BaseModel]) -> dict[str, Any]:
    fields = event_type.model_fields
    path = snapshot_path(str(fields["type"].default), int(fields["schema_version"].default))
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("event_type", event_types(), ids=lambda t: t.__name__)
def test_the_rebuilt_schema_of_an_unchanged_event_is_its_committed_one(event_type: type[BaseModel]) -> None:
    """So the changes below are judged against exactly what is committed."""
    assert _schema_of(event_type) == _committed(event_type)


class _FewerReasons(StrEnum):
    NO_AUDIO_STREAM = "no_audio_stream"
    UNDECODABLE_INPUT = "undecodable_input"


_FewerReasons.__name__ = _FewerReasons.__qualname__ = "FailureReason"
_MoreReasons = StrEnum("FailureReason", {**{r.name: r.value for r in FailureReason}, "DISK_FULL": "disk_full"})  # type: ignore[misc]
_LowBitrates = Literal[32, 64, 128]


class _Options(ConversionOptions):
    bitrate_kbps: _LowBitrates = Field(default=128, description="Constant bitrate of the MP3 in kbit/s.")  # type: ignore[assignment]


_Options.__name__ = _Options.__qualname__ = "ConversionOptions"


def _like(
    event_type: type[BaseModel], name: str, annotation: Any, *, required: bool = False, **changes: Any
) -> tuple[Any, FieldInfo]:
    """Field ``name`` of ``event_type`` with another annotation and/or other settings
    (``required``: without the default it had)."""
    field = event_type.model_fields[name]
    settings = {"description": field.description, **changes}
    if not (required or field.is_required() or field.default_factory or "default" in changes):
        settings["default"] = field.default
    return annotation, Field(**settings)


@pytest.mark.parametrize(
    ("event_type", "change", "expected"),
    [
        (ConversionStarted, {"drop": ("worker",)}, "field 'worker' removed"),
        (Mp3Converted, {"size_bytes": _like(Mp3Converted, "size_bytes", str)}, "field 'size_bytes' changed"),
        (
            ConversionProgress,
            {"percent": _like(ConversionProgress, "percent", float, ge=0, le=1)},
            "field 'percent' changed",
        ),
        (
            VideoUploaded,
            {"checksum": (str, Field(description="SHA-256 of the video."))},
            "new required field 'checksum'",
        ),
        (
            ConversionProgress,
            {"total_seconds": _like(ConversionProgress, "total_seconds", float | None, required=True, ge=0)},
            "field 'total_seconds'",
        ),
        (ConversionFailed, {"reason": _like(ConversionFailed, "reason", _FewerReasons)}, "a nested type changed"),
        (ConversionFailed, {"reason": _like(ConversionFailed, "reason", _MoreReasons)}, "a nested type changed"),
        (VideoUploaded, {"options": _like(VideoUploaded, "options", _Options, default_factory=_Options)}, "nested"),
        (
            Mp3Converted,
            {
                "type": (
                    Literal["mp3.ready"],
                    Field(default="mp3.ready", description="Event type, also its routing key."),
                )
            },
            "field 'type' changed",
        ),
    ],
    ids=[
        "field removed",
        "type changed",
        "range narrowed",
        "new required field",
        "optional field made required",
        "enum value removed",
        "enum value added (older consumers reject it)",
        "allowed values of a nested field narrowed",
        "routing key changed",
    ],
)
def test_an_incompatible_change_to_a_real_event_is_caught(
    event_type: type[BaseModel], change: dict[str, Any], expected: str
) -> None:
    problems = breaking_changes(_committed(event_type), _schema_of(event_type, **change))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("event_type", "change"),
    [
        (VideoUploaded, {"checksum": (str | None, Field(default=None, description="SHA-256 of the video."))}),
        (Mp3Converted, {"filename": (str, Field(description="The MP3's name when downloaded."))}),
    ],
    ids=["new optional field", "description reworded"],
)
def test_a_compatible_change_to_a_real_event_passes(event_type: type[BaseModel], change: dict[str, Any]) -> None:
    assert breaking_changes(_committed(event_type), _schema_of(event_type, **change)) == []
