"""The MP3 as it is written: ``[ID3v2.3 tag][Xing/Info frame][MP3 frames]``.

The tag is known before the audio and written first. The Xing/Info frame can only be known
after the last frame, so a placeholder is written in its place and rewritten at the end, when
the sink can go back: a sink with ``rewrite(offset, data)`` (the GridFS writer keeps its first
chunk until it closes) or a seekable file. A pipe cannot go back: it gets no Xing frame at all
(players then estimate a VBR file's duration from its bitrate).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from converter.xing import FrameIndex, Lame, TagFrame

__all__ = ["Mp3Writer", "Rewritable", "Sink"]


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


@runtime_checkable
class Rewritable(Protocol):
    """A sink that can replace bytes it was given earlier (within its first chunk, at least)."""

    def write(self, data: bytes, /) -> object: ...

    def rewrite(self, offset: int, data: bytes, /) -> None: ...


class Mp3Writer:
    """Writes ``tag``, reserves ``reserved`` (if the sink can rewrite), then the frames."""

    def __init__(self, sink: Sink, tag: bytes, reserved: TagFrame | None) -> None:
        self._sink = sink
        self._rewrite = _rewriter(sink) if reserved is not None else None
        self._reserved = reserved if self._rewrite is not None else None
        self._head = len(tag)
        self._index = FrameIndex()
        if tag:
            sink.write(tag)
        if self._reserved is not None:
            sink.write(self._reserved.placeholder())

    @property
    def frames(self) -> int:
        return self._index.frames

    @property
    def has_tag_frame(self) -> bool:
        return self._reserved is not None

    def write(self, data: bytes) -> None:
        if data:
            self._index.feed(data)
            self._sink.write(data)

    def finish(self, lame: Lame | None) -> bool:
        """Put the Xing/Info frame in its place; whether there was one to put."""
        if self._reserved is None or self._rewrite is None:
            return False
        frame = self._index.tag(self._reserved, lame)
        if frame is None:
            return False
        self._rewrite(self._head, frame)
        return True


def _rewriter(sink: Sink) -> Callable[[int, bytes], None] | None:
    if isinstance(sink, Rewritable):
        return sink.rewrite
    seekable = getattr(sink, "seekable", None)
    if not callable(seekable) or not seekable():
        return None
    tell: Callable[[], int] = getattr(sink, "tell")  # noqa: B009  # a seekable file has tell and seek
    seek: Callable[[int], int] = getattr(sink, "seek")  # noqa: B009
    origin = tell()

    def rewrite(offset: int, data: bytes) -> None:
        end = tell()
        seek(origin + offset)
        sink.write(data)
        seek(end)

    return rewrite
