"""Extract a video's audio as MP3: file-like in, file-like out.

Only the audio stream is demuxed (the demuxer discards every other stream's packets) and only
it is decoded. MP3 audio that already is what the job asks for is copied packet by packet (the
rule is in ``converter.mp3``); other audio is decoded with PyAV, taken through
``converter.filters`` (resample into large blocks; trim and loudness when asked) and handed to
the encoder ``converter.encoders`` picks. The output (``converter.output``) starts with an
ID3v2.3 tag from the source's metadata (with a cover picture, ``converter.cover``, unless the
job says no) and a Xing/Info frame, written in pieces to a sink that
only needs ``write`` (the Xing frame also needs the sink to go back: see ``converter.output``).

The source needs ``read``; with ``seek`` and ``tell`` too (a local file, a GridFS reader) it
can be an MP4 whose index is at the end, and a trim seeks close to its start.

Bad input ends in ``ConversionError`` with a reason: not media (undecodable), no audio stream,
an audio codec FFmpeg has no decoder for (unsupported), audio that stops well before the
duration the file states (truncated). Anything else (storage, a cancelling ``progress``)
propagates as it is, for the caller to retry or stop.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from typing import Literal, Protocol

import av
from av.stream import Discard

from contracts.failures import FailureReason
from contracts.option_rules import MP3_SAMPLE_RATES, OptionValues
from converter.chapters import Chapter, chapters_of, on_output
from converter.cover import find_cover
from converter.encoders import Engine, EngineName, Mp3Encoder, Mp3Engine, pick_engine
from converter.filters import AudioPipeline, Trim
from converter.mp3 import copies_as_is, frame_info, usable_bitrate
from converter.output import Mp3Writer, Sink
from converter.split import ChapterSplitter, PartSinks, PartWritten, part_tag
from converter.tags import id3_tag
from converter.xing import Lame, reserve

__all__ = ["ConversionError", "Progress", "Sink", "Source", "Transcoded", "transcode"]

log = logging.getLogger(__name__)

Progress = Callable[[float, float | None], None]
"""Told the seconds of audio written so far and the seconds the output should have (the
source's stated audio duration, trimmed as asked; ``None`` when the source states none), after
every batch handed to the encoder (about three seconds of audio): throttle before publishing.
It may raise to stop the conversion (a cancelled job); the exception propagates."""

# FFmpeg reads any text as ANSI art ("tty"); that is never an upload worth converting
_TEXT_DEMUXERS = frozenset({"tty"})
# containers whose duration comes from an index written with the file, not estimated from a
# bitrate: only their stated duration is trusted to call shorter audio truncated
_INDEXED_CONTAINERS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "flv", "asf"})
# truncated: the audio is shorter than the stated duration by more than both of these
_TRUNCATED_SHARE = 0.9
_TRUNCATED_SECONDS = 2.0
# a trim seeks this far before its start (audio decoders need a little run-in)
_SEEK_MARGIN_SECONDS = 1.0

# bytes per read() PyAV asks of the source: one GridFS chunk, give or take
_READ_SIZE = 256 * 1024
# copied MP3 frames are a few hundred bytes each; the sink gets them in pieces of this size
_WRITE_SIZE = 256 * 1024
# batches handed to the encoder thread and not yet written: enough to keep it busy
_BLOCKS_IN_FLIGHT = 2
# samples per batch (~3 s at 44.1 kHz): each hand-over wakes the encoder thread and the decoder,
# and a quarter of this cost 4 % more CPU in all (measured: 10 minutes of speech, 4.2 s against 4.0 s)
_BATCH_SAMPLES = 131_072


class Source(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ConversionError(Exception):
    """The input cannot be converted; retrying will not help."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Transcoded:
    duration_seconds: float
    method: Literal["copy"] | EngineName
    """``copy`` when the MP3 audio was copied as is, else the encoder that made it."""
    xing: bool = False
    """Whether the MP3 got its Xing/Info frame (not on a sink that cannot go back)."""
    parts: tuple[PartWritten, ...] = ()
    """One MP3 per chapter, when asked for and the source has two chapters or more."""


def _mp3_rate(rate: int) -> int:
    """The supported MP3 sample rate closest to ``rate`` (ties go to the higher one)."""
    return min(MP3_SAMPLE_RATES, key=lambda supported: (abs(supported - rate), -supported))


def transcode(
    source: Source,
    sink: Sink,
    options: OptionValues,
    *,
    engine: Mp3Engine = "auto",
    stream_copy: bool = True,
    progress: Progress | None = None,
    title: str | None = None,
    parts: PartSinks | None = None,
) -> Transcoded:
    """Write the audio of ``source`` to ``sink`` as MP3; raise ``ConversionError`` on bad input.

    ``title`` is the MP3's title when the source has none (the upload's name, say).
    ``parts`` receives one MP3 per chapter (``converter.split``) when ``options`` asks for a
    split and the output has two chapters or more (the MP3 is then encoded, never copied).
    ``stream_copy=False`` re-encodes even MP3 audio that could be copied. ``engine`` is one
    ``pick_engine`` returned (a service picks once), or a choice to pick from now.
    """
    try:
        container = av.open(source, mode="r", buffer_size=_READ_SIZE)
    except av.FFmpegError as error:
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, f"not a readable media file: {error}") from error
    with container:
        audio = _audio_stream(container)
        expected = _expected_duration(container, audio, options)
        cover = find_cover(container, can_seek=_can_seek(source, container)) if options.cover_art else None
        chapters = on_output(
            chapters_of(container),
            origin=_chapter_origin(container, audio),
            start=options.start_seconds,
            length=expected.seconds,
        )
        metadata = _metadata(container, audio)
        tag = id3_tag(metadata, title, cover.jpeg if cover else None, chapters)
        split = (
            _Split(chapters, metadata, title, cover.jpeg if cover else None, parts)
            if (parts is not None and options.split_chapters and len(chapters) >= 2)
            else None
        )
        report = _reporter(progress, expected.seconds)
        if options.start_seconds > 0:
            _seek(container, audio, _origin(audio) + options.start_seconds - _SEEK_MARGIN_SECONDS)
        elif cover is not None and cover.origin == "frame":
            _rewind(container, audio)
        packets = _Packets(container, audio)
        try:
            first = next((packet for packet in packets if packet.size), None)
            if first is None:
                raise ConversionError(FailureReason.UNDECODABLE_INPUT, "the audio stream holds no packets")
            everything = chain([first], packets)
            if stream_copy and split is None and _copyable(audio, bytes(first), options):
                seconds, xing = _copy(everything, audio, first_frame=bytes(first), sink=sink, tag=tag, report=report)
                result = Transcoded(seconds, "copy", xing)
            else:
                chosen = pick_engine(engine)
                seconds, xing, written = _encode(
                    everything, audio, sink=sink, tag=tag, options=options, engine=chosen, report=report, split=split
                )
                result = Transcoded(seconds, chosen.name, xing, tuple(written))
        except av.FFmpegError as error:
            raise ConversionError(FailureReason.UNDECODABLE_INPUT, f"the audio cannot be decoded: {error}") from error
        _check_complete(result.duration_seconds, expected, packets.error)
        return result


