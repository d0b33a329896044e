"""Why a conversion failed, in words for the person who uploaded the video, and what to try.

Keyed by the machine-readable ``FailureReason``; the notifier's failure email and the web page
both say these (the converter's own ``message`` may quote a library and is for operators).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import FailureReason

__all__ = ["FailureText", "failure_text", "failure_texts"]


@dataclass(frozen=True)
class FailureText:
    what_happened: str
    what_to_try: str


_TEXTS: dict[str, FailureText] = {
    FailureReason.NO_AUDIO_STREAM: FailureText(
        "The video has no sound, so there is nothing to turn into an MP3.",
        "Check that the video plays with sound on your device, then upload it again.",
    ),
    FailureReason.UNDECODABLE_INPUT: FailureText(
        "The file could not be read as a video or audio file.",
        "Make sure the file plays on your device (MP4, MOV, MKV, WebM and AVI all work), then upload it again.",
    ),
    FailureReason.TRUNCATED_INPUT: FailureText(
        "The file ends too early: it looks cut short, perhaps by an interrupted download or copy.",
        "Upload a complete copy of the file.",
    ),
    FailureReason.UNSUPPORTED_CODEC: FailureText(
        "The sound in this file is in a format that cannot be read here.",
        "Save the video again in a common format (for example MP4 with AAC sound) and upload it again.",
    ),
    FailureReason.SOURCE_MISSING: FailureText(
        "The uploaded video was gone by the time its conversion started.",
        "Upload the video again.",
    ),
    FailureReason.TIMED_OUT: FailureText(
        "The conversion stopped making progress and was given up.",
        "Try again. If it happens again, try converting a shorter part of the video.",
    ),
    FailureReason.RETRIES_EXHAUSTED: FailureText(
        "The conversion was interrupted several times because part of the service was unavailable.",
        "Try again in a little while.",
    ),
    FailureReason.INTERNAL_ERROR: FailureText(
        "Something went wrong on our side.",
        "Try again in a little while. If it keeps failing, tell whoever runs this service.",
    ),
    # the limits' reasons (ConversionFailed v2), by value: words ready before the enum has them
    "too_long": FailureText(
        "The sound goes on longer than this service converts in one job.",
        "Convert a part of it at a time: set where it starts and ends under More options.",
    ),
    "output_too_large": FailureText(
        "The MP3 would be larger than this service stores.",
        "Choose a smaller sound quality (Small or Voice), or convert a part of the video at a time.",
    ),
}


def failure_text(reason: FailureReason | str) -> FailureText:
    """The words for ``reason``; a reason this code does not know yet gets general words."""
    return _TEXTS.get(str(reason), _TEXTS[FailureReason.INTERNAL_ERROR])


def failure_texts() -> dict[str, dict[str, str]]:
    """Every reason's words, as JSON for the web page."""
    return {
        str(reason): {"what_happened": text.what_happened, "what_to_try": text.what_to_try}
        for reason, text in _TEXTS.items()
    }
