from typing import Self

from pydantic import model_validator

from common.limits import MediaLimitSettings
from common.settings import BrokerSettings, MongoSettings
from converter.encoders import DEFAULT_LIBRARY, EngineChoice

__all__ = ["ConverterSettings"]


class ConverterSettings(BrokerSettings, MongoSettings, MediaLimitSettings):
    """Settings of the converter (``VIDMP3_*`` variables).

    ``VIDMP3_CONVERSIONS`` is how many conversions one process runs at once (the broker's
    prefetch follows it; ``VIDMP3_PREFETCH``, its older name, still sets both);
    ``VIDMP3_MP3_ENCODER`` picks the MP3 encoder (``auto``: the system's libmp3lame if it loads,
    else lameenc, else PyAV's; ``system``, ``lameenc`` or ``pyav`` insist on one), and
    ``VIDMP3_LIBMP3LAME`` names the system library to load (a soname or a path).
    """

    port: int = 8002
    conversions: int = 2
    prefetch: int = 2
    mp3_encoder: EngineChoice = "auto"
    libmp3lame: str = DEFAULT_LIBRARY
    heavy_conversions: int | None = None
    """How many of the ``conversions`` may be heavy (``normalize``) at once; one less than
    ``conversions`` unless set (at least one), so a light job always finds a slot."""
    lease_seconds: float = 20.0
    """A conversion whose worker stopped renewing its claim this long is taken over (its
    holder renews it every fifth of it while converting; a dead process of the same host is
    known gone at once)."""
    hold_seconds: float = 600.0
    """A delivery is acked at the latest this long after it arrived, well within RabbitMQ's
    ``consumer_timeout`` (30 min), whether or not its conversion has ended."""
    reclaim_interval_seconds: float | None = None
    """How often the sweep looks for jobs to take over that no message covers (each round
    starts at most ``conversions`` of them); a quarter of the lease unless set."""

    @model_validator(mode="after")
    def _prefetch_follows_conversions(self) -> Self:
        if "conversions" not in self.model_fields_set and "prefetch" in self.model_fields_set:
            self.conversions = self.prefetch
        self.prefetch = self.conversions
        return self

    @property
    def reclaim_interval(self) -> float:
        return self.reclaim_interval_seconds or self.lease_seconds / 4
