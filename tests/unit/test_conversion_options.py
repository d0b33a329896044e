"""Conversion options: what an upload may ask, read from form text, refused when wrong."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts import ConversionOptions, EventAdapter, VideoUploaded


def from_form(fields: dict[str, str]) -> ConversionOptions:
    """As the gateway reads form fields and tus metadata: text, lax."""
    return ConversionOptions.model_validate(fields, strict=False)


def test_no_options_is_a_192k_cbr_mp3_of_everything_as_the_source() -> None:
    options = from_form({})

    assert (options.bitrate_kbps, options.vbr_quality, options.sample_rate_hz, options.channels) == (
        192,
        None,
        None,
        None,
    )
    assert (options.start_seconds, options.end_seconds, options.normalize, options.trims) == (0, None, False, False)


def test_every_option_reads_from_text() -> None:
    options = from_form(
        {
            "vbr_quality": "2",
            "sample_rate_hz": "22050",
            "channels": "mono",
            "start_seconds": "1.5",
            "end_seconds": "90",
            "normalize": "true",
        }
    )

    assert options == ConversionOptions(
        bitrate_kbps=None,
        vbr_quality=2,
        sample_rate_hz=22_050,
        channels="mono",
        start_seconds=1.5,
        end_seconds=90,
        normalize=True,
    )
    assert options.trims


def test_vbr_alone_means_no_bitrate() -> None:
    assert from_form({"vbr_quality": "0"}).bitrate_kbps is None


def test_bitrate_and_vbr_together_are_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match=r"either bitrate_kbps .* or vbr_quality .*, not both"):
        from_form({"bitrate_kbps": "192", "vbr_quality": "2"})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"bitrate_kbps": "100"}, "bitrate_kbps"),
        ({"vbr_quality": "10"}, "vbr_quality"),
        ({"vbr_quality": "-1"}, "vbr_quality"),
        ({"vbr_quality": "V2"}, "vbr_quality"),
        ({"sample_rate_hz": "44000"}, "sample_rate_hz"),
        ({"sample_rate_hz": "96000"}, "sample_rate_hz"),
        ({"channels": "5.1"}, "channels"),
        ({"start_seconds": "-1"}, "start_seconds"),
        ({"start_seconds": "nan"}, "start_seconds"),
        ({"end_seconds": "0"}, "end_seconds"),
        ({"end_seconds": "inf"}, "end_seconds"),
        ({"normalize": "maybe"}, "normalize"),
        ({"volume": "11"}, "volume"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        from_form(fields)
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]


@pytest.mark.parametrize(("start", "end"), [("10", "10"), ("10", "5")])
def test_the_end_must_come_after_the_start(start: str, end: str) -> None:
    with pytest.raises(ValidationError, match="end_seconds must be after start_seconds"):
        from_form({"start_seconds": start, "end_seconds": end})


def uploaded(options: ConversionOptions) -> VideoUploaded:
    return VideoUploaded(
        job_id=uuid4(),
        owner_id="u1",
        owner_email="u1@example.org",
        video_file_id="f",
        filename="a.mp4",
        size_bytes=1,
        options=options,
    )


@pytest.mark.parametrize(
    "options",
    [ConversionOptions(), from_form({"vbr_quality": "3", "start_seconds": "2", "end_seconds": "4", "normalize": "1"})],
)
def test_options_survive_the_event_round_trip(options: ConversionOptions) -> None:
    event = uploaded(options)

    assert EventAdapter.validate_json(event.model_dump_json()) == event


def test_a_version_1_event_still_reads_with_default_options() -> None:
    payload: dict[str, Any] = json.loads(uploaded(ConversionOptions()).model_dump_json())
    payload |= {"schema_version": 1, "options": {"bitrate_kbps": 128}}

    event = EventAdapter.validate_python(payload)

    assert isinstance(event, VideoUploaded)
    assert event.options == ConversionOptions(bitrate_kbps=128)
    assert uploaded(ConversionOptions()).schema_version == 4


def test_a_version_2_event_reads_as_one_with_a_cover() -> None:
    payload: dict[str, Any] = json.loads(uploaded(ConversionOptions(cover_art=False)).model_dump_json())
    payload |= {"schema_version": 2, "options": {"bitrate_kbps": 128}}

    event = EventAdapter.validate_python(payload)

    assert isinstance(event, VideoUploaded)
    assert event.options.cover_art


def test_the_cover_can_be_turned_off_from_a_form() -> None:
    assert from_form({"cover_art": "false"}).cover_art is False
    assert from_form({}).cover_art is True


def test_a_version_3_event_reads_as_one_without_a_split() -> None:
    payload: dict[str, Any] = json.loads(uploaded(ConversionOptions()).model_dump_json())
    payload |= {"schema_version": 3, "options": {"bitrate_kbps": 128, "cover_art": False}}

    event = EventAdapter.validate_python(payload)

    assert isinstance(event, VideoUploaded)
    assert not event.options.split_chapters


def test_the_split_per_chapter_is_asked_for_from_a_form() -> None:
    assert from_form({"split_chapters": "true"}).split_chapters is True
    assert from_form({}).split_chapters is False
