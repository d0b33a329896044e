from common.settings import BrokerSettings, MongoSettings
from converter.encoders import EngineChoice

__all__ = ["ConverterSettings"]


class ConverterSettings(BrokerSettings, MongoSettings):
    """Settings of the converter (``VIDMP3_*`` variables).

    ``VIDMP3_PREFETCH`` is how many conversions one process runs at once;
    ``VIDMP3_MP3_ENCODER`` picks the MP3 encoder (``auto``: lameenc if installed, else PyAV's).
    """

    port: int = 8002
    prefetch: int = 2
    mp3_encoder: EngineChoice = "auto"