class _Packets:
    """The audio stream's packets; a read error after the first packet ends them (a file cut
    short reads like that), remembered in ``error`` for the completeness check."""

    def __init__(self, container: av.container.InputContainer, audio: av.AudioStream) -> None:
        self._packets = container.demux(audio)
        self._started = False
        self.error: str | None = None

    def __iter__(self) -> Iterator[av.Packet[av.AudioStream]]:
        return self

    def __next__(self) -> av.Packet[av.AudioStream]:
        try:
            packet = next(self._packets)
        except av.FFmpegError as error:
            if not self._started:
                raise
            self.error = str(error)
            raise StopIteration from error
        self._started = True
        return packet


def _metadata(container: av.container.InputContainer, audio: av.AudioStream) -> dict[str, str]:
    """The container's metadata, then the audio stream's (first spelling wins in ``id3_tag``)."""
    return {**dict(audio.metadata), **dict(container.metadata)}


def _origin(audio: av.AudioStream) -> float:
    """Where the stream's timestamps start: "second 0" of the audio, for trims."""
    if audio.start_time is None or audio.time_base is None:
        return 0.0
    return float(audio.start_time * audio.time_base)


def _seek(container: av.container.InputContainer, audio: av.AudioStream, seconds: float) -> None:
    """Jump near ``seconds`` if the source allows it (a pipe does not: then decoding from the
    start and dropping what comes before the trim is as exact, only slower)."""
    if seconds <= 0 or audio.time_base is None:
        return
    try:
        container.seek(int(seconds / audio.time_base), stream=audio, backward=True)
    except av.FFmpegError as error:
        log.info("cannot seek to %.1f s (%s): decoding from the start", seconds, error)


