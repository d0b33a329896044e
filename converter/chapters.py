"""The source's chapters on the MP3's timeline, for its ID3 CHAP and CTOC frames.

MKV and MP4 chapter lists (lectures, podcasts, audiobooks) and an MP3 source's own CHAP frames
all reach PyAV as the container's chapters, in the container's time. On the MP3 a chapter is
at its time less the audio's origin and the trim's start, cut to what the MP3 holds: chapters
wholly outside a trim are left out. Pure but for reading the container.
"""

from __future__ import annotations

from dataclasses import dataclass

import av

__all__ = ["MAX_CHAPTERS", "MAX_TITLE", "Chapter", "chapters_of", "on_output"]

MAX_CHAPTERS = 100
"""Chapters kept at most: the tag is written before the audio and must stay small."""
MAX_TITLE = 200
_SHORTEST = 0.001  # a chapter shorter than a millisecond on the MP3 is left out


@dataclass(frozen=True)
class Chapter:
    start: float
    """Seconds from the start of the MP3's audio."""
    end: float
    title: str


def chapters_of(container: av.container.InputContainer) -> list[Chapter]:
    """The container's chapters in its own time (seconds), in order; untitled ones are numbered."""
    found = []
    for number, chapter in enumerate(sorted(container.chapters(), key=lambda c: c["start"]), start=1):
        base = chapter["time_base"]
        if base is None:
            continue
        start, end = float(chapter["start"] * base), float(chapter["end"] * base)
        title = (chapter["metadata"].get("title") or "").strip()[:MAX_TITLE] or f"Chapter {number}"
        found.append(Chapter(start, end, title))
    return found


def on_output(chapters: list[Chapter], *, origin: float, start: float, length: float | None) -> list[Chapter]:
    """``chapters`` moved to the MP3's timeline: less the audio's ``origin`` and the trim's
    ``start``, cut to ``length`` seconds (the MP3's, when known). A chapter with no end of
    its own (an end before its start) ends where the next begins."""
    shift = origin + start
    moved = []
    for index, chapter in enumerate(chapters):
        finish = chapter.end - shift
        if chapter.end <= chapter.start:  # no end of its own
            following = chapters[index + 1].start - shift if index + 1 < len(chapters) else length
            finish = following if following is not None else finish
        if length is not None:
            finish = min(finish, length)
        begin = max(0.0, chapter.start - shift)
        if finish - begin >= _SHORTEST:
            moved.append(Chapter(begin, finish, chapter.title))
    return moved[:MAX_CHAPTERS]
