"""MPEG audio layer III frame headers and the stream-copy rule. Pure: no PyAV, no I/O.

A frame header is 4 bytes: sync, version (MPEG-1, 2 or 2.5), layer, bitrate index, sample-rate
index, padding bit, channel mode. Its length in bytes follows from those; ``frame_info`` reads
it from the two bytes that matter, cached, because it runs once per frame of every output.

The rule: MP3 audio is copied as it is, not re-encoded, when its first frame declares the
requested bitrate and the stream's declared average bitrate is within 1 % of it (a VBR stream
whose first frame happens to match averages elsewhere). An unknown average means re-encode:
re-encoding is always correct, copying only when the result is what the job asked for, a
constant-bitrate MP3 at ``bitrate_kbps``. Sample rate and channels do not matter: any MP3 is
a valid MP3 output.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

__all__ = [
    "FrameInfo",
    "bitrate_index",
    "bitrates",
    "copies_as_is",
    "frame_bitrate_kbps",
    "frame_info",
    "frame_length",
    "sample_rate_index",
    "side_info_size",
    "usable_bitrate",
    "version_bits",
]

# bitrate index 1..14 of layer III, per MPEG version (index 0 is "free format", 15 is invalid)
_MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)

_MPEG1, _RESERVED_VERSION, _LAYER_3 = 0b11, 0b01, 0b01
_MONO = 0b11
# sample-rate index 0..2 per version field value (0b00 MPEG-2.5, 0b10 MPEG-2, 0b11 MPEG-1)
_RATES = {0b00: (11_025, 12_000, 8_000), 0b10: (22_050, 24_000, 16_000), 0b11: (44_100, 48_000, 32_000)}
_AVERAGE_TOLERANCE = 0.01


def frame_bitrate_kbps(frame: bytes) -> int | None:
    """The bitrate the layer III frame header at the start of ``frame`` declares.

    ``None`` when ``frame`` does not start with such a header, or declares free format.
    """
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0:
        return None
    version, layer, index = (frame[1] >> 3) & 0b11, (frame[1] >> 1) & 0b11, frame[2] >> 4
    if version == _RESERVED_VERSION or layer != _LAYER_3 or not 0 < index < 15:
        return None
    return (_MPEG1_KBPS if version == _MPEG1 else _MPEG2_KBPS)[index]


def copies_as_is(first_frame: bytes, declared_bit_rate: int | None, bitrate_kbps: int) -> bool:
    """Whether MP3 audio starting with ``first_frame`` can be copied for a job asking ``bitrate_kbps``.

    ``declared_bit_rate`` is the stream's average in bit/s as the container states it.
    """
    if frame_bitrate_kbps(first_frame) != bitrate_kbps or not declared_bit_rate:
        return False
    wanted = bitrate_kbps * 1000
    return abs(declared_bit_rate - wanted) <= wanted * _AVERAGE_TOLERANCE


class FrameInfo(NamedTuple):
    length: int
    """Bytes of the frame, header included."""
    samples: int
    """Samples per channel it decodes to."""
    bitrate_kbps: int
    sample_rate: int
    mono: bool


def frame_info(header: bytes | memoryview, offset: int = 0) -> FrameInfo | None:
    """The layer III frame whose header starts at ``header[offset]``, or ``None`` if none does."""
    if len(header) < offset + 4 or header[offset] != 0xFF:
        return None
    return _info(header[offset + 1], header[offset + 2], header[offset + 3] >> 6 == _MONO)


@cache
def _info(second: int, third: int, mono: bool) -> FrameInfo | None:
    version, layer = (second >> 3) & 0b11, (second >> 1) & 0b11
    index, rate_index, padding = third >> 4, (third >> 2) & 0b11, (third >> 1) & 1
    if second & 0xE0 != 0xE0 or version == _RESERVED_VERSION or layer != _LAYER_3:
        return None
    if not 0 < index < 15 or rate_index == 0b11:
        return None
    kbps = (_MPEG1_KBPS if version == _MPEG1 else _MPEG2_KBPS)[index]
    rate = _RATES[version][rate_index]
    return FrameInfo(frame_length(rate, kbps, bool(padding)), 1152 if version == _MPEG1 else 576, kbps, rate, mono)


def frame_length(sample_rate: int, bitrate_kbps: int, padding: bool = False) -> int:
    """Bytes in a layer III frame at this rate and bitrate."""
    per_kbit = 144_000 if sample_rate >= 32_000 else 72_000  # MPEG-1 frames hold twice the samples
    return per_kbit * bitrate_kbps // sample_rate + padding


def side_info_size(sample_rate: int, mono: bool) -> int:
    """Bytes between a frame's header and its data (no CRC): where a Xing tag begins."""
    if sample_rate >= 32_000:
        return 17 if mono else 32
    return 9 if mono else 17


def version_bits(sample_rate: int) -> int:
    """The header's version field for an MP3 at ``sample_rate``."""
    return next(version for version, rates in _RATES.items() if sample_rate in rates)


def bitrate_index(sample_rate: int, bitrate_kbps: int) -> int:
    """The header's bitrate index of ``bitrate_kbps`` (``ValueError`` if that version lacks it)."""
    return (_MPEG1_KBPS if sample_rate >= 32_000 else _MPEG2_KBPS).index(bitrate_kbps)


def bitrates(sample_rate: int) -> tuple[int, ...]:
    """The bitrates a layer III frame at ``sample_rate`` can declare, lowest first."""
    return (_MPEG1_KBPS if sample_rate >= 32_000 else _MPEG2_KBPS)[1:]


def sample_rate_index(sample_rate: int) -> int:
    return _RATES[version_bits(sample_rate)].index(sample_rate)


def usable_bitrate(sample_rate: int, bitrate_kbps: int) -> int:
    """``bitrate_kbps``, or the highest a frame at ``sample_rate`` can declare below it (LAME
    itself lowers 192 kbit/s to 160 at 22.05 kHz; the Xing frame must say the same)."""
    return max((kbps for kbps in bitrates(sample_rate) if kbps <= bitrate_kbps), default=bitrates(sample_rate)[0])