def _chapter_origin(container: av.container.InputContainer, audio: av.AudioStream) -> float:
    """Where chapter time 0 is on the audio's timestamps. An MP3's ID3 chapters count from the
    first sample a player plays, which FFmpeg stamps after the encoder's delay (its start time):
    their 0 is that. Other containers share one timeline: chapters are at their own times."""
    return 0.0 if "mp3" in container.format.name.split(",") else _origin(audio)


def _can_seek(source: Source, container: av.container.InputContainer) -> bool:
    """Whether a frame may be taken for the cover: the source can go back (not a pipe) and the
    container has an index to seek in, both ways (the audio starts again from the start)."""
    seekable = getattr(source, "seekable", None)
    indexed = bool(_INDEXED_CONTAINERS.intersection(container.format.name.split(",")))
    return indexed and callable(seekable) and bool(seekable())


def _rewind(container: av.container.InputContainer, audio: av.AudioStream) -> None:
    """Back to the audio's first packet, after the cover's frame was taken further on."""
    container.seek(audio.start_time or 0, stream=audio, backward=True)


def _stated_duration(container: av.container.InputContainer, audio: av.AudioStream) -> float | None:
    """The audio's duration as the file states it (stream first, then container), if it does."""
    if audio.duration is not None and audio.time_base is not None:
        return float(audio.duration * audio.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


@dataclass(frozen=True)
class _Expected:
    seconds: float | None
    """How long the output should be: the stated duration, trimmed (``None``: not stated)."""
    trusted: bool
    """Whether the container states it from an index (then shorter audio is truncated input)."""


def _expected_duration(
    container: av.container.InputContainer, audio: av.AudioStream, options: OptionValues
) -> _Expected:
    stated = _stated_duration(container, audio)
    if stated is None:
        return _Expected(None, trusted=False)
    end = stated if options.end_seconds is None else min(stated, options.end_seconds)
    if end <= options.start_seconds:
        raise ConversionError(
            FailureReason.UNDECODABLE_INPUT,
            f"nothing to convert: the audio is {stated:.1f} s long and the job starts at {options.start_seconds:g} s",
        )
    # a duration estimated from a bitrate (raw MP3, MPEG-TS) is good for progress, not for judging truncation
    trusted = bool(_INDEXED_CONTAINERS.intersection(container.format.name.split(",")))
    return _Expected(end - options.start_seconds, trusted)


def _check_complete(seconds: float, expected: _Expected, error: str | None) -> None:
    """A file cut short (an upload that stopped, a copy that failed) states more audio than it holds."""
    if expected.seconds is None or not expected.trusted:
        return
    missing = expected.seconds - seconds
    if seconds < expected.seconds * _TRUNCATED_SHARE and missing > _TRUNCATED_SECONDS:
        cause = f" ({error})" if error else ""
        raise ConversionError(
            FailureReason.TRUNCATED_INPUT,
            f"the file states {expected.seconds:.1f} s of audio but holds only {seconds:.1f} s: "
            f"it was cut short{cause}",
        )


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
    if audio.codec_context is None:  # PyAV opens no decoder for a codec FFmpeg does not know
        raise ConversionError(FailureReason.UNSUPPORTED_CODEC, "the audio is in a codec this converter cannot decode")
    for stream in container.streams:
        if stream.index != audio.index:
            stream.discard = Discard.all
    return audio


def _copyable(audio: av.AudioStream, first_frame: bytes, options: OptionValues) -> bool:
    """MP3 audio that already is what the job asks for: the bitrate (CBR), the rate, the channels."""
    codec = audio.codec_context.codec
    if codec.canonical_name != "mp3" or options.bitrate_kbps is None:
        return False
    if options.vbr_quality is not None or options.trims or options.normalize:
        return False
    info = frame_info(first_frame)
    if info is None:
        return False
    if options.sample_rate_hz is not None and options.sample_rate_hz != info.sample_rate:
        return False
    if options.channels is not None and (options.channels == "mono") != info.mono:
        return False
    return copies_as_is(first_frame, audio.bit_rate, options.bitrate_kbps)


def _copy(
    packets: Iterator[av.Packet[av.AudioStream]],
    audio: av.AudioStream,
    *,
    first_frame: bytes,
    sink: Sink,
    tag: bytes,
    report: Callable[[float], None],
) -> tuple[float, bool]:
    """Write the MP3 frames as they are; returns their duration in seconds, and whether the
    output got its Info frame."""
    info = frame_info(first_frame)
    assert info is not None  # _copyable checked it
    writer = Mp3Writer(sink, tag, reserve(info.sample_rate, info.mono, info.bitrate_kbps, lame=False))
    pending = bytearray()
    ticks = 0
    for packet in packets:
        ticks += packet.duration or 0
        pending += packet
        if len(pending) >= _WRITE_SIZE:
            writer.write(bytes(pending))
            pending.clear()
            if audio.time_base is not None:
                report(float(ticks * audio.time_base))
    writer.write(bytes(pending))
    if ticks == 0 or audio.time_base is None:
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, "the MP3 stream has no timed frames")
    return float(ticks * audio.time_base), writer.finish(None)


