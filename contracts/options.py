"""Per-job conversion options, validated where the job is created."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Bitrate", "ConversionOptions"]

Bitrate = Literal[32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]


class ConversionOptions(BaseModel):
    """How a job's MP3 is encoded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bitrate_kbps: Bitrate = Field(default=192, description="Constant bitrate of the MP3 in kbit/s.")

    @field_validator("bitrate_kbps", mode="before")
    @classmethod
    def _number_from_text(cls, value: object) -> object:
        # form fields arrive as text, and a Literal of numbers accepts numbers only
        if isinstance(value, str) and value.strip().isdecimal():
            return int(value)
        return value
