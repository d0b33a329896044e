"""Per-job conversion options, validated where the job is created.

Every field is optional with a default that keeps the source as it is (bar the bitrate), so
an upload with no options gets a 192 kbit/s CBR MP3 of the whole audio. Form fields and tus
metadata arrive as text; the validators below read numbers and choices from text.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.option_rules import DEFAULT_BITRATE, MP3_SAMPLE_RATES, cross_field_problem, settle_rate_control, trims

__all__ = ["MP3_SAMPLE_RATES", "Bitrate", "Channels", "ConversionOptions", "SampleRate"]

Bitrate = Literal[32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
SampleRate = Literal[8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000]
Channels = Literal["mono", "stereo"]

# the Literals spell out contracts.option_rules' BITRATES and MP3_SAMPLE_RATES (a test holds them equal)


class ConversionOptions(BaseModel):
    """How a job's MP3 is encoded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bitrate_kbps: Bitrate | None = Field(
        default=DEFAULT_BITRATE,
        description="Constant bitrate of the MP3 in kbit/s (CBR). Not together with `vbr_quality`; "
        "null when `vbr_quality` is given.",
    )
    vbr_quality: int | None = Field(
        default=None,
        ge=0,
        le=9,
        description="Variable bitrate instead of a constant one: LAME quality V0 (best, about 245 kbit/s) "
        "to V9 (smallest, about 65 kbit/s). Not together with `bitrate_kbps`.",
    )
    sample_rate_hz: SampleRate | None = Field(
        default=None,
        description="Sample rate of the MP3; by default the source's (the nearest rate MP3 can carry).",
    )
    channels: Channels | None = Field(
        default=None,
        description="`mono` or `stereo`; by default as the source (mono stays mono, more channels become stereo).",
    )
    start_seconds: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Where the MP3 starts in the source's audio, in seconds."
    )
    end_seconds: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Where the MP3 ends in the source's audio, in seconds (after `start_seconds`); "
        "by default the end of the audio.",
    )
    normalize: bool = Field(
        default=False,
        description="Normalize loudness to -16 LUFS (EBU R128, integrated; true peak at most -1.5 dBTP).",
    )
    cover_art: bool = Field(
        default=True,
        description="Embed a cover picture in the MP3 (ID3 APIC, a JPEG of at most 600 px a side): the source's "
        "own cover if it has one, else a frame of its video at about a tenth of its length. `false`: none.",
    )

    split_chapters: bool = Field(
        default=False,
        description="Also deliver one MP3 per chapter (each with its own tags: the chapter's title, its track "
        "number, the cover) when the source has two chapters or more; the whole MP3 is made as well. A source "
        "without chapters gets the whole MP3 only.",
    )

    @field_validator("bitrate_kbps", "sample_rate_hz", mode="before")
    @classmethod
    def _number_from_text(cls, value: object) -> object:
        # form fields arrive as text, and a Literal of numbers accepts numbers only
        if isinstance(value, str) and value.strip().isdecimal():
            return int(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _one_rate_control(cls, data: Any) -> Any:
        """CBR or VBR: a bitrate given next to a VBR quality is refused, not silently dropped."""
        return settle_rate_control(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problem = cross_field_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def trims(self) -> bool:
        """Whether only a part of the audio is asked for."""
        return trims(self)
