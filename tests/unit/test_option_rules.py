"""``PlainOptions`` (the converter's command line, without pydantic) checks options exactly as
``ConversionOptions`` (the gateway, the events) does: same fields, defaults, verdicts and words."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.option_rules import BITRATES, MP3_SAMPLE_RATES, OptionError, PlainOptions
from contracts.option_words import option_problem
from contracts.options import Bitrate, ConversionOptions, SampleRate


def test_the_literals_spell_the_same_values() -> None:
    assert typing.get_args(Bitrate) == BITRATES
    assert typing.get_args(SampleRate) == MP3_SAMPLE_RATES


def test_the_same_fields_with_the_same_defaults() -> None:
    plain = {field.name: field.default for field in dataclasses.fields(PlainOptions)}

    assert plain == ConversionOptions().model_dump()
    assert list(plain) == list(ConversionOptions.model_fields)


def verdict(given: dict[str, Any]) -> tuple[str, Any]:
    """What ConversionOptions makes of typed values: the options, or the field and words of its refusal."""
    try:
        return "ok", ConversionOptions.model_validate(given).model_dump()
    except ValidationError as error:
        problem = option_problem(error)
        return "refused", (problem.errors[0]["field"], problem.detail)


def plain_verdict(given: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", dataclasses.asdict(PlainOptions.checked(given))
    except OptionError as error:
        return "refused", (error.field, error.words)


# typed values as the command line gives them, good and bad
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "bitrate_kbps": st.sampled_from([None, 8, 32, 100, 160, 192, 320, 384]),
    "vbr_quality": st.sampled_from([None, -1, 0, 2, 9, 10]),
    "sample_rate_hz": st.sampled_from([None, 8_000, 16_000, 22_050, 32_000, 44_000, 44_100, 48_000, 96_000]),
    "channels": st.sampled_from(["mono", "stereo"]),
    "start_seconds": st.sampled_from([-1.0, 0.0, 2.5, 10.0, float("nan"), float("inf")]),
    "end_seconds": st.sampled_from([-3.0, 0.0, 2.5, 10.0, 60.0, float("inf")]),
    "normalize": st.booleans(),
    "cover_art": st.booleans(),
    "split_chapters": st.booleans(),
}


@given(st.fixed_dictionaries({}, optional=_VALUES))
def test_both_take_and_refuse_the_same_options_with_the_same_words(given: dict[str, Any]) -> None:
    expected, got = verdict(given), plain_verdict(given)

    if expected[0] == "refused" and got[0] == "refused" and len(verdict_fields(given)) > 1:
        # several fields at fault: pydantic names them all, the command line the first it finds
        assert got[1][0] in verdict_fields(given)
    else:
        assert got == expected


def verdict_fields(given: dict[str, Any]) -> list[str | None]:
    try:
        ConversionOptions.model_validate(given)
    except ValidationError as error:
        return [item["field"] for item in option_problem(error).errors]
    return []


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"bitrate_kbps": 128, "vbr_quality": 2}, "vbr_quality"),
        ({"sample_rate_hz": 16_000, "bitrate_kbps": 320}, "bitrate_kbps"),
        ({"start_seconds": 5.0, "end_seconds": 2.0}, "end_seconds"),
        ({"bitrate_kbps": 100}, "bitrate_kbps"),
        ({"vbr_quality": True}, "vbr_quality"),
        ({"volume": 11}, None),
    ],
)
def test_a_refusal_names_the_field_at_fault(given: dict[str, Any], field: str | None) -> None:
    with pytest.raises(OptionError) as raised:
        PlainOptions.checked(given)

    assert raised.value.field == field


def test_a_low_rate_gets_the_highest_bitrate_it_can_carry_by_default() -> None:
    assert PlainOptions.checked({"sample_rate_hz": 22_050}).bitrate_kbps == 160
    assert PlainOptions.checked({"vbr_quality": 4}).bitrate_kbps is None
    assert PlainOptions.checked({"start_seconds": 1.0}).trims
