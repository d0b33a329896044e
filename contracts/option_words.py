"""What is wrong with a set of conversion options, in words a person can act on.

The gateway (its ``422`` problems) and the command line (before any byte is uploaded) read
the same ``ValidationError`` of ``ConversionOptions``; both say it the same way here. Each
field gets the sentence that tells what a good value is; the rules across fields get one
sentence each (the sentences are ``contracts.option_rules``', which the converter's own command
line uses without pydantic). The machine side (``errors``: the field and pydantic's message) stays.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import ValidationError

from contracts.option_rules import FIELD_WORDS, rule_words

__all__ = ["FIELD_WORDS", "OptionProblem", "option_problem"]

_UNKNOWN = (
    "The upload names an option this service does not have; the options are the bitrate, "
    "variable-bitrate quality, sample rate, channels, start, end, loudness normalization, cover picture "
    "and one MP3 per chapter."
)


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
            field, sentence = rule_words(message)
        errors.append({"field": field, "message": message, "source": source})
        if sentence not in sentences:
            sentences.append(sentence)
    return OptionProblem(" ".join(sentences), errors)
