"""Decoded audio to the encoder's blocks: resample, and when a job asks, trim and normalize.

Without trim or loudness, decoded frames that already are what the encoder takes (its sample
format, the rate and the channel layout asked for: AAC, MP3, Vorbis and AC-3 decoders give
planar float) go to the encoder without a filter, when it takes frames of any length (the
system libmp3lame does), gathered in an ``AudioFifo`` into blocks of ``batch_samples``: one
encoder call per block instead of one per decoded frame (1024 samples for AAC), since each
call through ctypes costs microseconds (0.2 s of CPU per ten minutes of audio). Others (5.1
to downmix, a rate MP3 cannot carry) go through an FFmpeg filter graph of their own,

    abuffer -> aformat (rate, layout, sample format) -> abuffersink

whose sink gathers the converted audio into the encoder's blocks in C (batches of
``batch_samples``, or the fixed length an encoder needs): a resampler's call per decoded frame
and a FIFO of the decoded audio each cost more (per ten minutes of 5.1, a conversion with the
graph executes 0.4 G instructions fewer than with the FIFO, 1.2 G fewer than with a call per
frame, of about 8 G outside the encoder). With trim or loudness, one graph does everything in C:

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
        # every frame goes through a converting graph, so the order of the samples is kept
        self._passing = frame_size is None and not self._filtered
        self._gathered = av.AudioFifo()
        self._graph: Graph | None = None
        # the converting graph's: the shape of audio it takes, and the input samples it needs
        # (and has been given since it was last pulled) for a block out
        self._shape: tuple[str, str, int] | None = None
        self._due, self._given = 0, 0
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
            self._graph = self._build(frame, frame_size=self._frame_size)
        try:
            self._graph.push(frame)
        except EOFError:  # atrim has passed the end and closed the graph's input
            self._ended = True
        return self._pull(self._graph)

    def _pass(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if frame is None:
            return self._rest()
        if self._takes(frame):  # the FIFO checks less than this (a change of channels crashes it)
            return self._gather(frame)
        self._passing = False
        return self._rest() + self._convert(frame)

    def _convert(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        """Frames into the converting graph; its blocks out once it has been given enough for
        one (all of them at the end)."""
        if frame is None:
            return self._drain()
        blocks: list[av.AudioFrame] = []
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if shape != self._shape:
            # a graph takes one shape of audio: what it holds goes first, then the new shape gets
            # a graph of its own (a broadcast's adverts switch from 5.1 to stereo and back)
            blocks = self._drain()
            self._graph, self._shape = self._build(frame, frame_size=self._frame_size or self._batch), shape
            self._due = -(-(self._frame_size or self._batch) * frame.sample_rate // self._rate)
            self._given = 0
        assert self._graph is not None
        self._graph.push(frame)
        self._given += frame.samples
        if self._given >= self._due:
            self._given = 0
            blocks += self._pull(self._graph)
        return blocks

    def _drain(self) -> list[av.AudioFrame]:
        """What the converting graph holds, to its last sample."""
        if self._graph is None:
            return []
        self._graph.push(None)
        blocks = self._pull(self._graph)
        self._graph, self._shape, self._ended = None, None, False
        return blocks

    def _gather(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        """A frame of the encoder's format into the FIFO; what it holds out as one block once
        that is a batch."""
        frame.pts = None  # the FIFO would check the timestamps follow on; the encoder needs none
        self._gathered.write(frame)
        return self._rest() if self._gathered.samples >= self._batch else []

    def _rest(self) -> list[av.AudioFrame]:
        """What the FIFO holds, as one frame."""
        block = self._gathered.read() if self._gathered.samples else None
        return [block] if block is not None else []

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

    def _build(self, template: av.AudioFrame, *, frame_size: int | None) -> Graph:
        """The graph for audio shaped as ``template``, to the encoder's format, in blocks of
        ``frame_size`` (as they come: ``None``)."""
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
        if frame_size is not None:
            graph.set_audio_frame_size(frame_size)
        return graph
