from common.retention import RetentionSettings
from common.settings import BrokerSettings, MongoSettings

__all__ = ["ProjectionSettings"]


class ProjectionSettings(BrokerSettings, MongoSettings, RetentionSettings):
    """Settings of the status projection and retention (``VIDMP3_*`` variables)."""

    port: int = 8004
    watchdog_interval_seconds: float = 60.0
    queued_timeout_seconds: float = 3600.0
    """A job no converter has taken for this long fails as ``timed_out``."""
    converting_timeout_seconds: float = 1800.0
    """A converting job with no progress report for this long fails as ``timed_out``."""
