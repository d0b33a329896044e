"""Finding the cover picture in the head of a stored MP3 (the gateway's cover route reads it)."""

from __future__ import annotations

from converter.tags import id3_tag
from gateway.cover import cover_in, tag_length

JPEG = b"\xff\xd8\xff\xe0" + bytes(2000) + b"\xff\xd9"
AUDIO = b"\xff\xfb\x90\x64" + bytes(413)


def test_the_tag_length_counts_its_header() -> None:
    tag = id3_tag({"title": "A talk"}, cover_jpeg=JPEG)

    assert tag_length(tag + AUDIO) == len(tag)
    assert tag_length(AUDIO) is None
    assert tag_length(b"ID3\x03\x00\x00\x80\x00\x00\x00") is None  # not a synchsafe size


def test_the_cover_is_found_in_the_tag() -> None:
    assert cover_in(id3_tag({"title": "A talk"}, cover_jpeg=JPEG) + AUDIO) == JPEG


def test_no_tag_no_picture_or_a_tag_cut_short_is_no_cover() -> None:
    tag = id3_tag({"title": "A talk"}, cover_jpeg=JPEG)

    assert cover_in(AUDIO) is None
    assert cover_in(id3_tag({"title": "A talk"}) + AUDIO) is None
    assert cover_in(tag[: len(tag) // 2]) is None
