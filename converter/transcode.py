"""Extract a video's audio as MP3: file-like in, file-like out.

Only the audio stream is demuxed (the demuxer discards every other stream's packets) and only
it is decoded. MP3 audio at the requested bitrate is copied packet by packet (the rule is in
``converter.mp3``); other audio is decoded with PyAV, resampled to an MP3 sample rate in large
blocks and handed to the encoder ``converter.encoders`` picks. The output is a raw CBR MP3
(frames back to back, no tags), written in pieces to a sink that only needs ``write``.

The source needs ``read``; with ``seek`` and ``tell`` too (a local file, a GridFS reader) it
can be an MP4 whose index is at the end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from typing import Literal, Protocol

import av
from av.stream import Discard

from contracts import ConversionOptions, FailureReason
from converter.encoders import EngineChoice, choose_engine, installed_engines, open_encoder
from converter.mp3 import copies_as_is

__all__ = ["ConversionError", "Progress", "Sink", "Source", "Transcoded", "transcode"]

Progress = Callable[[float, float | None], None]
"""Told the seconds of audio written so far and the source's stated audio duration (``None``
when it states none), after every block (about a second of audio): throttle before publishing.
It may raise to stop the conversion (a cancelled job); the exception propagates."""

# libmp3lame encodes MPEG-1/2/2.5 layer III, at these rates only
_MP3_RATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)

# FFmpeg reads any text as ANSI art ("tty"); that is never an upload worth converting
_TEXT_DEMUXERS = frozenset({"tty"})

# bytes per read() PyAV asks of the source: one GridFS chunk, give or take
_READ_SIZE = 256 * 1024
# copied MP3 frames are a few hundred bytes each; the sink gets them in pieces of this size
_WRITE_SIZE = 256 * 1024
# blocks handed to the encoder thread and not yet written: enough to keep it busy
_BLOCKS_IN_FLIGHT = 2


class Source(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class ConversionError(Exception):
    """The input cannot be converted; retrying will not help."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Transcoded:
    duration_seconds: float
    method: Literal["copy", "lameenc", "pyav"]
    """``copy`` when the MP3 audio was copied as is, else the encoder that made it."""


def _mp3_rate(rate: int) -> int:
    """The supported MP3 sample rate closest to ``rate`` (ties go to the higher one)."""
    return min(_MP3_RATES, key=lambda supported: (abs(supported - rate), -supported))


def transcode(
    source: Source,
    sink: Sink,
    options: ConversionOptions,
    *,
    engine: EngineChoice = "auto",
    stream_copy: bool = True,
    progress: Progress | None = None,
) -> Transcoded:
    """Write the audio of ``source`` to ``sink`` as MP3; raise ``ConversionError`` on bad input.

    ``stream_copy=False`` re-encodes even MP3 audio that could be copied.
    """
    try:
        container = av.open(source, mode="r", buffer_size=_READ_SIZE)
    except av.FFmpegError as error:
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, f"not a readable media file: {error}") from error
    with container:
        audio = _audio_stream(container)
        try:
            packets = container.demux(audio)
            first = next((packet for packet in packets if packet.size), None)
            if first is None:
                raise ConversionError(FailureReason.UNDECODABLE_INPUT, "the audio stream holds no packets")
            packets = chain([first], packets)
            report = _reporter(progress, _stated_duration(container, audio))
            if stream_copy and _copyable(audio, bytes(first), options):
                return Transcoded(_copy(packets, audio, sink, report), "copy")
            chosen = choose_engine(engine, installed_engines())
            return Transcoded(_encode(packets, audio, sink, options, chosen, report=report), chosen)
        except av.FFmpegError as error:
            raise ConversionError(FailureReason.UNDECODABLE_INPUT, f"the audio cannot be decoded: {error}") from error


def _stated_duration(container: av.container.InputContainer, audio: av.AudioStream) -> float | None:
    """The audio's duration as the file states it (stream first, then container), if it does."""
    if audio.duration is not None and audio.time_base is not None:
        return float(audio.duration * audio.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _reporter(progress: Progress | None, total: float | None) -> Callable[[float], None]:
    def report(done: float) -> None:
        if progress is not None:
            progress(done, total)

    return report


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream:
    if container.format.name in _TEXT_DEMUXERS or not (container.streams.audio or container.streams.video):
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, "not a video or audio file")
    if not container.streams.audio:
        raise ConversionError(FailureReason.NO_AUDIO_STREAM, "the file has no audio stream")
    audio = container.streams.audio[0]
    for stream in container.streams:
        if stream.index != audio.index:
            stream.discard = Discard.all
    return audio


def _copyable(audio: av.AudioStream, first_frame: bytes, options: ConversionOptions) -> bool:
    codec = audio.codec_context.codec
    return codec.canonical_name == "mp3" and copies_as_is(first_frame, audio.bit_rate, options.bitrate_kbps)


def _copy(
    packets: Iterator[av.Packet[av.AudioStream]], audio: av.AudioStream, sink: Sink, report: Callable[[float], None]
) -> float:
    """Write the MP3 frames as they are; returns their duration in seconds."""
    pending = bytearray()
    ticks = 0
    for packet in packets:
        ticks += packet.duration or 0
        pending += packet
        if len(pending) >= _WRITE_SIZE:
            sink.write(bytes(pending))
            pending.clear()
            if audio.time_base is not None:
                report(float(ticks * audio.time_base))
    if pending:
        sink.write(bytes(pending))
    if ticks == 0 or audio.time_base is None:
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, "the MP3 stream has no timed frames")
    return float(ticks * audio.time_base)


def _encode(
    packets: Iterator[av.Packet[av.AudioStream]],
    audio: av.AudioStream,
    sink: Sink,
    options: ConversionOptions,
    engine: Literal["lameenc", "pyav"],
    *,
    report: Callable[[float], None],
) -> float:
    """Decode, resample into the encoder's blocks and encode; returns the seconds of audio encoded.

    The encoder runs in a thread of its own (LAME releases the GIL), one block behind the
    decoder, so decoding costs no wall time.
    """
    decoder = audio.codec_context
    rate = _mp3_rate(decoder.sample_rate or 44_100)
    channels = 1 if decoder.channels == 1 else 2
    encoder = open_encoder(engine, rate, channels, options.bitrate_kbps)
    resampler = av.AudioResampler(
        format=encoder.sample_format,
        layout="mono" if channels == 1 else "stereo",
        rate=rate,
        frame_size=encoder.block_samples,
    )
    samples = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mp3-encoder") as encoding:
        encoded: deque[Future[bytes]] = deque()

        def encode(blocks: list[av.AudioFrame]) -> None:
            nonlocal samples
            for block in blocks:
                samples += block.samples
                encoded.append(encoding.submit(encoder.encode, block))
                while len(encoded) > _BLOCKS_IN_FLIGHT:
                    sink.write(encoded.popleft().result())
                report(samples / rate)

        # demux ends with an empty packet per stream, which flushes the decoder
        for packet in packets:
            for frame in decoder.decode(packet):
                encode(resampler.resample(frame))
        encode(resampler.resample(None))
        while encoded:
            sink.write(encoded.popleft().result())
    if samples == 0:
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, "the audio stream holds no decodable samples")
    sink.write(encoder.flush())
    return samples / rate
