"""The converter's Prometheus metrics (the Grafana dashboard under ``deploy/`` graphs them)."""

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "AUDIO_SECONDS",
    "CONVERSIONS_RUNNING",
    "CONVERSION_SECONDS",
    "JOBS",
    "MP3_ENCODER",
    "SLOTS_IN_USE",
    "SLOTS_WAITING",
    "STORAGE_BYTES_READ",
]

JOBS = Counter(
    "converter_jobs_total",
    "Conversion attempts by how they ended: converted, failed (for good), cancelled, or retried "
    "(broken off by a transient error; the job is tried again).",
    ["result"],
)
CONVERSION_SECONDS = Histogram(
    "converter_conversion_seconds",
    "Wall time of each successful conversion, from opening the stored video to the stored MP3.",
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
AUDIO_SECONDS = Counter(
    "converter_audio_seconds_total",
    "Seconds of audio converted; over converter_conversion_seconds_sum, the realtime factor.",
)
STORAGE_BYTES_READ = Counter(
    "converter_storage_bytes_read_total", "Bytes of stored videos fetched from GridFS by conversions."
)
MP3_ENCODER = Gauge(
    "converter_mp3_encoder_info",
    "The MP3 encoder this converter uses (1 for it): system (the system's libmp3lame, as ffmpeg), "
    "lameenc (the fallback, costing more CPU on some signals) or pyav (the slowest).",
    ["engine", "detail"],
)
CONVERSIONS_RUNNING = Gauge(
    "converter_conversions_running", "Conversions under way in this process (at most VIDMP3_CONVERSIONS)."
)
SLOTS_IN_USE = Gauge(
    "converter_slots_in_use",
    "Conversion slots held: by conversions, and by jobs being claimed or settled. All of them held "
    "for long while nothing converts means the converter is stuck.",
)
SLOTS_WAITING = Gauge("converter_slots_waiting", "Deliveries and taken-over jobs waiting for a free conversion slot.")