@dataclass(frozen=True)
class _Split:
    """A split asked for, on a source with chapters: what each part's tag is made of."""

    chapters: list[Chapter]
    metadata: dict[str, str]
    title: str | None
    cover: bytes | None
    sinks: PartSinks

    def splitter(self, engine: Engine, rate: int, channels: int, options: OptionValues) -> ChapterSplitter:
        kbps = None if options.bitrate_kbps is None else usable_bitrate(rate, options.bitrate_kbps)
        album = next((v for k, v in self.metadata.items() if k.lower() == "title" and v.strip()), None) or self.title
        count = len(self.chapters)
        return ChapterSplitter(
            self.chapters,
            rate=rate,
            open_encoder=lambda: engine.open(rate, channels, bitrate_kbps=kbps, vbr_quality=options.vbr_quality),
            tags=[
                part_tag(self.metadata, chapter, number=number, count=count, album=album, cover=self.cover)
                for number, chapter in enumerate(self.chapters, start=1)
            ],
            reserve=lambda: reserve(rate, channels == 1, kbps),
            lame=lambda samples: Lame(samples, options.vbr_quality, kbps),
            sinks=self.sinks,
        )


def _encode(
    packets: Iterator[av.Packet[av.AudioStream]],
    audio: av.AudioStream,
    *,
    sink: Sink,
    tag: bytes,
    options: OptionValues,
    engine: Engine,
    report: Callable[[float], None],
    split: _Split | None = None,
) -> tuple[float, bool, list[PartWritten]]:
    """Decode, filter into the encoder's blocks and encode; returns the seconds of audio
    encoded, whether the output got its Xing/Info frame, and the parts written (``split``).

    The encoder runs in a thread of its own (LAME releases the GIL), a batch or two behind
    the decoder, so decoding costs no wall time. Frames are handed over in batches of about
    ``_BATCH_SAMPLES``: one hand-over per decoded frame would cost more than the frame.
    """
    decoder = audio.codec_context
    rate = options.sample_rate_hz or _mp3_rate(decoder.sample_rate or 44_100)
    channels = _channels(options, decoder.channels)
    kbps = None if options.bitrate_kbps is None else usable_bitrate(rate, options.bitrate_kbps)
    encoder = engine.open(rate, channels, bitrate_kbps=kbps, vbr_quality=options.vbr_quality)
    writer = Mp3Writer(sink, tag, reserve(rate, channels == 1, kbps))
    origin = _origin(audio)
    end = None if options.end_seconds is None else origin + options.end_seconds
    pipeline = AudioPipeline(
        rate=rate,
        layout="mono" if channels == 1 else "stereo",
        sample_format=encoder.sample_format,
        frame_size=encoder.block_samples,
        trim=Trim(origin + options.start_seconds, end) if options.trims else None,
        normalize=options.normalize,
        batch_samples=_BATCH_SAMPLES,
    )
    samples = 0
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="mp3-encoder") as encoding,
        _Beside(split.splitter(engine, rate, channels, options) if split is not None else None) as parts,
    ):
        encoded: deque[Future[bytes]] = deque()
        batch: list[av.AudioFrame] = []
        batched = 0

        def hand_over() -> None:
            nonlocal samples, batch, batched
            if not batch:
                return
            samples += batched
            encoded.append(encoding.submit(_encode_all, encoder, batch))
            parts.hand_over(batch)
            batch, batched = [], 0
            while len(encoded) > _BLOCKS_IN_FLIGHT:
                writer.write(encoded.popleft().result())
            report(samples / rate)

        def encode(blocks: list[av.AudioFrame]) -> None:
            nonlocal batched
            for block in blocks:
                batch.append(block)
                batched += block.samples
            if batched >= _BATCH_SAMPLES:
                hand_over()

        try:
            # demux ends with an empty packet per stream, which flushes the decoder
            for packet in packets:
                frames = _decoded(decoder, packet)
                for frame in frames:
                    encode(pipeline.push(frame))
                if end is not None and frames and _ends_at(frames[-1]) >= end:
                    break  # past the trim's end: nothing further is read
            encode(pipeline.push(None))
            hand_over()
        except BaseException:
            # stopped (a cancelled job, bad input): wait for the batch being encoded, not those queued
            encoding.shutdown(cancel_futures=True)
            parts.stop()
            raise
        while encoded:
            writer.write(encoded.popleft().result())
        written = parts.finish()
    if samples == 0:
        raise ConversionError(FailureReason.UNDECODABLE_INPUT, "the audio stream holds no decodable samples")
    writer.write(encoder.flush())
    return samples / rate, writer.finish(Lame(samples, options.vbr_quality, kbps)), written


