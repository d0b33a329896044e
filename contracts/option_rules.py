"""The rules of a job's conversion options, and their words for people, without pydantic.

``ConversionOptions`` (``contracts.options``) applies them to what the gateway and the events
carry. The converter's command line applies them through ``PlainOptions``: it is timed
against ffmpeg, process start included, and importing pydantic and building the model cost
it 0.1 s of CPU per start (measured: 0.20 s before, 0.10 s after; 2-3 % of converting ten
minutes of speech). A test holds the two to the same fields, defaults and verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, Protocol

__all__ = [
    "BITRATES",
    "DEFAULT_BITRATE",
    "FIELD_WORDS",
    "LOW_RATES_MAX_KBPS",
    "MP3_SAMPLE_RATES",
    "OptionError",
    "OptionValues",
    "PlainOptions",
    "cross_field_problem",
    "rule_words",
    "settle_rate_control",
]

BITRATES: tuple[int, ...] = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
"""The bitrates of MPEG-1 layer III, in kbit/s."""
MP3_SAMPLE_RATES: tuple[int, ...] = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
"""The rates MPEG-1, 2 and 2.5 layer III can carry."""
VBR_QUALITIES = range(10)
DEFAULT_BITRATE: Final = 192
LOW_RATES_MAX_KBPS = 160
"""MPEG-2 and 2.5 layer III (rates below 32 kHz) stop at 160 kbit/s."""


def _listed(values: tuple[int, ...]) -> str:
    return ", ".join(str(value) for value in values[:-1]) + f" or {values[-1]}"


FIELD_WORDS: dict[str, str] = {
    "bitrate_kbps": f"Choose a bitrate an MP3 can have: {_listed(BITRATES)} kbit/s.",
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

# the rules across fields raise ValueErrors; their message says which rule broke, and which
# field to name in a problem's `errors`. A test makes each of them raise.
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "not both",
        "vbr_quality",
        "Choose either a constant bitrate or a variable-bitrate quality, not both.",
    ),
    (
        "at most",
        "bitrate_kbps",
        f"Below 32000 Hz an MP3 carries at most {LOW_RATES_MAX_KBPS} kbit/s: "
        "choose a lower bitrate or a higher sample rate.",
    ),
    (
        "must be after",
        "end_seconds",
        "The clip must end after it starts: give an end later than the start.",
    ),
)
_RULE_FALLBACK = "These conversion options do not go together."


def rule_words(message: str) -> tuple[str | None, str]:
    """The field a rule's ``message`` is about, and the rule in words for people."""
    for words, field, sentence in _RULES:
        if words in message:
            return field, sentence
    return None, _RULE_FALLBACK


def low_rate(value: object) -> bool:
    """Whether ``value`` is a sample rate below MPEG-1's lowest (32 kHz)."""
    try:
        return value is not None and int(str(value)) < 32_000
    except ValueError:
        return False  # not a number: the field's own check says so


def settle_rate_control(data: Mapping[str, Any]) -> dict[str, Any]:
    """CBR or VBR, before the fields are checked: a bitrate given next to a VBR quality is
    refused (``ValueError``), not silently dropped; without VBR, no bitrate (or an explicit
    null) is the default bitrate, as close to it as the sample rate allows."""
    if data.get("vbr_quality") is None:
        settled = {k: v for k, v in data.items() if not (k == "bitrate_kbps" and v is None)}
        if "bitrate_kbps" not in settled and low_rate(settled.get("sample_rate_hz")):
            settled["bitrate_kbps"] = LOW_RATES_MAX_KBPS
        return settled
    if data.get("bitrate_kbps") is not None:
        raise ValueError("give either bitrate_kbps (constant bitrate) or vbr_quality (variable bitrate), not both")
    return {**data, "bitrate_kbps": None}


def cross_field_problem(values: OptionValues) -> str | None:
    """What breaks a rule across fields, once each field is good (``None``: nothing)."""
    if low_rate(values.sample_rate_hz) and (values.bitrate_kbps or 0) > LOW_RATES_MAX_KBPS:
        return f"below 32000 Hz an MP3 carries at most {LOW_RATES_MAX_KBPS} kbit/s"
    if values.end_seconds is not None and values.end_seconds <= values.start_seconds:
        return "end_seconds must be after start_seconds"
    return None


def trims(values: OptionValues) -> bool:
    """Whether only a part of the audio is asked for."""
    return values.start_seconds > 0 or values.end_seconds is not None


class OptionValues(Protocol):
    """What a conversion reads of its options (``ConversionOptions`` and ``PlainOptions`` both)."""

    @property
    def bitrate_kbps(self) -> int | None: ...
    @property
    def vbr_quality(self) -> int | None: ...
    @property
    def sample_rate_hz(self) -> int | None: ...
    @property
    def channels(self) -> Literal["mono", "stereo"] | None: ...
    @property
    def start_seconds(self) -> float: ...
    @property
    def end_seconds(self) -> float | None: ...
    @property
    def normalize(self) -> bool: ...
    @property
    def cover_art(self) -> bool: ...
    @property
    def split_chapters(self) -> bool: ...
    @property
    def trims(self) -> bool: ...


class OptionError(ValueError):
    """An option that is not good: the field at fault (``None``: several) and why, for people."""

    def __init__(self, field: str | None, words: str) -> None:
        super().__init__(words)
        self.field = field
        self.words = words


@dataclass(frozen=True)
class PlainOptions:
    """Checked conversion options, as ``ConversionOptions`` checks them: see ``checked``."""

    bitrate_kbps: int | None = DEFAULT_BITRATE
    vbr_quality: int | None = None
    sample_rate_hz: int | None = None
    channels: Literal["mono", "stereo"] | None = None
    start_seconds: float = 0.0
    end_seconds: float | None = None
    normalize: bool = False
    cover_art: bool = True
    split_chapters: bool = False

    @property
    def trims(self) -> bool:
        return trims(self)

    @classmethod
    def checked(cls, given: Mapping[str, Any]) -> PlainOptions:
        """Options from typed values (numbers, not text), refused with ``OptionError`` where
        ``ConversionOptions`` refuses them."""
        unknown = set(given) - {field.name for field in fields(cls)}
        if unknown:
            raise OptionError(None, f"unknown options: {', '.join(sorted(unknown))}")
        try:
            settled = settle_rate_control(given)
        except ValueError as error:
            raise OptionError(*rule_words(str(error))) from error
        for name, value in settled.items():
            if value is not None and not _good(name, value):
                raise OptionError(name, FIELD_WORDS[name])
        options = cls(**settled)
        problem = cross_field_problem(options)
        if problem is not None:
            raise OptionError(*rule_words(problem))
        return options


_CHOICES: dict[str, Container[object]] = {
    "bitrate_kbps": BITRATES,
    "vbr_quality": VBR_QUALITIES,
    "sample_rate_hz": MP3_SAMPLE_RATES,
    "channels": ("mono", "stereo"),
}
_SWITCHES = ("normalize", "cover_art", "split_chapters")


def _good(name: str, value: object) -> bool:
    """Whether a typed value is one the field takes (``ConversionOptions``' field checks)."""
    if name in _SWITCHES:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if name in _CHOICES:
        return value in _CHOICES[name]
    # start_seconds and end_seconds: a finite number, more than 0 (the start may be 0)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return value > 0 or (name == "start_seconds" and value == 0)
