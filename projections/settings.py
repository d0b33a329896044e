from common.settings import BrokerSettings, MongoSettings

__all__ = ["ProjectionSettings"]


class ProjectionSettings(BrokerSettings, MongoSettings):
    """Settings of the status projection (``VIDMP3_*`` variables)."""

    port: int = 8004