class _Beside:
    """The parts' splitter (``converter.split``) in a thread of its own, fed the batches the
    whole MP3's encoder gets, at most ``_BLOCKS_IN_FLIGHT`` behind; nothing without one."""

    def __init__(self, splitter: ChapterSplitter | None) -> None:
        self._splitter = splitter
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mp3-parts")
        self._pending: deque[Future[None]] = deque()

    def __enter__(self) -> _Beside:
        return self

    def __exit__(self, *_: object) -> None:
        self._thread.shutdown(wait=True)

    def hand_over(self, batch: list[av.AudioFrame]) -> None:
        if self._splitter is None:
            return
        self._pending.append(self._thread.submit(self._splitter.feed, batch))
        while len(self._pending) > _BLOCKS_IN_FLIGHT:
            self._pending.popleft().result()

    def stop(self) -> None:
        self._thread.shutdown(cancel_futures=True)

    def finish(self) -> list[PartWritten]:
        while self._pending:
            self._pending.popleft().result()
        return self._splitter.finish() if self._splitter is not None else []


def _encode_all(encoder: Mp3Encoder, frames: list[av.AudioFrame]) -> bytes:
    return b"".join([encoder.encode(frame) for frame in frames])


def _decoded(decoder: av.AudioCodecContext, packet: av.Packet[av.AudioStream]) -> list[av.AudioFrame]:
    """The packet's frames; a packet the decoder refuses is skipped, as ffmpeg does (what is
    missing then shows in the completeness check)."""
    try:
        return decoder.decode(packet)
    except av.error.InvalidDataError as error:
        log.debug("skipped an undecodable packet: %s", error)
        return []


def _ends_at(frame: av.AudioFrame) -> float:
    start = frame.time if frame.time is not None else 0.0
    return start + frame.samples / (frame.sample_rate or 1)


def _channels(options: OptionValues, source_channels: int) -> int:
    if options.channels is not None:
        return 1 if options.channels == "mono" else 2
    return 1 if source_channels == 1 else 2
