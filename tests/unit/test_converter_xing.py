"""The Xing/Info frame: counted from frames as they pass, in whatever pieces, and read back by
mutagen and FFmpeg as the stream's length."""

from __future__ import annotations

import io
import random
import struct

import av
import pytest
from mutagen.mp3 import MP3, BitrateMode

from converter.mp3 import bitrate_index, frame_info, frame_length, sample_rate_index, version_bits
from converter.xing import ENCODER_DELAY, FrameIndex, Lame, reserve

RATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)


def frame(rate: int, kbps: int, *, mono: bool = False, padding: bool = False) -> bytes:
    """A layer III frame of silence (zero side info and data decode to silence)."""
    second = 0xE0 | version_bits(rate) << 3 | 0b011
    third = bitrate_index(rate, kbps) << 4 | sample_rate_index(rate) << 2 | padding << 1
    header = bytes([0xFF, second, third, 0xC0 if mono else 0x40])
    return header + bytes(frame_length(rate, kbps, padding) - 4)


def stream(kbps: list[int], rate: int = 44_100) -> bytes:
    return b"".join(frame(rate, k) for k in kbps)


def pieces(data: bytes, seed: int) -> list[bytes]:
    chooser = random.Random(seed)  # noqa: S311  # reproducible cuts, not secrets
    cuts = sorted(chooser.sample(range(1, len(data)), 40))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def indexed(data: bytes, split: int = 0) -> FrameIndex:
    index = FrameIndex()
    for piece in pieces(data, split) if split else [data]:
        index.feed(piece)
    return index


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frames_are_counted_whatever_the_pieces(seed: int) -> None:
    data = stream([128, 320, 32, 192] * 50)

    index = indexed(data, seed)

    assert (index.frames, index.bytes, index.complete()) == (200, len(data), True)
    assert index.constant_bitrate is None


def test_one_bitrate_throughout_is_constant() -> None:
    assert indexed(stream([192] * 10)).constant_bitrate == 192


def test_a_stream_that_stops_being_frames_gets_no_tag() -> None:
    index = indexed(stream([128] * 5) + b"garbage" + stream([128] * 5))

    assert not index.valid
    assert index.tag(reserve(44_100, False, 128), None) is None


def test_a_frame_cut_short_at_the_end_is_not_complete() -> None:
    index = indexed(stream([128] * 5)[:-10])

    assert not index.complete()


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("mono", [False, True])
def test_a_tag_frame_is_reserved_for_every_rate_and_holds_the_whole_tag(rate: int, mono: bool) -> None:
    reserved = reserve(rate, mono, None)
    placeholder = reserved.placeholder()

    assert len(placeholder) == reserved.size
    info = frame_info(placeholder)
    assert info is not None
    assert (info.length, info.sample_rate, info.mono) == (reserved.size, rate, mono)


def test_a_cbr_tag_frame_has_the_streams_bitrate_when_it_fits() -> None:
    assert reserve(44_100, False, 192).bitrate_kbps == 192
    assert reserve(48_000, False, 32).bitrate_kbps > 32  # 96 bytes cannot hold it


def test_the_seek_table_rises_through_the_stream() -> None:
    index = indexed(stream([32] * 300 + [320] * 100))

    toc = index.toc(head=0)

    assert len(toc) == 100
    assert list(toc) == sorted(toc)
    assert toc[0] == 0
    assert toc[74] < 64 < toc[76]  # three quarters of the frames are small: a quarter of the bytes


def test_offsets_stay_bounded_for_long_streams() -> None:
    index = FrameIndex()
    one = frame(8_000, 8)
    for _ in range(50):
        index.feed(one * 2_000)

    assert index.frames == 100_000
    assert len(index._offsets) < 4096
    toc = index.toc(head=0)
    assert abs(toc[50] - 128) <= 1


def mp3_with_tag(kbps: list[int], samples: int, *, vbr_quality: int | None) -> bytes:
    data = stream(kbps)
    reserved = reserve(44_100, False, None if vbr_quality is not None else kbps[0])
    tag = indexed(data).tag(reserved, Lame(samples, vbr_quality, None if vbr_quality is not None else kbps[0]))
    assert tag is not None
    return tag + data


def test_mutagen_reads_the_length_less_delay_and_padding() -> None:
    samples = 100 * 1152 - ENCODER_DELAY - 700
    mp3 = mp3_with_tag([128, 160, 96, 320] * 25, samples, vbr_quality=2)

    info = MP3(io.BytesIO(mp3)).info

    assert info.length == pytest.approx(samples / 44_100)
    assert info.bitrate_mode == BitrateMode.VBR
    assert info.encoder_info.startswith("LAME 3.100")
    assert mp3[4 + 32 : 4 + 32 + 4] == b"Xing"


def test_one_bitrate_gets_an_info_frame() -> None:
    mp3 = mp3_with_tag([128] * 40, 40 * 1152 - ENCODER_DELAY - 100, vbr_quality=None)

    assert mp3[4 + 32 : 4 + 32 + 4] == b"Info"
    assert MP3(io.BytesIO(mp3)).info.bitrate_mode == BitrateMode.CBR


def test_ffmpeg_decodes_exactly_the_samples_the_tag_states() -> None:
    samples = 60 * 1152 - ENCODER_DELAY - 1000
    mp3 = mp3_with_tag([128, 192] * 30, samples, vbr_quality=4)

    with av.open(io.BytesIO(mp3)) as container:
        decoded = sum(f.samples for f in container.decode(container.streams.audio[0]))

    assert decoded == samples


def test_the_lame_tag_carries_a_valid_crc() -> None:
    mp3 = mp3_with_tag([128] * 10, 10 * 1152 - ENCODER_DELAY - 50, vbr_quality=None)
    lame = 4 + 32 + 120  # header, side info, Xing fields

    crc = 0
    for byte in mp3[: lame + 34]:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    assert mp3[lame : lame + 9] == b"LAME3.100"
    assert struct.unpack(">H", mp3[lame + 34 : lame + 36])[0] == crc
    delay_padding = int.from_bytes(mp3[lame + 21 : lame + 24], "big")
    assert (delay_padding >> 12, delay_padding & 0xFFF) == (ENCODER_DELAY, 50)
