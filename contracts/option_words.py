"""What is wrong with a set of conversion options, in words a person can act on.

The gateway (its ``422`` problems) and the command line (before any byte is uploaded) read
the same ``ValidationError`` of ``ConversionOptions``; both say it the same way here. Each
field gets the sentence that tells what a good value is; the rules across fields get one
sentence each. The machine side (``errors``: the field and pydantic's message) stays.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import ValidationError

from contracts.options import MP3_SAMPLE_RATES, Bitrate

__all__ = ["FIELD_WORDS", "OptionProblem", "option_problem"]

_BITRATES = typing.get_args(Bitrate)


def _listed(values: tuple[int, ...]) -> str:
    return ", ".join(str(value) for value in values[:-1]) + f" or {values[-1]}"


FIELD_WORDS: dict[str, str] = {
    "bitrate_kbps": f"Choose a bitrate an MP3 can have: {_listed(_BITRATES)} kbit/s.",
    "vbr_quality": "Choose a variable-bitrate quality from 0 (best) to 9 (smallest file).",
    "sample_rate_hz": f"Choose a sample rate an MP3 can have: {_listed(MP3_SAMPLE_RATES)} Hz.",
    "channels": "Choose mono or stereo.",
    "start_seconds": "Give where the clip starts as a number of seconds, 0 or more.",
    "end_seconds": "Give where the clip ends as a number of seconds after its start.",
    "normalize": "Loudness normalization is either on or off (true or false).",
    "cover_art": "The cover picture is either on or off (true or false).",
    "split_chapters": "One MP3 per chapter is either on or off (true or false).",
}
"""For each option: what a good value is."""

_UNKNOWN = (
    "The upload names an option this service does not have; the options are the bitrate, "
    "variable-bitrate quality, sample rate, channels, start, end, loudness normalization, cover picture "
    "and one MP3 per chapter."
)

# The rules across fields (the model's validators) raise ValueErrors; their message says
# which rule broke, and which field to name in `errors`. A test makes each of them raise.
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "not both",
        "vbr_quality",
        "Choose either a constant bitrate or a variable-bitrate quality, not both.",
    ),
    (
        "at most",
        "bitrate_kbps",
        "Below 32000 Hz an MP3 carries at most 160 kbit/s: choose a lower bitrate or a higher sample rate.",
    ),
    (
        "must be after",
        "end_seconds",
        "The clip must end after it starts: give an end later than the start.",
    ),
)
_RULE_FALLBACK = "These conversion options do not go together."


class OptionProblem(typing.NamedTuple):
    detail: str
    """One or more sentences for people, one per field at fault."""
    errors: list[dict[str, Any]]
    """``{"field", "message", "source"}`` for each error, as problems carry them."""


def option_problem(error: ValidationError, *, source: str = "body") -> OptionProblem:
    """The words for ``error``, a ``ValidationError`` of ``ConversionOptions``."""
    sentences: list[str] = []
    errors: list[dict[str, Any]] = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else None
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            sentence = _UNKNOWN
        elif field in FIELD_WORDS:
            sentence = FIELD_WORDS[field]
        else:
            field, sentence = _rule(message)
        errors.append({"field": field, "message": message, "source": source})
        if sentence not in sentences:
            sentences.append(sentence)
    return OptionProblem(" ".join(sentences), errors)


def _rule(message: str) -> tuple[str | None, str]:
    for words, field, sentence in _RULES:
        if words in message:
            return field, sentence
    return None, _RULE_FALLBACK
