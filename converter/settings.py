from common.settings import BrokerSettings, MongoSettings

__all__ = ["ConverterSettings"]


class ConverterSettings(BrokerSettings, MongoSettings):
    """Settings of the converter (``VIDMP3_*`` variables).

    ``VIDMP3_PREFETCH`` is how many conversions one process runs at once.
    """

    port: int = 8002
    prefetch: int = 2
