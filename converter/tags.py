"""ID3v2.3 tags for the MP3, from what the source file says about itself.

ID3v2.3, not 2.4: it is what Windows Explorer, older car stereos and many phones read. The tag
goes before the audio, so it is built up front from the container's and the audio stream's
metadata (FFmpeg names those keys the same for MP4, Matroska, MP3 and others); the title falls
back to the upload's file name. A cover picture (``converter.cover``) goes in as an APIC frame
("front cover"), chapters (``converter.chapters``) as CHAP frames under one ordered, top-level
CTOC (the ID3v2 chapter addendum, which v2.3 readers know too). mutagen writes the bytes;
nothing here touches a file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import PurePath

from mutagen.id3 import (
    APIC,
    CHAP,
    COMM,
    CTOC,
    ID3,
    TALB,
    TCOM,
    TCON,
    TDRC,
    TIT2,
    TPE1,
    TPE2,
    TPOS,
    TRCK,
    CTOCFlags,
    Frame,
    PictureType,
)

from converter.chapters import MAX_CHAPTERS, MAX_TITLE, Chapter

__all__ = ["MAX_TAG_BYTES", "id3_tag", "title_from_filename"]

MAX_TAG_BYTES = 240 * 1024
"""The largest tag: with the Xing frame after it, the MP3's head stays within the first stored
chunk (255 KB), which is all the storage can rewrite and what the cover route reads. The
cover (160 KB), each value and the chapters are bounded so that all of them at once fit."""

# UTF-16 with BOM: the only Unicode encoding ID3v2.3 has
_UTF16 = 1
_LATIN1 = 0
# a tag is written in one piece before the audio: keep it small whatever the source carries
_MAX_VALUE = 1024
# CHAP frames give no byte offsets (players seek by time)
_NO_OFFSET = 0xFFFFFFFF

_TEXT_FRAMES: dict[str, type[Frame]] = {
    "title": TIT2,
    "artist": TPE1,
    "album_artist": TPE2,
    "album": TALB,
    "composer": TCOM,
    "genre": TCON,
    "date": TDRC,
    "track": TRCK,
    "disc": TPOS,
}


def title_from_filename(filename: str | None) -> str | None:
    """``holiday.mp4`` gives ``holiday``; nothing for no name."""
    if not filename:
        return None
    return PurePath(filename).stem.strip() or None


def id3_tag(
    metadata: Mapping[str, str],
    fallback_title: str | None = None,
    cover_jpeg: bytes | None = None,
    chapters: Sequence[Chapter] = (),
) -> bytes:
    """The ID3v2.3 tag (empty if there is nothing to say) for a source with these metadata.

    Keys are FFmpeg's (``title``, ``artist``, ``album``, ``date``, ``genre``, ``comment``,
    ``track`` …), in any case; the first spelling found wins. ``cover_jpeg`` is the front
    cover; ``chapters`` are on the MP3's timeline.
    """
    values: dict[str, str] = {}
    for key, value in metadata.items():
        text = str(value).strip()[:_MAX_VALUE]
        if text:
            values.setdefault(key.lower(), text)
    if "title" not in values and fallback_title:
        values["title"] = fallback_title[:_MAX_VALUE]
    if "date" not in values and "year" in values:
        values["date"] = values["year"]

    tag = ID3()
    for key, frame in _TEXT_FRAMES.items():
        if key in values:
            tag.add(frame(encoding=_UTF16, text=[values[key]]))
    if "comment" in values:
        tag.add(COMM(encoding=_UTF16, lang="eng", desc="", text=[values["comment"]]))
    if cover_jpeg:
        tag.add(APIC(encoding=_LATIN1, mime="image/jpeg", type=PictureType.COVER_FRONT, desc="", data=cover_jpeg))
    _add_chapters(tag, chapters)
    if not tag:
        return b""
    written = io.BytesIO()
    tag.save(written, v2_version=3, v23_sep="/", padding=lambda _: 0)
    return written.getvalue()


def _add_chapters(tag: ID3, chapters: Sequence[Chapter]) -> None:
    if not chapters:
        return
    kept = chapters[:MAX_CHAPTERS]
    ids = [f"chp{number}" for number in range(len(kept))]
    for element_id, chapter in zip(ids, kept, strict=True):
        tag.add(
            CHAP(
                element_id=element_id,
                start_time=round(chapter.start * 1000),
                end_time=round(chapter.end * 1000),
                start_offset=_NO_OFFSET,
                end_offset=_NO_OFFSET,
                sub_frames=[TIT2(encoding=_UTF16, text=[chapter.title[:MAX_TITLE]])],
            )
        )
    tag.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids, sub_frames=[]))
