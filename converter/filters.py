"""Decoded audio to the encoder's blocks: resample, and when a job asks, trim and normalize.

Without trim or loudness, decoded frames that already are what the encoder takes (its sample
format, the rate and the channel layout asked for: AAC, MP3, Vorbis and AC-3 decoders give
planar float) go to the encoder without a filter, when it takes frames of any length (the
system libmp3lame does), gathered in an ``AudioFifo`` into blocks of ``batch_samples``: one
encoder call per block instead of one per decoded frame (1024 samples for AAC), since each
call through ctypes costs microseconds (0.2 s of CPU per ten minutes of audio). Others are
gathered as decoded, in a FIFO of their own, and go through PyAV's ``AudioResampler`` (one
``aformat`` filter) a batch at a time, which cuts them into blocks for encoders that need a
fixed length: once per decoded frame cost 0.13 s more CPU per ten minutes of 5.1 audio. With
trim or loudness, one FFmpeg filter graph does everything in C:

    abuffer -> [atrim] -> [loudnorm] -> aformat (rate, layout, sample format) -> abuffersink

``atrim`` cuts at the sample given by the frames' timestamps, so a trim is exact whatever
packet the demuxer's seek landed on. ``loudnorm`` is EBU R128 in its single-pass (dynamic)
mode: it needs no first pass over the file, so the audio still streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from errno import EAGAIN

import av
from av.filter import Graph

__all__ = ["LOUDNESS", "AudioPipeline", "Trim"]

LOUDNESS = {"I": "-16", "LRA": "11", "TP": "-1.5"}
"""The loudness target: -16 LUFS integrated, 11 LU range, -1.5 dBTP true peak (podcast and
streaming practice; EBU R128's -23 is for broadcast and sounds quiet on phones)."""


@dataclass(frozen=True)
class Trim:
    """The part of the audio to keep, in seconds on the stream's own timestamps."""

    start: float
    end: float | None


class AudioPipeline:
    """Frames in (any rate, layout, format), blocks of ``frame_size`` samples out (the last
    shorter; frames of any length when ``frame_size`` is ``None``). ``push(None)`` flushes."""

    def __init__(
        self,
        *,
        rate: int,
        layout: str,
        sample_format: str,
        frame_size: int | None,
        trim: Trim | None = None,
        normalize: bool = False,
        batch_samples: int = 1,
    ) -> None:
        self._rate, self._layout, self._format, self._frame_size = rate, layout, sample_format, frame_size
        self._batch = batch_samples
        self._trim, self._normalize = trim, normalize
        self._filtered = bool(trim or normalize)
        # frames go through unfiltered until one is not what the encoder takes; from then on
        # every frame goes through a resampler, so the order of the samples is kept
        self._passing = frame_size is None and not self._filtered
        self._gathered = av.AudioFifo()
        self._decoded = av.AudioFifo()  # frames to resample, as decoded
        self._decoded_shape: tuple[str, str, int] | None = None
        self._resampler: av.AudioResampler | None = None
        self._graph: Graph | None = None
        self._ended = False

    def push(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if self._passing:
            return self._pass(frame)
        if not self._filtered:
            return self._convert(frame)
        if self._ended:
            return []
        if self._graph is None:
            if frame is None:
                return []
            self._graph = self._build(frame)
        try:
            self._graph.push(frame)
        except EOFError:  # atrim has passed the end and closed the graph's input
            self._ended = True
        return self._pull(self._graph)

    def _pass(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if frame is None:
            return self._rest()
        if self._takes(frame):  # the FIFO checks less than this (a change of channels crashes it)
            return self._gather([frame], last=False)
        self._passing = False
        return self._rest() + self._convert(frame)

    def _convert(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        """Decoded frames into their FIFO; a batch of them through the resampler once there is
        one (all of them, and the resampler's rest, at the end)."""
        if frame is None:
            return self._resample_decoded() + self._resampled(None)
        blocks: list[av.AudioFrame] = []
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if shape != self._decoded_shape:
            # a FIFO takes one shape (a change of channels crashes it), and so does a resampler:
            # what they hold goes first, then the new shape gets new ones (a broadcast's adverts
            # switch from 5.1 to stereo and back)
            blocks = self._resample_decoded()
            if self._resampler is not None:
                blocks += self._resampled(None)
                self._resampler = None
            self._decoded, self._decoded_shape = av.AudioFifo(), shape
        frame.pts = None  # the FIFO would check the timestamps follow on; the encoder needs none
        self._decoded.write(frame)
        if self._decoded.samples >= self._batch:
            blocks += self._resample_decoded()
        return blocks

    def _resample_decoded(self) -> list[av.AudioFrame]:
        return self._resampled(self._decoded.read()) if self._decoded.samples else []

    def _gather(self, blocks: list[av.AudioFrame], *, last: bool) -> list[av.AudioFrame]:
        """Blocks of the encoder's format into the FIFO, out as one when there are enough (or at
        the end); as they are for an encoder that takes a fixed length (the resampler cut them)."""
        if self._frame_size is not None:
            return blocks
        for block in blocks:
            block.pts = None  # the FIFO would check the timestamps follow on; the encoder needs none
            self._gathered.write(block)
        return self._rest() if last or self._gathered.samples >= self._batch else []

    def _rest(self) -> list[av.AudioFrame]:
        """What the FIFO holds, as one frame."""
        block = self._gathered.read() if self._gathered.samples else None
        return [block] if block is not None else []

    def _resampled(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if self._resampler is None:
            self._resampler = av.AudioResampler(
                format=self._format, layout=self._layout, rate=self._rate, frame_size=self._frame_size
            )
        return self._resampler.resample(frame)

    def _takes(self, frame: av.AudioFrame) -> bool:
        return (
            frame.sample_rate == self._rate and frame.format.name == self._format and frame.layout.name == self._layout
        )

    def _pull(self, graph: Graph) -> list[av.AudioFrame]:
        blocks: list[av.AudioFrame] = []
        while True:
            try:
                block = graph.pull()
            except EOFError:
                self._ended = True
                return blocks
            except av.FFmpegError as error:
                if error.errno != EAGAIN:
                    raise
                return blocks
            assert isinstance(block, av.AudioFrame)
            blocks.append(block)

    def _build(self, template: av.AudioFrame) -> Graph:
        graph = Graph()
        source = graph.add(
            "abuffer",
            sample_rate=str(template.sample_rate),
            sample_fmt=template.format.name,
            channel_layout=template.layout.name,
            time_base=str(template.time_base or f"1/{template.sample_rate}"),
        )
        chain = [source]
        if self._trim is not None:
            bounds = {"start": f"{self._trim.start:.6f}"}
            if self._trim.end is not None:
                bounds["end"] = f"{self._trim.end:.6f}"
            chain.append(graph.add("atrim", **bounds))
        if self._normalize:
            chain.append(graph.add("loudnorm", **LOUDNESS))
        chain.append(
            graph.add(
                "aformat",
                sample_rates=str(self._rate),
                sample_fmts=self._format,
                channel_layouts=self._layout,
            )
        )
        chain.append(graph.add("abuffersink"))
        graph.link_nodes(*chain)
        graph.configure()
        if self._frame_size is not None:
            graph.set_audio_frame_size(self._frame_size)
        return graph
