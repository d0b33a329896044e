"""One MP3 per chapter, made from the same decoded audio as the whole MP3.

The audio is decoded once. The encoder's blocks go to the whole MP3's encoder and, in a thread
of their own, to a ``ChapterSplitter``: it cuts them at the chapters' first samples and feeds
each chapter to an encoder of its own, writing a complete MP3 for it (its ID3 tag, its
Xing/Info frame, its frames) to the sink ``PartSinks`` opens for it, one chapter after the
other. So a part is as long as its chapter to the sample (LAME's header tells players the
encoder's delay and padding), memory stays that of one more encoder, and the parts are
stored while the audio streams.

Chapters are on the MP3's timeline (``converter.chapters.on_output``). A chapter that
overlaps the next ends where the next starts; audio between chapters is in no part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import av

from common.filenames import sanitize_filename
from converter.chapters import Chapter
from converter.encoders import Mp3Encoder
from converter.output import Mp3Writer, Sink
from converter.tags import id3_tag
from converter.xing import Lame, TagFrame

__all__ = ["ChapterSplitter", "PartSinks", "PartWritten", "part_filename", "part_tag"]

_PART_KEYS = frozenset({"title", "track", "album"})


class PartSinks(Protocol):
    """Where the parts go: one sink at a time, opened and closed in order."""

    def open(self, number: int, chapter: Chapter) -> Sink: ...

    def close(self, number: int, seconds: float) -> None:
        """Part ``number`` is complete: ``seconds`` of audio."""


@dataclass(frozen=True)
class PartWritten:
    number: int
    """From 1, in the chapters' order."""
    chapter: Chapter
    seconds: float
    xing: bool


def part_tag(
    metadata: Mapping[str, str], chapter: Chapter, *, number: int, count: int, album: str | None, cover: bytes | None
) -> bytes:
    """The ID3 tag of part ``number`` of ``count``: the source's tags, but the chapter's title,
    the part's track number and the source's title as the album (what players group by)."""
    kept = {key: value for key, value in metadata.items() if key.lower() not in _PART_KEYS}
    own = {"title": chapter.title, "track": f"{number}/{count}"}
    if album:
        own["album"] = album
    return id3_tag({**own, **kept}, cover_jpeg=cover)


def part_filename(stem: str, number: int, title: str) -> str:
    """``lecture - 02 Methods.mp3``: sorts in the chapters' order, says which chapter it is."""
    # a slash in a title is no path: keep the words after it
    title = title.replace("/", "_").replace("\\", "_")
    return sanitize_filename(f"{stem} - {number:02d} {title}.mp3", default=f"{stem} - {number:02d}.mp3")


class ChapterSplitter:
    """Takes the encoder's blocks in order (``feed``, from one thread), writes the parts."""

    def __init__(
        self,
        chapters: Sequence[Chapter],
        *,
        rate: int,
        open_encoder: Callable[[], Mp3Encoder],
        tags: Sequence[bytes],
        reserve: Callable[[], TagFrame | None],
        lame: Callable[[int], Lame],
        sinks: PartSinks,
    ) -> None:
        self._chapters = list(chapters)
        self._rate = rate
        self._open_encoder, self._tags, self._reserve, self._lame = open_encoder, tags, reserve, lame
        self._sinks = sinks
        self._spans = _spans(self._chapters, rate)
        self._position = 0  # samples seen
        self._index = 0  # the part being written, or next
        self._encoder: Mp3Encoder | None = None
        self._writer: Mp3Writer | None = None
        self._samples = 0  # of the part being written
        self.written: list[PartWritten] = []

    def feed(self, frames: Sequence[av.AudioFrame]) -> None:
        for frame in frames:
            self._take(frame)

    def finish(self) -> list[PartWritten]:
        """End the part being written (the audio ended before its chapter did)."""
        if self._writer is not None:
            self._close()
        return self.written

    def _take(self, frame: av.AudioFrame) -> None:
        begin, end = self._position, self._position + frame.samples
        cursor = begin
        while cursor < end and self._index < len(self._spans):
            first, stop = self._spans[self._index]
            if first >= stop:  # no sample of its own
                self._index += 1
                continue
            if cursor < first:  # before the chapter (between chapters): in no part
                cursor = min(first, end)
                continue
            upto = min(stop, end)
            self._write(_cut(frame, cursor - begin, upto - begin))
            cursor = upto
            if cursor >= stop:
                self._close()
        self._position = end

    def _write(self, frame: av.AudioFrame) -> None:
        if self._writer is None:
            number = self._index + 1
            sink = self._sinks.open(number, self._chapters[self._index])
            self._encoder = self._open_encoder()
            self._writer = Mp3Writer(sink, self._tags[self._index], self._reserve())
            self._samples = 0
        assert self._encoder is not None
        self._samples += frame.samples
        self._writer.write(self._encoder.encode(frame))

    def _close(self) -> None:
        if self._writer is None or self._encoder is None:
            return
        self._writer.write(self._encoder.flush())
        xing = self._writer.finish(self._lame(self._samples))
        number, seconds = self._index + 1, self._samples / self._rate
        self._sinks.close(number, seconds)
        self.written.append(PartWritten(number, self._chapters[self._index], seconds, xing))
        self._writer, self._encoder = None, None
        self._index += 1


def _spans(chapters: Sequence[Chapter], rate: int) -> list[tuple[int, int]]:
    """Each chapter's first sample and the one after its last; one overlapping the next ends
    where the next starts."""
    spans = []
    for index, chapter in enumerate(chapters):
        end = chapter.end if index + 1 == len(chapters) else min(chapter.end, chapters[index + 1].start)
        first = round(chapter.start * rate)
        spans.append((first, max(first, round(end * rate))))
    return spans


def _cut(frame: av.AudioFrame, start: int, stop: int) -> av.AudioFrame:
    """Samples ``start`` to ``stop`` of ``frame`` (the frame itself if that is all of it)."""
    if start == 0 and stop == frame.samples:
        return frame
    width = frame.format.bytes * (1 if frame.format.is_planar else len(frame.layout.channels))
    cut = av.AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=stop - start)
    cut.sample_rate = frame.sample_rate
    for source, target in zip(frame.planes, cut.planes, strict=True):
        memoryview(target)[: (stop - start) * width] = memoryview(source)[start * width : stop * width]
    return cut
