"""Why a conversion failed, in words for programs; free of pydantic, so the converter's command
line (which reports these) does not build every event model to start."""

from enum import StrEnum

__all__ = ["FailureReason"]


class FailureReason(StrEnum):
    """Machine-readable cause of a failed conversion."""

    NO_AUDIO_STREAM = "no_audio_stream"
    UNDECODABLE_INPUT = "undecodable_input"
    TRUNCATED_INPUT = "truncated_input"
    UNSUPPORTED_CODEC = "unsupported_codec"
    SOURCE_MISSING = "source_missing"
    TIMED_OUT = "timed_out"
    RETRIES_EXHAUSTED = "retries_exhausted"
    INTERNAL_ERROR = "internal_error"
    TOO_LONG = "too_long"
    """The audio went on past the job's duration limit (whatever the file stated)."""
    OUTPUT_TOO_LARGE = "output_too_large"
    """The MP3 would have passed the size limit."""
