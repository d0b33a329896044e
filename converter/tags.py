"""ID3v2.3 tags for the MP3, from what the source file says about itself.

ID3v2.3, not 2.4: it is what Windows Explorer, older car stereos and many phones read. The tag
goes before the audio, so it is built up front from the container's and the audio stream's
metadata (FFmpeg names those keys the same for MP4, Matroska, MP3 and others); the title falls
back to the upload's file name. A cover picture (``converter.cover``) goes in as an APIC frame
("front cover"). mutagen writes the bytes; nothing here touches a file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import PurePath

from mutagen.id3 import APIC, COMM, ID3, TALB, TCOM, TCON, TDRC, TIT2, TPE1, TPE2, TPOS, TRCK, Frame, PictureType

__all__ = ["id3_tag", "title_from_filename"]

# UTF-16 with BOM: the only Unicode encoding ID3v2.3 has
_UTF16 = 1
_LATIN1 = 0
# a tag is written in one piece before the audio: keep it small whatever the source carries
_MAX_VALUE = 1024

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


def id3_tag(metadata: Mapping[str, str], fallback_title: str | None = None, cover_jpeg: bytes | None = None) -> bytes:
    """The ID3v2.3 tag (empty if there is nothing to say) for a source with these metadata.

    Keys are FFmpeg's (``title``, ``artist``, ``album``, ``date``, ``genre``, ``comment``,
    ``track`` …), in any case; the first spelling found wins. ``cover_jpeg`` is the front cover.
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
    if not tag:
        return b""
    written = io.BytesIO()
    tag.save(written, v2_version=3, v23_sep="/", padding=lambda _: 0)
    return written.getvalue()
