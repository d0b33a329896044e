"""How much media one job may be: the same bounds checked by the gateway at upload (from the
duration the file states) and enforced by the converter while it converts (a file can lie).

Each is a setting both services read (``VIDMP3_MAX_MEDIA_SECONDS``, ...), so the refusal at
upload and the enforcement agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import ServiceSettings
from contracts import ConversionOptions

__all__ = ["MediaLimitSettings", "MediaLimits", "clock"]


def clock(seconds: float) -> str:
    """``3725`` as ``1:02:05``, ``65`` as ``1:05``: durations as people read them."""
    minutes, second = divmod(round(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"


@dataclass(frozen=True)
class MediaLimits:
    max_seconds: float = 3 * 3600.0
    """Audio a job may convert (after its trim)."""
    max_normalize_seconds: float = 1800.0
    """Audio a job asking for loudness normalization may convert (it costs about 3x)."""
    max_output_bytes: int = 512 * 1024**2
    """Bytes of one MP3."""

    def max_seconds_for(self, options: ConversionOptions) -> float:
        """The duration limit of a job with ``options``."""
        return min(self.max_seconds, self.max_normalize_seconds) if options.normalize else self.max_seconds

    def duration_problem(self, seconds: float, options: ConversionOptions) -> str | None:
        """Why ``seconds`` of audio (as converted, trim applied) is too long for a job with
        ``options``, in words people act on; ``None`` if it is not."""
        limit = self.max_seconds_for(options)
        if seconds <= limit:
            return None
        if options.normalize and limit < self.max_seconds:
            return (
                f"The audio to convert is {clock(seconds)} long; with loudness normalization the limit is "
                f"{clock(limit)} ({clock(self.max_seconds)} without it). Choose a start and an end closer "
                "together, or convert it without normalization."
            )
        return (
            f"The audio to convert is {clock(seconds)} long; the limit is {clock(limit)}. "
            "Choose a start and an end closer together, or split the file."
        )

    def overrun_problem(self, options: ConversionOptions, stated_seconds: float | None) -> str:
        """Why a conversion stopped at the duration limit of ``options`` (the audio went on)."""
        limit = self.max_seconds_for(options)
        which = " with loudness normalization" if options.normalize and limit < self.max_seconds else ""
        stated = f"the file stated {clock(stated_seconds)}" if stated_seconds else "the file stated no length"
        return (
            f"The audio goes on past {clock(limit)}, the limit{which}, though {stated}: converting "
            "stopped there. Choose a start and an end closer together, or split the file."
        )


class MediaLimitSettings(ServiceSettings):
    """The media limits as settings, for the gateway and the converter alike."""

    max_media_seconds: float = MediaLimits.max_seconds
    """Longest audio a job converts, trim applied (422 at upload, ``too_long`` while converting)."""
    max_normalize_seconds: float = MediaLimits.max_normalize_seconds
    """Longest audio a job asking for ``normalize`` converts."""
    max_output_bytes: int = MediaLimits.max_output_bytes
    """Largest MP3 a job makes (``output_too_large`` beyond)."""

    @property
    def media_limits(self) -> MediaLimits:
        return MediaLimits(self.max_media_seconds, self.max_normalize_seconds, self.max_output_bytes)
