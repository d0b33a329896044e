"""Extract a video's audio as MP3 with PyAV: file-like in, file-like out.

Only the audio stream is demuxed and decoded; video packets are never decoded. The source
needs ``read``/``seek``/``tell`` (a GridFS download stream or a local file); the sink only
``write``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import av

from contracts import ConversionOptions, FailureReason

__all__ = ["ConversionError", "Transcoded", "transcode"]

# libmp3lame encodes MPEG-1/2/2.5 layer III, at these rates only
_MP3_RATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)

# FFmpeg reads any text as ANSI art ("tty"); that is never an upload worth converting
_TEXT_DEMUXERS = frozenset({"tty"})


class ConversionError(Exception):
    """The input cannot be converted; retrying will not help."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Transcoded:
    duration_seconds: float


def _mp3_rate(rate: int) -> int:
    """The supported MP3 sample rate closest to ``rate`` (ties go to the higher one)."""
    return min(_MP3_RATES, key=lambda supported: (abs(supported - rate), -supported))


def transcode(source: BinaryIO, sink: BinaryIO, options: ConversionOptions) -> Transcoded:
    """Write the audio of ``source`` to ``sink`` as MP3; raise ``ConversionError`` on bad input."""
    try:
        container = av.open(source, mode="r")
    except av.FFmpegError as error:
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, f"not a readable media file: {error}") from error
    with container:
        if container.format.name in _TEXT_DEMUXERS or not (container.streams.audio or container.streams.video):
            raise ConversionError(FailureReason.UNDECODABLE_INPUT, "not a video or audio file")
        if not container.streams.audio:
            raise ConversionError(FailureReason.NO_AUDIO_STREAM, "the file has no audio stream")
        audio = container.streams.audio[0]
        rate = _mp3_rate(audio.codec_context.sample_rate or 44_100)
        layout = "mono" if audio.codec_context.channels == 1 else "stereo"
        with av.open(sink, mode="w", format="mp3") as output:
            encoder = output.add_stream("libmp3lame", rate=rate, layout=layout)
            encoder.bit_rate = options.bitrate_kbps * 1000
            samples = 0
            try:
                for packet in container.demux(audio):
                    for frame in packet.decode():
                        for encoded in encoder.encode(frame):
                            samples += encoded.duration or 0
                            output.mux(encoded)
            except av.FFmpegError as error:
                raise ConversionError(
                    FailureReason.UNDECODABLE_INPUT, f"the audio cannot be decoded: {error}"
                ) from error
            for encoded in encoder.encode(None):
                samples += encoded.duration or 0
                output.mux(encoded)
            if samples == 0:
                raise ConversionError(FailureReason.UNDECODABLE_INPUT, "the audio stream holds no decodable samples")
            time_base = encoder.time_base or encoder.codec_context.time_base
    return Transcoded(duration_seconds=float(samples * time_base))
