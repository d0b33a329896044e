"""The stream-copy rule: which MP3 audio is copied as it is rather than re-encoded."""

from __future__ import annotations

import pytest

from converter.mp3 import copies_as_is, frame_bitrate_kbps

MPEG1_192K = bytes.fromhex("fffbb0c4")  # MPEG-1 layer III, 192 kbit/s, 44.1 kHz, no CRC
MPEG1_128K = bytes.fromhex("fffb9064")
MPEG2_64K = bytes.fromhex("fff38064")  # MPEG-2 layer III (22.05 kHz), 64 kbit/s


@pytest.mark.parametrize(
    ("header", "kbps"),
    [
        (MPEG1_192K, 192),
        (MPEG1_128K, 128),
        (MPEG2_64K, 64),
        (bytes.fromhex("ffe38064"), 64),  # MPEG-2.5 uses the MPEG-2 table
        (bytes.fromhex("fffbe0c4"), 320),
    ],
)
def test_a_layer_3_header_declares_its_bitrate(header: bytes, kbps: int) -> None:
    assert frame_bitrate_kbps(header + bytes(100)) == kbps


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"\xff\xfb",  # too short
        b"ID3\x04",  # a tag, not a frame
        bytes.fromhex("fffd90c4"),  # layer II
        bytes.fromhex("ffebb0c4"),  # reserved MPEG version
        bytes.fromhex("fffb00c4"),  # free format
        bytes.fromhex("fffbf0c4"),  # invalid bitrate index
    ],
)
def test_anything_else_declares_no_bitrate(header: bytes) -> None:
    assert frame_bitrate_kbps(header) is None


def test_mp3_at_the_requested_bitrate_is_copied() -> None:
    assert copies_as_is(MPEG1_192K, 192_000, 192)
    assert copies_as_is(MPEG1_192K, 191_997, 192)  # what an MP4 muxer computes for CBR


def test_another_bitrate_is_re_encoded() -> None:
    assert not copies_as_is(MPEG1_128K, 128_000, 192)
    assert not copies_as_is(MPEG1_192K, 192_000, 128)


def test_vbr_whose_first_frame_matches_is_re_encoded() -> None:
    assert not copies_as_is(MPEG1_192K, 171_000, 192)


@pytest.mark.parametrize("declared", [None, 0])
def test_an_unknown_average_is_re_encoded(declared: int | None) -> None:
    assert not copies_as_is(MPEG1_192K, declared, 192)
